"""``docket validate`` as a CI gate (issue 15): the cost of an invalid file, of explaining,
of JSON Lines against the compiled validator's floor, and of a directory against
check-jsonschema.

Run with the harness (``python -m benchmarks --cases gate``) or alone::

    python -m benchmarks.validate_gate [--quick]

check-jsonschema is not a dependency of docket: it is looked for as ``CHECK_JSONSCHEMA``,
then on ``PATH``, then in ``~/.cache/docket/bench-check-jsonschema`` (made with
``python -m venv ~/.cache/docket/bench-check-jsonschema`` and ``pip install
check-jsonschema`` there); without it that case is reported as not run.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from statistics import median
from typing import Any

import orjson

from benchmarks import data
from benchmarks.report import Row, Target, text_table

SMALL_REPEAT = 7
"""Runs of each one-file CLI call (a child process each: start-up dominates)."""
SLICE = 500
"""Containers timed at a time, docket and jsonschema alternating (see case_family_validate)."""


def _cli() -> list[str]:
    script = Path(sys.executable).with_name("docket")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "docket"]


def check_jsonschema() -> str | None:
    """The check-jsonschema executable, if one is installed (see the module docstring)."""
    found = os.environ.get("CHECK_JSONSCHEMA") or shutil.which("check-jsonschema")
    if found:
        return found
    cached = Path.home() / ".cache" / "docket" / "bench-check-jsonschema" / "bin"
    exe = cached / "check-jsonschema"
    return str(exe) if exe.exists() else None


def _broken(container: str, rng: random.Random) -> dict[str, Any]:
    """A v2 container made invalid under its own schema (not its version)."""
    obj = orjson.loads(container)
    base = obj["volume-base-metadata"]
    kind = rng.randrange(4)
    if kind == 0:
        base["size"] = -1
    elif kind == 1:
        base["display_name"] = 12
    elif kind == 2:
        base["created_at"] = "yesterday"
    else:
        obj["volume-metadata"]["key-04"] = 4
    return obj  # type: ignore[no-any-return]


def mix(containers: list[str], n: int, every: int = 10, seed: int = 3) -> list[tuple[bytes, bool]]:
    """``n`` v2 containers as bytes, every ``every``-th invalid; with the expected verdict."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        text = containers[i % len(containers)]
        if i % every == every - 1:
            out.append((orjson.dumps(_broken(text, rng)), False))
        else:
            obj = orjson.loads(text)
            obj["volume-base-metadata"]["display_name"] = f"vol-{i}"
            out.append((orjson.dumps(obj), True))
    return out


def mix_indented(containers: list[str], n: int, every: int = 10) -> list[tuple[bytes, bool]]:
    """``n`` v2 containers as Cinder-shaped files a person keeps: indented, every
    ``every``-th made invalid through a metadata value that is a number, not text."""
    out = []
    for i in range(n):
        obj = orjson.loads(containers[i % len(containers)])
        obj["volume-base-metadata"]["display_name"] = f"vol-{i}"
        valid = i % every != every - 1
        if not valid:
            obj["volume-metadata"]["key-04"] = 4
        out.append((json.dumps(obj, indent=4).encode(), valid))
    return out


def _time(fn: Callable[[], object]) -> float:
    import time

    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _child_env() -> dict[str, str]:
    """The environment of the timed commands: with bytecode caching on, as an installed
    docket (and check-jsonschema, installed with pip) has it. An environment that turns it off
    (``PYTHONDONTWRITEBYTECODE``) would have every docket start compile its source; the
    bytecode goes to a cache directory of its own, not into the source tree."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.setdefault("PYTHONPYCACHEPREFIX", str(Path.home() / ".cache" / "docket" / "bench-pycache"))
    return env


def _child(argv: list[str]) -> tuple[float, int, bytes]:
    import time

    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, check=False, env=_child_env())
    return time.perf_counter() - start, done.returncode, done.stdout


def case_small_files(work: Path, containers: list[str], log: Callable[[str], None]) -> Row:
    """`docket validate` of one invalid small file vs one valid small file."""
    good, bad = work / "good.json", work / "bad.json"
    good.write_bytes(containers[0].encode())
    bad.write_bytes(orjson.dumps(_broken(containers[0], random.Random(1))))
    times: dict[str, list[float]] = {"invalid": [], "valid": []}
    codes = set()
    _child([*_cli(), "validate", str(good)])  # warm the file cache
    for _ in range(SMALL_REPEAT):
        for name, path in (("invalid", bad), ("valid", good)):
            seconds, code, _out = _child([*_cli(), "validate", str(path)])
            times[name].append(seconds)
            codes.add((name, code))
    ok = codes == {("invalid", 1), ("valid", 0)}
    log(f"  exit statuses {sorted(codes)}")
    return Row("-", "gate: `docket validate` one invalid file vs one valid file",
               f"{good.stat().st_size} bytes", Target("<=", 1.5), median(times["invalid"]),
               median(times["valid"]), baseline_name="valid file", checks_ok=ok, runs=times)


def case_family_validate(
    containers: list[str], n: int, log: Callable[[str], None], repeat: int = 3
) -> Row:
    """Family.validate on a mix with 10% invalid vs a reused jsonschema validator.

    The two alternate every :data:`SLICE` containers, and each run's time is the sum over
    the slices: docket's whole run is about 50 times shorter than jsonschema's, so timed in
    one piece it would fall inside one burst of a shared machine's noise or between two,
    while jsonschema's always spans many. Alternating slices gives both the same moments; the
    order within a slice rotates, so no side always runs right after jsonschema has filled
    the caches with its own objects (about 10% on this machine).

    The floor, timed in the same slices, is what any validator built on the same parts
    spends: ``orjson.loads`` and jsonschema-rs ``is_valid``, with no strictness proof (no
    duplicate keys, limits) and nothing explained."""
    import jsonschema

    import docket

    family = docket.load_registry().family("backup-metadata")
    corpus = mix(containers, n)
    cls = jsonschema.Draft202012Validator
    reference = cls(dict(family.schema(2)), format_checker=cls.FORMAT_CHECKER)
    slices = [corpus[i : i + SLICE] for i in range(0, len(corpus), SLICE)]

    def ours(part: list[tuple[bytes, bool]]) -> list[bool]:
        return [not family.validate(raw) for raw, _ in part]

    def theirs(part: list[tuple[bytes, bool]]) -> list[bool]:
        return [bool(reference.is_valid(orjson.loads(raw))) for raw, _ in part]

    fast = family.spec(2).fast

    def floor(part: list[tuple[bytes, bool]]) -> list[bool]:
        return [fast.is_valid(orjson.loads(raw)) for raw, _ in part]

    expected = [v for _, v in corpus]
    got, ref, least = ours(corpus), theirs(corpus), floor(corpus)
    ok = got == expected == ref == least
    log(f"  verdicts: docket {got.count(False)} invalid, jsonschema {ref.count(False)} invalid, "
        f"floor {least.count(False)} invalid, built {expected.count(False)} invalid")
    sides = {"docket": ours, "jsonschema": theirs, "floor": floor}
    names = list(sides)
    times: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeat):
        spent = dict.fromkeys(sides, 0.0)
        for at, part in enumerate(slices):
            # Rotated per slice: whichever runs right after jsonschema finds the caches cold.
            for name in names[at % 3 :] + names[: at % 3]:
                side = sides[name]
                spent[name] += _time(lambda side=side, part=part: side(part))  # type: ignore[misc]
        for name in sides:
            times[name].append(spent[name])
    return Row("-", "gate: Family.validate(), 10% invalid, vs reused jsonschema validator",
               f"{n} containers", Target("<=", 0.02), median(times["docket"]),
               median(times["jsonschema"]), baseline_name="jsonschema", checks_ok=ok, runs=times,
               plain=median(times["floor"]),
               note=f"alternating every {SLICE} containers; plain: orjson + is_valid")


def case_jsonl(
    work: Path, containers: list[str], n: int, log: Callable[[str], None], repeat: int = 3
) -> Row:
    """`docket validate` over a JSONL vs the compiled validator's is_valid on each line."""
    import docket

    family = docket.load_registry().family("backup-metadata")
    corpus = mix(containers, n, every=50)
    path = work / "lines.jsonl"
    path.write_bytes(b"\n".join(raw for raw, _ in corpus) + b"\n")
    fast = family.spec(2).fast
    lines = path.read_bytes().splitlines()

    def floor() -> int:
        return sum(not fast.is_valid(orjson.loads(line)) for line in lines)

    floor_invalid = floor()
    _seconds, code, out = _child([*_cli(), "validate", str(path), "--format", "json"])
    docket_invalid = sum(not r["valid"] for r in orjson.loads(out))
    ok = code == 1 and docket_invalid == floor_invalid == sum(not v for _, v in corpus)
    log(f"  verdicts: docket {docket_invalid} invalid, is_valid {floor_invalid} invalid")
    times: dict[str, list[float]] = {"docket": [], "is_valid": []}
    for _ in range(repeat):
        times["docket"].append(_child([*_cli(), "validate", str(path)])[0])
        times["is_valid"].append(_time(floor))
    return Row("-", "gate: `docket validate` JSONL vs jsonschema-rs is_valid floor",
               f"{n} lines", Target("<=", 2.5), median(times["docket"]),
               median(times["is_valid"]), baseline_name="orjson + is_valid", checks_ok=ok,
               runs=times, note="CLI start-up included")


def case_directory(
    work: Path,
    corpus: list[tuple[bytes, bool]],
    log: Callable[[str], None],
    repeat: int = 3,
    what: str = "",
) -> Row | str:
    """`docket validate DIR` of the files of ``corpus`` vs check-jsonschema with the v2
    schema; ``what`` names the files in the case's label."""
    import docket

    exe = check_jsonschema()
    if exe is None:
        return "check-jsonschema is not installed (see benchmarks/validate_gate.py)"
    family = docket.load_registry().family("backup-metadata")
    schema = work / "v2.schema.json"
    schema.write_bytes(orjson.dumps(dict(family.schema(2))))
    root = work / f"dir{len(list(work.glob('dir*')))}"
    root.mkdir()
    n = len(corpus)
    files = []
    for i, (raw, _) in enumerate(corpus):
        path = root / f"c{i:05d}.json"
        path.write_bytes(raw)
        files.append(str(path))
    _s, code, out = _child([*_cli(), "validate", str(root), "--format", "json"])
    docket_invalid = sum(not r["valid"] for r in orjson.loads(out) if "valid" in r)
    cj = [exe, "--schemafile", str(schema), "--output-format", "json", *files]
    _s, cj_code, cj_out = _child(cj)
    try:
        report = orjson.loads(cj_out)
        cj_invalid = len({e.get("filename") for e in report.get("errors", [])})
    except orjson.JSONDecodeError:
        cj_invalid = -1
    expected = sum(not v for _, v in corpus)
    log(f"  verdicts: docket {docket_invalid} invalid (exit {code}), check-jsonschema "
        f"{cj_invalid} invalid (exit {cj_code}), built {expected}")
    ok = docket_invalid == cj_invalid == expected and code == 1 and cj_code == 1
    times: dict[str, list[float]] = {"docket": [], "check-jsonschema": []}
    for _ in range(repeat):
        times["docket"].append(_child([*_cli(), "validate", str(root)])[0])
        times["check-jsonschema"].append(
            _child([exe, "--schemafile", str(schema), *files])[0]
        )
    return Row("-", f"gate: `docket validate DIR`{what} vs check-jsonschema (time; <=0.1x is "
               ">=10x throughput)", f"{n} files", Target("<=", 0.1), median(times["docket"]),
               median(times["check-jsonschema"]), baseline_name="check-jsonschema",
               checks_ok=ok, runs=times,
               note=f"invalid: docket {docket_invalid}, check-jsonschema {cj_invalid}")


def run_cases(
    work: Path,
    containers: list[str],
    *,
    quick: bool,
    log: Callable[[str], None],
    add: Callable[[Row], object],
    not_run: Callable[[str, str], None],
    repeat: int = 3,
) -> None:
    """Every case of this module, each timed ``repeat`` times (docket and its baseline
    alternating); ``add`` takes each row, ``not_run(label, why)`` a skip."""
    log("case gate: one invalid vs one valid small file")
    add(case_small_files(work, containers, log))
    log("case gate: Family.validate vs jsonschema")
    add(case_family_validate(containers, 1_000 if quick else 10_000, log, repeat))
    log("case gate: JSONL vs is_valid floor")
    add(case_jsonl(work, containers, 20_000 if quick else 100_000, log, repeat))
    files = 500 if quick else 2_000
    for what, corpus in (
        ("", mix(containers, files)),
        (" of indented Cinder files", mix_indented(containers, files)),
    ):
        log(f"case gate: directory{what} vs check-jsonschema")
        row = case_directory(work, corpus, log, repeat, what)
        if isinstance(row, str):
            not_run(f"gate: `docket validate DIR`{what} vs check-jsonschema", row)
        else:
            add(row)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.validate_gate")
    parser.add_argument("--quick", action="store_true", help="small sizes")
    args = parser.parse_args(argv)
    rows: list[Row] = []
    work = Path(tempfile.mkdtemp(prefix="docket-gate-"))
    try:
        run_cases(
            work,
            data.containers(200),
            quick=args.quick,
            log=lambda m: print(m, file=sys.stderr, flush=True),
            add=rows.append,
            not_run=lambda label, why: print(f"not run: {label}: {why}", file=sys.stderr),
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(text_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
