"""Charts as SVG made on the server: no script, no CDN, every label escaped."""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

BAR = "#2f6f9f"
COLORS = ("#2f6f9f", "#c2571a", "#3a8a3a", "#9a3a9a")
ROW = 26


def bars(items: Sequence[tuple[str, int]], title: str, width: int = 560) -> Markup:
    """Horizontal bars, one per (label, value): a funnel, counts per reason..."""
    top = max((value for _label, value in items), default=0) or 1
    label_width, plot = 160, width - 160 - 60
    height = ROW * len(items) + 10
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" class="chart"><title>{escape(title)}</title>'
    ]
    for index, (label, value) in enumerate(items):
        y = 5 + index * ROW
        length = round(plot * value / top)
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end" font-size="13">'
            f"{escape(label)}</text>"
            f'<rect x="{label_width}" y="{y + 3}" width="{length}" height="{ROW - 8}"'
            f' fill="{BAR}"><title>{escape(label)}: {value}</title></rect>'
            f'<text x="{label_width + length + 6}" y="{y + 16}" font-size="13"'
            f' class="bar-value">{value}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def columns(
    days: Sequence[str], series: Sequence[tuple[str, Sequence[int]]], title: str, width: int = 640
) -> Markup:
    """Grouped columns per day, one colour per series, with a legend."""
    height, base, left = 220, 180, 40
    top = max((v for _name, values in series for v in values), default=0) or 1
    slot = (width - left - 10) / max(len(days), 1)
    bar = max(2.0, slot / (len(series) + 1))
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" class="chart"><title>{escape(title)}</title>'
        f'<line x1="{left}" y1="{base}" x2="{width - 10}" y2="{base}" stroke="#999"/>'
        f'<text x="{left - 6}" y="20" text-anchor="end" font-size="11">{top}</text>'
    ]
    for d, day in enumerate(days):
        x0 = left + d * slot
        for s, (name, values) in enumerate(series):
            value = values[d]
            h = round((base - 20) * value / top)
            parts.append(
                f'<rect x="{x0 + s * bar:.1f}" y="{base - h}" width="{bar:.1f}" height="{h}"'
                f' fill="{COLORS[s % len(COLORS)]}"><title>{escape(day)} {escape(name)}: {value}'
                "</title></rect>"
            )
        if len(days) <= 14 or d % max(1, len(days) // 10) == 0:
            parts.append(
                f'<text x="{x0:.1f}" y="{base + 14}" font-size="10">{escape(day[5:])}</text>'
            )
    for s, (name, _values) in enumerate(series):
        x = left + s * 110
        parts.append(
            f'<rect x="{x}" y="{height - 14}" width="10" height="10"'
            f' fill="{COLORS[s % len(COLORS)]}"/>'
            f'<text x="{x + 14}" y="{height - 5}" font-size="11">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
