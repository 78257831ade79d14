"""``docket audit --format html``: one self-contained page with the summary and its charts.

Everything is inline (CSS, a little JavaScript, SVG charts drawn here), so the file can be
attached to a ticket and opened anywhere, with no network. The page works without
JavaScript; the script only makes the tables sortable and marks the page ready
(``data-ready``), which the browser test looks for.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

from docket import __version__
from docket.fleet.audit import FINDINGS

_SERIES = 7
"""Versions a chart names; the rest of a family's versions are drawn as one series."""
_BARS = 120
"""Bars in a chart at most; beyond, consecutive months share a bar."""
PALETTE = ("#2f6db5", "#e08a1e", "#3a9a5b", "#c23b3b", "#7b55b3", "#8c6d3a", "#d462a8", "#5f6b7a")

_CSS = """
:root { color-scheme: light; --ink: #1d2430; --muted: #5f6b7a; --line: #d8dde4; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0; background: #f5f7fa; }
header { background: #1d2430; color: #fff; padding: 18px 32px; }
header h1 { margin: 0; font-size: 22px; }
header p { margin: 4px 0 0; color: #c9d1dc; }
main { padding: 20px 32px 40px; max-width: 1200px; }
section { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px;
          margin: 0 0 18px; }
h2 { font-size: 17px; margin: 0 0 10px; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { flex: 1 1 150px; background: #fff; border: 1px solid var(--line); border-radius: 8px;
        padding: 12px 16px; }
.card b { display: block; font-size: 26px; }
.card.bad b { color: #c23b3b; } .card.good b { color: #3a9a5b; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
         vertical-align: top; }
th { cursor: pointer; user-select: none; color: var(--muted); font-weight: 600; }
th[data-order="asc"]::after { content: " \\25B2"; }
th[data-order="desc"]::after { content: " \\25BC"; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 13px; }
.muted { color: var(--muted); }
.legend span { display: inline-block; margin: 0 14px 4px 0; }
.legend i { display: inline-block; width: 11px; height: 11px; margin-right: 5px;
            border-radius: 2px; }
svg text { font: 12px system-ui, sans-serif; fill: var(--ink); }
"""

_JS = """
(function () {
  "use strict";
  function key(cell) {
    var text = cell.textContent.trim();
    var number = Number(text.replace(/,/g, ""));
    return text !== "" && !isNaN(number) ? number : text.toLowerCase();
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, column) {
      th.addEventListener("click", function () {
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        var order = th.getAttribute("data-order") === "asc" ? "desc" : "asc";
        table.querySelectorAll("th").forEach(function (other) {
          other.removeAttribute("data-order");
        });
        th.setAttribute("data-order", order);
        rows.sort(function (a, b) {
          var x = key(a.cells[column]), y = key(b.cells[column]);
          var cmp = x < y ? -1 : x > y ? 1 : 0;
          return order === "asc" ? cmp : -cmp;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  var summary = JSON.parse(document.getElementById("audit-summary").textContent);
  document.body.setAttribute("data-records", String(summary.records));
  document.body.setAttribute("data-ready", "yes");
})();
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _number(value: int) -> str:
    return f"{value:,}"


def _table(head: Sequence[str], rows: Sequence[Sequence[tuple[str, bool]]]) -> str:
    """A sortable table; each cell is (HTML, numeric)."""
    out = ['<table class="sortable"><thead><tr>']
    out += [f"<th>{_e(h)}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for row in rows:
        out.append("<tr>")
        out += [f'<td class="n">{c}</td>' if n else f"<td>{c}</td>" for c, n in row]
        out.append("</tr>")
    if not rows:
        out.append(f'<tr><td colspan="{len(head)}" class="muted">none</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _legend(labels: Sequence[str]) -> str:
    items = "".join(
        f'<span><i style="background:{PALETTE[i % len(PALETTE)]}"></i>{_e(label)}</span>'
        for i, label in enumerate(labels)
    )
    return f'<div class="legend">{items}</div>'


def stacked_bars(title: str, months: Mapping[str, Mapping[str, int]], series: Sequence[str]) -> str:
    """An SVG chart: one stacked bar per month, one colour per series."""
    width, height, left, bottom, top = 900, 260, 48, 40, 12
    labels = list(months)
    totals = [sum(months[m].get(s, 0) for s in series) for m in labels]
    peak = -(-(max(totals, default=0) or 1) // 4) * 4  # four whole-number steps
    plot_w, plot_h = width - left - 10, height - bottom - top
    step = plot_w / max(len(labels), 1)
    bar = max(min(step * 0.7, 48), 2)
    parts = [
        f'<svg role="img" aria-label="{_e(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet">',
        f"<title>{_e(title)}</title>",
    ]
    for k in range(5):
        value = peak * k / 4
        y = top + plot_h - plot_h * k / 4
        parts.append(
            f'<line x1="{left}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e7ec"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{round(value):,}</text>'
        )
    every = max(1, len(labels) // 12)
    for i, month in enumerate(labels):
        x = left + i * step + (step - bar) / 2
        y = top + plot_h
        for j, name in enumerate(series):
            count = months[month].get(name, 0)
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{PALETTE[j % len(PALETTE)]}"><title>{_e(month)}: {_e(name)}: '
                f"{count:,}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - bottom + 16}" '
                f'text-anchor="middle">{_e(month)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def horizontal_bars(title: str, values: Mapping[str, int], colours: Sequence[str] = PALETTE) -> str:
    """An SVG chart: one labelled bar per item."""
    items = list(values.items())
    row, left, width = 26, 170, 900
    height = max(len(items), 1) * row + 10
    peak = max((v for _, v in items), default=0) or 1
    parts = [
        f'<svg role="img" aria-label="{_e(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet">',
        f"<title>{_e(title)}</title>",
    ]
    for i, (label, value) in enumerate(items):
        y = 5 + i * row
        w = (width - left - 80) * value / peak
        parts.append(
            f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{_e(label)}</text>'
            f'<rect x="{left}" y="{y + 3}" width="{max(w, 1):.1f}" height="{row - 8}" '
            f'fill="{colours[i % len(colours)]}"><title>{_e(label)}: {value:,}</title></rect>'
            f'<text x="{left + w + 6:.1f}" y="{y + 16}">{value:,}</text>'
        )
    if not items:
        parts.append(f'<text x="{left}" y="20">none</text>')
    parts.append("</svg>")
    return "".join(parts)


def _chart(family: str, versions: Mapping[str, Any], ages: Mapping[str, Mapping[str, int]]) -> str:
    """One family's versions by month, drawn in bounded size whatever the summary holds: the
    most common versions by name and the rest as one series, and at most ``_BARS`` bars
    (consecutive months share a bar when there are more). Work is one pass over ``ages``."""
    by_count = sorted(versions, key=lambda v: (-versions[v]["count"], v))
    named = by_count if len(by_count) <= _SERIES + 1 else by_count[:_SERIES]
    rest = len(by_count) - len(named)
    other = f"{rest:,} other versions"
    label = {f"{family} {v}": v for v in named}
    series = [*named, *([other] if rest else [])]
    prefix = f"{family} "
    months = sorted(ages)
    per_bar = -(-len(months) // _BARS) or 1
    bars: dict[str, dict[str, int]] = {}
    for start in range(0, len(months), per_bar):
        group = months[start : start + per_bar]
        name = group[0] if len(group) == 1 else f"{group[0]} to {group[-1]}"
        counts: dict[str, int] = {}
        for month in group:
            for key, count in ages[month].items():
                if key.startswith(prefix):
                    which = label.get(key, other)
                    counts[which] = counts.get(which, 0) + count
        bars[name] = counts
    return (
        f"<h3><code>{_e(family)}</code></h3>"
        + _legend(series)
        + stacked_bars(f"{family} versions by month of backup", bars, series)
    )


def _moment(value: Mapping[str, str] | None) -> str:
    if not value:
        return '<span class="muted">unknown</span>'
    return f"{_e(value['created_at'][:19].replace('T', ' '))} <code>{_e(value['backup_id'])}</code>"


def render(summary: Mapping[str, Any], *, title: str = "docket audit") -> str:
    """The report page for an audit summary (:meth:`docket.fleet.audit.Summary.to_json`)."""
    backups = summary["backups"]
    cards = [
        ("records", summary["records"], ""),
        ("backups", backups, ""),
        ("restorable", summary["restorable"], "good" if summary["restorable"] == backups else ""),
        ("with findings", summary["with_findings"], "bad" if summary["with_findings"] else "good"),
        ("damaged", summary["integrity"].get("damaged", 0), ""),
    ]
    card_html = "".join(
        f'<div class="card {cls}"><span class="muted">{_e(label)}</span>'
        f"<b>{_number(value)}</b></div>"
        for label, value, cls in cards
    )
    format_rows = [
        [
            (f"<code>{_e(family)}</code>", False),
            (_e(version), False),
            (_number(cell["count"]), True),
            (_moment(cell["oldest"]), False),
            (_moment(cell["newest"]), False),
        ]
        for family, versions in summary["formats"].items()
        for version, cell in versions.items()
    ]
    reader_rows = [
        [(f"<code>{_e(r)}</code>", False), (_number(n), True), (_number(backups - n), True)]
        for r, n in summary["readers"].items()
    ]
    finding_rows = [
        [
            (f"<code>{_e(kind)}</code>", False),
            (_number(n), True),
            (_e(FINDINGS[kind][1]) if kind in FINDINGS else "", False),
            (", ".join(f"<code>{_e(x)}</code>" for x in summary["examples"].get(kind, [])), False),
        ]
        for kind, n in summary["findings"].items()
    ]
    charts = [
        _chart(family, versions, summary["ages"]) for family, versions in summary["formats"].items()
    ]
    # Inside <script> the parser looks for "</script" and "<!--" (which can hide the end tag
    # from it): no "<", ">" or "&" is left for it to see, only their JSON escapes.
    data = (
        json.dumps(summary, sort_keys=True)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    deep = "every object's checksum checked" if summary["deep"] else "metadata only"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<header><h1>{_e(title)}</h1>
<p>{_number(backups)} backups, {_number(summary["records"])} records ({deep}); docket {
        _e(__version__)
    }</p></header>
<main>
<section><div class="cards">{card_html}</div></section>
<section><h2>Versions over backup age</h2>
<p class="muted">Backups per month they were made, by the version of each object.</p>
{"".join(charts) or '<p class="muted">no backups</p>'}</section>
<section><h2>Findings by kind</h2>
{horizontal_bars("findings by kind", summary["findings"], ("#c23b3b",))}
{_table(("finding", "records", "meaning", "examples"), finding_rows)}</section>
<section><h2>Who can restore them</h2>
{horizontal_bars("backups each reader can restore", summary["readers"])}
{_table(("reader", "can restore", "cannot"), reader_rows)}</section>
<section><h2>Formats</h2>
{_table(("family", "version", "backups", "oldest", "newest"), format_rows)}</section>
</main>
<script type="application/json" id="audit-summary">{data}</script>
<script>{_JS}</script>
</body>
</html>
"""
