"""``docket volume``: back up, restore and verify volumes in Cinder's chunked formats, in a
directory (POSIX), a Swift container or an S3 bucket.

Plain functions (streams in, an exit code out) and, below them, the click group over them.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, BinaryIO, TextIO, TypedDict, Unpack

import click

from docket import fs
from docket.backup._chunks import Compression
from docket.backup._model import Backup, BackupSummary, MetadataAPI, SkippedPath
from docket.backup.errors import BackupInUse, RecordDecodeError
from docket.backup.objects import ObjectStoreBackupDriver
from docket.backup.posix import PosixBackupDriver
from docket.backup.records import RECORD_TEXT_LIMIT, TEXT_FIELDS, check_text
from docket.backup.roots import open_driver, read_cinder_config
from docket.cli import options
from docket.cli.common import (
    EXIT_FAILED,
    EXIT_OK,
    Progress,
    build_registry,
    counted,
    database,
    named_version,
    progress_bar,
    run,
)
from docket.cli.output import emit
from docket.core.display import display
from docket.core.errors import BackupError, CommandFailed, DriverOptionError
from docket.core.registry import Registry

PROGRESS_HELP = "Draw a progress bar (default: only on a terminal)."

_Outcome = tuple[Any, str, int]
"""What a command's work gives :func:`_report`: the JSON data, the text, the exit code."""

PathArg = str | os.PathLike[str]


class _Where(TypedDict):
    root: PathArg
    stdout: TextIO
    stderr: TextIO


class Common(_Where, total=False):
    """The keywords every command function takes: where the backups are (``root``, a path or
    a ``swift://``/``s3://`` URL, with ``cinder_config``), the streams, the output format,
    whether to draw a progress bar, and the signing key file."""

    cinder_config: PathArg | None
    output_format: str
    progress: bool | None
    key_file: PathArg | None


def _report(common: Common, work: Callable[[], _Outcome], *, sort_keys: bool = True) -> int:
    """Run ``work`` as :func:`~docket.cli.common.run` does, then print its report."""

    def body() -> int:
        data, text, code = work()
        emit(common["stdout"], common.get("output_format", "text"), data, text, sort_keys=sort_keys)
        return code

    return run(common["stderr"], body)


def _registry(common: Common) -> Registry:
    return build_registry(None, common.get("key_file"))


def _driver(
    common: Common, api: MetadataAPI | None = None, **extra: Any
) -> PosixBackupDriver | ObjectStoreBackupDriver:
    """The driver of ``common``'s root (its options from ``cinder_config``); ``extra`` are
    :func:`~docket.backup.roots.open_driver`'s other keywords."""
    config = common.get("cinder_config")
    if config is not None:
        # What Cinder would ignore without a word (a mistyped option) is said, not an error.
        for doubt in read_cinder_config(config).doubts():
            common["stderr"].write(f"warning: {display(doubt)}\n")
    return open_driver(common["root"], api, cinder_config=config, **extra)


def _where(driver: PosixBackupDriver | ObjectStoreBackupDriver, root: PathArg) -> str:
    """The root as messages name it: a store's URL with its container (``swift://`` alone
    names the one cinder.conf gives), a directory as given."""
    return driver.url if isinstance(driver, ObjectStoreBackupDriver) else display(root)


@contextlib.contextmanager
def _volume_file(path: PathArg, doing: str, hint: str) -> Iterator[None]:
    """An ``OSError`` about ``path`` itself (missing, no permission), or about a file beside
    it (a restore's temporary file), said as ``docket validate`` says it: the path given,
    then what went wrong, with a hint; not the temporary file's name, nor no hint."""
    try:
        yield
    except (FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError) as err:
        named = Path(os.fsdecode(err.filename)) if err.filename is not None else None
        given = Path(path)
        if named is None or (named != given and named.parent != given.parent):
            raise
        raise CommandFailed(
            f"{display(path)}: cannot {doing}: {err.strerror}",
            hint=hint if isinstance(err, FileNotFoundError | NotADirectoryError) else "check "
            "its permissions",
        ) from None


@contextlib.contextmanager
def _bar(common: Common, label: str) -> Iterator[Progress | None]:
    """A progress bar on ``common``'s stderr when it asks for one (see ``progress_bar``)."""
    with progress_bar(common["stderr"], label, common.get("progress")) as report:
        yield report


def _need_volume_id(db: str | None, volume_id: str | None, what: str) -> None:
    if db is not None and volume_id is None:
        raise DriverOptionError(
            f"--db needs --volume-id: the volume whose metadata to {what}",
            hint="pass --volume-id ID",
        )


@contextlib.contextmanager
def _metadata_api(db: str | None, registry: Registry) -> Iterator[MetadataAPI | None]:
    """``docket.store.BackupMetadataAPI`` on the database at ``db`` (None without one).

    With a signing key in ``registry``, it writes signed containers (the current version) and
    restores only signed ones.
    """
    if db is None:
        yield None
        return
    try:
        store = importlib.import_module("docket.store")
    except ImportError as err:  # pragma: no cover - the store ships with docket
        raise BackupError(
            f"the database store is not available ({err})", hint="reinstall docket"
        ) from None
    family = registry.family(store.FAMILY)
    version = family.current if registry.signing_key is not None else 2
    with database(db) as engine:
        yield store.BackupMetadataAPI(engine, version=version, registry=registry)


def default_volume_id(path: str | os.PathLike[str]) -> str:
    """A stable volume id for a path backed up without ``--volume-id`` (UUID5 of its URL)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, Path(path).resolve().as_uri()))


def backup(
    path: PathArg,
    *,
    db: str | None = None,
    volume_id: str | None = None,
    parent: str | None = None,
    compression: str | None = None,
    backup_id: str | None = None,
    name: str | None = None,
    description: str | None = None,
    chunk_size: int | None = None,
    **common: Unpack[Common],
) -> int:
    """``docket volume backup``: back up a file or block device into ``root``.

    With ``key_file``, the volume's metadata container is written signed, and a parent's
    stored container must carry a valid signature.
    """

    def work() -> _Outcome:
        _need_volume_id(db, volume_id, "back up")
        for option, field, value in (
            ("--name", "display_name", name),
            ("--description", "display_description", description),
        ):
            if value is not None:  # what its record could not hold (Cinder's own names pass)
                check_text(
                    value,
                    (),
                    allowed=TEXT_FIELDS[field],
                    error=DriverOptionError,
                    hint="a backup record keeps it: no control characters",
                    what=option,
                )
        registry = _registry(common)
        with _metadata_api(db, registry) as api:
            driver = _driver(
                common, api, registry=registry, compression=compression, chunk_size=chunk_size
            )
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
            with (
                _bar(common, "backup") as report,
                _volume_file(path, "read", "check the path of the file or block device to back up"),
            ):
                done = driver.backup(request, path, progress=report)
        kind = f"incremental of {done.parent_id}" if done.parent_id else "full"
        return (
            done.fields(),
            f"backed up {path} as {done.id} ({kind})\n"
            f"  volume     {done.volume_id}\n"
            f"  container  {done.container}\n"
            f"  prefix     {done.service_metadata}\n"
            f"  objects    {done.object_count}\n"
            f"  size       {done.size} GiB\n",
            EXIT_OK,
        )

    return _report(common, work)


def restore(
    backup_id: str,
    target: PathArg,
    *,
    db: str | None = None,
    volume_id: str | None = None,
    **common: Unpack[Common],
) -> int:
    """``docket volume restore``: restore a backup (and its parents) onto ``target``.

    With ``key_file``, every stored metadata container of the chain must carry a valid
    signature; one that does not is refused before any data is written.
    """

    def work() -> _Outcome:
        _need_volume_id(db, volume_id, "restore")
        registry = _registry(common)
        with _metadata_api(db, registry) as api:
            driver = _driver(common, api, registry=registry)
            with (
                _bar(common, "restore") as report,
                _volume_file(target, "write", "check that the target's directory exists"),
            ):
                done = driver.restore(backup_id, volume_id, target, progress=report)
        lines = [
            f"restored {done.backup_id} onto {target}: {done.size} bytes",
            # The full first, each incremental after the backup it builds on.
            "  chain      " + _shown(done.chain, " -> "),
        ]
        if done.metadata:
            lines.append("  metadata   restored from " + _shown([b for b, _ in done.metadata]))
        if done.metadata_skipped:
            lines.append(
                "  metadata   not restored (give --db and --volume-id) from "
                + _shown(done.metadata_skipped)
            )
        if done.metadata_absent and volume_id is not None:
            which = _shown(done.metadata_absent)
            verb = "was" if len(done.metadata_absent) == 1 else "were"
            lines.append(
                f"  metadata   {which} {verb} backed up without volume metadata (no --db): "
                f"nothing of {'it' if verb == 'was' else 'theirs'} to restore into volume "
                f"{volume_id}"
            )
            if not done.metadata:
                lines.append(f"  metadata   no volume metadata restored into volume {volume_id}")
        return (
            {
                "backup_id": done.backup_id,
                "target": str(target),
                "chain": list(done.chain),
                "size": done.size,
                "written": done.written,
                "metadata_restored": [b for b, _ in done.metadata],
                "metadata_skipped": list(done.metadata_skipped),
                "metadata_absent": list(done.metadata_absent),
            },
            "\n".join(lines) + "\n",
            EXIT_OK,
        )

    return _report(common, work)


def _shown(ids: Sequence[str], sep: str = ", ", ends: int = 3) -> str:
    """``ids`` joined for a line of text, a long list by its ends and how many are between
    (a chain can be 65,000 backups long; ``--format json`` lists every one)."""
    if len(ids) <= 2 * ends + 1:
        return sep.join(ids)
    return sep.join([*ids[:ends], f"... {len(ids) - 2 * ends} more ...", *ids[-ends:]])


def verify(backup_id: str, **common: Unpack[Common]) -> int:
    """``docket volume verify``: exit 0 when intact, 1 with each problem listed (with
    ``key_file``, an unsigned or wrongly signed metadata container is one)."""

    def work() -> _Outcome:
        driver = _driver(common, registry=_registry(common))
        with _bar(common, "verify") as report:
            result = driver.verify(backup_id, progress=report)
        verdict = "ok" if result.ok else f"FAILED: {len(result.problems)} problem(s)"
        text = [f"{p}\n" for p in result.problems]
        text.append(
            f"backup {result.backup_id}: {verdict} ({counted(result.objects, 'object')}, "
            f"{counted(result.blocks, 'SHA-256 block')} checked; "
            f"chain {_shown(result.chain, ' <- ') or '-'})\n"
        )
        return (
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
            EXIT_OK if result.ok else EXIT_FAILED,
        )

    return _report(common, work)


def export_record(
    backup_id: str,
    *,
    version: int | str | None = None,
    service: str | None = None,
    **common: Unpack[Common],
) -> int:
    """``docket volume export-record``: print a stored backup's record (base64 text).

    The record names ``service`` (Cinder's POSIX driver by default, which Cinder imports).
    With ``key_file``, the record is signed with it, so that ``import-record`` with the same
    key accepts it.
    """

    def work() -> _Outcome:
        driver = _driver(common, registry=_registry(common))
        # As typed (or an int from a script), read as every command reads a version: one it
        # lacks, or one not written as docket writes it ("03"), is the option's fault: exit 2.
        family = driver.registry.family("backup-record")
        chosen = (
            None if version is None else named_version(family, str(version), "--record-version")
        )
        text = driver.export_record(backup_id, version=chosen, service=service)
        return (
            {"backup-record": {"backup_service": service or driver.service, "backup_url": text}},
            text + "\n",
            EXIT_OK,
        )

    return _report(common, work)


def import_record(record: str, *, stdin: BinaryIO | None = None, **common: Unpack[Common]) -> int:
    """``docket volume import-record``: check a record, then verify the backup it names.

    ``record`` ``-`` reads standard input (``stdin``), at most
    :data:`~docket.backup.records.RECORD_TEXT_LIMIT` bytes. With ``key_file``, an unsigned
    or wrongly signed record (and metadata container) is refused.
    """

    def work() -> _Outcome:
        driver = _driver(common, registry=_registry(common))
        text = record
        if record == "-":
            source = stdin if stdin is not None else fs.standard_input("record")
            raw = fs.read_bounded(source, RECORD_TEXT_LIMIT, what="record", name="<stdin>")
            text = raw.decode("ascii", "replace")
        try:
            imported = driver.import_record(text.strip())
        except RecordDecodeError as err:
            if record != "-" and os.path.lexists(record):
                # A file's name given where its text goes: say how to pass the file.
                err.hint = (
                    f"RECORD is the record's text, and {display(record)} is a file: pass "
                    f"`- < {display(record)}` or \"$(cat {display(record)})\""
                )
            raise
        result = driver.verify(imported.backup)
        return (
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
            EXIT_OK if result.ok else EXIT_FAILED,
        )

    return _report(common, work)


def list_backups(*, volume_id: str | None = None, **common: Unpack[Common]) -> int:
    """``docket volume list``: the backups under ``root`` (of ``volume_id`` only, when given)."""

    def work() -> _Outcome:
        driver = _driver(common)
        found = driver.list_backups(volume_id, on_skip=skipped)
        text = _list_text(found, _where(driver, common["root"]), volume_id)
        return [s.fields() for s in found], text, EXIT_OK

    def skipped(place: SkippedPath) -> None:
        # Not a backup row (no id is known without following it): a warning, in every format.
        common["stderr"].write(f"warning: skipped {display(place.path)}: {place.reason}\n")

    return _report(common, work, sort_keys=False)


def _list_text(found: list[BackupSummary], root: str, volume_id: str | None) -> str:
    if not found:
        of = f" of volume {display(volume_id)}" if volume_id is not None else ""
        return f"no backups under {root}{of}\n"
    rows = [("BACKUP", "VOLUME", "PARENT", "CREATED", "SIZE", "OBJECTS", "STATUS")]
    rows += [
        (
            s.backup_id,
            s.volume_id or "-",
            s.parent_id or "-",
            s.created_at or "-",
            f"{s.size} GiB" if s.size is not None else "-",
            str(s.object_count),
            s.status,
        )
        for s in found
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines += [f"{s.backup_id}: {s.status}: {s.problem}" for s in found if s.problem]
    return "\n".join(lines) + "\n"


def delete(backup_id: str, *, force: bool = False, **common: Unpack[Common]) -> int:
    """``docket volume delete``: delete a backup, refused while others build on it (unless
    ``force``) or when its directory holds anything but its own files."""

    def work() -> _Outcome:
        try:
            done = _driver(common).delete(backup_id, force=force)
        except BackupInUse as err:
            # The driver's hint names the library's force=True: here it is the option.
            err.hint = (
                "delete those first, or delete it anyway with --force; they can then no "
                "longer be restored"
            )
            raise
        text = (
            f"deleted backup {done.backup_id}: {len(done.objects)} file(s), "
            f"{done.stored_bytes} bytes\n"
        )
        if done.directories:
            text += "  removed    " + ", ".join(done.directories) + "\n"
        if done.orphaned:
            text += "  orphaned   " + ", ".join(done.orphaned) + " (their parent is gone)\n"
        return (
            {
                "backup_id": done.backup_id,
                "objects": list(done.objects),
                "stored_bytes": done.stored_bytes,
                "directories": list(done.directories),
                "orphaned": list(done.orphaned),
            },
            text,
            EXIT_OK,
        )

    return _report(common, work)


# --- the click group ------------------------------------------------------------------------


@click.group(
    name="volume",
    context_settings=options.VOLUME_CONTEXT,
    short_help="Volume backups in Cinder's layouts: POSIX, Swift, S3.",
    epilog=options.examples(
        "docket volume backup /dev/vg0/vol-1 --root /backups --volume-id VOL",
        "docket volume list --root swift://volumebackups",
        "docket volume restore BACKUP_ID --root s3://volumebackups /dev/vg0/vol-2",
    ),
)
@options.schemas
def volume() -> None:
    """Back up, restore, verify, list and delete volumes in Cinder's chunked formats: in a
    directory (the POSIX driver's layout), a Swift container or an S3 bucket."""


def _command(
    name: str, short_help: str, *examples: str
) -> Callable[[Callable[..., Any]], click.Command]:
    """A ``docket volume`` command, with its examples as the epilog."""
    return options.command(
        name, short_help, *examples, group=volume, context=options.VOLUME_CONTEXT
    )


@_command(
    "backup",
    "Back up a file or block device.",
    "docket volume backup vol.img --root /backups",
    "docket volume backup /dev/vg0/vol-1 --root /backups --db sqlite:///cinder.db --volume-id VOL",
    "docket volume backup vol.img --root /backups --parent BACKUP_ID",
)
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@options.backup_root
@options.cinder_config
@click.option("--db", metavar="URL", help="Database to read the volume's metadata from.")
@click.option("--volume-id", metavar="ID", help="The volume's id (its row with --db).")
@click.option("--parent", metavar="BACKUP_ID", help="Make an incremental backup of this one.")
@click.option(
    "--compression",
    type=click.Choice([c.value for c in Compression]),
    default=None,
    help="How each data object is compressed (zstd needs the docket[zstd] extra); an object "
    "that does not shrink is stored as none. [default: backup_compression_algorithm of "
    "--cinder-config, else zlib]",
)
@click.option("--backup-id", metavar="ID", help="Id for the new backup (default: a UUID).")
@click.option("--name", help="The backup's display name.")
@click.option("--description", help="The backup's display description.")
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=None,
    help="Bytes of volume per data object (a multiple of 32768). [default: 67108864 in a "
    "directory; backup_swift_object_size or backup_s3_object_size, else 52428800, in Swift "
    "and S3]",
)
@options.output_format()
@options.progress(PROGRESS_HELP)
@options.key_file
@options.schemas
@click.pass_context
def backup_command(ctx: click.Context, /, **params: Any) -> None:
    """Back up the file or block device PATH into the backup root."""
    ctx.exit(backup(**params, **options.streams()))


@_command(
    "restore",
    "Restore a backup and its parents onto a target.",
    "docket volume restore BACKUP_ID --root /backups restored.img",
    "docket volume restore BACKUP_ID --root /backups /dev/vg0/vol-2 "
    "--db sqlite:///cinder.db --volume-id VOL",
)
@click.argument("backup_id")
@options.backup_root
@options.cinder_config
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--db", metavar="URL", help="Database to restore the volume's metadata into.")
@click.option("--volume-id", metavar="ID", help="The volume whose metadata to restore.")
@options.output_format()
@options.progress(PROGRESS_HELP)
@options.key_file
@options.schemas
@click.pass_context
def restore_command(ctx: click.Context, /, **params: Any) -> None:
    """Restore BACKUP_ID (and the backups it builds on) onto TARGET.

    With --db and --volume-id the volume must exist; the volume metadata stored with each
    backup is restored into it (a backup made without --db holds none, and says so).
    """
    ctx.exit(restore(**params, **options.streams()))


@_command(
    "verify",
    "Check a backup and its parents (exit 1 if not intact).",
    "docket volume verify BACKUP_ID --root /backups",
    "docket volume verify BACKUP_ID --root /backups --format json",
)
@click.argument("backup_id")
@options.backup_root
@options.cinder_config
@options.output_format()
@options.progress(PROGRESS_HELP)
@options.key_file
@options.schemas
@click.pass_context
def verify_command(ctx: click.Context, /, **params: Any) -> None:
    """Check BACKUP_ID and its parents: object list, MD5s, SHA-256 blocks (exit 1 if not)."""
    ctx.exit(verify(**params, **options.streams()))


@_command(
    "list",
    "List the backups under a backup root.",
    "docket volume list --root /backups",
    "docket volume list --root /backups --volume-id VOL --format json",
)
@options.backup_root
@options.cinder_config
@click.option("--volume-id", metavar="ID", help="Only the backups of this volume.")
@options.output_format()
@options.schemas
@click.pass_context
def list_command(ctx: click.Context, /, **params: Any) -> None:
    """List the backups under the backup root: id, volume, parent, time, size, status.

    Status is available, partial (it did not finish), invalid (its metadata object is
    refused or a parent is missing) or deleting (what an interrupted delete left). A
    symbolic link below the root is never followed: a backup whose directory is one is
    invalid, and any other is a "warning: skipped PATH" line on standard error.
    """
    ctx.exit(list_backups(**params, **options.streams()))


@_command(
    "delete",
    "Delete a backup and its emptied directories.",
    "docket volume delete BACKUP_ID --root /backups",
    "docket volume delete BACKUP_ID --root /backups --force",
)
@click.argument("backup_id")
@options.backup_root
@options.cinder_config
@click.option(
    "--force",
    is_flag=True,
    help="Delete it even though incremental backups build on it (they can no longer be restored).",
)
@options.output_format()
@options.schemas
@click.pass_context
def delete_command(ctx: click.Context, /, **params: Any) -> None:
    """Delete BACKUP_ID: its files and the directories it leaves empty.

    Refused (exit 1, nothing changed) while incremental backups build on it, unless --force,
    and when its directory is a link or holds anything that is not one of its files.
    """
    ctx.exit(delete(**params, **options.streams()))


@_command(
    "export-record",
    "Print a backup's record (base64 text).",
    "docket volume export-record BACKUP_ID --root /backups > record.txt",
    "docket volume export-record BACKUP_ID --root /backups --format json",
)
@click.argument("backup_id")
@options.backup_root
@options.cinder_config
@click.option(
    "--record-version",
    "version",
    metavar="VERSION",
    default=None,
    help="Record version (default: current).",
)
@click.option(
    "--service",
    default=None,
    metavar="NAME",
    help="Backup service the record names (default: Cinder's driver of the store, such as "
    "cinder.backup.drivers.posix.PosixBackupDriver, which Cinder imports).",
)
@options.output_format()
@options.key_file
@options.schemas
@click.pass_context
def export_record_command(ctx: click.Context, /, **params: Any) -> None:
    """Print the backup record of BACKUP_ID (base64 text); with a key (--key-file or
    DOCKET_SIGNING_KEY_FILE), signed, as import-record with that key requires."""
    ctx.exit(export_record(**params, **options.streams()))


@_command(
    "import-record",
    "Check a backup record and verify its backup.",
    'docket volume import-record "$(cat record.txt)" --root /backups',
    "docket volume import-record - --root /backups < record.txt",
)
@click.argument("record")
@options.backup_root
@options.cinder_config
@options.output_format()
@options.key_file
@options.schemas
@click.pass_context
def import_record_command(ctx: click.Context, /, **params: Any) -> None:
    """Check RECORD (base64 text, or - for stdin) and verify the backup it describes."""
    # stdin None: standard input, read only for RECORD -
    ctx.exit(import_record(**params, stdin=None, **options.streams()))
