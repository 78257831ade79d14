"""Comparing an implementation's answer with a case's expectation. Pure: no I/O.

What must match, per level (``docs/conformance.md`` has the full rules):

- a verdict (validate, integrity ``verify``): ``valid``; for a valid container the detected
  ``version`` (and the ``signature`` status when the case states one); for an invalid one the
  ``kind`` and the set of ``pointers``. Messages are never compared.
- migrate, integrity ``seal``: the ``output`` text byte for byte (it is canonical JSON), or the
  ``refused`` kind.
- restore: ``writes``, ``state`` and ``dropped``, as JSON values, or the ``refused`` kind and
  ``pointer``.
- integrity ``canonical``: ``canonical`` text and ``digest`` byte for byte.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PASS = "pass"
FAIL = "fail"
ERROR = "error"
SKIPPED = "skipped"
UNCLAIMED = "unclaimed"
STATUSES = (PASS, FAIL, ERROR, SKIPPED, UNCLAIMED)
NOT_STARTED = "not run: the implementation did not start"
"""The message of every case of a run whose implementation never said hello (the run's
problem says why)."""
MAX_MESSAGE = 1000
"""The most characters of an outcome's message kept: an implementation's words (a skip
reason, an error, a ``message``) are kept for every case, so each is cut to this."""


@dataclass(frozen=True)
class Outcome:
    """What became of one case."""

    id: str
    level: str
    family: str
    status: str
    message: str = ""
    description: str = ""
    seconds: float = 0.0


def _exact(value: Any) -> str:
    """JSON text that tells 1 from 1.0 and true from 1, with keys sorted."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False)


def _show(value: Any) -> str:
    text = _exact(value) if not isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 160 else text[:157] + "..."


_WINDOW = 60
"""Characters shown on each side of the first difference between two texts."""


def _text_difference(name: str, expected: str, got: str) -> str:
    """Where two texts part: the first differing character and a window around it (a
    canonical text is compared byte for byte, and its first 160 characters often agree)."""
    at = next(
        (i for i, (a, b) in enumerate(zip(expected, got, strict=False)) if a != b),
        min(len(expected), len(got)),
    )
    start = max(0, at - _WINDOW)

    def window(text: str) -> str:
        part = json.dumps(text[start : at + _WINDOW], ensure_ascii=False)
        return ("..." if start else "") + part + ("..." if at + _WINDOW < len(text) else "")

    return (
        f"{name}: differs at character {at} (of {len(expected)} expected, {len(got)} given): "
        f"expected {window(expected)}, got {window(got)}"
    )


def _field(name: str, expected: Any, got: Any, *, present: bool = True) -> str | None:
    if _exact(expected) == _exact(got):
        return None
    if not present:
        return f'{name}: expected {_show(expected)}, but the result has no "{name}" member'
    if isinstance(expected, str) and isinstance(got, str) and max(map(len, (expected, got))) > 80:
        return _text_difference(name, expected, got)
    return f"{name}: expected {_show(expected)}, got {_show(got)}"


def _verdict(expected: Mapping[str, Any], got: Mapping[str, Any]) -> list[str]:
    if not isinstance(got.get("valid"), bool):
        return ['the answer has no boolean "valid"']
    if expected["valid"] != got["valid"]:
        what = "valid" if expected["valid"] else f"invalid ({expected.get('kind')})"
        said = "valid" if got["valid"] else f"invalid ({got.get('kind')}: {got.get('message', '')})"
        return [f"verdict: expected {what}, got {said}"]
    if expected["valid"]:
        checks = [_field("version", expected.get("version"), got.get("version"))]
        if "signature" in expected:
            checks.append(_field("signature", expected["signature"], got.get("signature")))
    else:
        pointers = got.get("pointers")
        found = sorted(set(pointers)) if isinstance(pointers, list) else pointers
        checks = [
            _field("kind", expected.get("kind"), got.get("kind")),
            _field("pointers", sorted(set(expected.get("pointers", []))), found),
        ]
    return [c for c in checks if c]


def _refusal(expected: Mapping[str, Any], got: Mapping[str, Any], *extra: str) -> list[str]:
    if "refused" not in got:
        return [f"expected a refusal ({expected['refused']}), got an answer: {_show(dict(got))}"]
    problems = [_field("refused", expected["refused"], got.get("refused"))]
    problems += [_field(name, expected.get(name), got.get(name)) for name in extra]
    return [p for p in problems if p]


def _members(expected: Mapping[str, Any], got: Mapping[str, Any], *names: str) -> list[str]:
    if "refused" in got:
        return [f"refused ({got['refused']}: {got.get('message', '')}), expected an answer"]
    problems = [_field(n, expected.get(n), got.get(n), present=n in got) for n in names]
    if any(problems) and not any(n in got for n in names):
        problems.append(f"the result's members are {_show(sorted(map(str, got)))}")
    return [p for p in problems if p]


def differences(case: Mapping[str, Any], got: Any) -> list[str]:
    """Why ``got`` (the ``result`` of an answer) does not meet the case's ``expect``; empty
    when it does."""
    expected = case["expect"]
    if not isinstance(got, Mapping):
        return [f"the result is not an object: {_show(got)}"]
    level, op = case.get("level"), case.get("op")
    if level == "validate" or op == "verify":
        return _verdict(expected, got)
    if level == "restore":
        if "refused" in expected:
            return _refusal(expected, got, "pointer")
        return _members(expected, got, "writes", "state", "dropped")
    if "refused" in expected:
        return _refusal(expected, got)
    if op == "canonical":
        return _members(expected, got, *(n for n in ("canonical", "digest") if n in expected))
    return _members(expected, got, "output")


def judge(
    case: Mapping[str, Any], reply: Mapping[str, Any] | None, seconds: float = 0.0
) -> Outcome:
    """The outcome of a case from the implementation's reply line (None: no reply)."""

    def outcome(status: str, message: str = "") -> Outcome:
        if len(message) > MAX_MESSAGE:
            message = f"{message[:MAX_MESSAGE]}... ({len(message):,} characters)"
        return Outcome(
            str(case.get("id")),
            str(case.get("level")),
            str(case.get("family")),
            status,
            message,
            str(case.get("description", "")),
            seconds,
        )

    if reply is None:
        return outcome(ERROR, "no answer")
    # Every answer names its case: one for another case (an answer out of order, or one
    # behind) is an error, whether it is a result, a skip or an error. Only an error may
    # leave the id out (a runner that could not read the case may not know it).
    if reply.get("id") != case.get("id") and ("id" in reply or "error" not in reply):
        asked = f"{_show(reply.get('id'))} where {_show(case.get('id'))} was asked"
        return outcome(
            ERROR,
            f"answer for {asked} (answer each case, in the order sent, with its id)",
        )
    if "skipped" in reply:
        return outcome(SKIPPED, str(reply["skipped"]))
    if "error" in reply:
        return outcome(ERROR, str(reply["error"]))
    if "result" not in reply:
        return outcome(ERROR, 'the answer has no "result"')
    problems = differences(case, reply["result"])
    return outcome(FAIL, "; ".join(problems)) if problems else outcome(PASS)
