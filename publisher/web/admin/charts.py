"""Charts drawn on the server as SVG: no script, no CDN, readable by a screen reader (a title,
and the same figures in a table beside it on the page)."""

from __future__ import annotations

from datetime import datetime, timedelta

from markupsafe import Markup, escape


def week_bounds(now: datetime, weeks: int) -> list[datetime]:
    """weeks + 1 boundaries: the Mondays (00:00 in now's zone) starting each of the last
    `weeks` weeks, then `now`."""
    monday = (now - timedelta(days=now.weekday())).replace(hour=0, minute=0, second=0,
                                                           microsecond=0)
    return [monday - timedelta(weeks=k) for k in range(weeks - 1, -1, -1)] + [now]


def bar_chart(values: list[int], labels: list[str], title: str, *, width: int = 640,
              height: int = 180) -> Markup:
    """Bars for `values` with `labels` under every few; scales to its container (viewBox)."""
    top, bottom, left = 16, 28, 48
    inner_h, n = height - top - bottom, max(1, len(values))
    peak = max(values, default=0) or 1
    slot = (width - left) / n
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
             f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
             f"<title>{escape(title)}</title>"]
    for tick in (0, peak):
        y = top + inner_h - inner_h * tick / peak
        parts.append(f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" class="axis"/>'
                     f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{tick}</text>')
    every = max(1, n // 4)  # room for the labels on a phone too
    for k, (value, label) in enumerate(zip(values, labels)):
        h = inner_h * value / peak
        x = left + k * slot + slot * 0.15
        parts.append(f'<rect x="{x:.1f}" y="{top + inner_h - h:.1f}" width="{slot * 0.7:.1f}" '
                     f'height="{h:.1f}"><title>{escape(label)}: {value}</title></rect>')
        if k % every == 0:
            parts.append(f'<text x="{x + slot * 0.35:.1f}" y="{height - 6}" '
                         f'text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
