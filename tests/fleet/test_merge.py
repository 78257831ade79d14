"""A fleet result never shrinks silently (issue 24, class 2).

Shard files say which share of which audit they are and how many verdicts they hold;
``docket audit merge`` refuses a set with a share missing, twice, of another audit, or cut
short, naming which, and refuses any file that is not a shard file (wrong JSON types, a FIFO,
an endless line) with one typed error, in bounded time and memory. A shard that could not
run exits 3, which the documented batch wrappers (``test $? -le 1``) count as a failure.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from docket.backup import Backup, PosixBackupDriver
from docket.cli.audit import merge, run_audit
from docket.core.display import display
from docket.errors import CommandFailed
from docket.fleet.audit import Summary, audit
from docket.fleet.merge import merge_shards
from docket.fleet.shards import parse_shard
from tests._child import run_python
from tests._rss import PEAK_RSS_SOURCE

ID = "{:02x}{:02x}0000-0000-4000-8000-000000000000"
HOSTILE = Path(__file__).resolve().parents[1] / "hostile"
SHARD_CASES: dict[str, dict[str, str]] = json.loads((HOSTILE / "cases.json").read_text())["shards"]
UNREACHABLE = "postgresql+psycopg://docket@127.0.0.1:1/cinder"


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root of six small backups (a finding-free audit)."""
    tmp = tmp_path_factory.mktemp("merge")
    volume = tmp / "volume.img"
    volume.write_bytes(os.urandom(4096))
    root = tmp / "root"
    driver = PosixBackupDriver(root, None, chunk_size=32768)
    for i in range(6):
        driver.backup(Backup(id=ID.format(i, i), volume_id=f"vol-{i}"), volume)
    return root


def _shards(root: Path, where: Path, n: int = 3) -> list[Path]:
    where.mkdir(exist_ok=True)
    files = []
    for i in range(1, n + 1):
        path = where / f"shard-{i}.jsonl"
        path.write_bytes(b"".join(audit(root, shard=(i, n)).jsonl()))
        files.append(path)
    return files


def _merge(*paths: Path | str, **kw: object) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = merge([str(p) for p in paths], stdout=out, stderr=err, **kw)  # type: ignore[arg-type]
    return code, out.getvalue(), err.getvalue()


def test_a_whole_set_merges_to_one_run(root: Path, tmp_path: Path) -> None:
    files = _shards(root, tmp_path)
    whole = Summary()
    for verdict in audit(root):
        whole.add(verdict)
    merged = Summary()
    for verdict in merge_shards([str(p) for p in reversed(files)]):  # any order
        merged.add(verdict)
    assert merged.to_json() == whole.to_json() and whole.backups == 6
    assert _merge(*files)[0] == 0


def test_a_missing_shard_is_refused_by_name(root: Path, tmp_path: Path) -> None:
    files = _shards(root, tmp_path, n=4)
    report = tmp_path / "audit.html"
    code, out, err = _merge(files[0], files[2], output_format="html", output=report)
    assert code == 3 and out == ""
    assert "missing shard 2/4, 4/4" in err
    assert not report.exists()  # refused before a byte was written


def test_a_shard_given_twice_is_refused(root: Path, tmp_path: Path) -> None:
    files = _shards(root, tmp_path)
    copy = tmp_path / "copy-of-1.jsonl"
    copy.write_bytes(files[0].read_bytes())
    code, out, err = _merge(*files, copy)
    assert code == 3 and out == ""
    assert "copy-of-1.jsonl: is shard 1/3 again" in err and "shard-1.jsonl" in err


def test_a_shard_relabelled_as_another_share_is_refused(root: Path, tmp_path: Path) -> None:
    """A copy of one share's file with its header's index changed passed every check of the
    set (each share once, one audit, counted end line) and merged with one share's backups
    twice and another's missing; each backup's verdict must be of its header's share."""
    files = _shards(root, tmp_path)
    donor = next(f for f in files if len(f.read_bytes().splitlines()) > 2)  # holds a verdict
    victim = next(f for f in files if f != donor)
    index = json.loads(victim.read_bytes().splitlines()[0])["shard"]["index"]
    lines = donor.read_bytes().splitlines(keepends=True)
    head = json.loads(lines[0])
    head["shard"]["index"] = index
    victim.write_bytes(json.dumps(head).encode() + b"\n" + b"".join(lines[1:]))
    code, out, err = _merge(*files)
    backup = json.loads(lines[1])["backup_id"]
    assert code == 3 and out == ""
    assert f"{victim.name}:2: backup {backup} is of shard" in err
    assert f"not {index}/3: this file holds another share's verdicts" in err


def test_a_shard_of_another_audit_is_refused(root: Path, tmp_path: Path) -> None:
    files = _shards(root, tmp_path / "a")
    other_root = tmp_path / "other"
    other_root.mkdir()
    (stranger,) = [p for p in _shards(other_root, tmp_path / "b") if p.name == files[1].name]
    code, _, err = _merge(files[0], stranger, files[2])
    assert code == 3 and "b/shard-2.jsonl: is shard 2/3 of" in err and "not of the audit" in err
    fewer = _shards(root, tmp_path / "c", n=2)
    code, _, err = _merge(files[0], files[1], files[2], fewer[1])
    assert code == 3 and "shard 2/2" in err


def test_a_cut_shard_is_refused(root: Path, tmp_path: Path) -> None:
    files = _shards(root, tmp_path)
    lines = files[0].read_bytes().splitlines(keepends=True)
    assert len(lines) >= 3, "shard 1 should hold a verdict"
    files[0].write_bytes(b"".join(lines[:-1]))  # the end line lost
    code, _, err = _merge(*files)
    assert code == 3 and "has no end line" in err
    files[0].write_bytes(b"".join(lines[:1] + lines[2:]))  # a verdict lost
    code, _, err = _merge(*files)
    assert code == 3 and "the end line counts" in err


HEAD = '{"shard":{"index":1,"count":1,"root":"/r","database":null}}\n'
GOOD = {"backup_id": None, "path": "x", "findings": []}
WRONG = {
    "a list": "[]",
    "a string": '"verdict"',
    "backup_id a number": json.dumps(GOOD | {"backup_id": 5}),
    "created_at a number": json.dumps(GOOD | {"created_at": 5}),
    "path an object": json.dumps(GOOD | {"path": {}}),
    "findings an object": json.dumps(GOOD | {"findings": {}}),
    "a finding a number": json.dumps(GOOD | {"findings": [1]}),
    "a finding kind null": json.dumps(GOOD | {"findings": [{"kind": None, "message": ""}]}),
    "readers a string": json.dumps(GOOD | {"readers": "cinder"}),
    "a reader a list": json.dumps(GOOD | {"readers": [[]]}),
    "formats a list": json.dumps(GOOD | {"formats": ["a"]}),
    "a version a list": json.dumps(GOOD | {"formats": {"f": []}}),
    "deep a string": json.dumps(GOOD | {"deep": "yes"}),
    "not JSON": "{",
    "no members": "{}",
    "end records a string": '{"end":{"records":"1"}}',
}


@pytest.mark.parametrize("name", sorted(WRONG))
def test_wrong_json_types_are_typed_refusals(name: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(HEAD + WRONG[name] + "\n" + '{"end":{"records":1}}\n')
    code, out, err = _merge(bad)
    assert code == 3 and out == ""
    assert err.startswith("error: ") and err.count("\n") == 1
    assert f"{bad}:2:" in err


@pytest.mark.parametrize(
    "header",
    [
        '{"shard": []}',
        '{"shard": {"index": 0, "count": 1, "root": "/r", "database": null}}',
        '{"shard": {"index": 2, "count": 1, "root": "/r", "database": null}}',
        '{"shard": {"index": true, "count": 1, "root": "/r", "database": null}}',
        '{"shard": {"index": 1, "count": 1, "root": 7, "database": null}}',
        '{"shard": {"index": 1, "count": 1, "root": "/r", "database": 7}}',
    ],
)
def test_a_bad_header_is_a_typed_refusal(header: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(header + "\n")
    with pytest.raises(CommandFailed, match=r"bad\.jsonl:1"):
        list(merge_shards([str(bad)]))


@pytest.mark.parametrize("name", sorted(SHARD_CASES))
def test_the_hostile_shard_corpus(name: str, tmp_path: Path) -> None:
    """Each shard file of ``tests/hostile/shards``: merged, or refused with its typed error,
    one line on standard error and no report written."""
    expected = SHARD_CASES[name]["merge"]
    report = tmp_path / "merged.jsonl"
    code, _, err = _merge(HOSTILE / "shards" / name, output_format="jsonl", output=report)
    if expected == "ok":
        assert code in (0, 1), err
        head, *_, end = [json.loads(line) for line in report.read_text().splitlines()]
        assert head["shard"]["count"] == 1 and "end" in end
    else:
        assert code == 3 and err.startswith("error: ") and err.count("\n") == 1
        assert not report.exists()
        with pytest.raises(CommandFailed):
            list(merge_shards([str(HOSTILE / "shards" / name)]))


def _child(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a child; it prints the peak RSS (KiB) last."""
    tail = "\n" + PEAK_RSS_SOURCE + "\nprint(PEAK_RSS_KIB())"
    return run_python(code + tail, *args)


MERGE_IN_CHILD = """
import io, sys
from docket.cli.audit import merge, run_audit
from docket.core.display import display
err = io.StringIO()
print(merge(sys.argv[1:], stdout=io.StringIO(), stderr=err))
print(err.getvalue().strip())
"""


def test_special_files_are_refused_without_waiting(tmp_path: Path) -> None:
    fifo = tmp_path / "shard.fifo"
    os.mkfifo(fifo)  # nobody writes: an open that blocks would hang
    done = _child(MERGE_IN_CHILD, str(fifo), str(tmp_path), "/dev/zero")
    code, message, _ = done.stdout.splitlines()
    assert code == "3" and "shard file" in message and "is a FIFO" in message


def test_an_endless_line_is_bounded(tmp_path: Path) -> None:
    baseline = int(_child("import docket.cli.audit").stdout.split()[-1])
    big = tmp_path / "big.jsonl"
    with open(big, "wb") as fh:
        fh.write(HEAD.encode())
        fh.truncate(64 << 20)  # 64 MiB of NULs: a line four times over the limit
    done = _child(MERGE_IN_CHILD, str(big))
    code, message, peak = done.stdout.splitlines()
    assert code == "3" and "big.jsonl:2: the line is longer than" in message
    assert int(peak) - baseline < 3 * 16 * 1024  # KiB: about the one line's limit, not the file


def _wrapped(*argv: str) -> int:
    """The docs' batch wrapper (docs/audit.md): the command, then ``test $? -le 1``."""
    command = " ".join([sys.executable, "-m", "docket", *argv])
    return subprocess.run(["sh", "-c", f"{command}; test $? -le 1"], timeout=120).returncode


def test_a_shard_that_fails_fails_its_batch_task(root: Path, tmp_path: Path) -> None:
    out = tmp_path / "shard-1.jsonl"
    assert _wrapped("audit", str(root), "--shard", "1/2", "--format", "jsonl", "-o", str(out)) == 0
    assert out.exists()
    failed = tmp_path / "shard-2.jsonl"
    argv = ("audit", str(root), "--shard", "2/2", "--db", UNREACHABLE, "-o", str(failed))
    assert _wrapped(*argv) != 0 and not failed.exists()
    code, _, err = _merge(out)  # and the merge names what is missing
    assert code == 3 and "missing shard 2/2" in err


def test_findings_pass_the_batch_wrapper(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "stray").mkdir(parents=True)
    (root / "stray" / "file").write_bytes(b"x")  # an orphan: a finding, exit 1
    assert _wrapped("audit", str(root)) == 0


def test_a_forged_share_count_is_refused_at_once(tmp_path: Path) -> None:
    """A header claiming a million shares (the most a shard can be one of): the missing ones
    were listed one by one, and a count of 10**15 hung; ten are named, the rest counted, and
    more shares than a shard can be one of is not a shard file."""
    forged = tmp_path / "forged.jsonl"
    forged.write_text(
        '{"shard":{"index":1,"count":1000000,"root":"/r","database":null}}\n{"end":{"records":0}}\n'
    )
    code, out, err = _merge(forged)
    assert code == 3 and out == ""
    assert "missing shard 2/1000000, 3/1000000" in err and "11/1000000 and 999989 more" in err
    forged.write_text(forged.read_text().replace("1000000", "1000000000000000"))
    code, out, err = _merge(forged)
    assert code == 3 and out == ""
    assert 'forged.jsonl:1: "count" is 1000000000000000, more than' in err


@pytest.mark.parametrize(
    "text",
    ["1/99999999999999999999999", "1/1000001", "\u00b2/3", "\u0661/2", "1/2/3", "-1/2", "0/0"],
)
def test_a_shard_that_is_not_one_is_a_usage_error(text: str, root: Path, tmp_path: Path) -> None:
    """N too large to write in a shard file's header was a TypeError traceback (after the
    output was opened); digits other than ASCII ones were int()'s message or taken."""
    report = tmp_path / "shard.jsonl"
    out, err = io.StringIO(), io.StringIO()
    code = run_audit(root, stdout=out, stderr=err, shard=text, output_format="jsonl", output=report)
    assert code == 2 and err.getvalue().startswith("error: --shard: ")
    assert "int()" not in err.getvalue() and not report.exists()
    with pytest.raises(ValueError, match=r"I/N|between|at most"):
        parse_shard(text)


HOSTILE_VERSIONS = ["[/]", "[bold red]x[/bold red]", "\x1b]0;title\x07\x1b[2J", ":: ::error::x"]


@pytest.mark.parametrize("version", HOSTILE_VERSIONS)
def test_a_version_or_kind_from_a_shard_is_text_in_the_tables(version: str, tmp_path: Path) -> None:
    """A version (as written in a tenant's metadata object) or a finding's kind is shown in
    the text report's tables: ``[/]`` was a rich ``MarkupError`` traceback, other markup was
    applied, and a terminal escape went to the terminal as it was."""
    verdict = {
        "backup_id": "b1",
        "path": "b1/00/b1",
        "created_at": "2026-01-01T00:00:00Z",
        "formats": {"chunked-backup": version},
        "integrity": "damaged",
        "readers": [],
        "findings": [{"kind": version, "message": "m"}],
    }
    shard = tmp_path / "shard.jsonl"
    shard.write_text(HEAD + json.dumps(verdict) + '\n{"end":{"records":1}}\n')
    code, out, err = _merge(shard)
    assert code == 1, err
    assert "\x1b" not in out and "\x07" not in out
    rows = [line for line in out.splitlines() if "chunked-backup" in line]
    assert rows and all(":: ::" not in line.split("│")[0] for line in rows)
    assert display(version)[:8] in "".join(rows)  # as written (escaped), not applied
