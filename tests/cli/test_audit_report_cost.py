"""``docket audit --format html`` stays linear and bounded (issue 24, class 3): a summary of
backups of distinct versions and months is drawn in charts of bounded size.

Before, each family's chart crossed every month with every version: 10,000 backups took
26 s and 2 GiB, 20,000 took 249 s and 8 GiB. Memory is compared at n and 2n (tracemalloc's
peak, deterministic); no time is asserted.
"""

from __future__ import annotations

import re
import tracemalloc
from html.parser import HTMLParser
from typing import Any

from docket.cli.audit_report import _BARS, _SERIES, render
from docket.fleet.audit import Summary, Verdict


def _summary(n: int) -> dict[str, Any]:
    """``n`` backups, each of its own container version and its own month."""
    summary = Summary()
    for i in range(n):
        summary.add(
            Verdict(
                backup_id=f"b{i:06d}",
                path=f"b{i:06d}",
                volume_id="v",
                created_at=f"{1000 + i // 12:04d}-{1 + i % 12:02d}-01T00:00:00",
                formats={"backup-metadata": 100 + i, "chunked-backup": None},
                integrity="ok",
                readers=("docket",),
            )
        )
    return summary.to_json()


def _peak(summary: dict[str, Any]) -> tuple[int, str]:
    tracemalloc.start()
    try:
        page = render(summary)
        return tracemalloc.get_traced_memory()[1], page
    finally:
        tracemalloc.stop()


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rects = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.rects += tag == "rect"


def test_the_report_of_distinct_versions_and_months_grows_linearly() -> None:
    small, large = _summary(1500), _summary(3000)
    assert len(large["ages"]) == 3000 and len(large["formats"]["backup-metadata"]) == 3000
    peak_small, page_small = _peak(small)
    peak_large, page_large = _peak(large)
    assert peak_large / peak_small < 3, (peak_small, peak_large)
    assert len(page_large) / len(page_small) < 3
    # The charts are bounded whatever the summary holds: at most _BARS bars of _SERIES + 1
    # series per family, the rest named as "other versions".
    for page in (page_small, page_large):
        tags = _Tags()
        tags.feed(page)
        families = 2
        assert tags.rects <= families * _BARS * (_SERIES + 1) + 50
    assert "2,993 other versions" in page_large
    assert re.search(r">1000-01 to 100\d-\d\d<", page_large)


def test_few_versions_and_months_are_drawn_one_by_one() -> None:
    page = render(_summary(_SERIES + 1))
    assert "other versions" not in page and not re.search(r">\d{4}-\d\d to ", page)
    assert all(f">{1000}-{m:02d}<" in page for m in range(1, _SERIES + 2))
