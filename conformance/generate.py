"""Write docket's conformance suite: ``python conformance/generate.py [--check] [--release]``.

Cases come from two sources, for every bundled family and version:

- **generated**: valid containers from ``docket.testing.containers`` and broken ones from
  ``docket.testing.invalid_containers`` (hypothesis, fixed seeds, no example database), their
  migrations to every other version, restores onto two targets and their canonical form. The
  expectation of a generated case is what docket answers (``docket.conformance.adapter``).
- **hand-written**: the hostile-corpus classes (strict parsing, encodings, limits, the version
  member, sections of the wrong shape), Cinder's restore rules, canonical JSON edge cases and
  signed containers under the published test key. Each states its expectation here; the script
  stops if docket disagrees with one, since that is a bug in docket or in the case.

Files: ``cases/<family>/<version>.json`` (one per family version, all levels) and
``manifest.json`` (levels, files, per-level counts, the published key, and the sha256 of every
released version's file). A released file is never rewritten: when regeneration would change
one the script stops (``--check`` just reports). ``--release`` pins the files of versions the
family manifests list as released and that have no pin yet; a new family version gets its file
(unpinned) on the next run and is pinned when it is released.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

# Run as a script, this folder is on sys.path: the generator package sits beside this file.
from generator.common import REGISTRY, Collector, v2_doc, v3_of
from generator.drawing import (
    generated,
    generated_canonical,
    generated_migrations,
    generated_restores,
)
from generator.integrity import integrity_cases
from generator.manifest import load_committed, load_frozen, write
from generator.migrate import migrate_cases
from generator.restore import restore_cases
from generator.validate_parsing import parsing_cases
from generator.validate_versions import v3_cases, version_cases

HERE = Path(__file__).resolve().parent


def build() -> dict[tuple[str, Any], list[dict[str, Any]]]:
    out: dict[tuple[str, Any], list[dict[str, Any]]] = {}
    ordered = sorted(REGISTRY.families())
    for name in ordered:
        fam = REGISTRY.family(name)
        for v in fam.versions:
            col = Collector(fam, v)
            datas = generated(col)
            version_cases(col, datas[-1])
            if name == "backup-metadata" and v == 2:
                parsing_cases(col)
            if name == "backup-metadata" and v == 3:
                v3_cases(col, v3_of(v2_doc(volume_metadata={"fee": "fi"})))
            integrity_cases(col, datas[-1])
            generated_migrations(col, datas)
            if name == "backup-metadata":
                migrate_cases(col)
                restore_cases(col)
            generated_restores(col, datas)
            generated_canonical(col, datas)
            out[(name, v)] = col.cases
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="report differences, write nothing")
    parser.add_argument(
        "--release",
        action="store_true",
        help="pin the files of released family versions that have no pin yet",
    )
    parser.add_argument("--out", type=Path, default=HERE, help="suite directory (default: here)")
    parser.add_argument(
        "--reuse-inputs",
        action="store_true",
        help="take the generated inputs from the committed files instead of drawing them "
        "(fast; every expectation is still recomputed and every hand-written case rebuilt)",
    )
    args = parser.parse_args(argv)
    load_frozen(args.out)
    if args.reuse_inputs:
        load_committed(args.out)
    return write(args.out, build(), check=args.check, release=args.release)


if __name__ == "__main__":
    raise SystemExit(main())
