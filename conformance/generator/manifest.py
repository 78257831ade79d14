"""Reading the committed suite and writing the case files and the manifest (with pins)."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from docket.conformance.suite import LEVELS, PROTOCOL, SUITE, case_file_bytes, file_digest

from . import common
from .common import (
    DISAGREEMENTS,
    FROZEN,
    REGISTRY,
    SEED,
    TEST_KEY,
)

LEVEL_TEXT = {
    "validate": "Strict parsing (encoding, syntax, duplicate keys, non-finite numbers, root type, "
    "limits), version detection, schema validation and the digest of versions that have one.",
    "migrate": "Upgrades and downgrades between versions by the declarative operations of the "
    "version documents, with integrity members sealed on the way; output as canonical JSON.",
    "restore": "What a restore writes onto a target (Cinder's rules: display-name, volume-type "
    "and encryption key, replace/merge/update, bootable), what it leaves out and why.",
    "integrity": "Canonical JSON bytes, digests, and HMAC-SHA256 signatures under the "
    "published test key.",
}


def load_frozen(root: Path) -> None:
    path = root / "manifest.json"
    if not path.exists():
        return
    for fam, spec in json.loads(path.read_text(encoding="utf-8")).get("families", {}).items():
        for e in spec.get("versions", []):
            if e.get("released"):
                FROZEN[(fam, json.dumps(e["version"]))] = {
                    "targets": e["targets"],
                    "shape": e["shape"],
                }


def load_committed(root: Path) -> None:
    reused: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for path in sorted((root / "cases").glob("*/*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        reused[(doc["family"], json.dumps(doc["version"]))] = doc["cases"]
    common.REUSE = reused


def drawn_by(old_manifest: Mapping[str, Any]) -> str:
    """The hypothesis release the generated inputs come from."""
    committed = old_manifest.get("generator", {}).get("hypothesis")
    if common.REUSE is not None and isinstance(committed, str):
        return committed
    return str(__import__("hypothesis").__version__)


def counts(cases: list[dict[str, Any]]) -> dict[str, int]:
    return {lv: sum(1 for c in cases if c["level"] == lv) for lv in LEVELS}


def write(
    root: Path, built: Mapping[tuple[str, Any], list[dict[str, Any]]], *, check: bool, release: bool
) -> int:
    manifest_path = root / "manifest.json"
    old = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    old_pins = {
        (fam, json.dumps(e["version"])): e.get("sha256")
        for fam, spec in old.get("families", {}).items()
        for e in spec.get("versions", [])
        if e.get("released")
    }
    families: dict[str, Any] = {}
    problems: list[str] = []
    changed: list[str] = []
    for (name, v), cases in built.items():
        fam = REGISTRY.family(name)
        rel = f"cases/{name}/{v}.json"
        data = case_file_bytes({"suite": SUITE, "family": name, "version": v, "cases": cases})
        digest = file_digest(data)
        pin = old_pins.get((name, json.dumps(v)))
        released = pin is not None or (release and v in fam.released())
        if pin is not None and pin != digest:
            problems.append(f"{rel}: released cases would change (pinned {pin}, now {digest})")
        path = root / rel
        if not path.exists() or path.read_bytes() != data:
            changed.append(rel)
        frozen = FROZEN.get((name, json.dumps(v)), {})
        entry = {
            "version": v,
            "file": rel,
            "released": released,
            "cases": counts(cases),
            "targets": frozen.get("targets", list(fam.versions)),
            "shape": frozen.get("shape", fam.current),
        }
        if released:
            entry["sha256"] = pin or digest
        families.setdefault(name, {"current": fam.current, "versions": []})["versions"].append(
            entry
        )
    all_cases = [c for cs in built.values() for c in cs]
    manifest = {
        "suite": SUITE,
        "protocol": PROTOCOL,
        "description": "Language-neutral conformance cases for docket's container formats. "
        "docs/conformance.md describes the case format and the runner protocol.",
        "schemas": "../schemas",
        "levels": {
            lv: {"description": LEVEL_TEXT[lv], "cases": counts(all_cases)[lv]} for lv in LEVELS
        },
        "keys": {"conformance-test-key": {"hex": TEST_KEY.hex(), "text": TEST_KEY.decode()}},
        "generator": {
            "script": "conformance/generate.py",
            "seed": SEED,
            # The release that drew the generated inputs: reused inputs keep the committed
            # record, so a newer hypothesis that changes nothing here changes nothing here.
            "hypothesis": drawn_by(old),
        },
        "total": len(all_cases),
        "families": families,
    }
    manifest_bytes = (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()
    if manifest_path.exists() and manifest_path.read_bytes() != manifest_bytes:
        changed.append("manifest.json")
    for p in problems:
        print(p, file=sys.stderr)
    for d in DISAGREEMENTS:
        print("strategy/docket disagreement:", d, file=sys.stderr)
    if check:
        for c in changed:
            print(f"would change: {c}", file=sys.stderr)
        return 1 if problems or changed else 0
    if problems:
        print("refusing to rewrite released cases", file=sys.stderr)
        return 1
    for (name, v), cases in built.items():
        path = root / f"cases/{name}/{v}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            case_file_bytes({"suite": SUITE, "family": name, "version": v, "cases": cases})
        )
    manifest_path.write_bytes(manifest_bytes)
    print(f"{len(all_cases)} cases in {len(built)} files", file=sys.stderr)
    return 0
