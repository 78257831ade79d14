"""The command functions in-process, with injected streams: exit codes and both output formats
on valid, invalid, unreadable and too-new containers."""

from __future__ import annotations

import functools
import io
import json
import os
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from docket import load_registry
from docket.cli import commands
from docket.fleet import validate as bulk
from docket.testing import containers, invalid_containers
from tests._databases import three_volumes

REGISTRY = load_registry()
BM = REGISTRY.family("backup-metadata")
KEY = b"operator key for the tests"
SIZE = '$["volume-base-metadata"]["size"]'

BASE = {
    "id": "0f1e2d3c-0000-4000-8000-000000000001",
    "size": 1,
    "status": "available",
    "host": "h@b#p",
    "display_name": "vol-1",
    "display_description": "test vol",
    "volume_type_id": "0f1e2d3c-0000-4000-8000-000000000002",
    "encryption_key_id": "0f1e2d3c-0000-4000-8000-00000000000a",
    "bootable": False,
    "created_at": "2026-01-02T03:04:05.000000",
}


def cinder(version: int = 2, **base: Any) -> dict[str, Any]:
    """A container as Cinder writes it (versions 1 and 2)."""
    return {
        "version": version,
        "volume-base-metadata": {**BASE, **base},
        "volume-metadata": {"fee": "fi", "fo": "fum"},
        "volume-glance-metadata": {"disk_format": "bare"},
    }


def v3(key: bytes | None = None) -> bytes:
    """A version 3 container (signed with ``key``)."""
    return BM.with_signing_key(key).dump(BM.load(json.dumps(cinder(2))))


class Run:
    """Captured streams of one command call."""

    def __init__(self, stdin: bytes = b"") -> None:
        self.stdout = io.StringIO()
        self.stderr = io.StringIO()
        self.stdin = io.BytesIO(stdin)

    @property
    def kw(self) -> dict[str, Any]:
        return {"stdout": self.stdout, "stderr": self.stderr}

    @property
    def out(self) -> str:
        return self.stdout.getvalue()

    @property
    def err(self) -> str:
        return self.stderr.getvalue()

    def json(self) -> Any:
        return json.loads(self.out)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """One container file of each kind the judges name, plus a JSON Lines file."""
    out = {
        "v1": cinder(1),
        "v2": cinder(2),
        "invalid": cinder(2, size="big"),
        "too-new": {**cinder(2), "version": 9},
    }
    paths = {}
    for name, data in out.items():
        paths[name] = tmp_path / f"{name}.json"
        paths[name].write_text(json.dumps(data))
    paths["v3"] = tmp_path / "v3.json"
    paths["v3"].write_bytes(v3())
    tampered = json.loads(v3())
    tampered["volume-metadata"]["fee"] = "changed"
    paths["tampered"] = tmp_path / "tampered.json"
    paths["tampered"].write_text(json.dumps(tampered))
    paths["broken"] = tmp_path / "broken.json"
    paths["broken"].write_text('{"version": 2, ')
    paths["missing"] = tmp_path / "missing.json"
    lines = [json.dumps(cinder(2)), json.dumps(cinder(1)), "", json.dumps(cinder(2, size=-1))]
    paths["jsonl"] = tmp_path / "many.jsonl"
    paths["jsonl"].write_text("\n".join([*lines, "not json", v3().decode()]) + "\n")
    paths["key"] = tmp_path / "key"
    paths["key"].write_bytes(KEY + b"\n")
    return paths


# --- validate ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["v1", "v2", "v3"])
def test_valid_containers_pass_quietly(files: dict[str, Path], name: str) -> None:
    run = Run()
    assert commands.validate([str(files[name])], **run.kw) == 0
    assert run.out == ""
    assert run.err == "docket validate: 1 container(s) valid\n"


@pytest.mark.parametrize(
    ("name", "path", "words", "at"),
    [
        ("invalid", SIZE, '"big" is not of types', '"size"'),
        ("too-new", '$["version"]', "version 9 is newer than the current version", '"version"'),
        ("tampered", '$["digest"]', "does not match the content", '"digest"'),
        ("broken", "$", "cannot parse container", None),
        ("missing", "$", "cannot read: No such file or directory", None),
    ],
)
def test_each_problem_is_one_text_line(
    files: dict[str, Path], name: str, path: str, words: str, at: str | None
) -> None:
    run = Run()
    assert commands.validate([str(files[name])], **run.kw) == 1
    (line,) = run.out.splitlines()
    if name == "missing":  # nothing was read: no place in it
        where = str(files[name])
    elif name == "broken":  # '{"version": 2, ' ends where a member should start
        where = f"{files[name]}:1:16"
    else:  # written on one line: the member's key is where the problem is
        assert at is not None
        where = f"{files[name]}:1:{files[name].read_text().index(at) + 1}"
    assert line.startswith(f"{where}: {path}: ")
    assert words in line
    assert run.err == "docket validate: 1 of 1 container(s) invalid\n"


def test_json_output_lists_every_container(files: dict[str, Path]) -> None:
    run = Run()
    paths = [str(files[n]) for n in ("v2", "invalid", "too-new", "missing")]
    assert commands.validate(paths, output_format="json", **run.kw) == 1
    results = run.json()
    assert [r["file"] for r in results] == paths
    assert all(set(r) == {"file", "line", "valid", "family", "version", "errors"} for r in results)
    assert [r["valid"] for r in results] == [True, False, False, False]
    assert [r["version"] for r in results] == [2, 2, 9, None]
    assert results[0] == {
        "file": paths[0],
        "line": None,
        "valid": True,
        "family": "backup-metadata",
        "version": 2,
        "errors": [],
    }
    text = files["invalid"].read_text()
    (error,) = results[1]["errors"]
    assert error.pop("message").startswith('"big" is not of types')
    assert error == {
        "pointer": "/volume-base-metadata/size",
        "path": SIZE,
        "keyword": "type",
        "line": 1,
        "column": text.index('"size"') + 1,
    }
    assert results[2]["errors"][0]["keyword"] == "version"
    assert results[3]["errors"][0]["keyword"] == "read"


def test_json_lines_report_line_numbers_and_skip_blank_lines(files: dict[str, Path]) -> None:
    run = Run()
    assert commands.validate([str(files["jsonl"])], output_format="json", **run.kw) == 1
    results = run.json()
    assert [(r["line"], r["valid"]) for r in results] == [
        (1, True),
        (2, True),
        (4, False),
        (5, False),
        (6, True),
    ]
    assert results[2]["errors"][0]["pointer"] == "/volume-base-metadata/size"
    assert results[3]["errors"][0]["keyword"] == "parse"
    text = Run()
    assert commands.validate([str(files["jsonl"])], **text.kw) == 1
    column = files["jsonl"].read_text().splitlines()[3].index('"size"') + 1
    assert [line.split(": ")[0] for line in text.out.splitlines()] == [
        f"{files['jsonl']}:4:{column}",
        f"{files['jsonl']}:5:1",  # "not json"
    ]


def test_github_annotations(files: dict[str, Path], tmp_path: Path) -> None:
    odd = tmp_path / "a,b:c%.json"
    odd.write_text(json.dumps(cinder(2, size="big")))
    run = Run()
    paths = [str(files["jsonl"]), str(odd)]
    assert commands.validate(paths, output_format="github", **run.kw) == 1
    lines = run.out.splitlines()
    column = files["jsonl"].read_text().splitlines()[3].index('"size"') + 1
    assert lines[0].startswith(
        f"::error file={files['jsonl']},line=4,col={column},title=docket validate::"
    )
    assert lines[0].endswith(f"::{SIZE}: -1 is less than the minimum of 0")
    escaped = str(odd).replace("%", "%25").replace(":", "%3A").replace(",", "%2C")
    column = odd.read_text().index('"size"') + 1
    assert lines[2].startswith(
        f"::error file={escaped},line=1,col={column},title=docket validate::"
    )
    assert len(lines) == 3


def test_a_directory_means_every_json_file_below_it(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "one.json").write_text(json.dumps(cinder(1)))
    (tmp_path / "a" / "b" / "two.json").write_text(json.dumps(cinder(2, size="x")))
    (tmp_path / "a" / "b" / "notes.txt").write_text("not a container")
    run = Run()
    assert commands.validate([str(tmp_path / "a")], output_format="json", **run.kw) == 1
    assert [(Path(r["file"]).name, r["valid"]) for r in run.json()] == [
        ("two.json", False),
        ("one.json", True),
    ]


def test_standard_input(files: dict[str, Path]) -> None:
    run = Run(files["v3"].read_bytes())
    assert commands.validate(["-"], stdin=run.stdin, output_format="json", **run.kw) == 0
    assert run.json()[0]["file"] == "<stdin>"
    lines = Run(files["jsonl"].read_bytes())
    code = commands.validate(["-"], stdin=lines.stdin, jsonl=True, **lines.kw)
    assert code == 1
    column = files["jsonl"].read_text().splitlines()[3].index('"size"') + 1
    assert lines.out.startswith(f"<stdin>:4:{column}: {SIZE}: ")


def test_the_family_member_chooses_the_family(tmp_path: Path) -> None:
    golden = Path(__file__).resolve().parents[2] / "schemas" / "backup-record" / "golden"
    named = golden / "2" / "docket-posix.json"  # has "family": "backup-record"
    unnamed = golden / "1" / "cinder-posix.json"  # Cinder's record: no family member
    run = Run()
    assert commands.validate([str(named)], output_format="json", **run.kw) == 0
    assert run.json()[0]["family"] == "backup-record"
    run = Run()
    assert (
        commands.validate([str(unnamed)], family="backup-record", output_format="json", **run.kw)
        == 0
    )
    assert run.json()[0]["family"] == "backup-record"
    unknown = tmp_path / "named.json"
    unknown.write_text(json.dumps({**cinder(2), "family": "no-such-family"}))
    run = Run()
    assert commands.validate([str(unknown)], output_format="json", **run.kw) == 1
    (error,) = run.json()[0]["errors"]
    assert (error["pointer"], error["path"]) == ("/family", '$["family"]')
    assert 'unknown family "no-such-family"' in error["message"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"family": "no-such-family"},
        {"shard": "3/2"},
        {"shard": "one/two"},
        {"jobs": -1},
        {"output_format": "xml"},
        {"key_file": "/nonexistent/key"},
        {"schemas": "/nonexistent/dir"},
    ],
)
def test_usage_errors_exit_2(files: dict[str, Path], kwargs: dict[str, Any]) -> None:
    run = Run()
    assert commands.validate([str(files["v2"])], **kwargs, **run.kw) == 2
    assert run.err.startswith("error: ") and "Traceback" not in run.err
    assert commands.validate([], **Run().kw) == 2


def test_a_signing_key_is_checked(files: dict[str, Path], tmp_path: Path) -> None:
    signed = tmp_path / "signed.json"
    signed.write_bytes(v3(KEY))
    other = tmp_path / "other.json"
    other.write_bytes(v3(b"another key"))
    key = str(files["key"])
    assert commands.validate([str(signed)], key_file=key, **Run().kw) == 0
    run = Run()
    assert commands.validate([str(other), str(files["v3"])], key_file=key, **run.kw) == 1
    assert [line.split(": ")[1] for line in run.out.splitlines()] == ['$["signature"]'] * 2
    # without a key, a signature cannot be checked but the digest still is
    assert commands.validate([str(other)], **Run().kw) == 0


def test_shards_split_the_input_deterministically(files: dict[str, Path]) -> None:
    paths = [str(files[n]) for n in ("v1", "jsonl", "v2", "invalid", "v3")]
    whole = Run()
    commands.validate(paths, output_format="json", **whole.kw)
    everything = [(r["file"], r["line"]) for r in whole.json()]
    seen = []
    for i in (1, 2, 3):
        run = Run()
        commands.validate(paths, shard=f"{i}/3", output_format="json", **run.kw)
        part = [(r["file"], r["line"]) for r in run.json()]
        again = Run()
        commands.validate(paths, shard=f"{i}/3", output_format="json", **again.kw)
        assert part == [(r["file"], r["line"]) for r in again.json()]
        assert part
        seen += part
    assert sorted(seen, key=str) == sorted(everything, key=str)
    assert len(seen) == len(everything)


def test_worker_processes_give_the_same_output(files: dict[str, Path], tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    lines = files["jsonl"].read_bytes()
    big.write_bytes(lines * 300)
    paths = [str(big), str(files["v1"]), str(files["invalid"])]
    one, two = Run(), Run()
    assert commands.validate(paths, output_format="json", **one.kw) == 1
    assert commands.validate(paths, output_format="json", jobs=2, **two.kw) == 1
    assert one.out == two.out
    assert len(one.json()) == 5 * 300 + 2


def test_line_ranges_split_at_line_starts(
    files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tiny chunks: every cut lands inside lines, and the numbering must survive it.
    monkeypatch.setattr(bulk, "_CHUNK_BYTES", 100)
    run = Run()
    commands.validate([str(files["jsonl"])], output_format="json", **run.kw)
    assert [r["line"] for r in run.json()] == [1, 2, 4, 5, 6]


def test_an_over_long_line_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "long.jsonl"
    path.write_bytes(json.dumps(cinder(2)).encode() + b"\n" + b"x" * 5000 + b"\n" + b"{}\n")
    registry = REGISTRY.with_limits(REGISTRY.limits.__class__(max_bytes=1000))
    results = list(bulk.validate_many([path], registry=registry))
    assert [(r.line, r.valid) for r in results] == [(1, True), (2, False), (3, False)]
    assert "max_bytes" in results[1].errors[0].message


def test_memory_stays_flat_over_many_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Peak memory of validating 20 000 lines is about that of 2 000: it is bounded by the
    size of one task (made small here), not by the input."""
    monkeypatch.setattr(bulk, "_CHUNK_BYTES", 32 * 1024)
    line = json.dumps({"version": 2, "volume-base-metadata": {"id": "x", "size": 1}}) + "\n"

    class Sink(io.StringIO):
        def write(self, text: str) -> int:
            return len(text)

    peaks = []
    for count in (2_000, 20_000):
        path = tmp_path / f"{count}.jsonl"
        path.write_text(line * count)
        tracemalloc.start()
        code = commands.validate(
            [str(path)], output_format="json", stdout=Sink(), stderr=io.StringIO()
        )
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        assert code == 0
    assert peaks[1] < peaks[0] * 1.5 + 512 * 1024, peaks


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("DOCKET_CLI_LONG") != "1", reason="set DOCKET_CLI_LONG=1")
def test_a_million_lines_in_flat_memory(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "million.jsonl"
    line = json.dumps(cinder(2)).encode() + b"\n"
    with path.open("wb") as fh:
        for _ in range(1000):
            fh.write(line * 1000)
    # A small launcher runs docket and reports the peak of its children alone: this process's
    # RUSAGE_CHILDREN would also count every other child a test of this worker ever waited for.
    launcher = (
        "import resource, subprocess, sys\n"
        "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode\n"
        "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            launcher,
            sys.executable,
            "-m",
            "docket",
            "validate",
            str(path),
            "--format",
            "json",
            "-j",
            "2",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    code, peak = proc.stdout.split()
    assert code == "0", proc.stderr
    peak_kib = int(peak)
    assert peak_kib < 200 * 1024, f"peak RSS {peak_kib} KiB"


# --- the fast path and the reference validator agree ---------------------------------------


@functools.cache
def _either(version: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        containers(BM, version).map(lambda c: c.data),
        invalid_containers(BM, version).map(lambda i: i.data),
    )


@pytest.mark.parametrize("version", BM.versions)
@given(data=st.data())
def test_jsonschema_rs_and_jsonschema_agree(version: int, data: st.DataObject) -> None:
    """The fast path's verdict is the reference validator's, on valid and broken containers."""
    container = data.draw(_either(version))
    spec = BM.spec(version)
    assert spec.is_valid(container) == (spec.issues(container) == [])


# --- migrate ------------------------------------------------------------------------------


def test_migrate_upgrades_and_notes_the_wider_restore(files: dict[str, Path]) -> None:
    run = Run()
    assert commands.migrate(str(files["v1"]), to="2", **run.kw) == 0
    expected = BM.dump(BM.load(files["v1"].read_bytes(), to=1), version=2)
    assert run.out == expected.decode() + "\n"
    assert "note: version 2's restore policy also restores" in run.err
    assert "volume-base-metadata.encryption_key_id" in run.err
    quiet = Run()
    assert commands.migrate(str(files["v2"]), to="3", **quiet.kw) == 0
    assert quiet.err == ""
    assert BM.validate(quiet.out.encode()) == []


def test_a_lossy_downgrade_is_refused_and_says_what_is_lost(
    files: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "out.json"
    run = Run()
    assert commands.migrate(str(files["v3"]), to="1", output=str(out), **run.kw) == 1
    assert not out.exists() and run.out == ""
    for loss in BM.losses(3, 1):
        assert loss in run.err
    assert "--allow-lossy" in run.err
    run = Run()
    code = commands.migrate(str(files["v3"]), to="1", output=str(out), allow_lossy=True, **run.kw)
    assert code == 0
    assert BM.load(out.read_bytes(), to=1).version == 1
    assert f"wrote {out}" in run.err


@pytest.mark.parametrize(
    ("name", "to", "code", "words"),
    [
        ("v2", "7", 2, '"7" is not a version of backup-metadata'),
        ("v2", "two", 2, "is not a version"),
        ("too-new", "2", 1, "newer than the current version"),
        ("invalid", "3", 1, SIZE),
        ("tampered", "2", 1, "does not match the content"),
        ("broken", "3", 1, "cannot parse container"),
        ("missing", "3", 1, "No such file or directory"),
    ],
)
def test_migrate_refuses(files: dict[str, Path], name: str, to: str, code: int, words: str) -> None:
    run = Run()
    assert commands.migrate(str(files[name]), to=to, **run.kw) == code
    assert words in run.err and run.out == ""
    assert "Traceback" not in run.err


def test_migrate_signs_with_the_key(files: dict[str, Path]) -> None:
    run = Run()
    assert commands.migrate(str(files["v2"]), to="3", key_file=str(files["key"]), **run.kw) == 0
    signed = BM.with_signing_key(KEY)
    assert signed.load(run.out.encode()).signature == "verified"
    # signed input is verified on the way in
    other = Run(v3(b"another key"))
    code = commands.migrate("-", to="2", stdin=other.stdin, key_file=str(files["key"]), **other.kw)
    assert code == 1 and "signature" in other.err


def test_migrate_reads_standard_input(files: dict[str, Path]) -> None:
    run = Run(files["v2"].read_bytes())
    assert commands.migrate("-", to="3", stdin=run.stdin, **run.kw) == 0
    assert json.loads(run.out)["version"] == 3


# --- inspect ------------------------------------------------------------------------------


def test_inspect_json_names_exactly_what_a_restore_writes(files: dict[str, Path]) -> None:
    run = Run()
    assert commands.inspect(str(files["v1"]), output_format="json", **run.kw) == 0
    info = run.json()
    container = BM.load(files["v1"].read_bytes(), to=1)
    plan = BM.restore_policy(container).filter(container)
    assert (info["family"], info["version"], info["current"]) == ("backup-metadata", 1, BM.current)
    assert info["sections"] == {name: len(v) for name, v in container.sections().items()}
    assert {s: w["fields"] for s, w in info["restore"]["sections"].items()} == {
        s: sorted(v) for s, v in plan.items()
    }
    assert "encryption_key_id" not in info["restore"]["sections"]["volume-base-metadata"]["fields"]
    dropped = {(d["section"], d["field"]) for d in info["restore"]["dropped"]}
    assert ("volume-base-metadata", "encryption_key_id") in dropped
    assert (info["digest"], info["signature"]) == ("none", "none")


def test_inspect_text(files: dict[str, Path]) -> None:
    run = Run()
    assert commands.inspect(str(files["v3"]), **run.kw) == 0
    text = run.out
    assert "family     backup-metadata\n" in text
    assert f"version    3 (current {BM.current})\n" in text
    assert "digest     ok\n" in text and "signature  absent\n" in text
    assert "  volume-metadata         replace  fee, fo\n" in text
    assert "bootable=true (set by a rule)" in text
    assert "not in the restore allowlist: " in text


def test_inspect_reports_integrity_and_refuses_the_invalid(files: dict[str, Path]) -> None:
    run = Run()
    assert commands.inspect(str(files["tampered"]), output_format="json", **run.kw) == 1
    info = run.json()
    assert info["digest"] == "mismatch" and info["problems"][0]["keyword"] == "digest"
    for name, words in [
        ("invalid", SIZE),
        ("too-new", "newer than the current version"),
        ("missing", "No such file"),
    ]:
        run = Run()
        assert commands.inspect(str(files[name]), **run.kw) == 1
        assert words in run.err and run.out == ""


def test_inspect_verifies_a_signature_with_the_key(files: dict[str, Path], tmp_path: Path) -> None:
    signed = tmp_path / "signed.json"
    signed.write_bytes(v3(KEY))
    run = Run()
    code = commands.inspect(str(signed), key_file=str(files["key"]), output_format="json", **run.kw)
    assert code == 0 and run.json()["signature"] == "verified"
    run = Run()
    assert commands.inspect(str(signed), output_format="json", **run.kw) == 0
    assert run.json()["signature"] == "unverified"
    run = Run()  # with a key, a container without a signature says so (not "invalid")
    assert commands.inspect(str(files["v3"]), key_file=str(files["key"]), **run.kw) == 1
    assert "signature  missing\n" in run.out and "is not signed" in run.out, run.out


# --- diff, schema, check ------------------------------------------------------------------


def test_diff_both_formats() -> None:
    run = Run()
    assert commands.diff("backup-metadata", "1", "2", **run.kw) == 0
    assert run.out.startswith("backup-metadata 1 -> 2: FULL\n")
    assert "restore policy changes:\n  volume-base-metadata: fields: " in run.out
    run = Run()
    assert commands.diff("backup-metadata", "2", "3", output_format="json", **run.kw) == 0
    data = run.json()
    assert data["compatibility"] == "NONE" and data["backward"] is False
    assert {"kind", "pointer", "backward", "forward"} <= set(data["changes"][0])


@pytest.mark.parametrize(
    ("args", "words"),
    [(("nope", "1", "2"), "unknown family"), (("backup-metadata", "1", "9"), 'B: "9"')],
)
def test_diff_usage_errors(args: tuple[str, str, str], words: str) -> None:
    run = Run()
    assert commands.diff(*args, **run.kw) == 2
    assert words in run.err


def test_schema_prints_the_versions_json_schema() -> None:
    run = Run()
    assert commands.schema("backup-metadata", "3", **run.kw) == 0
    assert run.json() == BM.schema(3)
    assert commands.schema("backup-metadata", "4", **Run().kw) == 2


def test_check_the_bundled_schemas() -> None:
    run = Run()
    assert commands.check(**run.kw) == 0
    assert run.out.rstrip().endswith(": ok")
    run = Run()
    assert commands.check(output_format="json", **run.kw) == 0
    assert run.json()["ok"] is True and run.json()["findings"] == []
    assert commands.check("/nonexistent", **Run().kw) == 2


def test_errors_become_one_message_and_an_exit_code() -> None:
    from docket.errors import DocketError, UsageError

    def raises(err: BaseException) -> Any:
        def work() -> int:
            raise err

        return work

    for err, code in [
        (UsageError("--x", "bad"), 2),
        (DocketError("plain"), 1),
        (FileNotFoundError(2, "No such file or directory", "f.json"), 1),
    ]:
        stderr = io.StringIO()
        assert commands.run(stderr, raises(err)) == code
        assert stderr.getvalue().startswith("error: ") and stderr.getvalue().count("\n") == 1


# --- the store: db init, backup, restore, demo ------------------------------------------------


@pytest.fixture
def database(tmp_path: Path) -> str:
    return three_volumes(tmp_path / "cinder.db")


def test_db_init_is_idempotent(database: str) -> None:
    run = Run()
    assert commands.db_init(database, **run.kw) == 0
    assert "volumes" in run.out and "volume_glance_metadata" in run.out
    assert commands.db_init("nosuchdialect://x", **Run().kw) == 2


def test_backup_one_volume_to_stdout(database: str) -> None:
    run = Run()
    assert commands.backup(database, ["vol-a"], **run.kw) == 0
    container = json.loads(run.out)
    assert container["version"] == 2
    assert container["volume-base-metadata"]["display_name"] == "a"
    assert container["volume-metadata"] == {"k": "v"}
    assert container["volume-glance-metadata"] == {"x": "1"}  # Cinder stores text
    assert BM.validate(run.out.encode()) == []


def test_backup_many_volumes_to_a_directory_or_json_lines(database: str, tmp_path: Path) -> None:
    out = tmp_path / "backups"
    assert commands.backup(database, ["vol-a", "vol-b"], output=str(out), **Run().kw) == 0
    assert sorted(p.name for p in out.iterdir()) == ["vol-a.json", "vol-b.json"]
    lines = tmp_path / "all.jsonl"
    run = Run()
    code = commands.backup(
        database, ["vol-a", "vol-b"], output=str(lines), version="3", key_file=None, **run.kw
    )
    assert code == 0
    assert "backed up 2 volume(s) at version 3" in run.err
    check = Run()
    assert commands.validate([str(lines), str(out)], output_format="json", **check.kw) == 0
    assert [r["version"] for r in check.json()] == [3, 3, 2, 2]


@pytest.mark.parametrize(
    ("ids", "kwargs", "code", "words"),
    [
        (["missing"], {}, 1, "volume missing not found"),
        (["vol-a"], {"version": "7"}, 2, '"7" is not a version'),
        (["vol-a", "vol-b"], {"output": "one.json"}, 2, "do not fit in one file"),
    ],
)
def test_backup_refuses(
    database: str, ids: list[str], kwargs: dict[str, Any], code: int, words: str
) -> None:
    run = Run()
    assert commands.backup(database, ids, **kwargs, **run.kw) == code
    assert words in run.err and run.out == ""


def test_restore_writes_what_the_policy_allows(database: str, tmp_path: Path) -> None:
    source = tmp_path / "a.json"
    assert commands.backup(database, ["vol-a"], output=str(source), **Run().kw) == 0
    run = Run()
    code = commands.restore(database, "target", str(source), output_format="json", **run.kw)
    assert code == 0
    result = run.json()
    assert result["written"]["volume-base-metadata"]["display_name"] == "a"
    assert result["written"]["volume-metadata"] == {"k": "v"}
    assert {
        "section": "volume-base-metadata",
        "field": "size",
        "reason": "not in the restore allowlist",
    } in result["dropped"]
    after = Run()
    commands.backup(database, ["target"], **after.kw)
    restored = json.loads(after.out)
    assert restored["volume-metadata"] == {"k": "v"}
    assert restored["volume-base-metadata"]["bootable"] is True
    text = Run()
    assert commands.restore(database, "vol-b", str(source), **text.kw) == 0
    assert "already has a name of its own" in text.out


@pytest.mark.parametrize(
    ("name", "volume", "words"),
    [
        ("too-new", "target", "newer than the current version"),
        ("invalid", "target", SIZE),
        ("tampered", "target", "does not match the content"),
        ("missing", "target", "No such file"),
        ("v2", "no-such-volume", "not found"),
    ],
)
def test_restore_refuses_and_writes_nothing(
    database: str, files: dict[str, Path], name: str, volume: str, words: str
) -> None:
    before = Run()
    commands.backup(database, ["target"], **before.kw)
    run = Run()
    assert commands.restore(database, volume, str(files[name]), **run.kw) == 1
    assert words in run.err and run.out == ""
    after = Run()
    commands.backup(database, ["target"], **after.kw)
    assert after.out == before.out


def test_the_demo_runs_on_a_fresh_database(tmp_path: Path) -> None:
    run = Run()
    assert commands.demo(directory=tmp_path, **run.kw) == 0, run.err
    out = run.out
    for step in ("1. ", "2. ", "3. ", "4. ", "5. "):
        assert f"\n{step}" in out
    assert "restore_backup_" in out
    assert '-> "web-root"' in out  # the name was restored onto the restore_backup_ volume
    assert "+ digest:" in out and "+ family:" in out
    backups = tmp_path / "backups"
    assert commands.validate([str(backups)], **Run().kw) == 0
    assert len(list(backups.glob("*.json"))) == 4


def test_a_progress_bar_when_asked(files: dict[str, Path]) -> None:
    run = Run()
    code = commands.validate([str(files["jsonl"]), str(files["v2"])], progress=True, **run.kw)
    assert code == 1
    column = files["jsonl"].read_text().splitlines()[3].index('"size"') + 1
    assert [line.split(": ")[0] for line in run.out.splitlines()] == [
        f"{files['jsonl']}:4:{column}",
        f"{files['jsonl']}:5:1",
    ]
    assert run.err.endswith("docket validate: 2 of 6 container(s) invalid\n")


def test_a_container_naming_an_unknown_family_is_bad_input(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({**cinder(2), "family": "ledger"}))
    for call in (
        lambda r: commands.migrate(str(path), to="3", **r.kw),
        lambda r: commands.inspect(str(path), **r.kw),
    ):
        run = Run()
        assert call(run) == 1
        assert 'unknown family "ledger"' in run.err


def test_written_files_get_the_usual_mode(files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    assert commands.migrate(str(files["v2"]), to="3", output=str(out), **Run().kw) == 0
    mask = os.umask(0)
    os.umask(mask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~mask


def test_inspect_does_not_list_a_field_a_rule_writes_as_left_out(files: dict[str, Path]) -> None:
    run = Run()
    assert commands.inspect(str(files["v1"]), output_format="json", **run.kw) == 0
    info = run.json()["restore"]
    assert "bootable" in info["sections"]["volume-base-metadata"]["set_by_rules"]
    assert "bootable" not in {d["field"] for d in info["dropped"]}
    text = Run()
    assert commands.inspect(str(files["v1"]), **text.kw) == 0
    [left_out] = [line for line in text.out.splitlines() if "not in the restore allowlist" in line]
    assert "bootable" not in left_out
