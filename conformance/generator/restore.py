"""Hand-written restore cases: Cinder's restore rules (backup-metadata)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from .common import (
    BASE,
    GLANCE,
    KEY_ID,
    META,
    OTHER_TYPE_ID,
    TYPE_ID,
    Collector,
    at_version,
    base,
    text_input,
    v3_of,
)


def restore_cases(col: Collector) -> None:
    v = col.version
    doc1 = {"version": v, BASE: base()}
    if v == 3:
        doc1 = v3_of(doc1)

    def target(
        name: Any = "restore_backup_x",
        vtype: Any = TYPE_ID,
        exists: tuple[str, ...] = (TYPE_ID,),
        meta: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "row": BASE,
            "state": {
                BASE: {
                    "display_name": name,
                    "display_description": "old",
                    "volume_type_id": vtype,
                    "bootable": False,
                },
                META: dict(meta or {"old": "value"}),
                GLANCE: {"old_image": "x"},
            },
            "exists": {"volume_types": list(exists)},
        }

    def case(
        slug: str,
        what: str,
        data: Mapping[str, Any],
        tgt: Any,
        expect: Mapping[str, Any] | None = None,
    ) -> None:
        col.add(
            "restore",
            slug,
            what,
            expect,
            input=text_input(json.dumps(at_version(data, v))),
            shape=col.shape,
            target=tgt,
        )

    case(
        "auto-named-target",
        "an auto-named target takes the backed-up name and description",
        doc1,
        target(),
    )
    case(
        "target-has-name",
        "a target with a name of its own keeps it (and its description)",
        doc1,
        target(name="prod-db"),
    )
    case(
        "empty-name",
        "an empty backed-up name is not restored",
        {**doc1, BASE: base(display_name="")},
        target(),
    )
    case(
        "null-name",
        "a null backed-up name is not restored",
        {**doc1, BASE: base(display_name=None)},
        target(),
    )
    case(
        "no-name-field",
        "a section without display_name restores its description",
        {**doc1, BASE: {"display_description": "d"}},
        target(name="prod-db"),
    )
    case("new-volume", "a new volume takes name and description", doc1, None)
    case(
        "privileged-fields",
        "status, project, host and size are never restored",
        {
            **doc1,
            BASE: base(
                status="in-use", project_id="attacker", host="evil", size=10**6, deleted=True
            ),
        },
        target(),
    )
    case(
        "unknown-field",
        "a base field no schema defines is dropped as unknown",
        {**doc1, BASE: base(is_admin=True)},
        target(),
    )
    case(
        "metadata-replace",
        "user metadata replaces the target's entries",
        {**doc1, META: {"fee": "fi", "fo": None}},
        target(meta={"old": "value", "fee": "x"}),
    )
    case(
        "metadata-empty-replace",
        "an empty user metadata section deletes every entry",
        {**doc1, META: {}},
        target(),
    )
    case(
        "glance-bootable",
        "restoring glance metadata makes the volume bootable",
        {**doc1, GLANCE: {"image_id": "i-1", "min_ram": 512, "ok": True, "x": None}},
        target(),
    )
    case(
        "glance-empty-bootable",
        "even an empty glance section makes the volume bootable",
        {**doc1, GLANCE: {}},
        target(),
    )
    case(
        "sections-absent", "sections the container lacks are not written", {"version": v}, target()
    )
    keyed = {**doc1, BASE: base(encryption_key_id=KEY_ID)}
    if v == 1:
        case(
            "encryption-key-v1",
            "version 1 never restores the encryption key",
            at_version(keyed, 1),
            target(),
        )
        return
    case(
        "encryption-key-same-type",
        "an encrypted backup restores onto its own volume type",
        keyed,
        target(),
    )
    case(
        "encryption-key-untyped-target",
        "an untyped target takes the backup's (existing) type",
        keyed,
        target(vtype=None),
    )
    case(
        "encryption-key-type-gone",
        "refused: the backup's volume type no longer exists",
        keyed,
        target(vtype=None, exists=()),
        {"refused": "restore-refused", "pointer": f"/{BASE}/volume_type_id"},
    )
    case(
        "encryption-key-other-type",
        "refused: the target has another volume type",
        keyed,
        target(vtype=OTHER_TYPE_ID),
        {"refused": "restore-refused", "pointer": f"/{BASE}/volume_type_id"},
    )
    no_type = {**doc1, BASE: {"display_name": "x", "encryption_key_id": KEY_ID}}
    case(
        "encryption-key-no-type",
        "refused: an encrypted backup must record its volume type",
        no_type,
        target(),
        {"refused": "restore-refused", "pointer": f"/{BASE}/volume_type_id"},
    )
    case("encryption-key-new-volume", "a new volume is created with the backup's type", keyed, None)
    case(
        "encryption-key-null",
        "a null key needs no type check",
        {**doc1, BASE: base(volume_type_id=OTHER_TYPE_ID)},
        target(),
    )
