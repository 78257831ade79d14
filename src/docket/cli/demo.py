"""``docket demo``: Cinder's metadata backup and restore, end to end, on a fresh database."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

import click

from docket.cli import options
from docket.cli.common import EXIT_OK, build_registry, database, redact, run
from docket.cli.database import dropped_lines
from docket.fs import write_atomic

BASE_SECTION = "volume-base-metadata"

_DEMO_VOLUMES: tuple[dict[str, Any], ...] = (
    {
        "display_name": "web-root",
        "display_description": "root disk of the web server",
        "size": 10,
        "metadata": {"tier": "gold", "owner": "web-team"},
        "glance": {"image_name": "ubuntu-24.04", "disk_format": "qcow2", "min_ram": 512},
    },
    {
        "display_name": "db-data",
        "display_description": "PostgreSQL data",
        "size": 100,
        "metadata": {"tier": "platinum", "backup": "nightly"},
    },
    {"display_name": "scratch", "display_description": None, "size": 1},
)


def _state(api: Any, volume_id: str) -> dict[str, Any]:
    """A volume's row and metadata, read the way a backup reads them."""
    return dict(json.loads(api.get(volume_id)))


def _changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    out = []
    base_a, base_b = before.get(BASE_SECTION, {}), after.get(BASE_SECTION, {})
    for name in base_b:
        if name != "updated_at" and base_a.get(name) != base_b[name]:
            out.append(f"{name}: {json.dumps(base_a.get(name))} -> {json.dumps(base_b[name])}")
    for section in ("volume-metadata", "volume-glance-metadata"):
        a, b = before.get(section, {}), after.get(section, {})
        if a != b:
            out.append(f"{section}: {json.dumps(a)} -> {json.dumps(b)}")
    return out


def demo(
    *,
    stdout: TextIO,
    stderr: TextIO,
    db: str | None = None,
    directory: str | os.PathLike[str] | None = None,
) -> int:
    """``docket demo``: Cinder's metadata backup and restore, end to end, on a fresh database."""

    def work() -> int:
        import uuid

        from docket import store

        where = (
            Path(directory)
            if directory is not None
            else Path(tempfile.mkdtemp(prefix="docket-demo-"))
        )
        where.mkdir(parents=True, exist_ok=True)
        url = db or f"sqlite:///{where / 'cinder.db'}"
        registry = build_registry()
        family = registry.family(store.FAMILY)
        say = stdout.write

        say("docket demo: backing up and restoring Cinder volume metadata\n")
        say(f"database: {redact(url)}{'' if db else ' (a fresh SQLite file)'}\n\n")
        with database(url, create=True) as engine:
            store.init_db(engine)
            type_id = store.create_volume_type(engine, name="ssd-encrypted")
            say("1. Cinder's volumes, with user metadata and image (glance) metadata\n")
            ids = []
            for spec in _DEMO_VOLUMES:
                vid = store.create_volume(
                    engine,
                    display_name=spec["display_name"],
                    display_description=spec["display_description"],
                    size=spec["size"],
                    volume_type_id=type_id,
                    metadata=spec.get("metadata"),
                    glance=spec.get("glance"),
                    encryption_key_id=str(uuid.uuid4()) if spec["size"] >= 100 else None,
                )
                ids.append(vid)
                say(
                    f"   {vid}  {spec['display_name']:<9} {spec['size']:>4} GiB  "
                    f"metadata {json.dumps(spec.get('metadata') or {})}\n"
                )

            api = store.BackupMetadataAPI(engine, version=2, registry=registry)
            backups = where / "backups"
            backups.mkdir(exist_ok=True)
            say(
                "\n2. Back up their metadata as Cinder's backup drivers do "
                "(BackupMetadataAPI.get, version 2)\n"
            )
            containers = api.get_many(ids)
            for vid, text in containers.items():
                write_atomic(backups / f"{vid}.json", text.encode("utf-8") + b"\n")
            say(f"   wrote {len(containers)} containers to {backups}/\n")
            shown = ids[0]
            container = json.loads(containers[shown])
            base = container[BASE_SECTION]
            brief = {k: v for k, v in base.items() if v is not None}
            say(f"   {shown}.json ({len(base)} columns of the volume row; the non-null ones):\n")
            pretty = {**container, BASE_SECTION: brief}
            for line in json.dumps(pretty, indent=2).splitlines():
                say(f"     {line}\n")

            say("\n3. Migrate it to version 3 (docket's: family, UTC timestamps, a digest)\n")
            loaded = family.load(containers[shown], to=2)
            v3_bytes = family.dump(loaded, version=3)
            v3_path = backups / f"{shown}.v3.json"
            write_atomic(v3_path, v3_bytes + b"\n")
            upgraded = json.loads(v3_bytes)
            for name in sorted(set(upgraded) - set(container)):
                say(f"   + {name}: {json.dumps(upgraded[name])}\n")
            for name, value in upgraded[BASE_SECTION].items():
                if base.get(name) != value:
                    say(f"   ~ {name}: {json.dumps(base.get(name))} -> {json.dumps(value)}\n")
            say(f"   wrote {v3_path}\n")

            backup_id = str(uuid.uuid4())
            name = f"restore_backup_{backup_id}"
            say(
                f"\n4. Restore it into a new volume, created the way Cinder creates one "
                f"for a restore:\n   {name}\n"
            )
            target = store.create_volume(
                engine, display_name=name, size=base["size"], volume_type_id=type_id
            )
            before = _state(api, target)
            result = api.put(target, v3_bytes)
            after = _state(api, target)
            say(f"   volume {target}; what changed:\n")
            for line in _changes(before, after):
                say(f"     {line}\n")
            for line in dropped_lines(result.dropped):
                say(f"   left out: {line}\n")
            say(
                "   (bootable is set because the backup has image metadata: the set-field "
                "rule of its glance section)\n"
            )

            say("\n5. The same backup onto a volume that already has a name of its own\n")
            own = store.create_volume(
                engine, display_name="keep-my-name", size=base["size"], volume_type_id=type_id
            )
            before = _state(api, own)
            api.put(own, v3_bytes)
            after = _state(api, own)
            for line in _changes(before, after):
                say(f"     {line}\n")
            say(
                "   the name and description stay: Cinder's display-name rule restores them "
                "only onto a volume it named restore_backup_<id>\n"
            )
        say(
            f"\nTry next:\n"
            f"   docket inspect {v3_path}\n"
            f"   docket validate {backups}\n"
            f"   docket diff backup-metadata 2 3\n"
        )
        return EXIT_OK

    return run(stderr, work)


@options.command(
    "demo",
    "Back up, migrate and restore volume metadata on a fresh database.",
    "docket demo",
    "docket demo --db postgresql+psycopg://postgres@127.0.0.1/test",
)
@click.option(
    "--db",
    metavar="URL",
    help="Use this database (its tables are created if missing) [default: a new SQLite "
    "file in a temporary directory].",
)
@options.schemas
@click.pass_context
def command(ctx: click.Context, /, **params: Any) -> None:
    """Create a few volumes with metadata, back them up, show a container, migrate it to
    version 3, restore it into a new volume named restore_backup_<backup id> as Cinder does,
    and print what changed. Nothing to configure."""
    ctx.exit(demo(**params, **options.streams()))
