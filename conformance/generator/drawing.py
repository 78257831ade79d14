"""Drawing containers from docket's strategies deterministically, and the generated cases."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from docket import Family
from docket.core.codec import canonical
from docket.testing import containers, invalid_containers

from . import common
from .common import (
    BASE,
    DISAGREEMENTS,
    GLANCE,
    META,
    N_CANONICAL,
    N_INVALID,
    N_MIGRATE,
    N_RESTORE,
    N_VALID,
    SEED,
    TYPE_ID,
    Collector,
    formatted,
    text_input,
)

# --- hypothesis, deterministically ---------------------------------------------------------


def examples(strategy: st.SearchStrategy[Any], count: int, salt: int) -> list[Any]:
    """``count`` examples of ``strategy``, the same on every run of one hypothesis release."""
    out: list[Any] = []

    @settings(
        max_examples=count,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(SEED + salt)
    @given(strategy)
    def collect(value: Any) -> None:
        out.append(value)

    collect()
    return out


def _salt(*parts: Any) -> int:
    return int.from_bytes(canonical([str(p) for p in parts])[:8].ljust(8, b"\0"), "big") % 10**6


# --- generated cases ------------------------------------------------------------------------


def draws(col: Collector) -> tuple[list[dict[str, Any]], list[tuple[str, str, dict[str, Any]]]]:
    """Valid containers, and invalid ones as (reason, pointer, data), from the strategies; or,
    with ``REUSE`` set, the ones the committed case file already holds."""
    fam, v = col.family, col.version
    if common.REUSE is not None:
        committed = common.REUSE.get((fam.name, json.dumps(v)), [])
        datas = [
            json.loads(c["input"]["text"])
            for c in committed
            if c["id"].startswith(f"{fam.name}/{v}/validate/generated-valid-")
        ]
        bads = [
            (c["origin"]["reason"], c["origin"]["pointer"], json.loads(c["input"]["text"]))
            for c in committed
            if c["id"].startswith(f"{fam.name}/{v}/validate/generated-invalid-")
        ]
        return datas, bads
    datas: list[dict[str, Any]] = []
    seen: set[bytes] = set()
    for c in examples(containers(fam, v), N_VALID + 4, _salt(fam.name, v, "valid")):
        key = canonical(c.data)
        if key not in seen and len(datas) < N_VALID:
            seen.add(key)
            datas.append(copy.deepcopy(c.data))
    bads: list[tuple[str, str, dict[str, Any]]] = []
    strategy = invalid_containers(fam, v).filter(lambda b: b.reason != "bad version")
    for bad in examples(strategy, N_INVALID + 6, _salt(fam.name, v, "invalid")):
        key = canonical([bad.reason, bad.pointer, bad.data])
        if key not in seen and len(bads) < N_INVALID:
            seen.add(key)
            bads.append((bad.reason, bad.pointer, copy.deepcopy(bad.data)))
    return datas, bads


def generated(col: Collector) -> list[dict[str, Any]]:
    """Validate cases from the strategies; returns the valid containers' data."""
    v = col.version
    datas, bads = draws(col)
    for i, data in enumerate(datas):
        col.add(
            "validate",
            f"generated-valid-{i:02d}",
            f"a valid version {v} container drawn from the schema ({len(canonical(data))} bytes)",
            input=text_input(formatted(data, i)),
        )
    for made, (reason, pointer, data) in enumerate(bads):
        case = col.add(
            "validate",
            f"generated-invalid-{made:02d}",
            f"a version {v} container with one problem ({reason} at {pointer or 'the root'})",
            input=text_input(formatted(data, made)),
            origin={"strategy": "invalid_containers", "reason": reason, "pointer": pointer},
        )
        got = case["expect"]
        if got.get("valid") or pointer not in got.get("pointers", []):
            DISAGREEMENTS.append(
                f"{case['id']}: the strategy says {reason} at {pointer!r}, docket answers {got}"
            )
    return datas


def generated_migrations(col: Collector, datas: list[dict[str, Any]]) -> None:
    fam, v = col.family, col.version
    for i, data in enumerate(datas[:N_MIGRATE]):
        text = formatted(data, i)
        for target in col.targets:
            if target == v:
                continue
            up = fam.scheme.key(target) > fam.scheme.key(v)
            lossy = not up and bool(fam.losses(v, target))
            col.add(
                "migrate",
                f"generated-{i:02d}-to-{target}",
                f"{'upgrade' if up else 'downgrade'} generated container {i} to version {target}"
                + (" (lossy, refused without consent)" if lossy else ""),
                input=text_input(text),
                to=target,
                allow_lossy=False,
            )
            if lossy:
                col.add(
                    "migrate",
                    f"generated-{i:02d}-to-{target}-lossy",
                    f"downgrade generated container {i} to version {target}, loss accepted",
                    input=text_input(text),
                    to=target,
                    allow_lossy=True,
                )


def restore_target(fam: Family, variant: int) -> dict[str, Any] | None:
    if variant == 0 or BASE not in fam.schema(fam.current).get("properties", {}):
        return None
    return {
        "row": BASE,
        "state": {
            BASE: {
                "display_name": "restore_backup_5e6f7a8b",
                "display_description": None,
                "volume_type_id": None,
                "bootable": False,
            },
            META: {"kept": "no"},
            GLANCE: {},
        },
        "exists": {"volume_types": [TYPE_ID]},
    }


def generated_restores(col: Collector, datas: list[dict[str, Any]]) -> None:
    fam, v = col.family, col.version
    for i, data in enumerate(datas[:N_RESTORE]):
        for variant in (0, 1):
            target = restore_target(fam, variant)
            if target is None and variant:
                continue
            onto = "a new volume" if target is None else "an existing auto-named volume"
            col.add(
                "restore",
                f"generated-{i:02d}-target-{variant}",
                f"restore generated version {v} container {i} onto {onto}",
                input=text_input(formatted(data, i)),
                shape=col.shape,
                target=target,
            )


def generated_canonical(col: Collector, datas: list[dict[str, Any]]) -> None:
    for i, data in enumerate(datas[:N_CANONICAL]):
        col.add(
            "integrity",
            f"canonical-generated-{i:02d}",
            f"canonical bytes{' and digest' if col.family.spec(col.version).integrity else ''} "
            f"of generated container {i}",
            op="canonical",
            input=text_input(formatted(data, i + 1)),
        )
