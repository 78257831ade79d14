"""Instructions per ``Family.load`` call against ``orjson.loads`` of the same bytes, under
callgrind: stable where wall-clock ratios are not (a shared, loaded machine).

``python -m benchmarks.load_callgrind [--calls N]`` runs itself under ``valgrind
--tool=callgrind`` and, between phases, dumps the counters with ``callgrind_control``; each
phase's instructions, less those of an empty phase (the dump itself), divided by the calls,
is printed per case: the load benchmark's four containers (3.2 KB and 1.5 KB, each as
Cinder writes v2, upgraded, and as docket writes v3). Valgrind offers no SHA instructions:
the digest of a v3 container is hashed in software there, so it counts several times what
it costs on a CPU with SHA-NI (the libcrypto column says how much).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

_PHASE = "--phase-child"


def _dump(label: str) -> None:
    subprocess.run(["callgrind_control", f"--dump={label}", str(os.getpid())],
                   capture_output=True, check=False)
    time.sleep(0.2)


def _child(calls: int) -> None:
    import orjson

    import docket
    from benchmarks import data

    family = docket.load_registry().family("backup-metadata")
    cases = []
    for size, text in (("3.2 KB", data.containers(1)[0]), ("1.5 KB", data.compact_container())):
        v2 = text.encode()
        cases += [(f"{size} v2 upgraded", v2), (f"{size} v3", family.dump(family.load(v2)))]
    _dump("pre")
    _dump("empty")
    for name, blob in cases:
        for side, fn in (("orjson", orjson.loads), ("load", family.load)):
            for _ in range(20):
                fn(blob)
            _dump("pre")
            for _ in range(calls):
                fn(blob)
            _dump(f"{side} {name}")


def _totals(path: Path) -> tuple[str, int, int]:
    text = path.read_text(errors="replace")
    label = re.search(r"^desc: Trigger: dump (.*)$", text, re.M)
    total = re.search(r"^summary: (\d+)", text, re.M)
    # Self cost of the functions in libcrypto (the digest's SHA-256).
    crypto = 0
    current_ob = ""
    after_call = False
    for line in text.splitlines():
        if line.startswith("ob="):
            current_ob = line
        elif line.startswith("calls="):
            after_call = True  # the next cost line is the call's inclusive cost
        elif line[:1].isdigit() or line[:1] in "+-*":
            parts = line.split()
            if not after_call and "libcrypto" in current_ob and len(parts) >= 2:
                crypto += int(parts[1]) if parts[1].isdigit() else 0
            after_call = False
    return (label.group(1) if label else "", int(total.group(1)) if total else 0, crypto)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load_callgrind")
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument(_PHASE, action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.phase_child:
        _child(args.calls)
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("valgrind (callgrind) is not installed", file=sys.stderr)
        return 2
    out = Path(tempfile.mkdtemp(prefix="docket-callgrind-"))
    try:
        subprocess.run(
            ["valgrind", "--tool=callgrind", "--compress-strings=no", "--compress-pos=no",
             f"--callgrind-out-file={out}/cg.%p", sys.executable, "-m",
             "benchmarks.load_callgrind", _PHASE, "--calls", str(args.calls)],
            check=True, capture_output=True,
        )
        phases = [_totals(p) for p in out.glob("cg.*")]
    finally:
        shutil.rmtree(out, ignore_errors=True)
    empty = next((total for label, total, _ in phases if label == "empty"), 0)
    rows: dict[str, dict[str, tuple[int, int]]] = {}
    for label, total, crypto in phases:
        side, _, name = label.partition(" ")
        if side in ("load", "orjson"):
            rows.setdefault(name, {})[side] = ((total - empty) // args.calls, crypto // args.calls)
    print("| container | Family.load | orjson.loads | ratio | of which libcrypto |")
    print("|---|---|---|---|---|")
    for name in sorted(rows, key=lambda n: (not n.startswith("3.2"), "v3" in n)):
        sides = rows[name]
        (load, crypto), (plain, _) = sides["load"], sides["orjson"]
        print(f"| {name} | {load / 1000:.0f}k | {plain / 1000:.0f}k | {load / plain:.2f}x | "
              f"{crypto / 1000:.0f}k |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
