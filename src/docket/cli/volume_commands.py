"""The ``docket volume`` commands as plain functions: streams in, exit code out.

Each function does one command and turns every :class:`DocketError` (and file system error)
into a message on ``stderr`` and a non-zero exit code, in one place (:func:`_run`). A progress
bar (rich) is drawn on ``stderr`` when it is a terminal.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from docket.backup._model import Backup, MetadataAPI, Progress
from docket.backup.posix import DEFAULT_CHUNK_SIZE, PosixBackupDriver
from docket.core.errors import BackupError, DocketError, DriverOptionError

EXIT_OK = 0
EXIT_FAILED = 1
"""verify found problems, or the input was invalid, unreadable or refused."""
EXIT_USAGE = 2
"""A bad argument or option."""

FORMATS = ("text", "json")


def _run(stderr: TextIO, work: Callable[[], int]) -> int:
    try:
        return work()
    except DriverOptionError as err:
        stderr.write(f"error: {err}\n")
        return EXIT_USAGE
    except DocketError as err:
        stderr.write(f"error: {err}\n")
    except OSError as err:
        where = f": {err.filename}" if err.filename else ""
        stderr.write(f"error: {err.strerror or err}{where}\n")
    return EXIT_FAILED


def _need_volume_id(db: str | None, volume_id: str | None, what: str) -> None:
    if db is not None and volume_id is None:
        raise DriverOptionError(
            f"--db needs --volume-id: the volume whose metadata to {what}",
            hint="pass --volume-id ID",
        )


@contextlib.contextmanager
def _metadata_api(db: str | None) -> Iterator[MetadataAPI | None]:
    """``docket.store.BackupMetadataAPI`` on the database at ``db`` (None without one)."""
    if db is None:
        yield None
        return
    try:
        store = importlib.import_module("docket.store")
    except ImportError as err:  # pragma: no cover - the store ships with docket
        raise BackupError(
            f"the database store is not available ({err})", hint="reinstall docket"
        ) from None
    engine = store.make_engine(db)
    try:
        yield store.BackupMetadataAPI(engine)
    finally:
        engine.dispose()


@contextlib.contextmanager
def _progress(stderr: TextIO, label: str, show: bool | None) -> Iterator[Progress | None]:
    """A callback drawing a rich progress bar on ``stderr`` (only on a terminal by default)."""
    if show is None:
        show = stderr.isatty()
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )
    from rich.progress import (
        Progress as Bar,
    )

    bar = Bar(
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(binary_units=True),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(file=stderr),
        transient=True,
    )
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    with bar:
        yield update


def _emit(stdout: TextIO, output_format: str, payload: dict[str, Any], text: str) -> None:
    if output_format == "json":
        stdout.write(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    else:
        stdout.write(text)


def default_volume_id(path: str | os.PathLike[str]) -> str:
    """A stable volume id for a path backed up without ``--volume-id`` (UUID5 of its URL)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, Path(path).resolve().as_uri()))


def backup(
    path: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str],
    stdout: TextIO,
    stderr: TextIO,
    db: str | None = None,
    volume_id: str | None = None,
    parent: str | None = None,
    compression: str = "zlib",
    backup_id: str | None = None,
    name: str | None = None,
    description: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    output_format: str = "text",
    progress: bool | None = None,
) -> int:
    """``docket volume backup``: back up a file or block device into ``root``."""

    def work() -> int:
        _need_volume_id(db, volume_id, "back up")
        with _metadata_api(db) as api:
            driver = PosixBackupDriver(root, api, compression=compression, chunk_size=chunk_size)
            vid = volume_id
            if vid is None:
                vid = driver.get_backup(parent).volume_id if parent else default_volume_id(path)
            request = Backup(
                id=backup_id or str(uuid.uuid4()),
                volume_id=vid,
                parent_id=parent,
                display_name=name,
                display_description=description,
            )
            with _progress(stderr, "backup", progress) as report:
                done = driver.backup(request, path, progress=report)
        kind = f"incremental of {done.parent_id}" if done.parent_id else "full"
        _emit(
            stdout,
            output_format,
            done.fields(),
            f"backed up {path} as {done.id} ({kind})\n"
            f"  volume     {done.volume_id}\n"
            f"  container  {done.container}\n"
            f"  prefix     {done.service_metadata}\n"
            f"  objects    {done.object_count}\n"
            f"  size       {done.size} GiB\n",
        )
        return EXIT_OK

    return _run(stderr, work)


def restore(
    backup_id: str,
    target: str | os.PathLike[str],
    *,
    root: str | os.PathLike[str],
    stdout: TextIO,
    stderr: TextIO,
    db: str | None = None,
    volume_id: str | None = None,
    output_format: str = "text",
    progress: bool | None = None,
) -> int:
    """``docket volume restore``: restore a backup (and its parents) onto ``target``."""

    def work() -> int:
        _need_volume_id(db, volume_id, "restore")
        with _metadata_api(db) as api:
            driver = PosixBackupDriver(root, api)
            with _progress(stderr, "restore", progress) as report:
                done = driver.restore(backup_id, volume_id, target, progress=report)
        lines = [
            f"restored {done.backup_id} onto {target}: {done.size} bytes",
            "  chain      " + " <- ".join(done.chain),
        ]
        if done.metadata:
            lines.append("  metadata   restored from " + ", ".join(b for b, _ in done.metadata))
        if done.metadata_skipped:
            lines.append(
                "  metadata   not restored (give --db and --volume-id) from "
                + ", ".join(done.metadata_skipped)
            )
        _emit(
            stdout,
            output_format,
            {
                "backup_id": done.backup_id,
                "target": str(target),
                "chain": list(done.chain),
                "size": done.size,
                "written": done.written,
                "metadata_restored": [b for b, _ in done.metadata],
                "metadata_skipped": list(done.metadata_skipped),
            },
            "\n".join(lines) + "\n",
        )
        return EXIT_OK

    return _run(stderr, work)


def verify(
    backup_id: str,
    *,
    root: str | os.PathLike[str],
    stdout: TextIO,
    stderr: TextIO,
    output_format: str = "text",
    progress: bool | None = None,
) -> int:
    """``docket volume verify``: exit 0 when intact, 1 with each problem listed."""

    def work() -> int:
        driver = PosixBackupDriver(root)
        with _progress(stderr, "verify", progress) as report:
            result = driver.verify(backup_id, progress=report)
        verdict = "ok" if result.ok else f"FAILED: {len(result.problems)} problem(s)"
        text = [f"{p}\n" for p in result.problems]
        text.append(
            f"backup {result.backup_id}: {verdict} ({result.objects} objects, "
            f"{result.blocks} SHA-256 blocks checked; chain {' <- '.join(result.chain) or '-'})\n"
        )
        _emit(
            stdout,
            output_format,
            {
                "backup_id": result.backup_id,
                "ok": result.ok,
                "chain": list(result.chain),
                "objects": result.objects,
                "blocks": result.blocks,
                "problems": [
                    {
                        "backup_id": p.backup_id,
                        "kind": p.kind,
                        "object": p.object,
                        "message": p.message,
                    }
                    for p in result.problems
                ],
            },
            "".join(text),
        )
        return EXIT_OK if result.ok else EXIT_FAILED

    return _run(stderr, work)


def export_record(
    backup_id: str,
    *,
    root: str | os.PathLike[str],
    stdout: TextIO,
    stderr: TextIO,
    version: int | None = None,
    output_format: str = "text",
) -> int:
    """``docket volume export-record``: print a stored backup's record (base64 text)."""

    def work() -> int:
        driver = PosixBackupDriver(root)
        text = driver.export_record(backup_id, version=version)
        _emit(
            stdout,
            output_format,
            {"backup-record": {"backup_service": driver.service, "backup_url": text}},
            text + "\n",
        )
        return EXIT_OK

    return _run(stderr, work)


def import_record(
    record: str,
    *,
    root: str | os.PathLike[str],
    stdout: TextIO,
    stderr: TextIO,
    output_format: str = "text",
) -> int:
    """``docket volume import-record``: check a record, then verify the backup it names."""

    def work() -> int:
        driver = PosixBackupDriver(root)
        imported = driver.import_record(record.strip())
        result = driver.verify(imported.backup)
        _emit(
            stdout,
            output_format,
            {
                "backup": imported.backup.fields(),
                "record_version": imported.version,
                "signature": imported.signature,
                "ignored": list(imported.ignored),
                "verified": result.ok,
                "problems": [str(p) for p in result.problems],
            },
            f"record for backup {imported.backup.id} (version {imported.version}, signature "
            f"{imported.signature}); ignored fields: {', '.join(imported.ignored) or 'none'}\n"
            + "".join(f"{p}\n" for p in result.problems)
            + f"backup {imported.backup.id}: {'ok' if result.ok else 'FAILED'}\n",
        )
        return EXIT_OK if result.ok else EXIT_FAILED

    return _run(stderr, work)
