"""What a tenant stores cannot make one verdict unbounded, nor its shard file unmergeable.

A backup directory can hold any number of objects of its backup's prefix that its metadata
object does not list, each an ``unexpected`` finding. Listed whole, 130,000 of them made a
verdict line of 21 MB, which ``audit merge`` (lines up to 16 MiB) refused: one tenant stopped
the merge of the whole fleet's audit.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from docket.cli.audit import merge, run_audit
from docket.fleet.audit import MAX_PER_KIND, audit
from tests.fleet.test_audit import _backup, _obj

STRAY = MAX_PER_KIND + 150


def test_a_flood_of_stray_objects_is_counted_not_listed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    flooded = _backup(root, tmp_path, "aa000000-0000-4000-8000-000000000000", seed=1)
    _backup(root, tmp_path, "bb000000-0000-4000-8000-000000000000", volume_id="vol-b", seed=2)
    prefix = _obj(flooded, "_metadata").name.removesuffix("_metadata")
    for i in range(10, 10 + STRAY):
        os.close(os.open(flooded / f"{prefix}-{i:05d}", os.O_CREAT | os.O_WRONLY, 0o600))

    verdicts = {v.backup_id: v for v in audit(root)}
    findings = verdicts["aa000000-0000-4000-8000-000000000000"].findings
    listed = [f for f in findings if f.object is not None]
    (counted,) = [f for f in findings if f.object is None]
    assert len(listed) == MAX_PER_KIND and {f.kind for f in findings} == {"unexpected"}
    assert listed == sorted(listed, key=lambda f: f.object or "")  # the first, in name order
    assert counted.kind == "unexpected" and counted.message == "and 150 more unexpected findings"
    assert verdicts["bb000000-0000-4000-8000-000000000000"].findings == ()

    shard = tmp_path / "shard.jsonl"
    out, err = io.StringIO(), io.StringIO()
    code = run_audit(root, stdout=out, stderr=err, shard="1/1", output_format="jsonl", output=shard)
    assert code == 1, err.getvalue()
    longest = max(len(line) for line in shard.read_bytes().splitlines())
    assert longest < (MAX_PER_KIND + 2) * 400  # a few hundred bytes per finding listed
    out, err = io.StringIO(), io.StringIO()
    assert merge([str(shard)], stdout=out, stderr=err, output_format="json") == 1, err.getvalue()
    summary = json.loads(out.getvalue())
    assert summary["findings"] == {"unexpected": 1} and summary["backups"] == 2


def _rewrite(metadata: Path, **changes: object) -> None:
    data = json.loads(metadata.read_text())
    data.update(changes)
    metadata.write_text(json.dumps(data))


def test_a_metadata_object_with_a_huge_version_part_is_a_finding(tmp_path: Path) -> None:
    """``"version": "99...9"`` (5,000 digits) is a well-formed dotted version: comparing it
    with the newest was a ValueError from int() that ended the audit with a traceback; and a
    version that is rich markup (``[/]``) ended the text report with one."""
    root = tmp_path / "root"
    huge = _backup(root, tmp_path, "aa000000-0000-4000-8000-000000000000", seed=1)
    marked = _backup(root, tmp_path, "bb000000-0000-4000-8000-000000000000", seed=2)
    _rewrite(_obj(huge, "_metadata"), version="9" * 5000)
    _rewrite(_obj(marked, "_metadata"), version="[/]")
    out, err = io.StringIO(), io.StringIO()
    assert run_audit(root, stdout=out, stderr=err) == 1, err.getvalue()
    text = out.getvalue()
    assert "aa000000-0000-4000-8000-000000000000: metadata: chunked-backup: version" in text
    assert "newer than" in text or "too new" in text or "supported" in text
    assert "[/]" in text and "Traceback" not in err.getvalue()
