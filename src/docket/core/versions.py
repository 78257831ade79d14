"""Version schemes: plain integers (``2``) or dotted strings (``"1.0.0"``)."""

from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from typing import Any

from docket.core.errors import MalformedVersion, MissingVersion, UnknownVersion, VersionTooNew, show

Version = int | str

_DOTTED = re.compile(r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*))*\Z")
_INTEGER = re.compile(r"^(0|[1-9][0-9]*)\Z")


class VersionScheme(enum.Enum):
    INTEGER = "integer"
    DOTTED = "dotted"

    def key(self, version: Version) -> tuple[tuple[int, str], ...]:
        """Sort key: integers compare numerically, dotted strings part by part. A part is
        compared by its length, then its digits: numeric order for parts without leading
        zeros (what a well-formed version has), and no ``int()`` of a part 5,000 digits long,
        which Python refuses with a ValueError."""
        if isinstance(version, int):
            return ((version, ""),)
        return tuple((len(part), part) for part in version.split("."))

    def is_well_formed(self, value: Any) -> bool:
        if self is VersionScheme.INTEGER:
            return isinstance(value, int) and not isinstance(value, bool) and value >= 0
        return isinstance(value, str) and _DOTTED.match(value) is not None

    def describe(self) -> str:
        if self is VersionScheme.INTEGER:
            return "a non-negative integer"
        return 'a dotted version string such as "1.0.0"'

    def parse_text(self, text: str) -> Version:
        """Turn a version typed by a person (CLI, file names) into a version value."""
        if self is VersionScheme.INTEGER:
            stripped = text.strip().lstrip("v")
            if not (stripped.isascii() and stripped.isdigit()):  # int() reads U+0661 as 1
                raise ValueError(f"{show(text)} is not an integer version")
            return int(stripped)
        if not _DOTTED.match(text.strip()):
            raise ValueError(f"{show(text)} is not a dotted version")
        return text.strip()

    def parse_exact(self, text: str) -> Version:
        """A version written exactly as docket writes it (``3``, ``1.0.0``): ASCII digits
        without a leading zero, and no space, sign or ``v``. The one reading of a version a
        command line or a script names (:meth:`~docket.core.family.Family.named_version`); a
        ValueError otherwise (:meth:`spelling` says what was meant)."""
        if self is VersionScheme.INTEGER:
            if not _INTEGER.match(text):
                raise ValueError(f"{show(text)} is not written as an integer version")
            return int(text)
        if not _DOTTED.match(text):
            raise ValueError(f"{show(text)} is not written as a dotted version")
        return text

    def spelling(self, text: str) -> str | None:
        """How docket writes the version ``text`` seems to mean (``" v03"``: ``"3"``), or
        None when it does not look like one."""
        parts = text.strip().lstrip("vV+").split(".")
        if self is VersionScheme.INTEGER and len(parts) != 1:
            return None
        if not all(part.isdecimal() and len(part) <= 64 for part in parts):
            return None
        return ".".join(str(int(part)) for part in parts)  # int() reads any decimal digits


def detect(
    family: str, scheme: VersionScheme, versions: Sequence[Version], container: dict[str, Any]
) -> Version:
    """Return the container's version, or raise the typed error that says what is wrong."""
    if "version" not in container:
        raise MissingVersion(family, versions)
    found = container["version"]
    if not scheme.is_well_formed(found):
        raise MalformedVersion(family, found, versions, scheme.describe())
    if found in versions:
        return found  # type: ignore[no-any-return]
    if scheme.key(found) > scheme.key(versions[-1]):
        raise VersionTooNew(family, found, versions)
    raise UnknownVersion(family, found, versions)
