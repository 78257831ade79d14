"""The POSIX driver's verify side: reading every object of a chain and reporting what is wrong.

Verify never stops at the first problem: each one becomes a :class:`Problem` in the report.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from docket.backup._chunks import ObjectDamaged, compression_named, object_pieces
from docket.backup._layout import DEFAULT_SHA_BLOCK_SIZE, Backups, LoadedBackup
from docket.backup._model import Backup, Problem, Progress, VerifyReport
from docket.backup._shalist import Digests
from docket.backup.errors import BackupNotFound
from docket.core.errors import DocketError, UnsafeFile
from docket.core.family import Family


def verify_chain(
    backups: Backups,
    backup: Backup | str,
    progress: Progress | None,
    containers: Family | None = None,
) -> VerifyReport:
    """Check a stored backup and every backup it builds on (see ``ChunkedBackupDriver.verify``).

    With ``containers`` (the ``backup-metadata`` family, signing key and all), each backup's
    stored volume metadata container is loaded by it too: a refusal is a ``metadata`` problem.
    """
    top = backups.find(backup)  # a wrong id is an error, not a finding
    problems: list[Problem] = []
    found: list[_Checked] = []
    walked: set[str] = set()
    current: Backup | str | None = backup
    while current is not None:
        child = found[-1].loaded.backup_id if found else top.backup_id
        try:
            stored = backups.find(current)
        except BackupNotFound as err:
            problems.append(Problem(child, "parent", str(err)))
            break
        except DocketError as err:
            if not found:
                raise
            problems.append(Problem(child, "parent", str(err)))
            break
        if stored.backup_id in walked:  # a set: a chain 65,000 long is not 65,000² steps
            problems.append(Problem(child, "parent", "the parent chain loops"))
            break
        if not stored.complete:
            problems.append(
                Problem(
                    stored.backup_id,
                    "partial",
                    f"{stored.metadata_name} is missing: the backup did not finish",
                )
            )
            break
        try:
            loaded = backups.load(current)
        except DocketError as err:
            problems.append(Problem(stored.backup_id, "metadata", str(err), stored.metadata_name))
            break
        except OSError as err:
            problems.append(
                Problem(stored.backup_id, "metadata", _os_message(err), stored.metadata_name)
            )
            break
        volume_meta = loaded.metadata.get("volume_meta")
        if containers is not None and volume_meta:
            try:
                containers.load(volume_meta)
            except DocketError as err:
                problems.append(
                    Problem(
                        stored.backup_id,
                        "metadata",
                        f"the volume metadata container is refused: {err}",
                        stored.metadata_name,
                    )
                )
        found.append(_Checked(loaded))
        walked.add(loaded.backup_id)
        current = loaded.parent_id

    # The volume is as large as the furthest object of the chain: that bounds every
    # sha256file, which is read only now that it is known.
    end = max((f.loaded.end() for f in found), default=0)
    for i, checked in enumerate(found):
        stored = checked.loaded.stored
        try:
            shas, block_size = backups.sha256(checked.loaded, end)
            found[i] = _Checked(checked.loaded, Digests(shas), block_size)
        except (DocketError, OSError) as err:
            message = str(err) if isinstance(err, DocketError) else _os_message(err)
            problems.append(Problem(stored.backup_id, "sha256", message, stored.sha256_name))

    total = sum(e["length"] for f in found for _, e in f.loaded.objects)
    check = _Verifier(total, progress)
    for i, checked in enumerate(found):
        parent = found[i + 1] if i + 1 < len(found) else None
        check.backup(checked, parent)
    return VerifyReport(
        backup_id=top.backup_id,
        chain=tuple(f.loaded.backup_id for f in found),
        problems=tuple(problems + check.problems),
        objects=check.objects,
        blocks=check.blocks,
    )


@dataclass(frozen=True)
class _Checked:
    """A backup verify is checking, with its SHA-256 list when that could be read."""

    loaded: LoadedBackup
    shas: Digests | list[str] | None = None
    block_size: int = DEFAULT_SHA_BLOCK_SIZE

    def __post_init__(self) -> None:
        if isinstance(self.shas, list):  # hex, as a caller read it (checked by the schema)
            packed = b"".join(bytes.fromhex(h) for h in self.shas)
            object.__setattr__(self, "shas", Digests(packed))


class _Verifier:
    """Reads every object of a chain and collects what does not match."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total = total
        self.progress = progress
        self.done = 0
        self.objects = 0
        self.blocks = 0
        self.problems: list[Problem] = []

    def _add(self, loaded: LoadedBackup, kind: str, message: str, obj: str | None = None) -> None:
        self.problems.append(Problem(loaded.backup_id, kind, message, obj))

    def backup(self, checked: _Checked, parent: _Checked | None) -> None:
        loaded, shas, block_size = checked.loaded, checked.shas, checked.block_size
        has_parent = loaded.parent_id is not None
        stored = set(loaded.stored.entries())
        listed = {name for name, _ in loaded.objects}
        for name in sorted(stored - listed):
            self._add(loaded, "unexpected", "stored but not in the metadata's object list", name)
        for name, entry in loaded.objects:
            if name not in stored:
                self._add(loaded, "missing", "listed in the metadata but not stored", name)
                continue
            self._object(loaded, name, entry, shas, block_size)
        overlap = overlapping(loaded)
        if overlap is not None:
            self._add(loaded, "metadata", OVERLAP, overlap)
        if shas is None:
            return
        # A listed object accounts for its blocks even when it is missing or damaged: that is
        # reported once, as the object's own problem.
        covered = bytearray(len(shas))
        for _, entry in loaded.objects:
            if entry["offset"] % block_size == 0:
                first = entry["offset"] // block_size
                last = min(-(-(entry["offset"] + entry["length"]) // block_size), len(shas))
                covered[first:last] = b"\x01" * max(0, last - first)
        end = loaded.end()
        if not has_parent and len(shas) != -(-end // block_size):
            self._add(
                loaded,
                "sha256",
                f"the sha256file lists {len(shas)} blocks; the objects hold "
                f"{-(-end // block_size)}",
                loaded.stored.sha256_name,
            )
        gaps = [i for i in range(len(shas)) if not covered[i]]
        if not has_parent:
            if gaps:
                self._add(
                    loaded,
                    "metadata",
                    f"{len(gaps)} block(s) are in no object, first block {gaps[0]} "
                    f"(offset {gaps[0] * block_size})",
                )
            return
        if parent is None or parent.shas is None:
            return  # the parent's own problem is already reported
        if parent.block_size != block_size:
            # Restore refuses such a chain; its blocks cannot be compared with the parent's.
            self._add(
                loaded,
                "sha256",
                f"SHA blocks of {block_size} bytes; the backup it builds on used "
                f"{parent.block_size}",
                loaded.stored.sha256_name,
            )
            return
        parent_shas = parent.shas
        changed = [i for i in gaps if i >= len(parent_shas) or parent_shas[i] != shas[i]]
        if changed:
            self._add(
                loaded,
                "sha256",
                f"{len(changed)} block(s) are neither stored nor unchanged from the parent, "
                f"first block {changed[0]} (offset {changed[0] * block_size})",
                loaded.stored.sha256_name,
            )

    def _object(
        self,
        loaded: LoadedBackup,
        name: str,
        entry: Mapping[str, Any],
        shas: Digests | list[str] | None,
        block_size: int,
    ) -> None:
        self.objects += 1
        offset, length = entry["offset"], entry["length"]
        compression = compression_named(entry["compression"])
        assert compression is not None
        aligned = offset % block_size == 0
        if not aligned and shas is not None:  # the block size is known only from the list
            self._add(loaded, "metadata", f"offset {offset} is not on a SHA block edge", name)
        md5 = hashlib.md5(usedforsecurity=False)
        seen = 0
        pending = bytearray()
        # Block hashes are compared as they come (never collected): memory stays one block.
        first = offset // block_size
        index = first
        bad_count = 0
        bad_first = -1

        def compare(block: memoryview | bytearray) -> None:
            nonlocal index, bad_count, bad_first
            assert shas is not None
            digest = hashlib.sha256(block).digest()
            self.blocks += 1
            if index >= len(shas) or shas[index] != digest:
                bad_count += 1
                if bad_first < 0:
                    bad_first = index
            index += 1

        damaged: str | None = None
        try:
            with loaded.stored.open_object(name) as fh:
                for piece in object_pieces(fh, compression, length):
                    seen += len(piece)
                    if seen > length:
                        damaged = f"holds more than its {length} bytes"
                        break
                    md5.update(piece)
                    self.done += len(piece)
                    if aligned and shas is not None:
                        pending += piece
                        whole = len(pending) // block_size * block_size
                        view = memoryview(pending)
                        for at in range(0, whole, block_size):
                            compare(view[at : at + block_size])
                        view.release()
                        del pending[:whole]
                    if self.progress is not None:
                        self.progress(self.done, self.total)
        except ObjectDamaged as err:
            damaged = f"cannot be decompressed ({err})"
        except UnsafeFile as err:
            damaged = f"is not read: it is {err.found}"
        except OSError as err:
            damaged = f"cannot be read ({_os_message(err)})"
        if damaged is not None:
            self._add(loaded, "altered", damaged, name)
            return
        if seen < length:
            self._add(loaded, "truncated", f"holds {seen} of its {length} bytes", name)
            return
        if md5.hexdigest() != entry["md5"]:
            self._add(loaded, "altered", "its bytes do not match the recorded MD5", name)
            return
        if not aligned or shas is None:
            return
        if pending:
            compare(pending)
        if bad_count:
            self._add(
                loaded,
                "sha256",
                f"{bad_count} block(s) of {name} do not match the sha256file, first block "
                f"{bad_first} (offset {bad_first * block_size})",
                loaded.stored.sha256_name,
            )


OVERLAP = "overlaps the object before it in the volume"


def overlapping(loaded: LoadedBackup) -> str | None:
    """The first object (by offset) that starts before the one before it ends: each may match
    its own blocks, but restore refuses the backup (:func:`docket.backup._restore.plan`)."""
    reached = 0
    for name, entry in sorted(loaded.objects, key=lambda item: item[1]["offset"]):
        if entry["offset"] < reached:
            return name
        reached = entry["offset"] + entry["length"]
    return None


def _os_message(err: OSError) -> str:
    where = f": {err.filename}" if err.filename else ""
    return f"{err.strerror or err}{where}"
