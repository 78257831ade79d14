"""An implementation under test that answers like docket, then corrupts one kind of answer.

``python tests/conformance/conformance_fake.py MODE`` speaks the conformance protocol;
tests/conformance/test_conformance.py runs the driver against it to show the suite can fail. Modes:

- ``verdict``: the first invalid container of each family is called valid;
- ``pointer``: schema problems are reported one level up;
- ``upgrade``: upgrades drop one member of their output;
- ``claim-validate``: claims only the validate level (answers correctly);
- ``claim-none``: claims no level at all;
- ``skip-validate``: claims validate and skips every case of it;
- ``crash``: exits after the first case;
- ``honest``: no corruption.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from docket.conformance.adapter import IMPLEMENTATION, Adapter
from docket.conformance.suite import LEVELS, PROTOCOL, SUITE


def corrupt(mode: str, case: dict[str, Any], result: dict[str, Any], seen: set[str]) -> None:
    if mode == "verdict" and result.get("valid") is False and case["family"] not in seen:
        seen.add(case["family"])
        result.clear()
        result.update({"valid": True, "version": None})
    elif mode == "pointer" and result.get("kind") == "schema":
        result["pointers"] = [p.rsplit("/", 1)[0] for p in result["pointers"]]
    elif mode == "upgrade" and "output" in result and case["level"] == "migrate":
        data = json.loads(result["output"])
        data.pop(sorted(k for k in data if k != "version")[-1], None)
        result["output"] = json.dumps(data, sort_keys=True, separators=(",", ":"))


def main() -> int:
    mode = sys.argv[1]
    adapter = Adapter()
    seen: set[str] = set()
    answered = 0
    for line in sys.stdin:
        message = json.loads(line)
        if message["cmd"] == "start":
            levels = {"claim-validate": ["validate"], "skip-validate": ["validate"]}.get(
                mode, [] if mode == "claim-none" else list(LEVELS)
            )
            reply: dict[str, Any] = {
                "ready": True,
                "suite": SUITE,
                "protocol": PROTOCOL,
                "implementation": {**IMPLEMENTATION, "name": f"fake-{mode}"},
                "levels": levels,
            }
        elif message["cmd"] == "stop":
            print(json.dumps({"stop": True}), flush=True)
            return 0
        else:
            if mode == "crash" and answered:
                print("crashing on purpose", file=sys.stderr)
                return 3
            case = message["case"]
            if mode == "skip-validate":
                print(json.dumps({"id": case["id"], "skipped": "not yet"}), flush=True)
                continue
            result = adapter.answer(case)
            corrupt(mode, case, result, seen)
            reply = {"id": case["id"], "result": result}
            answered += 1
        print(json.dumps(reply), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
