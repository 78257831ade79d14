"""The container cases: load, validate (API and CLI), the CLI's peak RSS, and POSIX throughput."""

from __future__ import annotations

import functools
import pstats
import random
import subprocess
import sys
from collections.abc import Callable
from statistics import median
from typing import Any

import orjson

from benchmarks import data
from benchmarks.harness import (
    LABELS,
    LOAD_TARGET,
    Bench,
    cli_available,
    compare,
    docket_exe,
    peak_rss,
    profile,
    run_child,
    stats_text,
    timed,
)
from benchmarks.report import Row, Target


def _family() -> Any:
    import docket

    return docket.load_registry().family("backup-metadata")


def case_load(bench: Bench, containers: list[str]) -> None:
    """Family.load of one container against orjson.loads of it: Cinder's 3.2 KB container
    (all 40 columns) and a 1.5 KB one, each as Cinder writes it (v2, upgraded to v3) and as
    docket writes v3."""
    s = bench.settings
    family = _family()
    n = s.load_ops
    for size, text in (("", containers[0]), ("small ", data.compact_container())):
        v2 = text.encode()
        v3 = family.dump(family.load(v2))
        for label, blob in (("v2 as Cinder writes it, upgraded to v3", v2), ("v3", v3)):
            _load_row(bench, family, f"Family.load() of one {size}container ({label})", blob, n)


def _load_row(bench: Bench, family: Any, case: str, blob: bytes, n: int) -> None:
    s = bench.settings
    family.load(blob)

    def loads() -> None:
        for _ in range(n):
            family.load(blob)

    def docket_run() -> float:
        return timed(loads) / n

    def plain_loads() -> None:
        # As docket's loop: each result dropped at once. A list keeping all n parsed dicts
        # alive made orjson's side 2.5-4.5 times slower (allocation, cache misses) than the
        # parse itself, which flattered the ratio.
        for _ in range(n):
            orjson.loads(blob)

    def plain_run() -> float:
        return timed(plain_loads) / n

    times = compare({"docket": docket_run, "orjson": plain_run}, repeat=s.repeat,
                    warmup=s.warmup)
    bench.add(
        Row("-", case, f"{len(blob)} bytes", Target("<=", LOAD_TARGET), median(times["docket"]),
            median(times["orjson"]), per_op=True, baseline_name="orjson.loads", runs=times),
        profiler=functools.partial(profile, loads),
    )


def _reference_validators() -> dict[int, Any]:
    import jsonschema

    family = _family()
    cls = jsonschema.Draft202012Validator
    return {
        int(v): cls(dict(family.schema(v)), format_checker=cls.FORMAT_CHECKER)
        for v in family.versions
    }


def _reference_verdict(validators: dict[int, Any], line: bytes) -> bool:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    version = obj.get("version") if isinstance(obj, dict) else None
    # type() and not isinstance(): True == 1, but a boolean is not a version.
    validator = validators.get(version) if type(version) is int else None
    return validator is not None and bool(validator.is_valid(obj))


def _verdict_detail(verdicts: list[bool], expected: list[bool], ref: dict[int, bool]) -> tuple[
    bool, str
]:
    same_ref = all(verdicts[i] == v for i, v in ref.items())
    same_all = verdicts == expected
    if same_ref and same_all:
        on_ref = f"to the reference on {len(ref)} sampled lines and " if ref else ""
        return True, f"verdicts identical {on_ref}to the corpus on all {len(expected)} lines"
    bad = next((i + 1 for i in range(len(expected)) if verdicts[i] != expected[i]), None)
    return False, f"verdicts differ (first at line {bad})"


def case_validate(bench: Bench, corpus: data.Corpus) -> None:
    s = bench.settings
    family = _family()
    from docket.errors import DocketError

    lines = corpus.path.read_bytes().splitlines()
    n = len(lines)
    expected = [i + 1 not in corpus.invalid for i in range(n)]
    validators = _reference_validators()
    rng = random.Random(5)
    timing_sample = sorted(rng.sample(range(n), min(s.validate_sample, n)))
    verdict_sample = sorted(set(timing_sample) | {i - 1 for i in corpus.invalid})

    # The reference: jsonschema's Draft202012Validator, one per version, reused.
    ref = {i: _reference_verdict(validators, lines[i]) for i in verdict_sample}
    bench.check("reference validator agrees with how the corpus was built",
                all(ref[i] == expected[i] for i in verdict_sample),
                f"{len(verdict_sample)} lines ({len(timing_sample)} sampled at random plus "
                f"all {len(corpus.invalid)} broken ones)")
    sampled = [lines[i] for i in timing_sample]

    def reference_run() -> float:
        # Per line over a random sample, scaled to the corpus: at ~1 ms a line the reference
        # would take minutes per run over every line.
        return timed(lambda: [_reference_verdict(validators, ln) for ln in sampled]) * (
            n / len(sampled)
        )

    def api_validate(lines: list[bytes] = lines) -> list[bool]:
        return [not family.validate(ln) for ln in lines]

    def api_is_valid(lines: list[bytes] = lines) -> list[bool]:
        out = []
        for ln in lines:
            try:
                obj = orjson.loads(ln)
                out.append(bool(family.spec(family.detect(obj)).is_valid(obj)))
            except (orjson.JSONDecodeError, DocketError, AttributeError):
                out.append(False)
        return out

    # Every docket path is timed in one round robin with the reference, which is measured
    # once for all of them.
    contenders: dict[str, Callable[[], float]] = {"reference": reference_run}
    rows: list[tuple[str, str, bool, Callable[[], str]]] = []
    head = lines[: min(n, 20_000)]  # profiles run on a part: the shape, not the total
    for key, label, fn in (
        ("validate", "validate: API Family.validate()", api_validate),
        ("is_valid", "validate: API spec.is_valid()", api_is_valid),
    ):
        ok, detail = _verdict_detail(fn(), expected, ref)
        bench.check(label, ok, detail)
        contenders[key] = functools.partial(timed, fn)
        rows.append((key, label, ok, functools.partial(profile, functools.partial(fn, head))))

    missing = cli_available()
    if missing:
        bench.not_run("-", "validate-cli", Target("<=", 0.02), missing)
    else:
        argv = [*docket_exe(), "validate", "--family", "backup-metadata"]
        json_run = run_child([*argv, "--format", "json", str(corpus.path)], capture=True)
        try:
            by_line = {int(r["line"]): bool(r["valid"]) for r in orjson.loads(json_run.stdout)}
            ok, detail = _verdict_detail([by_line.get(i + 1, True) for i in range(n)],
                                         expected, {})
            ok = ok and json_run.returncode == (1 if corpus.invalid else 0)
            detail = f"exit {json_run.returncode}; {detail}"
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as err:
            ok, detail = False, f"could not read `--format json` output: {err!r}"
        bench.check("validate CLI (--format json)", ok, detail)
        head_file = bench.workdir / "head.jsonl"
        head_file.write_bytes(b"\n".join(head) + b"\n")
        for key, label, extra in (
            ("cli", LABELS["validate-cli"], []),
            ("cli-jobs", LABELS["validate-cli"] + ", `--jobs 0` (every CPU)", ["--jobs", "0"]),
        ):
            command = [*argv, *extra, str(corpus.path)]
            contenders[key] = functools.partial(lambda c: run_child(c).seconds, command)
            rows.append((key, label, ok, functools.partial(
                _profile_cli, bench, [*argv[1:], *extra, str(head_file)])))

    # No separate warm-up: the verdict checks above just ran every contender over the data.
    times = compare(contenders, repeat=s.heavy_repeat, warmup=0)
    for key, label, ok, profiler in rows:
        bench.add(
            Row("-", label, f"{n} containers", Target("<=", 0.02), median(times[key]),
                median(times["reference"]), baseline_name="jsonschema, sampled", checks_ok=ok,
                runs={"docket": times[key], "reference": times["reference"]}),
            profiler=profiler,
        )


def _profile_cli(bench: Bench, args: list[str]) -> str:
    """cProfile of ``docket ARGS`` in a child process (worker processes are not included)."""
    out = bench.workdir / "cli.prof"
    script = bench.workdir / "docket_cli.py"
    script.write_text("import sys\nfrom docket.cli import main\nsys.exit(main())\n")
    subprocess.run([sys.executable, "-m", "cProfile", "-o", str(out), str(script), *args],
                   capture_output=True, check=False)
    return stats_text(pstats.Stats(str(out)), 18)


def case_rss(bench: Bench, corpus: data.Corpus) -> None:
    s = bench.settings
    missing = cli_available()
    if missing:
        bench.not_run("-", "rss", Target("<", 150, "MiB"), missing)
        return
    times = -(-s.rss_lines // corpus.lines)
    big = bench.workdir / "big.jsonl"
    bench.log(f"  writing {corpus.lines * times} lines")
    size = data.repeat_file(corpus.path, big, times)
    try:
        child = peak_rss([*docket_exe(), "validate", "--family", "backup-metadata", str(big)])
    finally:
        big.unlink()
    detail = f"exit {child.returncode} over {size / 2**20:.0f} MiB in {child.seconds:.1f} s"
    ok = bench.check("validate RSS run", child.returncode == 1, detail)
    bench.add(Row("-", LABELS["rss"],
                  f"{corpus.lines * times} lines", Target("<", 150, "MiB"), child.max_rss_mib,
                  unit="MiB", checks_ok=ok, note=f"{child.seconds:.1f} s"))


def case_posix(bench: Bench) -> None:
    s = bench.settings
    try:
        from benchmarks import posix_throughput
    except ImportError as err:
        bench.not_run("-", "posix", Target(">=", 0.7), str(err))
        return
    r = posix_throughput.measure(s.posix_mb, repeat=max(s.repeat // 2, 1))
    bench.add(Row("-", LABELS["posix"],
                  f"{r['size_mib']:.0f} MiB file", Target(">=", 0.7), r["backup_mib_s"],
                  r["sha256sum_mib_s"], unit="MiB/s", baseline_name="sha256sum",
                  note="best of runs"))

