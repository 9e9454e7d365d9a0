"""What the crew reads from a requirement: entities with typed, limited fields, filters and rules (plain data)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, Field

FieldType = Literal["str", "int", "float", "bool", "date", "datetime"]
RuleKind = Literal["invalid", "not_found", "conflict", "other"]


class FieldSpec(BaseModel):
    """One field of an entity with what the requirement says about its type and limits."""

    name: str
    type: FieldType = "str"
    required: bool = True
    default: str | int | float | bool | None = None
    readonly: bool = False  # set or computed by the service, not accepted on create
    unique: bool = False  # two objects may not share a value (a second one is refused as a conflict)
    ge: float | None = None
    le: float | None = None
    gt: float | None = None
    lt: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    choices: list[str] = Field(default_factory=list)
    ref: str | None = None  # the entity whose id this field holds
    source: str = ""  # the words it was read from


class EntitySpec(BaseModel):
    name: str  # snake_case singular
    plural: str
    fields: list[FieldSpec] = Field(default_factory=list)
    filters: list[str] = Field(default_factory=list)

    @property
    def path(self) -> str:
        return f"/api/{self.plural}"

    @property
    def title(self) -> str:
        return self.name.replace("_", " ")


class RuleSpec(BaseModel):
    kind: RuleKind
    sentence: str
    entity: str | None = None


class RequirementSpec(BaseModel):
    title: str
    summary: str
    entities: list[EntitySpec] = Field(default_factory=list)
    rules: list[RuleSpec] = Field(default_factory=list)
    sentences: list[str] = Field(default_factory=list)


def snake(words: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", words.strip().lower()).strip("_")


def plural_of(name: str) -> str:
    if re.search(r"[^aeiou]y$", name):
        return name[:-1] + "ies"
    if re.search(r"(s|x|z|ch|sh)$", name):
        return name + "es"
    return name + "s"


def singular_of(plural: str) -> str:
    if plural.endswith("ies"):
        return plural[:-3] + "y"
    if re.search(r"(sses|xes|zes|ches|shes)$", plural):
        return plural[:-2]
    if plural.endswith("s") and not plural.endswith("ss"):
        return plural[:-1]
    return plural
