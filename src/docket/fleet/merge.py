"""Merging shards: the verdicts of ``audit`` runs over shares of one root, as one run's.

Each shard of ``docket audit --shard I/N --format jsonl`` writes a header line
(:class:`ShardHeader`: which share of how many, of which root and database), one JSON line per
verdict (:meth:`~docket.fleet.audit.Verdict.to_json`) and an end line (:class:`ShardEnd`: how
many verdicts it wrote). :func:`merge_shards` proves the set whole before it yields a verdict:
every share 1 to N present once, all of one root and one database, each file complete. Then it
reads the verdicts back, file by file, for a :class:`~docket.fleet.audit.Summary` and a report
the same as one run over the whole root would give.

Shard files are read as hostile input: opened through :mod:`docket.fs` (no links followed, no
FIFO or device waited on), lines bounded, every member of every line checked for its JSON type
before it is used. Every refusal is a :class:`~docket.core.errors.CommandFailed` naming the file
and line.
"""

from __future__ import annotations

import contextlib
import io
import itertools
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

import orjson

from docket.core.display import display, json_type
from docket.core.errors import CommandFailed
from docket.fleet._audit_checks import Verdict
from docket.fleet.shards import MAX_SHARDS, shard_of
from docket.fs import open_file, standard_input

MAX_LINE = 16 * 1024 * 1024
"""The longest line read (a verdict line is a few hundred bytes)."""
STDIN = "-"
"""The path that means standard input."""
_HINT = "merge the JSONL files `docket audit --shard I/N --format jsonl` wrote, one per share"


@dataclass(frozen=True)
class ShardHeader:
    """The first line of a shard file: share ``index`` of ``count``, of which backups."""

    index: int
    count: int
    root: str
    """The backup root audited, as an absolute path with links resolved."""
    database: str | None
    """The database whose backups table was audited (its URL without a password), or None."""

    def to_json(self) -> dict[str, Any]:
        return {
            "shard": {
                "index": self.index,
                "count": self.count,
                "root": self.root,
                "database": self.database,
            }
        }

    def same_audit(self, other: ShardHeader) -> bool:
        return (self.count, self.root, self.database) == (other.count, other.root, other.database)

    def describe(self) -> str:
        db = f", database {self.database}" if self.database else ", no database"
        return f"shard {self.index}/{self.count} of {display(self.root)}{db}"


@dataclass(frozen=True)
class ShardEnd:
    """The last line of a shard file: how many verdicts it holds (a cut file has none)."""

    records: int

    def to_json(self) -> dict[str, Any]:
        return {"end": {"records": self.records}}


def _refuse(path: str, number: int | None, reason: str) -> CommandFailed:
    where = display(path) if number is None else f"{display(path)}:{number}"
    return CommandFailed(f"{where}: {reason}", hint=_HINT)


def _lines(path: str, stdin: BinaryIO | None) -> Generator[tuple[int, bytes], None, None]:
    """(line number, line) of a shard file, blank lines left out; each line at most
    :data:`MAX_LINE` bytes."""
    opened: contextlib.AbstractContextManager[BinaryIO]
    if path == STDIN:
        opened = contextlib.nullcontext(stdin if stdin is not None else standard_input("shard"))
    else:
        raw = open_file(path, what="shard file", follow=True)
        opened = io.BufferedReader(raw)  # type: ignore[type-var]  # a FileIO: raw I/O
    with opened as fh:
        for number, line in enumerate(iter(lambda: fh.readline(MAX_LINE + 1), b""), 1):
            if len(line) > MAX_LINE:
                raise _refuse(path, number, f"the line is longer than {MAX_LINE} bytes")
            if line.strip():
                yield number, line


def _object(path: str, number: int, line: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError as err:
        raise _refuse(path, number, f"not JSON ({err})") from None
    if not isinstance(value, dict):
        raise _refuse(path, number, f"a JSON {json_type(value)}, not an object")
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check(ok: bool, path: str, number: int, member: str, value: Any) -> None:
    if not ok:
        raise _refuse(path, number, f"{member} is a JSON {json_type(value)} of the wrong kind")


def _header(path: str, number: int, data: Mapping[str, Any]) -> ShardHeader:
    shard = data["shard"]
    _check(isinstance(shard, dict), path, number, '"shard"', shard)
    index, count = shard.get("index"), shard.get("count")
    root, database = shard.get("root"), shard.get("database")
    _check(_is_int(count) and count >= 1, path, number, '"count"', count)
    if count > MAX_SHARDS:
        raise _refuse(path, number, f'"count" is {count}, more than the {MAX_SHARDS:,} shares')
    _check(_is_int(index) and 1 <= index <= count, path, number, '"index"', index)
    _check(isinstance(root, str), path, number, '"root"', root)
    _check(database is None or isinstance(database, str), path, number, '"database"', database)
    return ShardHeader(index, count, root, database)


_TEXT_OR_NULL = ("backup_id", "path", "volume_id", "parent_id", "created_at", "integrity", "row")


def _verdict(path: str, number: int, data: Mapping[str, Any]) -> Verdict:
    """A verdict line, every member checked for its JSON type first."""
    if "backup_id" not in data or "path" not in data or "findings" not in data:
        raise _refuse(path, number, "not a verdict line (no backup_id, path or findings)")
    for name in _TEXT_OR_NULL:
        value = data.get(name)
        _check(value is None or isinstance(value, str), path, number, f'"{name}"', value)
    formats, readers = data.get("formats") or {}, data.get("readers") or []
    findings, deep = data["findings"], data.get("deep", False)
    _check(isinstance(deep, bool), path, number, '"deep"', deep)
    _check(isinstance(formats, dict), path, number, '"formats"', formats)
    for version in formats.values():
        ok = version is None or isinstance(version, str) or _is_int(version)
        _check(ok, path, number, 'a version in "formats"', version)
    _check(isinstance(readers, list), path, number, '"readers"', readers)
    for reader in readers:
        _check(isinstance(reader, str), path, number, 'a reader in "readers"', reader)
    _check(isinstance(findings, list), path, number, '"findings"', findings)
    for finding in findings:
        _check(isinstance(finding, dict), path, number, 'a finding in "findings"', finding)
        for name in ("kind", "message"):
            _check(isinstance(finding.get(name), str), path, number, f'"{name}"', finding.get(name))
        obj = finding.get("object")
        _check(obj is None or isinstance(obj, str), path, number, '"object"', obj)
    return Verdict.from_json(data)


def _first(path: str, lines: Iterator[tuple[int, bytes]]) -> ShardHeader:
    """The header, from the first line of ``lines``."""
    for number, line in lines:
        data = _object(path, number, line)
        if "shard" in data:
            return _header(path, number, data)
        break
    raise _refuse(path, None, "has no shard header line; write it again with this docket")


def read_header(path: str) -> ShardHeader:
    """The :class:`ShardHeader` a shard file opens with; :class:`CommandFailed` when it has
    none (not a shard file, or one written before shard files carried one)."""
    lines = _lines(path, None)
    try:
        return _first(path, lines)
    finally:
        lines.close()


def _verdicts(
    path: str, header: ShardHeader, lines: Iterator[tuple[int, bytes]]
) -> Iterator[Verdict]:
    """The verdict lines after the header, up to the end line, which must count them; each
    of a backup (or place) that hashes to the header's share."""
    count = 0
    for number, line in lines:
        data = _object(path, number, line)
        if "shard" in data:
            raise _refuse(path, number, "a second shard header")
        if "end" not in data:
            count += 1
            verdict = _verdict(path, number, data)
            _check_share(path, number, header, verdict)
            yield verdict
            continue
        end = data["end"]
        records = end.get("records") if isinstance(end, dict) else None
        _check(_is_int(records), path, number, '"records"', records)
        if records != count:
            raise _refuse(path, number, f"the end line counts {records} verdicts, not {count}")
        for after, _ in lines:
            raise _refuse(path, after, "a line after the end line")
        return
    raise _refuse(path, None, "has no end line: the shard did not finish, or was cut")


def _check_share(path: str, number: int, header: ShardHeader, verdict: Verdict) -> None:
    """Refuse a verdict of a backup that another share audits: the audit keeps a backup in
    share ``shard_of(id, N)``, so a verdict of a backup elsewhere is another shard's file under
    this one's header (a relabelled copy). Files of no backup are not placed by a name the
    verdict keeps, and are not checked."""
    if header.count == 1 or verdict.backup_id is None:
        return
    share = shard_of(verdict.backup_id, header.count)
    if share != header.index:
        raise _refuse(
            path,
            number,
            f"backup {display(verdict.backup_id)} is of shard {share}/{header.count}, not "
            f"{header.index}/{header.count}: this file holds another share's verdicts",
        )


def read_shard(path: str, stdin: BinaryIO | None = None) -> Iterator[Verdict]:
    """The verdicts of one shard file (``-``: ``stdin``, by default standard input), its
    header and end line checked, and each verdict of the header's share;
    :class:`CommandFailed` at a line that is not right."""
    lines = _lines(path, stdin)
    header = _first(path, lines)
    yield from _verdicts(path, header, lines)


def check_set(headers: Sequence[tuple[str, ShardHeader]]) -> None:
    """Refuse (:class:`CommandFailed`) a set of shard files that is not one whole audit:
    a file of another audit (count, root or database), a share given twice, a share missing."""
    first_path, first = headers[0]
    by_index: dict[int, str] = {}
    for path, header in headers:
        if not header.same_audit(first):
            raise _refuse(
                path,
                None,
                f"is {header.describe()}, not of the audit of {display(first_path)} "
                f"({first.describe()})",
            )
        if header.index in by_index:
            raise _refuse(
                path,
                None,
                f"is shard {header.index}/{header.count} again "
                f"(as {display(by_index[header.index])})",
            )
        by_index[header.index] = path
    # The count is the header's word: look at no more shares than it takes to name ten
    # (a forged count of 10**15 is refused at once, not after a walk of 10**15 numbers).
    absent = first.count - len(by_index)
    if absent:
        missing = list(itertools.islice(_absent(first.count, by_index), 10))
        shown = ", ".join(f"{i}/{first.count}" for i in missing)
        more = f" and {absent - len(missing)} more" if absent > len(missing) else ""
        raise CommandFailed(
            f"the set of {len(headers)} shard file(s) is missing shard {shown}{more}",
            hint="give every shard's file; a shard that failed must be run again",
        )


def _absent(count: int, present: Mapping[int, str]) -> Iterator[int]:
    """The shares 1 to ``count`` not in ``present``, in order."""
    return (i for i in range(1, count + 1) if i not in present)


class Merged(Iterator[Verdict]):
    """The verdicts of a proven set of shards; ``header`` is the whole audit's (1/1)."""

    def __init__(self, header: ShardHeader, verdicts: Iterator[Verdict]) -> None:
        self.header = header
        self._verdicts = verdicts

    def __next__(self) -> Verdict:
        return next(self._verdicts)


def merge_shards(paths: Iterable[str], stdin: BinaryIO | None = None) -> Merged:
    """The verdicts of every shard's JSONL file in ``paths``, file by file, once the set is
    proven whole (:func:`check_set`, done here, before a verdict is read). ``-`` is standard
    input (``stdin``), which can be given once."""
    paths = list(paths)
    if not paths:
        raise CommandFailed("no shard files given", hint=_HINT)
    if paths.count(STDIN) > 1:
        raise CommandFailed("standard input (-) can be read once", hint=_HINT)
    piped: Generator[tuple[int, bytes], None, None] | None = None
    headers: list[tuple[str, ShardHeader]] = []
    for path in paths:
        if path == STDIN:  # read once: its header now, its verdicts in their turn
            piped = _lines(STDIN, stdin)
            headers.append((path, _first(path, piped)))
        else:
            headers.append((path, read_header(path)))
    check_set(headers)

    def verdicts() -> Iterator[Verdict]:
        for path, header in headers:
            if path == STDIN and piped is not None:
                yield from _verdicts(path, header, piped)
            else:
                yield from read_shard(path)

    first = headers[0][1]
    return Merged(ShardHeader(1, 1, first.root, first.database), verdicts())


__all__ = [
    "MAX_LINE",
    "Merged",
    "ShardEnd",
    "ShardHeader",
    "check_set",
    "merge_shards",
    "read_header",
    "read_shard",
]
