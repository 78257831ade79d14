"""Fuzz docket's entry points for hostile input with hypothesis.

Targets: ``Family.load`` (with and without a signing key, as bytes, text and mappings),
``import_record``, ``BackupMetadataAPI.put`` and (``storage``) the POSIX driver's verify and
restore over a stored backup whose ``_metadata`` and ``_sha256file`` objects are hostile; the
audit's parent chains (``chain``: any graph, judged in any order, as walking it would) and
database rows of any id (``audit-rows``); and ``locate`` over padded documents.
``import_record``, ``BackupMetadataAPI.put``, (``storage``) the POSIX driver's verify and
restore over a stored backup whose ``_metadata`` and ``_sha256file`` objects are hostile,
(``merge``) ``audit merge`` over hostile shard files, (``names``) any file name through every
output form, and (``reports``) conformance reports of a hostile runner's words.
The only exceptions allowed out of them are :class:`docket.DocketError` subclasses, and
``Family.validate`` must agree with ``load``.

``tests/core/test_fuzz.py`` runs every target briefly in the default test run. The long mode runs
them for a million inputs in all and reports what happened::

    python -m tests.fuzz_long                  # 1 000 000 inputs over all targets
    python -m tests.fuzz_long --inputs 50000 --targets load,record

Unexpected exceptions are collected, not raised, so one run reports all of them; the run then
exits 1 and prints each failing input and its traceback.
"""

from __future__ import annotations

import argparse
import base64
import errno
import json
import math
import os
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import docket
import docket.core.codec
from docket import DocketError, Family, load_registry
from docket.backup import Backup
from docket.backup.records import export_record, import_record
from docket.testing import containers
from tests._fuzz_fleet import chain_cases, check_chain, check_locate, check_rows, locate_cases
from tests.strategies import backup_metadata_v1v2

HOSTILE = Path(__file__).resolve().parent / "hostile"
KEY = b"fuzzing operator key"
REGISTRY = load_registry()
SIGNED_REGISTRY = REGISTRY.with_signing_key(KEY)
FAMILY = REGISTRY.family("backup-metadata")
SIGNED = SIGNED_REGISTRY.family("backup-metadata")
RECORDS = REGISTRY.family("backup-record")
SIGNED_RECORDS = SIGNED_REGISTRY.family("backup-record")

# --- building blocks ----------------------------------------------------------------------

SECTIONS = ["volume-base-metadata", "volume-metadata", "volume-glance-metadata"]
MEMBERS = [*SECTIONS, "version", "family", "digest", "signature"]
BASE_FIELDS = [
    "id", "display_name", "display_description", "encryption_key_id", "volume_type_id",
    "status", "project_id", "user_id", "host", "size", "bootable", "deleted", "created_at",
]  # fmt: skip
RECORD_FIELDS = [
    "id", "size", "display_name", "display_description", "container", "service_metadata",
    "object_count", "status", "project_id", "user_id", "deleted", "parent_id", "volume_id",
    "service", "driver_info", "version", "family", "digest", "signature",
]  # fmt: skip
INTERESTING_STRINGS = [
    "", "\x00", "a\x00b", "\U0001f600", "\u202e", "é", "restore_backup_1",
    "'; DROP TABLE volumes; --", "%s", "%(x)s", "?", "\\", '"', "x" * 255, "x" * 256,
    "2026-01-02T03:04:05.000000", "2026-01-02T03:04:05.000000Z", "../../etc/passwd",
    "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d", "sha256:" + "0" * 64, "hmac-sha256:" + "0" * 64,
]  # fmt: skip
INTERESTING_NUMBERS: list[Any] = [
    0, 1, 2, 3, 4, -1, 2**31, 2**63, 2**64, -(2**63) - 1, 10**100, 2.0, 0.5, -0.0, 1e308,
    True, False,
]  # fmt: skip
# Text fragments spliced into documents: each is a known way to break a parser.
TOKENS = [
    b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"9" * 5000, b'"\\ud800"',
    b'"\\udc00\\ud800"', b"\xff", b"\xc0\xaf", b"\xed\xa0\x80", b"\xef\xbb\xbf", b"\x00",
    b"[" * 64, b"{" * 64, b'{"a":' * 40, b"]" * 8, b"}" * 8, b",", b":", b'"', b"\\",
    b'"version"', b'"version":', b"true", b"null", b"-0", b"1.0", b"2", b"3", b'"2"',
    b'"volume-base-metadata"', b'"volume-metadata"', b'"volume-glance-metadata"',
    b'"digest":"sha256:' + b"0" * 64 + b'"', b'"family":"backup-metadata"', b"//", b"/*",
]  # fmt: skip

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from(INTERESTING_NUMBERS)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.sampled_from(INTERESTING_STRINGS)
)
keys = (
    st.sampled_from(MEMBERS + BASE_FIELDS)
    | st.sampled_from(INTERESTING_STRINGS)
    | st.text(max_size=12)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
    max_leaves=25,
)
versions = st.sampled_from([1, 2, 3, 0, -1, 4, 99, 2.0, True, None, "2", "v3", [], {}])


@st.composite
def container_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """Container-shaped objects: a version (often odd) and sections of any content."""
    doc: dict[str, Any] = {}
    if draw(st.integers(0, 9)):
        doc["version"] = draw(versions | json_values)
    for name in draw(st.lists(st.sampled_from(SECTIONS), unique=True, max_size=3)):
        if draw(st.booleans()):
            doc[name] = draw(st.dictionaries(st.sampled_from(BASE_FIELDS) | keys, scalars))
        else:
            doc[name] = draw(json_values)
    doc.update(draw(st.dictionaries(keys, json_values, max_size=2)))
    return doc


def _as_version(doc: dict[str, Any], version: int) -> dict[str, Any]:
    """A valid v1/v2 container moved to ``version`` (v3 gets a correct digest)."""
    if version == doc["version"]:
        return doc
    try:
        return dict(FAMILY.load(doc, to=version).data)
    except DocketError:  # e.g. timestamps the v3 form cannot hold
        return doc


# Valid containers at every version: Cinder-shaped v1/v2 ones, some moved to v3.
valid_containers = st.tuples(backup_metadata_v1v2(), st.sampled_from([1, 2, 3, 3])).map(
    lambda t: _as_version(*t)
)


def encode(doc: Any, style: int) -> bytes:
    """JSON text of ``doc`` in one of several styles; NaN and bad surrogates get through."""
    try:
        if style == 0:
            return docket.core.codec.canonical(doc)
        if style == 1:
            return json.dumps(doc).encode("utf-8", "surrogatepass")
        return json.dumps(doc, ensure_ascii=False, indent=style).encode("utf-8", "surrogatepass")
    except (TypeError, ValueError, OverflowError):
        return json.dumps(doc, default=repr).encode("utf-8", "surrogatepass")


@st.composite
def mutations(draw: st.DrawFn, seed: bytes) -> bytes:
    """``seed`` changed by up to four byte-level edits."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        op = draw(st.integers(0, 5))
        if op == 0 and data:  # replace one byte
            data[min(at, len(data) - 1)] = draw(st.integers(0, 255))
        elif op == 1:  # insert a known troublemaker
            data[at:at] = draw(st.sampled_from(TOKENS))
        elif op == 2:  # insert random bytes
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == 3:  # delete a run
            del data[at : at + draw(st.integers(1, 16))]
        elif op == 4:  # duplicate a run elsewhere
            start = draw(st.integers(0, len(data)))
            data[at:at] = data[start : start + draw(st.integers(1, 32))]
        else:  # truncate
            del data[at:]
    return bytes(data)


def _corpus(kind: str) -> list[bytes]:
    return [p.read_bytes() for p in sorted((HOSTILE / kind).iterdir())]


def _seed_containers() -> list[bytes]:
    seeds = _corpus("containers")
    for family in (FAMILY, SIGNED):
        small = family.new({"volume-base-metadata": {"display_name": "x"}, "volume-metadata": {}})
        seeds.append(family.dump(small))
        for version in family.versions:
            if family is FAMILY:
                seeds.append(family.dump(small, version=version, allow_lossy=True))
    return seeds


def _record_fields() -> dict[str, Any]:
    return Backup(
        id="b1", volume_id="v1", display_name="n", display_description="d", container="c",
        service_metadata="m", size=1, object_count=2, status="available",
    ).fields()  # fmt: skip


def _seed_records() -> list[bytes]:
    seeds: list[bytes] = []
    fields = _record_fields()
    for family in (RECORDS, SIGNED_RECORDS):
        for version in family.versions:
            if family is SIGNED_RECORDS and version == 1:
                continue
            text = export_record(family, fields, info={"driver_info": {"x": 1}}, version=version)
            seeds.append(base64.b64decode(text))
    return seeds


SEED_CONTAINERS = _seed_containers()
SEED_RECORDS = _seed_records()
RECORD_CORPUS = _corpus("records")

container_bytes = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(SEED_CONTAINERS).flatmap(mutations),
    st.tuples(container_dicts(), st.integers(0, 3)).map(lambda t: encode(*t)),
    st.tuples(valid_containers, st.integers(0, 2)).map(lambda t: encode(*t)),
    st.tuples(valid_containers, st.integers(0, 2)).map(lambda t: encode(*t)).flatmap(mutations),
)
record_objects = st.dictionaries(st.sampled_from(RECORD_FIELDS), scalars | json_values).map(
    lambda d: {**_record_fields(), **d}
)
record_texts = st.one_of(
    st.binary(max_size=200),
    st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\n ").map(
        str.encode
    ),
    st.sampled_from(RECORD_CORPUS).flatmap(mutations),
    st.sampled_from(SEED_RECORDS).flatmap(mutations).map(base64.b64encode),
    st.tuples(record_objects, st.integers(0, 2)).map(lambda t: base64.b64encode(encode(*t))),
    st.sampled_from(SEED_RECORDS).map(base64.b64encode).flatmap(mutations),
)
mapping_values = st.recursive(
    scalars
    | st.sampled_from([math.nan, math.inf, "\ud800", b"bytes", frozenset()])
    | st.just(0).map(lambda _: 10**5000),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(keys | st.integers() | st.none(), inner, max_size=4)
    ),
    max_leaves=15,
)
mappings = st.one_of(
    container_dicts(),
    st.builds(lambda d, v: {**d, "volume-metadata": v}, container_dicts(), mapping_values),
    valid_containers,
    # A schema-derived container (docket.testing): slow to draw, so one branch of several.
    containers(FAMILY).map(lambda c: dict(c.data)),
)


# --- targets ------------------------------------------------------------------------------


@dataclass
class Tally:
    """Outcomes per target, and the inputs that raised something untyped."""

    outcomes: Counter[str] = field(default_factory=Counter)
    crashes: list[tuple[str, Any, str]] = field(default_factory=list)
    collect: bool = False
    """Collect unexpected exceptions (long mode) instead of raising them (pytest)."""

    def run(self, target: str, data: Any, check: Callable[[Any], str]) -> None:
        try:
            outcome = check(data)
        except DocketError as err:
            outcome = type(err).__name__
        except Exception as err:
            if not self.collect:
                raise
            outcome = "UNEXPECTED " + type(err).__name__
            if len(self.crashes) < 50:
                self.crashes.append((target, data, traceback.format_exc()))
        self.outcomes[f"{target}: {outcome}"] += 1


def check_load(family: Family) -> Callable[[Any], str]:
    def check(data: Any) -> str:
        issues = family.validate(data)
        try:
            container = family.load(data)
        except docket.MigrationError:
            raise
        except DocketError:
            assert issues, "validate() found nothing wrong with what load() refused"
            raise
        assert issues == [], f"validate() found {issues} in what load() accepted"
        # What loads must dump and load again to the same container.
        again = family.load(family.dump(container))
        assert again.data == container.data
        return "ok"

    return check


def check_record(family: Family) -> Callable[[Any], str]:
    def check(data: Any) -> str:
        imported = import_record(family, data)
        fields = imported.backup.fields()
        assert imported.backup.status is None
        assert fields.get("project_id") is None and fields.get("user_id") is None
        assert not any(k.startswith("deleted") for k in fields)
        return "ok"

    return check


def check_put(
    api: Any, volume_id: str, snapshot: Callable[[], Any], tidy: Callable[[], None]
) -> Callable[[Any], str]:
    """``put`` either succeeds or raises a typed error and leaves the database unchanged."""

    def check(data: Any) -> str:
        before = snapshot()
        try:
            api.put(volume_id, data)
        except DocketError:
            assert snapshot() == before, "a refused put() changed the database"
            raise
        tidy()
        return "ok"

    return check


# Numbers a hostile _metadata/_sha256file may claim: sizes of buffers and loops.
hostile_numbers = st.one_of(
    st.sampled_from([0, 1, 2, 511, 512, 4096, 1 << 31, 1 << 40, 1 << 50, 1 << 63, 1 << 64, -1]),
    st.integers(min_value=-(1 << 70), max_value=1 << 70),
)


@st.composite
def storage_edits(draw: st.DrawFn) -> tuple[str, bytes]:
    """(which object, its new bytes): a stored backup's metadata or SHA-256 object with a
    hostile number, id or name put in, or changed byte by byte."""
    which = draw(st.sampled_from(["_metadata", "_sha256file"]))
    seed = STORAGE_SEEDS[which]
    doc = json.loads(seed)
    how = draw(st.integers(0, 3))
    if how == 0:
        return which, draw(mutations(seed))
    if which == "_sha256file":
        field_name = draw(st.sampled_from(["chunk_size", "backup_id", "sha256s"]))
    else:
        field_name = draw(
            st.sampled_from(["offset", "length", "name", "compression", "parent_id", "backup_id"])
        )
    value: Any = draw(
        st.one_of(hostile_numbers, st.sampled_from([*INTERESTING_STRINGS, "x\n", "f0zz-1"]))
    )
    if field_name == "compression":
        # A small object declared as another compression (a frame of zeros read as bz2, ...).
        value = draw(st.sampled_from(["none", "zlib", "gzip", "bz2", "bzip2", "zstd", "ZSTD"]))
    if field_name in ("offset", "length", "name", "compression"):
        index = draw(st.integers(0, len(doc["objects"]) - 1))
        [(_, entry)] = doc["objects"][index].items()
        if field_name == "name":
            doc["objects"][index] = {str(value): entry}
        else:
            entry[field_name] = value
    elif field_name == "sha256s":
        doc["sha256s"] = doc["sha256s"][: draw(st.integers(0, len(doc["sha256s"])))]
    else:
        doc[field_name] = value
    return which, json.dumps(doc).encode()


STORAGE_SEEDS: dict[str, bytes] = {}


def storage_check(folder: Path) -> Callable[[Any], str]:
    """Verify and restore a small stored backup after an edit: only typed errors come out,
    and a refused restore leaves its open-file target untouched."""
    from docket.backup import PosixBackupDriver

    root = folder / "root"
    volume = folder / "volume"
    volume.write_bytes(bytes(range(256)) * 96)
    driver = PosixBackupDriver(root, chunk_size=8192, sha_block_size=4096)
    driver.backup(Backup(id="f0zz-1", volume_id="v"), volume)
    directory = root / "f0" / "zz" / "f0zz-1"
    paths = {s: next(directory.glob(f"*{s}")) for s in ("_metadata", "_sha256file")}
    for suffix, path in paths.items():
        STORAGE_SEEDS[suffix] = path.read_bytes()

    def check(edit: tuple[str, bytes]) -> str:
        which, data = edit
        try:
            paths[which].write_bytes(data)
            report = driver.verify("f0zz-1")
            target = folder / "target"
            target.write_bytes(b"\xee" * 100)
            with open(target, "r+b") as out:
                try:
                    driver.restore("f0zz-1", None, out)
                except DocketError:
                    assert target.read_bytes() == b"\xee" * 100, "a refused restore wrote"
                    raise
                except OSError as err:
                    # An object far out in the volume (up to 1 PiB is allowed) can be past
                    # what the file system holds: the file system refuses, nothing is written.
                    if err.errno != errno.EFBIG:
                        raise
                    assert target.read_bytes() == b"\xee" * 100, "a refused restore wrote"
                    return "too large for the file system"
            return "ok" if report.ok else "verify-problems"
        finally:
            for suffix, path in paths.items():
                path.write_bytes(STORAGE_SEEDS[suffix])

    return check


row_ids = st.lists(
    st.one_of(st.text(max_size=40), st.sampled_from(INTERESTING_STRINGS)), max_size=8
)


# --- fleet, names and reports (issue 24) ---------------------------------------------------

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
SHARD_HEADER = {"shard": {"index": 1, "count": 1, "root": "/r", "database": None}}
VERDICT = {"backup_id": None, "path": "p", "findings": [{"kind": "orphan", "message": "m"}]}


@st.composite
def shard_files(draw: st.DrawFn) -> bytes:
    """A shard file: its header, verdicts and end line, each kept or broken (a member of
    another JSON type, a line of garbage, a wrong count)."""

    def maybe_broken(value: dict[str, Any]) -> Any:
        if not draw(st.booleans()):
            return value
        inner = value[next(iter(value))] if len(value) == 1 else value
        if isinstance(inner, dict) and inner and draw(st.booleans()):
            key = draw(st.sampled_from(sorted(inner)))
            inner = {**inner, key: draw(JSON_VALUES)}
            return {next(iter(value)): inner} if len(value) == 1 else inner
        return draw(JSON_VALUES)

    verdicts = [maybe_broken(dict(VERDICT)) for _ in range(draw(st.integers(0, 3)))]
    end = {"end": {"records": draw(st.sampled_from([len(verdicts), len(verdicts) + 1]))}}
    lines = [json.dumps(maybe_broken(SHARD_HEADER)).encode()]
    lines += [json.dumps(v).encode() for v in verdicts]
    lines.append(json.dumps(maybe_broken(end)).encode())
    if draw(st.booleans()):
        lines.insert(draw(st.integers(0, len(lines))), draw(st.binary(max_size=20)))
    return b"\n".join(lines) + b"\n"


def check_merge(data: bytes) -> str:
    import io

    from docket.fleet.audit import Summary
    from docket.fleet.merge import merge_shards

    summary = Summary()
    for verdict in merge_shards(["-"], stdin=io.BytesIO(data)):
        summary.add(verdict)
    summary.to_json()
    return "ok"


def check_name(name: str) -> str:
    import xml.etree.ElementTree as ET

    import orjson

    from docket._xml import escape
    from docket.core.display import display, json_safe, text_of

    shown = display(name)
    assert "\n" not in shown and "\r" not in shown and not shown.lstrip().startswith("::")
    shown.encode("utf-8")
    orjson.dumps(json_safe({"path": name, name: [name]}))
    ET.fromstring(f"<a>{escape(text_of(name))}</a>")
    return "ok"


@st.composite
def runner_words(draw: st.DrawFn) -> dict[str, Any]:
    """What a runner may say: its implementation's description and an answer's message."""
    text = st.one_of(st.text(), st.sampled_from(["::error::x", "</testsuites>", "\ud800", "]]>"]))
    return {
        "implementation": draw(st.dictionaries(st.sampled_from(["name", "version"]), JSON_VALUES)),
        "message": draw(text),
        "id": draw(text),
    }


def check_reports(words: dict[str, Any]) -> str:
    import xml.etree.ElementTree as ET

    from docket.conformance.compare import FAIL, Outcome
    from docket.conformance.report import Report, render_json, render_junit, render_text

    outcome = Outcome(words["id"], "validate", "backup-metadata", FAIL, words["message"])
    report = Report(words["implementation"], ("validate",), (outcome,), (words["message"],))
    json.loads(render_json(report))
    ET.fromstring(render_junit(report).encode("utf-8"))
    for line in render_text(report).splitlines():
        assert not line.lstrip().startswith("::"), line
    return "ok"


def targets(
    tally: Tally,
    put: Callable[[Any], str] | None = None,
    storage: Callable[[Any], str] | None = None,
) -> dict[str, Callable[[], None]]:
    """Each target as a hypothesis test; ``tally`` counts what they see."""

    @given(container_bytes)
    def load(data: bytes) -> None:
        tally.run("load", data, check_load(FAMILY))

    @given(container_bytes)
    def load_signed(data: bytes) -> None:
        tally.run("load-signed", data, check_load(SIGNED))

    @given(container_bytes.map(lambda b: b.decode("utf-8", "surrogateescape")))
    def load_text(data: str) -> None:
        tally.run("load-text", data, check_load(FAMILY))

    @given(mappings)
    def load_mapping(data: dict[str, Any]) -> None:
        tally.run("load-mapping", data, check_load(FAMILY))

    @given(record_texts)
    def record(data: bytes) -> None:
        tally.run("record", data, check_record(RECORDS))

    @given(record_texts)
    def record_signed(data: bytes) -> None:
        tally.run("record-signed", data, check_record(SIGNED_RECORDS))

    @given(chain_cases)
    def chain(case: tuple[dict[str, Any], list[str]]) -> None:
        tally.run("chain", case, check_chain)

    @given(row_ids)
    def rows(ids: list[str]) -> None:
        tally.run("audit-rows", ids, check_rows)

    @given(locate_cases)
    def locate(case: tuple[Any, int | None, int]) -> None:
        tally.run("locate", case, check_locate)
    @given(shard_files())
    def merge(data: bytes) -> None:
        tally.run("merge", data, check_merge)

    @given(st.one_of(st.text(), st.binary().map(os.fsdecode)))
    def names(name: str) -> None:
        tally.run("names", name, check_name)

    @given(runner_words())
    def reports(words: dict[str, Any]) -> None:
        tally.run("reports", words, check_reports)

    out: dict[str, Callable[[], None]] = {
        "load": load,
        "load-signed": load_signed,
        "load-text": load_text,
        "load-mapping": load_mapping,
        "record": record,
        "record-signed": record_signed,
        "chain": chain,
        "audit-rows": rows,
        "locate": locate,
        "merge": merge,
        "names": names,
        "reports": reports,
    }
    if put is not None:

        @given(container_bytes)
        def put_target(data: bytes) -> None:
            tally.run("put", data, put)

        out["put"] = put_target
    if storage is not None:

        @given(storage_edits())
        def storage_target(edit: tuple[str, bytes]) -> None:
            tally.run("storage", edit, storage)

        out["storage"] = storage_target
    return out


def sqlite_put() -> Callable[[Any], str] | None:
    """A ``put`` check on a fresh in-memory SQLite database, when docket.store exists."""
    try:
        from docket import store
    except ImportError:
        return None
    engine = store.make_engine("sqlite://")
    store.init_db(engine)
    volume_id = store.create_volume(
        engine,
        display_name="restore_backup_fuzz",
        metadata={"keep": "me"},
        glance={"image_id": "i"},
    )
    store.create_volume(engine, display_name="bystander", metadata={"other": "volume"})
    api = store.BackupMetadataAPI(engine)
    tables = store.cinder_metadata().sorted_tables

    def snapshot() -> Any:
        with engine.connect() as conn:
            return [sorted(map(tuple, conn.execute(t.select()).all()), key=repr) for t in tables]

    def tidy() -> None:
        # Each restore soft-deletes the rows it replaces; dropping them keeps the snapshots
        # (and so each input) as cheap at the millionth input as at the first.
        with engine.begin() as conn:
            for table in tables:
                if "volume_id" in table.c:
                    conn.execute(table.delete().where(table.c.deleted == sa.true()))

    return check_put(api, volume_id, snapshot, tidy)


# --- the long mode ------------------------------------------------------------------------

# Weights: cheap targets get more of the budget; put writes to a database each time.
SHARES = {
    "load": 0.22,
    "load-signed": 0.13,
    "load-text": 0.1,
    "load-mapping": 0.1,
    "record": 0.2,
    "record-signed": 0.1,
    "put": 0.15,
    "storage": 0.02,
    "chain": 0.03,
    "audit-rows": 0.01,
    "locate": 0.03,
    "merge": 0.02,
    "names": 0.02,
    "reports": 0.01,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=1_000_000, help="inputs over all targets")
    parser.add_argument("--targets", default=",".join(SHARES), help="comma-separated")
    parser.add_argument("--report", type=Path, help="also write the report here as JSON")
    args = parser.parse_args(argv)
    tally = Tally(collect=True)
    put = sqlite_put() if "put" in args.targets.split(",") else None
    scratch = tempfile.TemporaryDirectory(prefix="docket-fuzz-")
    storage = storage_check(Path(scratch.name)) if "storage" in args.targets.split(",") else None
    chosen = {k: v for k, v in targets(tally, put, storage).items() if k in args.targets.split(",")}
    total_share = sum(SHARES[k] for k in chosen)
    started = time.monotonic()
    report: dict[str, Any] = {"targets": {}}
    for name, test in chosen.items():
        budget = max(1, round(args.inputs * SHARES[name] / total_share))
        runner = settings(
            max_examples=budget,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )(test)
        t0 = time.monotonic()
        runner()
        tried = sum(n for k, n in tally.outcomes.items() if k.startswith(name + ": "))
        report["targets"][name] = {
            "inputs": tried,
            "seconds": round(time.monotonic() - t0, 1),
            "outcomes": {
                k.split(": ", 1)[1]: n
                for k, n in sorted(tally.outcomes.items())
                if k.startswith(name + ": ")
            },
        }
        print(json.dumps({name: report["targets"][name]}), flush=True)
    report["inputs"] = sum(tally.outcomes.values())
    report["seconds"] = round(time.monotonic() - started, 1)
    report["unexpected"] = len(tally.crashes)
    text = json.dumps(report, indent=2)
    print(text)
    if args.report:
        args.report.write_text(text + "\n")
    for target, data, trace in tally.crashes:
        print(f"\n--- {target}: {data!r:.300}\n{trace}", file=sys.stderr)
    return 1 if tally.crashes else 0


if __name__ == "__main__":
    sys.exit(main())
