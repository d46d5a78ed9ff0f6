"""Server-rendered SVG charts: a scope's monthly generation, utilisation and month-end stock, and the yearly
utilisation-rate trend. Hand-written SVG (no library, no CDN): readable axes in 吨 and %, Chinese labels, a
legend, and each mark's exact value in its tooltip (`<title>`) and in `data-value`."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import escape

from sqlmodel import Session

from ledger.reports.figures import KIND_LABELS, KINDS, compute
from ledger.rollups.query import cumulative, flow_sums
from ledger.rollups.scope import Scope, month_last, plan

FONT = "'Noto Sans CJK SC','Source Han Sans SC','Microsoft YaHei','PingFang SC',sans-serif"
COLOURS = {"generated": "#4e79a7", "utilised": "#59a14f", "disposed": "#e15759", "stock": "#f28e2b",
           "rate": "#59a14f", "in_park": "#76b7b2"}
W, H = 860, 440
LEFT, RIGHT, TOP, BOTTOM = 78, 78, 70, 78
ATTR = {'"': "&quot;"}  # escape() leaves double quotes alone: inside an attribute they would end it


@dataclass
class Monthly:
    months: list[int]
    generated: list[int]
    utilised: list[int]
    disposed: list[int]
    stock: list[int]


def monthly_series(session: Session, scope: Scope, year: int, kind: str) -> Monthly:
    """Per month of the year: generated, utilised, disposed (net of returns) and own stock at month end (g)."""
    p = plan(scope, year * 100 + 1, year * 100 + 12)
    sums = flow_sums(session, p)
    ms = [year * 100 + m for m in range(1, 13)]
    gen, util, disp = dict.fromkeys(ms, 0), dict.fromkeys(ms, 0), dict.fromkeys(ms, 0)
    for (month, wkind, _o, _cp, _r), c in sums.items():
        if wkind not in KINDS[kind]:
            continue
        gen[month] += c["generated_g"]
        util[month] += c["used_g"] + c["sent_util_g"] - c["returned_util_g"]
        disp[month] += c["disposed_g"] + c["sent_disp_g"] - c["returned_disp_g"]
    per_unit = scope.kind == "park"
    cum = cumulative(session, ms, scope=scope, per_unit=per_unit)
    stock = []
    for m in ms:
        total = 0
        for wk in KINDS[kind]:
            for o in (0, 1, 2):
                if per_unit:
                    total += sum(cum.get((u, wk, o), "own", m) for u in scope.members_on(month_last(m)))
                else:
                    total += cum.get((wk, o), "own", m)
        stock.append(total)
    return Monthly(ms, [gen[m] for m in ms], [util[m] for m in ms], [disp[m] for m in ms], stock)


def _t(g: int) -> Decimal:
    return (Decimal(g) / Decimal(1_000_000)).quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    exp = 10 ** math.floor(math.log10(v))
    for step in (1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if v <= step * exp:
            return step * exp
    return 10 * exp


def _fmt(v: float) -> str:
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 1:
        return f"{v:.1f}".rstrip("0").rstrip(".")
    return f"{v:.3f}".rstrip("0").rstrip(".") or "0"


def _frame(title: str, subtitle: str) -> list[str]:
    return [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
            f'font-family="{FONT}" role="img" aria-label="{escape(title, ATTR)}">',
            f'<rect width="{W}" height="{H}" fill="#ffffff"/>',
            f'<text x="{W / 2}" y="30" text-anchor="middle" font-size="18" font-weight="bold" fill="#222">'
            f'{escape(title)}</text>',
            f'<text x="{W / 2}" y="52" text-anchor="middle" font-size="13" fill="#555">{escape(subtitle)}</text>']


def _axis(parts: list[str], top: float, unit: str, *, right: bool = False) -> None:
    x = W - RIGHT if right else LEFT
    plot_h = H - TOP - BOTTOM
    for i in range(6):
        v = top * i / 5
        y = H - BOTTOM - plot_h * i / 5
        if not right:
            parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{W - RIGHT}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        anchor, dx = ("start", 8) if right else ("end", -8)
        parts.append(f'<text x="{x + dx}" y="{y + 4:.1f}" text-anchor="{anchor}" font-size="12" fill="#444">'
                     f'{_fmt(v)}</text>')
    ux = W - RIGHT + 8 if right else LEFT - 8
    parts.append(f'<text x="{ux}" y="{TOP - 10}" text-anchor="{"start" if right else "end"}" font-size="13" '
                 f'fill="#222">{escape(unit)}</text>')
    parts.append(f'<line x1="{x}" y1="{TOP}" x2="{x}" y2="{H - BOTTOM}" stroke="#888"/>')


def _legend(parts: list[str], items: list[tuple[str, str, str]]) -> None:
    x = LEFT
    y = H - 22
    for label, colour, shape in items:
        if shape == "bar":
            parts.append(f'<rect x="{x}" y="{y - 11}" width="14" height="12" fill="{colour}"/>')
        else:
            parts.append(f'<line x1="{x}" y1="{y - 5}" x2="{x + 16}" y2="{y - 5}" stroke="{colour}" '
                         f'stroke-width="3"/><circle cx="{x + 8}" cy="{y - 5}" r="3.5" fill="{colour}"/>')
        parts.append(f'<text x="{x + 22}" y="{y}" font-size="13" fill="#222">{escape(label)}</text>')
        x += 34 + 14 * len(label)


def render_monthly(scope_label: str, year: int, kind: str, data: Monthly) -> str:
    """Bars: generation and utilisation per month (吨); line: own stock at month end (吨, right axis)."""
    gen, util, stock = ([float(_t(g)) for g in series] for series in (data.generated, data.utilised, data.stock))
    left_top = _nice_max(max(gen + util + [0.0]))
    right_top = _nice_max(max(stock + [0.0]))
    parts = _frame(f"{scope_label} {year}年 月度产生、综合利用与贮存",
                   f"{KIND_LABELS[kind]}；柱：当月产生量、综合利用量（吨）；折线：月末贮存量（吨，右轴）")
    _axis(parts, left_top, "（吨）")
    _axis(parts, right_top, "贮存量（吨）", right=True)
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = plot_w / 12
    bar = slot * 0.34
    points = []
    for i, m in enumerate(data.months):
        x0 = LEFT + slot * i
        for j, (name, values, raw) in enumerate((("generated", gen, data.generated),
                                                 ("utilised", util, data.utilised))):
            v = values[i]
            h = plot_h * v / left_top
            x = x0 + slot * 0.14 + j * bar
            label = "产生量" if name == "generated" else "综合利用量"
            parts.append(f'<rect class="{name}" x="{x:.1f}" y="{H - BOTTOM - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{COLOURS[name]}" data-month="{m}" data-value="{_t(raw[i])}">'
                         f'<title>{m // 100}年{m % 100}月 {label} {_t(raw[i])} 吨</title></rect>')
        parts.append(f'<text x="{x0 + slot / 2:.1f}" y="{H - BOTTOM + 18}" text-anchor="middle" font-size="12" '
                     f'fill="#444">{m % 100}月</text>')
        points.append((x0 + slot / 2, H - BOTTOM - plot_h * stock[i] / right_top, m, data.stock[i]))
    path = " ".join(f"{'M' if k == 0 else 'L'}{x:.1f},{y:.1f}" for k, (x, y, _, _) in enumerate(points))
    parts.append(f'<path d="{path}" fill="none" stroke="{COLOURS["stock"]}" stroke-width="2.5"/>')
    for x, y, m, g in points:
        parts.append(f'<circle class="stock" cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{COLOURS["stock"]}" '
                     f'data-month="{m}" data-value="{_t(g)}"><title>{m // 100}年{m % 100}月末 贮存量 {_t(g)} 吨'
                     f'</title></circle>')
    parts.append(f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="#888"/>')
    _legend(parts, [("产生量", COLOURS["generated"], "bar"), ("综合利用量", COLOURS["utilised"], "bar"),
                    ("月末贮存量", COLOURS["stock"], "line")])
    parts.append("</svg>")
    return "\n".join(parts)


def rate_series(session: Session, scope: Scope, years: list[int], kind: str) -> dict[str, list]:
    figs = compute(session, scope, years)
    from ledger.reports.indicators import percent

    out = {"years": years, "rate": [], "in_park": []}
    for y in years:
        f = figs[(y, kind)]
        out["rate"].append(percent(f["utilised"].g, f["generated"].g + f["utilised_prior"].g))
        out["in_park"].append(percent(f["utilised_in_park"].g, f["generated"].g + f["utilised_in_park_prior"].g))
    return out


def render_rates(scope_label: str, kind: str, series: dict, *, park: bool) -> str:
    """Lines: 综合利用率 per year (and 园区内综合利用率 for a park), 0–100 %."""
    years = series["years"]
    parts = _frame(f"{scope_label} 综合利用率年度趋势（{years[0]}–{years[-1]}年）",
                   f"{KIND_LABELS[kind]}；综合利用率 = 综合利用量 ÷ (当年产生量 + 综合利用往年贮存量) × 100%")
    top = max([100.0] + [float(v) for v in series["rate"] + series["in_park"] if v is not None])
    top = _nice_max(top) if top > 100 else 100.0
    _axis(parts, top, "（%）")
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    step = plot_w / max(len(years), 1)
    lines = [("rate", "综合利用率")] + ([("in_park", "园区内综合利用率（不含外运）")] if park else [])
    for name, label in lines:
        pts = []
        for i, (y, v) in enumerate(zip(years, series[name], strict=True)):
            if v is None:
                continue
            pts.append((LEFT + step * (i + 0.5), H - BOTTOM - plot_h * float(v) / top, y, v))
        if pts:
            path = " ".join(f"{'M' if k == 0 else 'L'}{x:.1f},{yy:.1f}" for k, (x, yy, _, _) in enumerate(pts))
            parts.append(f'<path d="{path}" fill="none" stroke="{COLOURS[name]}" stroke-width="3"/>')
        for x, yy, y, v in pts:
            parts.append(f'<circle class="{name}" cx="{x:.1f}" cy="{yy:.1f}" r="5" fill="{COLOURS[name]}" '
                         f'data-year="{y}" data-value="{v}"><title>{y}年 {label} {v}%</title></circle>')
            parts.append(f'<text x="{x:.1f}" y="{yy - 10:.1f}" text-anchor="middle" font-size="12" '
                         f'fill="{COLOURS[name]}">{v}%</text>')
    for i, y in enumerate(years):
        parts.append(f'<text x="{LEFT + step * (i + 0.5):.1f}" y="{H - BOTTOM + 18}" text-anchor="middle" '
                     f'font-size="12" fill="#444">{y}年</text>')
    parts.append(f'<line x1="{LEFT}" y1="{H - BOTTOM}" x2="{W - RIGHT}" y2="{H - BOTTOM}" stroke="#888"/>')
    _legend(parts, [(label, COLOURS[name], "line") for name, label in lines])
    parts.append("</svg>")
    return "\n".join(parts)
