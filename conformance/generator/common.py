"""Constants, the state of one run, and the helpers every case builder uses."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import docket
from docket import Family
from docket.conformance.adapter import Adapter
from docket.conformance.compare import differences
from docket.core.codec import canonical

SEED = 20260518
TEST_KEY = b"docket-conformance-test-key"
OTHER_KEY = b"not-the-conformance-key"
N_VALID = 10
N_INVALID = 14
N_MIGRATE = 4
N_RESTORE = 4
N_CANONICAL = 3

VOLUME_ID = "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6"
TYPE_ID = "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d"
OTHER_TYPE_ID = "1b2c3d4e-5f60-4718-a9b0-c1d2e3f40516"
KEY_ID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
BASE = "volume-base-metadata"
META = "volume-metadata"
GLANCE = "volume-glance-metadata"

ADAPTER = Adapter()
REGISTRY = docket.load_registry()

REUSE: dict[tuple[str, str], list[dict[str, Any]]] | None = None
"""The committed cases per (family, JSON of the version), when inputs are reused, not drawn."""
DISAGREEMENTS: list[str] = []

FROZEN: dict[tuple[str, str], dict[str, Any]] = {}
"""Per released file (family, JSON of the version): the targets and shape it was made with."""

SIGNED_V3: dict[str, Any] = {}
"""The signed version 3 container of the integrity cases, which a migrate case reuses."""

# --- building cases -----------------------------------------------------------------------


def text_input(raw: str | bytes) -> dict[str, str]:
    if isinstance(raw, str):
        return {"text": raw}
    try:
        return {"text": raw.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(raw).decode("ascii")}


def formatted(data: Mapping[str, Any], style: int) -> str:
    """The same container written three ways, as different writers would."""
    if style % 3 == 0:
        return json.dumps(data, sort_keys=True)
    if style % 3 == 1:
        return json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True)
    return canonical(data).decode("utf-8")


class Collector:
    """The cases of one family version; ids are unique within the suite."""

    def __init__(self, family: Family, version: Any) -> None:
        self.family = family
        self.version = version
        frozen = FROZEN.get((family.name, json.dumps(version)), {})
        self.targets: tuple[Any, ...] = tuple(frozen.get("targets", family.versions))
        """Versions migrate cases go to: a released file keeps those it was released with."""
        self.shape: Any = frozen.get("shape", family.current)
        """The version restore cases are planned at (the current one when released)."""
        self.cases: list[dict[str, Any]] = []
        self.ids: set[str] = set()

    def add(
        self,
        level: str,
        slug: str,
        description: str,
        expect: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        case_id = f"{self.family.name}/{self.version}/{level}/{slug}"
        if case_id in self.ids:
            raise SystemExit(f"duplicate case id {case_id}")
        self.ids.add(case_id)
        case: dict[str, Any] = {
            "id": case_id,
            "level": level,
            "description": description,
            "family": self.family.name,
            **fields,
        }
        got = ADAPTER.answer(case)
        got.pop("message", None)
        if expect is None:
            case["expect"] = got
            case["source"] = "generated"
        else:
            case["expect"] = dict(expect)
            case["source"] = "hand-written"
            problems = differences(case, got)
            if problems:
                raise SystemExit(f"docket disagrees with hand-written case {case_id}: {problems}")
        self.cases.append(case)
        return case


def invalid(kind: str, *pointers: str) -> dict[str, Any]:
    return {"valid": False, "kind": kind, "pointers": sorted(set(pointers or ("",)))}


def valid(version: Any, signature: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"valid": True, "version": version}
    if signature is not None:
        out["signature"] = signature
    return out


def v2_doc(**sections: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "version": 2,
        BASE: {
            "id": VOLUME_ID,
            "size": 1,
            "status": "available",
            "display_name": "db-volume",
            "display_description": "primary database",
            "volume_type_id": TYPE_ID,
            "encryption_key_id": None,
            "bootable": False,
            "created_at": "2026-01-02T03:04:05.000000",
        },
    }
    doc.update({k.replace("_", "-"): x for k, x in sections.items()})
    return doc


def base(**fields: Any) -> dict[str, Any]:
    return {**v2_doc()[BASE], **fields}


def at_version(data: Mapping[str, Any], version: Any) -> dict[str, Any]:
    """``data`` as a container of ``version`` (version 3: with family and a fresh digest)."""
    out = {**data, "version": version}
    return v3_of(out) if version == 3 else out


def v3_of(data: Mapping[str, Any]) -> dict[str, Any]:
    fam = REGISTRY.family("backup-metadata")
    sections = {
        k: x for k, x in data.items() if k not in ("version", "family", "digest", "signature")
    }
    if BASE in sections:
        sections[BASE] = {
            k: (x + "Z" if k.endswith("_at") and isinstance(x, str) and not x.endswith("Z") else x)
            for k, x in sections[BASE].items()
        }
    return dict(fam.new(sections, version=3).data)
