"""The business analyst, offline: epics, stories and Given/When/Then criteria from the requirement's own sentences."""

from __future__ import annotations

import re

from opsdesk.crew.agents.requirement import EntitySpec, RequirementSpec, parse_requirement
from opsdesk.crew.agents.scaffold import invalid_values
from opsdesk.crew.agents.schemas import Backlog, Check, Criterion, Epic, Story

# Sentences that ask the crew itself to do something with credentials or keys are not product requirements: they are
# left out of the backlog and named in its notes, so they cannot steer which tools run.
_INSTRUCTION = re.compile(
    r"\b(?:print|show|reveal|output|send|leak|expose|add|include|paste|dump|echo|tell)\b.{0,60}"
    r"\b(?:token|password|secret|credential|ssh key|api key|private key)s?\b",
    re.IGNORECASE,
)


def is_instruction_to_crew(sentence: str) -> bool:
    return bool(_INSTRUCTION.search(sentence)) or "ignore previous" in sentence.lower()


def clean_requirement(text: str) -> tuple[str, list[str]]:
    """The requirement without sentences that instruct the crew about credentials, and those sentences."""
    kept: list[str] = []
    dropped: list[str] = []
    for line in text.splitlines():
        parts = re.split(r"(?<=[.!?])\s+", line)
        good = [part for part in parts if not is_instruction_to_crew(part)]
        dropped.extend(part.strip() for part in parts if is_instruction_to_crew(part))
        kept.append(" ".join(good) if len(good) != len(parts) else line)
    return "\n".join(kept), dropped


def analyse(requirement: str, *, feedback: list[str] | None = None) -> Backlog:
    """The backlog for the requirement; reviewers' comments (newest last) are answered in notes and a story."""
    text, ignored = clean_requirement(requirement)
    spec = parse_requirement(text)
    epics: list[Epic] = []
    stories: list[Story] = []
    create_story: dict[str, str] = {}
    for number, entity in enumerate(spec.entities, start=1):
        epic = Epic(
            key=f"E{number}",
            title=f"Manage {entity.plural.replace('_', ' ')}",
            description=f"{entity.title.capitalize()}s served at {entity.path}: "
            + (", ".join(f.name for f in entity.fields) or "fields to be named")
            + ".",
        )
        epics.append(epic)
        for story in _entity_stories(entity, epic.key, len(stories)):
            stories.append(story)
            create_story.setdefault(entity.name, story.key)
    for entity in spec.entities:  # a story that needs another entity's ids depends on that entity being creatable
        for field in entity.fields:
            if field.ref and field.ref in create_story and entity.name in create_story:
                mine = next(s for s in stories if s.key == create_story[entity.name])
                if create_story[field.ref] not in mine.depends_on and create_story[field.ref] != mine.key:
                    mine.depends_on.append(create_story[field.ref])
    rules_epic = None
    for rule in spec.rules:
        if rule.kind not in ("conflict", "other"):
            continue
        if rules_epic is None:
            rules_epic = Epic(key=f"E{len(epics) + 1}", title="Business rules", description="Rules on stored state.")
            epics.append(rules_epic)
        entity_name = rule.entity or (spec.entities[0].name if spec.entities else "item")
        depends = [create_story[entity_name]] if entity_name in create_story else []
        then = (
            "the request is refused as a conflict (409) and nothing changes"
            if rule.kind == "conflict"
            else ("the rule holds")
        )
        stories.append(
            Story(
                key=f"S{len(stories) + 1}",
                epic=rules_epic.key,
                title=f"Rule: {rule.sentence[:90]}",
                narrative=f"As the business, I want this rule enforced: {rule.sentence}",
                criteria=[
                    Criterion(
                        given="stored data the rule is about",
                        when="a request would break the rule",
                        then=then,
                        check=Check(kind="rule", entity=entity_name),
                    )
                ],
                estimate=3,
                depends_on=depends,
                source=rule.sentence,
            )
        )
    notes = [f"Ignored as an instruction to the crew, not a requirement: “{sentence}”" for sentence in ignored]
    if not spec.entities:
        notes.append("No entity was named in the form “A <thing> has <fields>”: the backlog needs a person's input.")
    for comment in feedback or []:
        notes.append(f"Reviewer's comment addressed: “{comment}”")
        stories.append(
            Story(
                key=f"S{len(stories) + 1}",
                epic=epics[0].key if epics else "E1",
                title=f"Follow-up from review: {comment[:80]}",
                narrative=f"As the reviewer, I asked: {comment}",
                criteria=[
                    Criterion(given="the reviewer's comment", when="the story is done", then=f"it answers “{comment}”")
                ],
                estimate=1,
                source=comment,
            )
        )
    if not epics:
        epics.append(Epic(key="E1", title=spec.title, description=spec.summary))
    return Backlog(requirement=spec, epics=epics, stories=stories, notes=notes)


def _entity_stories(entity: EntitySpec, epic: str, before: int) -> list[Story]:
    name, plural = entity.title, entity.plural.replace("_", " ")
    given_one = f"a stored {name}"
    create = [
        Criterion(
            given=f"a valid {name}",
            when=f"it is posted to {entity.path}",
            then="the answer is 201 with the object and a server-assigned integer id",
            check=Check(kind="create", entity=entity.name),
        ),
        Criterion(
            given=given_one,
            when=f"it is read by id at {entity.path}/{{id}}",
            then="the answer is 200 with every field",
            check=Check(kind="get", entity=entity.name),
        ),
        Criterion(
            given=given_one,
            when=f"{entity.path} is listed",
            then="the answer is 200 with a list that contains it",
            check=Check(kind="list", entity=entity.name),
        ),
        Criterion(
            given=f"no {name} with an id",
            when="that id is read",
            then=f"the {name} is not found (404)",
            check=Check(kind="not_found", entity=entity.name),
        ),
    ]
    for field in entity.fields:
        if field.required and not field.readonly:
            create.append(
                Criterion(
                    given=f"a {name} without its {field.name}",
                    when="it is posted",
                    then="it is rejected as invalid (422)",
                    check=Check(kind="missing_required", entity=entity.name, field=field.name),
                )
            )
        if not field.readonly and invalid_values(field):
            why = "; ".join(reason for reason, _ in invalid_values(field))
            create.append(
                Criterion(
                    given=f"a {name} whose {field.name} is {why}",
                    when="it is posted or patched",
                    then="it is rejected as invalid (422)",
                    check=Check(kind="invalid_value", entity=entity.name, field=field.name),
                )
            )
        if field.unique and not field.readonly:
            create.append(
                Criterion(
                    given=f"a stored {name}",
                    when=f"another {name} with the same {field.name} is posted",
                    then="it is refused as a conflict (409) and nothing is stored",
                    check=Check(kind="unique", entity=entity.name, field=field.name),
                )
            )
        if field.ref:
            create.append(
                Criterion(
                    given=f"a {name} naming an unknown {field.ref.replace('_', ' ')} in {field.name}",
                    when="it is posted",
                    then=f"the {field.ref.replace('_', ' ')} is not found (404)",
                    check=Check(kind="unknown_reference", entity=entity.name, field=field.name),
                )
            )
    change = [
        Criterion(
            given=given_one,
            when="a partial body is patched to it",
            then="the answer is 200 with the full updated object",
            check=Check(kind="update", entity=entity.name),
        ),
        Criterion(
            given=given_one,
            when="it is deleted",
            then="the answer is 204 and reading it again is not found (404)",
            check=Check(kind="delete", entity=entity.name),
        ),
    ]
    stories = [
        Story(
            key=f"S{before + 1}",
            epic=epic,
            title=f"Record and read {plural}",
            narrative=f"As a user, I want to record {plural} and read them back, so that they are kept.",
            criteria=create,
            estimate=min(13, 2 + len(create) // 3),
            source=f"A {name} has " + ", ".join(f.name for f in entity.fields),
        ),
        Story(
            key=f"S{before + 2}",
            epic=epic,
            title=f"Change and remove {plural}",
            narrative=f"As a user, I want to correct or remove a {name}, so that the records stay right.",
            criteria=change,
            estimate=2,
            depends_on=[f"S{before + 1}"],
        ),
    ]
    if entity.filters:
        stories.append(
            Story(
                key=f"S{before + 3}",
                epic=epic,
                title=f"Filter {plural} by " + ", ".join(entity.filters),
                narrative=f"As a user, I want to list only the {plural} I look for.",
                criteria=[
                    Criterion(
                        given=f"{plural} with different {field}",
                        when=f"{entity.path}?{field}=<value> is listed",
                        then=f"only {plural} whose {field} equals the value are listed",
                        check=Check(kind="filter", entity=entity.name, field=field),
                    )
                    for field in entity.filters
                ],
                estimate=2,
                depends_on=[f"S{before + 1}"],
            )
        )
    return stories


def parse_only(requirement: str) -> RequirementSpec:
    """The parsed requirement without the backlog (for the developer when a backlog was edited by hand)."""
    return parse_requirement(clean_requirement(requirement)[0])
