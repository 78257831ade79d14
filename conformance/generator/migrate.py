"""Hand-written migrate cases (backup-metadata)."""

from __future__ import annotations

import json

from docket.core.codec import canonical

from .common import (
    SIGNED_V3,
    Collector,
    base,
    text_input,
    v2_doc,
)

# --- hand-written: migrations, restores, integrity (backup-metadata) ------------------------


def migrate_cases(col: Collector) -> None:
    v = col.version
    if v == 2:
        for slug, ts, what in (
            (
                "feb-30",
                "2023-02-30T00:00:00.000000",
                "30 February matches the pattern but is no date",
            ),
            ("second-60", "2016-12-31T23:59:60.000000", "second 60 cannot be converted"),
            ("year-0", "0000-01-01T00:00:00.000000", "year 0 is no date"),
        ):
            col.add(
                "migrate",
                f"convert-refused-{slug}",
                f"upgrade to 3 refused: {what}",
                {"refused": "failed"},
                input=text_input(json.dumps(v2_doc(volume_base_metadata=base(created_at=ts)))),
                to=3,
                allow_lossy=False,
            )
        data = v2_doc(
            volume_base_metadata=base(
                created_at="2026-01-02T03:04:05.100000",
                updated_at=None,
                launched_at="0001-01-01T00:00:00.000000",
            )
        )
        col.add(
            "migrate",
            "convert-timestamps",
            "naive timestamps gain .ffffffZ; null stays null",
            input=text_input(json.dumps(data)),
            to=3,
            allow_lossy=False,
        )
        col.add(
            "migrate",
            "to-unknown-version",
            "there is no version 7",
            {"refused": "unknown-version"},
            input=text_input(json.dumps(v2_doc())),
            to=7,
            allow_lossy=False,
        )
        col.add(
            "migrate",
            "to-same-version",
            "migrating to its own version gives its canonical form",
            {"output": canonical(v2_doc()).decode()},
            input=text_input(json.dumps(v2_doc(), indent=3)),
            to=2,
            allow_lossy=False,
        )
        col.add(
            "migrate",
            "invalid-input",
            "an invalid container is not migrated",
            {"refused": "invalid-input"},
            input=text_input(json.dumps(v2_doc(volume_metadata={"k": 1}))),
            to=3,
            allow_lossy=False,
        )
        col.add(
            "migrate",
            "down-lossy-refused",
            "2 -> 1 loses the encryption key's restore",
            {"refused": "lossy"},
            input=text_input(json.dumps(v2_doc())),
            to=1,
            allow_lossy=False,
        )
        floats = v2_doc(
            volume_glance_metadata={
                "f": [1e16, 1e15, 1e-5, 1e-7, 0.1, 123.0, -0.0, 2.5e-5, 5e-324],
                "big": 2**64 + 1,
            }
        )
        col.add(
            "migrate",
            "numbers-canonical",
            "numbers keep their kind and are written canonically",
            input=text_input(json.dumps(floats)),
            to=3,
            allow_lossy=False,
        )
    if v == 3:
        col.add(
            "migrate",
            "signature-dropped-down",
            "a downgrade drops the signature (version 2 has none)",
            input=text_input(json.dumps(SIGNED_V3)),
            to=2,
            allow_lossy=False,
        )
