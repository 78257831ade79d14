"""Plain bulk: the bulk backup and restore done set-based on the plain driver, and nothing more.

For reading the targets. A backup runs three ``IN`` queries per chunk, the type conversions
Cinder's format needs and ``json.dumps`` per container (Cinder's exact text); a restore runs
``json.loads``, Cinder's version-2 rules, one select of the existing metadata and
``executemany`` of the rows that change, in one transaction. No validation, no upgrade, no
checks on values, no reports. docket's bulk calls do all of that and more, so this says
roughly how far below the seed's way a set-based implementation gets on that database, and
how much of docket's time is its own.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from benchmarks.baseline import (
    _FIELDS,
    BASE,
    GLANCE,
    RESTORE_PREFIX,
    USER,
    Connection,
    SeedMetadataAPI,
)

CHUNK = 5_000
_TABLES = ((USER, "volume_metadata"), (GLANCE, "volume_glance_metadata"))


def _chunks(seq: Sequence[Any]) -> list[Sequence[Any]]:
    return [seq[i : i + CHUNK] for i in range(0, len(seq), CHUNK)]


def _marks(dialect: str, n: int) -> str:
    return ", ".join(["?" if dialect == "sqlite" else "%s"] * n)


def backup(conn: Connection, dialect: str, ids: Sequence[str], version: int = 2) -> dict[str, str]:
    """Containers of ``ids``, equal to the baseline's, with three queries per chunk."""
    seed = SeedMetadataAPI(conn, dialect=dialect, version=version)
    columns = seed._columns
    convert = seed._convert
    false = 0 if dialect == "sqlite" else False
    out: dict[str, str] = {}
    for chunk in _chunks(ids):
        marks = _marks(dialect, len(chunk))
        flag = "?" if dialect == "sqlite" else "%s"
        rows = conn.execute(
            f"SELECT * FROM volumes WHERE id IN ({marks}) AND deleted = {flag}", [*chunk, false]
        ).fetchall()
        sections: dict[str, dict[str, dict[str, Any]]] = {USER: {}, GLANCE: {}}
        for tag, table in _TABLES:
            entries = sections[tag]
            for vid, key, value in conn.execute(
                f"SELECT volume_id, key, value FROM {table} WHERE volume_id IN ({marks})"
                f" AND deleted = {flag} ORDER BY id",
                [*chunk, false],
            ).fetchall():
                entries.setdefault(vid, {})[key] = value
        if convert is not None:
            fix = [(i, f) for i, f in enumerate(convert) if f is not None]
        for row in rows:
            values = list(row)
            if convert is not None:
                for i, f in fix:
                    values[i] = f(values[i])
            else:
                values = [v.isoformat(timespec="microseconds") if isinstance(v, datetime) else v
                          for v in values]
            vid = values[0]
            container: dict[str, Any] = {
                "version": version, BASE: dict(zip(columns, values, strict=True))
            }
            for tag, _ in _TABLES:
                if vid in sections[tag]:
                    container[tag] = sections[tag][vid]
            out[vid] = json.dumps(container)
    return out


def restore(conn: Connection, dialect: str, items: Sequence[tuple[str, str]]) -> None:
    """Restore ``items`` set-based in one transaction, with Cinder's v1/v2 rules."""
    now: Any = datetime.now(UTC).replace(tzinfo=None)
    if dialect == "sqlite":
        now = now.strftime("%Y-%m-%d %H:%M:%S.%f")
    mark = "?" if dialect == "sqlite" else "%s"
    false = 0 if dialect == "sqlite" else False
    containers = [(vid, json.loads(text)) for vid, text in items]
    ids = [vid for vid, _ in containers]
    targets: dict[str, tuple[Any, Any]] = {}
    existing: dict[str, dict[str, dict[str, tuple[Any, Any]]]] = {t: {} for _, t in _TABLES}
    for chunk in _chunks(ids):
        marks = _marks(dialect, len(chunk))
        for vid, name, type_id in conn.execute(
            f"SELECT id, display_name, volume_type_id FROM volumes WHERE id IN ({marks})", chunk
        ).fetchall():
            targets[vid] = (name, type_id)
        for _, table in _TABLES:
            for rid, vid, key, value in conn.execute(
                f"SELECT id, volume_id, key, value FROM {table} WHERE volume_id IN ({marks})"
                f" AND deleted = {mark}",
                [*chunk, false],
            ).fetchall():
                existing[table].setdefault(vid, {})[key] = (rid, value)
    base: dict[tuple[str, ...], list[tuple[Any, ...]]] = {}
    deletes: dict[str, list[tuple[Any, ...]]] = {t: [] for _, t in _TABLES}
    updates: dict[str, list[tuple[Any, ...]]] = {t: [] for _, t in _TABLES}
    inserts: dict[str, list[tuple[Any, ...]]] = {t: [] for _, t in _TABLES}
    bootable: list[tuple[Any, ...]] = []
    for vid, container in containers:
        fields = _FIELDS[container["version"]]
        name, type_id = targets[vid]
        section = container.get(BASE)
        if section is not None:
            values = {f: section[f] for f in fields[BASE] if f in section}
            if "display_name" in section and (
                not section["display_name"] or (name and not name.startswith(RESTORE_PREFIX))
            ):
                values.pop("display_name", None)
                values.pop("display_description", None)
            if values.get("encryption_key_id") is not None and (
                section["volume_type_id"] != type_id
            ):
                raise ValueError(f"volume {vid}: the backup's volume type differs")
            if values:
                base.setdefault(tuple(values), []).append((*values.values(), now, vid))
        for tag, table in _TABLES:
            if tag not in container:
                continue
            new = container[tag]
            old = existing[table].get(vid, {})
            for key, (rid, value) in old.items():
                if key not in new:
                    deletes[table].append((now, now, rid))
                else:
                    text = str(new[key]) if tag == GLANCE else new[key]
                    if value != text:
                        updates[table].append((text, now, rid))
            for key, value in new.items():
                if key not in old:
                    text = str(value) if tag == GLANCE else value
                    inserts[table].append((vid, key, text, now, false))
            if tag == GLANCE:
                bootable.append((True, now, vid))
    q = mark
    cur = conn.cursor()
    try:
        for columns, rows in base.items():
            sets = ", ".join(f"{c} = {q}" for c in columns)
            cur.executemany(f"UPDATE volumes SET {sets}, updated_at = {q} WHERE id = {q}", rows)
        for _, table in _TABLES:
            cur.executemany(
                f"UPDATE {table} SET deleted = {q}, deleted_at = {q}, updated_at = {q}"
                f" WHERE id = {q}",
                [(True, *d) for d in deletes[table]],
            )
            cur.executemany(
                f"UPDATE {table} SET value = {q}, updated_at = {q} WHERE id = {q}",
                updates[table],
            )
            cur.executemany(
                f"INSERT INTO {table} (volume_id, key, value, created_at, deleted)"
                f" VALUES ({q}, {q}, {q}, {q}, {q})",
                inserts[table],
            )
        cur.executemany(
            f"UPDATE volumes SET bootable = {q}, updated_at = {q} WHERE id = {q}", bootable
        )
    except BaseException:
        conn.rollback()
        raise
    conn.commit()
