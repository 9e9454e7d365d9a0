"""Small English word helpers shared by the solutions (order parsing, the semantic cache's subject check)."""

from __future__ import annotations


def singular(word: str) -> str:
    """A naive singular that is good enough for packaging nouns (boxes → box, knives → knife, cups → cup)."""
    if len(word) <= 3 or word.endswith(("ss", "us", "is")):
        return word
    if word.endswith("ives"):
        return word[:-3] + "fe"
    if word.endswith(("xes", "ches", "shes", "sses")):
        return word[:-2]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith("s"):
        return word[:-1]
    return word


def plural(word: str) -> str:
    """The plural of a unit noun: bundle → bundles, box → boxes, pouch → pouches; "pcs" stays."""
    if word.endswith(("ss", "x", "ch", "sh")):
        return word + "es"
    return word if word.endswith("s") else word + "s"
