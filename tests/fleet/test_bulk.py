"""``docket.fleet.validate.validate_many`` called as a library: the same verdicts as ``docket
validate`` prints, in one process or several, whole or by shard."""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from docket import load_registry
from docket.cli import commands
from docket.core.registry import Registry
from docket.errors import UsageError
from docket.fleet.validate import Result, parse_shard, validate_many
from tests.cli.test_commands import Run, cinder, v3

Row = tuple[Any, ...]


@pytest.fixture
def paths(tmp_path: Path) -> list[str]:
    """Files (valid, invalid, unreadable), a directory and a JSON Lines file."""
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "a.json").write_text(json.dumps(cinder(1)))
    (tmp_path / "dir" / "b.json").write_text(json.dumps(cinder(2, size=-1)))
    (tmp_path / "v3.json").write_bytes(v3())
    (tmp_path / "broken.json").write_text('{"version": 2, ')
    lines = [json.dumps(cinder(2)), "", json.dumps(cinder(2, size="big")), "not json"]
    lines += [json.dumps({**cinder(2), "family": "nope"})] + [json.dumps(cinder(1))] * 40
    (tmp_path / "many.jsonl").write_text("\n".join(lines) + "\n")
    names = ["dir", "v3.json", "broken.json", "missing.json", "many.jsonl"]
    return [str(tmp_path / n) for n in names]


def rows(results: Iterable[Result]) -> list[Row]:
    return [
        (
            r.file,
            r.line,
            r.valid,
            r.family,
            r.version,
            [(i.pointer, i.json_path, i.message, i.keyword) for i in r.errors],
        )
        for r in results
    ]


def cli_rows(paths: list[str], **options: Any) -> list[Row]:
    run = Run()
    commands.validate(paths, output_format="json", **options, **run.kw)
    return [
        (
            r["file"],
            r["line"],
            r["valid"],
            r["family"],
            r["version"],
            [(e["pointer"], e["path"], e["message"], e["keyword"]) for e in r["errors"]],
        )
        for r in run.json()
    ]


def test_the_results_are_the_clis(paths: list[str]) -> None:
    found = rows(validate_many(paths))
    assert found == cli_rows(paths)
    assert len(found) == 2 + 1 + 1 + 1 + 44
    verdicts = {(Path(r[0]).name, r[1]): r[2] for r in found}
    assert verdicts[("b.json", None)] is False and verdicts[("a.json", None)] is True
    assert verdicts[("many.jsonl", 3)] is False and verdicts[("many.jsonl", 1)] is True
    unknown = next(r for r in found if r[1] == 5)
    assert unknown[5][0][:2] == ("/family", '$["family"]')


def test_worker_processes_and_shards_give_the_same_results(paths: list[str]) -> None:
    whole = rows(validate_many(paths))
    assert rows(validate_many(paths, jobs=2)) == whole
    parts = []
    for i in (1, 2, 3):
        part = rows(validate_many(paths, shard=(i, 3)))
        assert part == cli_rows(paths, shard=f"{i}/3")
        assert 0 < len(part) < len(whole)
        parts += part
    assert sorted(parts, key=repr) == sorted(whole, key=repr)


def test_json_lines_from_a_stream_and_progress(paths: list[str]) -> None:
    jsonl = Path(paths[-1])
    seen: list[tuple[int, int]] = []
    from_file = rows(
        validate_many([jsonl], progress=lambda done, total: seen.append((done, total)))
    )
    size = jsonl.stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    stream = io.BytesIO(jsonl.read_bytes())
    from_stdin = rows(validate_many(["-"], jsonl=True, stdin=stream))
    assert [r[1:] for r in from_stdin] == [r[1:] for r in from_file]
    assert {r[0] for r in from_stdin} == {"<stdin>"}


def _registry_with_a_rule() -> Registry:
    """Built in each worker process: a rule is a function, which cannot be sent there."""
    return load_registry().with_rule("noop", lambda context: None)


def test_a_registry_with_functions_needs_a_factory_for_workers(paths: list[str]) -> None:
    registry = _registry_with_a_rule()
    with pytest.raises(ValueError, match="module-level function"):
        validate_many(paths, registry=registry, jobs=2)
    part = rows(validate_many(paths, registry=registry, shard=(2, 3)))
    assert part == cli_rows(paths, shard="2/3")
    in_workers = validate_many(paths, registry=_registry_with_a_rule, shard=(2, 3), jobs=2)
    assert rows(in_workers) == part


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"jobs": -1}, "jobs: -1 is negative"),
        ({"shard": (3, 2)}, "between 1 and N"),
        ({"shard": (0, 2)}, "between 1 and N"),
    ],
)
def test_bad_arguments_are_refused_at_the_call(
    paths: list[str], kwargs: dict[str, Any], words: str
) -> None:
    # A usage error of the argument (a DocketError that is also a ValueError).
    with pytest.raises(UsageError, match=words) as err:
        validate_many(paths, **kwargs)
    assert isinstance(err.value, ValueError) and err.value.argument in kwargs
    with pytest.raises(UsageError, match="once"):
        validate_many(["-", "-"])


def test_parse_shard() -> None:
    assert parse_shard("2/4") == (2, 4)
    for text in ("0/4", "5/4", "2", "a/b", "/4"):
        with pytest.raises(ValueError):
            parse_shard(text)


def test_choose_shard_is_a_usage_error_of_the_option() -> None:
    from docket.core.errors import UsageError
    from docket.fleet import choose_shard

    assert choose_shard(None) is None
    assert choose_shard("3/8") == (3, 8)
    with pytest.raises(UsageError) as info:
        choose_shard("9/8", option="--part")
    assert info.value.argument == "--part" and "between 1 and N" in info.value.reason
    assert "--part 2/4" in info.value.hint

