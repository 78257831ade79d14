"""What the audit says: a :class:`Verdict` per backup (or orphan), made of findings,
a :class:`BackupRow` of Cinder's ``backups`` table, and a :class:`Place` where a walk of the
root (a directory tree or an object store's listing) found a backup or stray objects."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from docket.core.versions import Version


@dataclass(frozen=True)
class Place:
    """A place a walk found: a backup (``backup_id``), or objects of no backup (``problem``).

    ``names``: the objects listed there, when the walk listed them already (an object store's
    listing); None when the inspector lists the place itself."""

    path: str
    backup_id: str | None = None
    problem: str = ""
    names: tuple[str, ...] | None = None

    @property
    def key(self) -> str:
        return self.backup_id or self.path


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a backup (or with files under the root)."""

    kind: str
    message: str
    object: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "message": self.message}
        if self.object is not None:
            out["object"] = self.object
        return out


@dataclass(frozen=True)
class BackupRow:
    """What audit uses of a row of Cinder's ``backups`` table."""

    id: str
    volume_id: str | None = None
    parent_id: str | None = None
    status: str | None = None
    container: str | None = None
    service_metadata: str | None = None
    service: str | None = None


@dataclass(frozen=True)
class Verdict:
    """The audit's answer for one backup (or one orphan: ``backup_id`` None)."""

    backup_id: str | None
    path: str | None
    """The backup directory, relative to the root."""
    volume_id: str | None = None
    parent_id: str | None = None
    created_at: str | None = None
    """When the backup was made, ISO 8601 in UTC (None when unknown)."""
    formats: Mapping[str, Version | None] = field(default_factory=dict)
    """Family to the version found (as written, known or not) for each object present."""
    integrity: str | None = None
    """``"ok"``, ``"damaged"``, or None where there is no backup to check."""
    deep: bool = False
    readers: tuple[str, ...] = ()
    """The readers that can restore it (every object of its chain in a version they read)."""
    findings: tuple[Finding, ...] = ()
    row: str | None = None
    """The status of its database row (None: no database, or no row)."""

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_json(self) -> dict[str, Any]:
        return {
            "backup_id": self.backup_id,
            "path": self.path,
            "volume_id": self.volume_id,
            "parent_id": self.parent_id,
            "created_at": self.created_at,
            "formats": dict(self.formats),
            "integrity": self.integrity,
            "deep": self.deep,
            "readers": list(self.readers),
            "row": self.row,
            "findings": [f.to_json() for f in self.findings],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Verdict:
        """A verdict from its JSON form (a line of ``--format jsonl``); KeyError/TypeError
        when it is not one."""
        return cls(
            backup_id=data["backup_id"],
            path=data["path"],
            volume_id=data.get("volume_id"),
            parent_id=data.get("parent_id"),
            created_at=data.get("created_at"),
            formats=dict(data.get("formats") or {}),
            integrity=data.get("integrity"),
            deep=bool(data.get("deep", False)),
            readers=tuple(data.get("readers") or ()),
            findings=tuple(
                Finding(f["kind"], f["message"], f.get("object")) for f in data["findings"]
            ),
            row=data.get("row"),
        )
