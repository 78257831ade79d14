"""The vocabulary of a schema diff: each :class:`Change` between two versions of a schema, its
kind (Confluent Schema Registry's names where it has one) and the compatibility class a list of
changes makes (:func:`classify`). :mod:`docket.core.schema_diff` finds the changes;
:mod:`docket.core.compat` puts them together for two versions of a family.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from docket.core.errors import Segments, json_path, json_pointer


class Compatibility(enum.Enum):
    """Confluent Schema Registry's compatibility classes."""

    BACKWARD = "BACKWARD"
    FORWARD = "FORWARD"
    FULL = "FULL"
    NONE = "NONE"

    @classmethod
    def of(cls, backward: bool, forward: bool) -> Compatibility:
        if backward and forward:
            return cls.FULL
        if backward:
            return cls.BACKWARD
        if forward:
            return cls.FORWARD
        return cls.NONE


class ChangeKind(enum.Enum):
    """What changed at one place of a schema (Confluent's names where it has one)."""

    # annotations: never change which containers are valid
    ID_CHANGED = "ID_CHANGED"
    TITLE_CHANGED = "TITLE_CHANGED"
    DESCRIPTION_CHANGED = "DESCRIPTION_CHANGED"
    DEFAULT_CHANGED = "DEFAULT_CHANGED"
    COMMENT_CHANGED = "COMMENT_CHANGED"
    EXAMPLES_CHANGED = "EXAMPLES_CHANGED"
    DIALECT_CHANGED = "DIALECT_CHANGED"
    DOCKET_TYPE_CHANGED = "DOCKET_TYPE_CHANGED"
    VERSION_CHANGED = "VERSION_CHANGED"
    # type, const, enum
    TYPE_EXTENDED = "TYPE_EXTENDED"
    TYPE_NARROWED = "TYPE_NARROWED"
    TYPE_CHANGED = "TYPE_CHANGED"
    CONST_ADDED = "CONST_ADDED"
    CONST_REMOVED = "CONST_REMOVED"
    CONST_CHANGED = "CONST_CHANGED"
    ENUM_ADDED = "ENUM_ADDED"
    ENUM_REMOVED = "ENUM_REMOVED"
    ENUM_ARRAY_EXTENDED = "ENUM_ARRAY_EXTENDED"
    ENUM_ARRAY_NARROWED = "ENUM_ARRAY_NARROWED"
    ENUM_ARRAY_CHANGED = "ENUM_ARRAY_CHANGED"
    # strings
    MAX_LENGTH_ADDED = "MAX_LENGTH_ADDED"
    MAX_LENGTH_REMOVED = "MAX_LENGTH_REMOVED"
    MAX_LENGTH_INCREASED = "MAX_LENGTH_INCREASED"
    MAX_LENGTH_DECREASED = "MAX_LENGTH_DECREASED"
    MIN_LENGTH_ADDED = "MIN_LENGTH_ADDED"
    MIN_LENGTH_REMOVED = "MIN_LENGTH_REMOVED"
    MIN_LENGTH_INCREASED = "MIN_LENGTH_INCREASED"
    MIN_LENGTH_DECREASED = "MIN_LENGTH_DECREASED"
    PATTERN_ADDED = "PATTERN_ADDED"
    PATTERN_REMOVED = "PATTERN_REMOVED"
    PATTERN_CHANGED = "PATTERN_CHANGED"
    FORMAT_ADDED = "FORMAT_ADDED"
    FORMAT_REMOVED = "FORMAT_REMOVED"
    FORMAT_CHANGED = "FORMAT_CHANGED"
    # numbers
    MAXIMUM_ADDED = "MAXIMUM_ADDED"
    MAXIMUM_REMOVED = "MAXIMUM_REMOVED"
    MAXIMUM_INCREASED = "MAXIMUM_INCREASED"
    MAXIMUM_DECREASED = "MAXIMUM_DECREASED"
    MINIMUM_ADDED = "MINIMUM_ADDED"
    MINIMUM_REMOVED = "MINIMUM_REMOVED"
    MINIMUM_INCREASED = "MINIMUM_INCREASED"
    MINIMUM_DECREASED = "MINIMUM_DECREASED"
    # objects
    MAX_PROPERTIES_ADDED = "MAX_PROPERTIES_ADDED"
    MAX_PROPERTIES_REMOVED = "MAX_PROPERTIES_REMOVED"
    MAX_PROPERTIES_INCREASED = "MAX_PROPERTIES_INCREASED"
    MAX_PROPERTIES_DECREASED = "MAX_PROPERTIES_DECREASED"
    REQUIRED_ATTRIBUTE_ADDED = "REQUIRED_ATTRIBUTE_ADDED"
    REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED = "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"
    REQUIRED_ATTRIBUTE_REMOVED = "REQUIRED_ATTRIBUTE_REMOVED"
    PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL = "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
    PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL = (
        "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
    )
    REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL = (
        "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
    )
    REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL = (
        "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
    )
    OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL = (
        "OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
    )
    PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = (
        "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
    )
    PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL = "PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL"
    PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL = "PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL"
    PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = (
        "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
    )
    PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL = (
        "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
    )
    ADDITIONAL_PROPERTIES_ADDED = "ADDITIONAL_PROPERTIES_ADDED"
    ADDITIONAL_PROPERTIES_REMOVED = "ADDITIONAL_PROPERTIES_REMOVED"
    ADDITIONAL_PROPERTIES_EXTENDED = "ADDITIONAL_PROPERTIES_EXTENDED"
    ADDITIONAL_PROPERTIES_NARROWED = "ADDITIONAL_PROPERTIES_NARROWED"
    PROPERTY_NAMES_ADDED = "PROPERTY_NAMES_ADDED"
    PROPERTY_NAMES_REMOVED = "PROPERTY_NAMES_REMOVED"
    # arrays
    ITEMS_ADDED = "ITEMS_ADDED"
    ITEMS_REMOVED = "ITEMS_REMOVED"
    MAX_ITEMS_ADDED = "MAX_ITEMS_ADDED"
    MAX_ITEMS_REMOVED = "MAX_ITEMS_REMOVED"
    MAX_ITEMS_INCREASED = "MAX_ITEMS_INCREASED"
    MAX_ITEMS_DECREASED = "MAX_ITEMS_DECREASED"


K = ChangeKind

COMPATIBLE_CHANGES: frozenset[ChangeKind] = frozenset(
    {
        K.ID_CHANGED,
        K.TITLE_CHANGED,
        K.DESCRIPTION_CHANGED,
        K.DEFAULT_CHANGED,
        K.COMMENT_CHANGED,
        K.EXAMPLES_CHANGED,
        K.DIALECT_CHANGED,
        K.DOCKET_TYPE_CHANGED,
        K.VERSION_CHANGED,
        K.TYPE_EXTENDED,
        K.CONST_REMOVED,
        K.ENUM_REMOVED,
        K.ENUM_ARRAY_EXTENDED,
        K.MAX_LENGTH_INCREASED,
        K.MAX_LENGTH_REMOVED,
        K.MIN_LENGTH_DECREASED,
        K.MIN_LENGTH_REMOVED,
        K.PATTERN_REMOVED,
        K.FORMAT_REMOVED,
        K.MAXIMUM_INCREASED,
        K.MAXIMUM_REMOVED,
        K.MINIMUM_DECREASED,
        K.MINIMUM_REMOVED,
        K.MAX_PROPERTIES_INCREASED,
        K.MAX_PROPERTIES_REMOVED,
        K.REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED,
        K.REQUIRED_ATTRIBUTE_REMOVED,
        K.PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL,
        K.REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL,
        K.OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL,
        K.PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL,
        K.PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL,
        K.ADDITIONAL_PROPERTIES_ADDED,
        K.ADDITIONAL_PROPERTIES_EXTENDED,
        K.PROPERTY_NAMES_REMOVED,
        K.ITEMS_REMOVED,
        K.MAX_ITEMS_INCREASED,
        K.MAX_ITEMS_REMOVED,
    }
)
"""Changes after which readers of the new schema still accept data valid at the old one."""

# The kind the same change has when the two schemas are swapped (for kinds whose reverse does
# not depend on the rest of the schema).
REVERSE: dict[ChangeKind, ChangeKind] = {}
for _a, _b in [
    (K.TYPE_EXTENDED, K.TYPE_NARROWED),
    (K.CONST_ADDED, K.CONST_REMOVED),
    (K.ENUM_ADDED, K.ENUM_REMOVED),
    (K.ENUM_ARRAY_EXTENDED, K.ENUM_ARRAY_NARROWED),
    (K.MAX_LENGTH_ADDED, K.MAX_LENGTH_REMOVED),
    (K.MAX_LENGTH_INCREASED, K.MAX_LENGTH_DECREASED),
    (K.MIN_LENGTH_ADDED, K.MIN_LENGTH_REMOVED),
    (K.MIN_LENGTH_INCREASED, K.MIN_LENGTH_DECREASED),
    (K.PATTERN_ADDED, K.PATTERN_REMOVED),
    (K.FORMAT_ADDED, K.FORMAT_REMOVED),
    (K.MAXIMUM_ADDED, K.MAXIMUM_REMOVED),
    (K.MAXIMUM_INCREASED, K.MAXIMUM_DECREASED),
    (K.MINIMUM_ADDED, K.MINIMUM_REMOVED),
    (K.MINIMUM_INCREASED, K.MINIMUM_DECREASED),
    (K.MAX_PROPERTIES_ADDED, K.MAX_PROPERTIES_REMOVED),
    (K.MAX_PROPERTIES_INCREASED, K.MAX_PROPERTIES_DECREASED),
    (K.ADDITIONAL_PROPERTIES_ADDED, K.ADDITIONAL_PROPERTIES_REMOVED),
    (K.ADDITIONAL_PROPERTIES_EXTENDED, K.ADDITIONAL_PROPERTIES_NARROWED),
    (K.PROPERTY_NAMES_ADDED, K.PROPERTY_NAMES_REMOVED),
    (K.ITEMS_ADDED, K.ITEMS_REMOVED),
    (K.MAX_ITEMS_ADDED, K.MAX_ITEMS_REMOVED),
    (K.MAX_ITEMS_INCREASED, K.MAX_ITEMS_DECREASED),
]:
    REVERSE[_a], REVERSE[_b] = _b, _a
for _k in ChangeKind:
    REVERSE.setdefault(_k, _k)  # annotations and *_CHANGED are their own reverse

ABSENT: Any = object()


@dataclass(frozen=True)
class Change:
    """One difference between the old and the new schema, with both verdicts."""

    kind: ChangeKind
    segments: Segments
    """Where in the schema, as keys (``("properties", "family")``); :attr:`pointer` renders
    them as machine output carries them."""
    old: Any = ABSENT
    new: Any = ABSENT
    backward: bool = True
    """Readers of the new version still accept containers of the old one."""
    forward: bool = True
    """Readers of the old version accept containers of the new one."""
    note: str = ""

    @property
    def pointer(self) -> str:
        """Where in the schema: ``#`` plus a JSON Pointer (``#/properties/family``)."""
        return "#" + json_pointer(self.segments)

    @property
    def json_path(self) -> str:
        """Where in the schema, as a ``$``-path (``$["properties"]["family"]``)."""
        return json_path(self.segments)

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind.value,
            "pointer": self.pointer,
            "backward": self.backward,
            "forward": self.forward,
        }
        if self.old is not ABSENT:
            out["old"] = self.old
        if self.new is not ABSENT:
            out["new"] = self.new
        if self.note:
            out["note"] = self.note
        return out

    def describe(self) -> str:
        text = self.kind.value
        if self.old is not ABSENT or self.new is not ABSENT:
            old = "-" if self.old is ABSENT else short(self.old)
            new = "-" if self.new is ABSENT else short(self.new)
            text += f" ({old} -> {new})"
        if self.note:
            text += f": {self.note}"
        return text


def short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def classify(changes: Sequence[Change]) -> Compatibility:
    """The compatibility class of a list of changes."""
    return Compatibility.of(all(c.backward for c in changes), all(c.forward for c in changes))
