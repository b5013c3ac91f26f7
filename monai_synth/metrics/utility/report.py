"""Self-contained HTML report of a utility study: TRTR against TSTR, the augmentation curve (tables and
inline SVG charts), conditional fidelity per class, and sample grids (images embedded as base64 PNGs)."""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from typing import Any

from monai_synth.metrics.utility.scores import METRICS

__all__ = ["render_utility_report"]

NAMES = {"accuracy": "accuracy", "balanced_accuracy": "balanced accuracy", "auroc": "macro AUROC"}
COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf")

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.note{color:#666;font-size:small}
.helps{background:#e3f4e1}.hurts{background:#fbe3e3}.charts{display:flex;flex-wrap:wrap;gap:1em}
img{image-rendering:pixelated;max-width:100%}.warn{color:#a33}
"""


def _img_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _num(value: Any, digits: int = 3) -> str:
    return "&ndash;" if value is None else f"{value:.{digits}f}"


def _score(entry: Mapping | None) -> str:
    """``mean ± std [lo, hi]`` of a metric entry."""
    if not entry:
        return "&ndash;"
    ci = entry.get("ci")
    interval = f" [{_num(ci[0])}, {_num(ci[1])}]" if ci else ""
    return f"{_num(entry['mean'])} &plusmn; {_num(entry['std'])}{interval}"


def _difference(entry: Mapping | None) -> str:
    if not entry:
        return "&ndash;"
    ci = entry.get("ci")
    interval = f" [{entry['ci'][0]:+.3f}, {entry['ci'][1]:+.3f}]" if ci else ""
    return f"{entry['value']:+.3f}{interval}"


def _versus_table(versus: Mapping[str, Mapping]) -> str:
    if not versus:
        return "<p class='note'>No TSTR setting in this study.</p>"
    head = "<tr><th>network</th><th>metric</th><th>TRTR</th><th>TSTR</th><th>TSTR &minus; TRTR</th></tr>"
    body = ""
    for network, v in versus.items():
        for m in METRICS:
            diff = v["tstr_minus_trtr"][m]
            body += (f"<tr><td>{html.escape(network)}</td><td>{NAMES[m]}</td><td>{_score(v['trtr'][m])}</td>"
                     f"<td>{_score(v['tstr'][m])}</td><td class='{diff['verdict']}'>{_difference(diff)}</td></tr>")
    return f"<table>{head}{body}</table>"


def _curve_table(rows: Sequence[Mapping], network: str, metric: str) -> str:
    grid = [r for r in rows if r["network"] == network and r["kind"] != "tstr"]
    fractions = sorted({r["real_fraction"] for r in grid})
    multiples = sorted({r["synthetic_multiple"] for r in grid})
    cell = {(r["real_fraction"], r["synthetic_multiple"]): r for r in grid}
    head = "<tr><th>real share</th>" + "".join(f"<th>+ {k:g}x synthetic</th>" for k in multiples) + "</tr>"
    body = ""
    for f in fractions:
        tds = ""
        for k in multiples:
            r = cell.get((f, k))
            if r is None:
                tds += "<td>&ndash;</td>"
                continue
            diff = (r.get("difference") or {}).get(metric) if k > 0 else None
            klass = f" class='{diff['verdict']}'" if diff else ""
            extra = f"<br><small>vs 0x: {_difference(diff)}</small>" if diff else ""
            tds += f"<td{klass}>{_score(r[metric])}{extra}<br><small>n = {r['n_real']} + {r['n_synthetic']}</small></td>"
        body += f"<tr><td>{100 * f:g}%</td>{tds}</tr>"
    return f"<table>{head}{body}</table>"


def _curve_svg(rows: Sequence[Mapping], network: str, metric: str, width: int = 360, height: int = 240) -> str:
    """Metric against the synthetic multiple, one line per real share, with the bootstrap intervals."""
    grid = [r for r in rows if r["network"] == network and r["kind"] != "tstr"]
    multiples = sorted({r["synthetic_multiple"] for r in grid})
    fractions = sorted({r["real_fraction"] for r in grid})
    values = [v for r in grid for v in (r[metric]["ci"] or [r[metric]["mean"]]) if v is not None]
    if not values or not multiples:
        return ""
    lo, hi = min(values), max(values)
    lo, hi = (lo - 0.05, hi + 0.05) if hi - lo < 1e-9 else (lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
    left, right, top, bottom = 48, 10, 20, 36

    def x(k: float) -> float:
        i = multiples.index(k)
        return left + (width - left - right) * (i / max(1, len(multiples) - 1))

    def y(v: float) -> float:
        return top + (height - top - bottom) * (1 - (v - lo) / (hi - lo))

    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' font-size='11'>",
             f"<text x='{left}' y='12'>{html.escape(network)}: {NAMES[metric]}</text>",
             f"<line x1='{left}' y1='{height - bottom}' x2='{width - right}' y2='{height - bottom}' stroke='#888'/>",
             f"<line x1='{left}' y1='{top}' x2='{left}' y2='{height - bottom}' stroke='#888'/>"]
    for t in (lo, (lo + hi) / 2, hi):
        parts.append(f"<text x='2' y='{y(t) + 4:.1f}'>{t:.3f}</text>")
    for k in multiples:
        parts.append(f"<text x='{x(k) - 8:.1f}' y='{height - bottom + 14}'>{k:g}x</text>")
    parts.append(f"<text x='{left}' y='{height - 4}'>synthetic images (multiple of the real images used)</text>")
    for j, f in enumerate(fractions):
        colour = COLOURS[j % len(COLOURS)]
        points = [(x(r["synthetic_multiple"]), r[metric]) for k in multiples for r in grid
                  if r["real_fraction"] == f and r["synthetic_multiple"] == k]
        path = " ".join(f"{px:.1f},{y(e['mean']):.1f}" for px, e in points)
        parts.append(f"<polyline fill='none' stroke='{colour}' stroke-width='1.5' points='{path}'/>")
        for px, e in points:
            if e.get("ci"):
                parts.append(f"<line x1='{px:.1f}' x2='{px:.1f}' y1='{y(e['ci'][0]):.1f}' y2='{y(e['ci'][1]):.1f}' "
                             f"stroke='{colour}' opacity='0.5'/>")
            parts.append(f"<circle cx='{px:.1f}' cy='{y(e['mean']):.1f}' r='2.5' fill='{colour}'/>")
        parts.append(f"<text x='{width - right - 70}' y='{top + 12 * (j + 1)}' fill='{colour}'>{100 * f:g}% real</text>")
    parts.append("</svg>")
    return "".join(parts)


def _verdicts(rows: Sequence[Mapping], metric: str = "balanced_accuracy") -> str:
    """One line per network: where adding synthetic images helps, hurts, or makes no clear difference."""
    lines = []
    for network in dict.fromkeys(r["network"] for r in rows):
        found: dict[str, list[str]] = {"helps": [], "hurts": [], "no clear difference": []}
        for r in rows:
            if r["network"] == network and r["kind"] == "augmented":
                d = r["difference"][metric]
                found.setdefault(d["verdict"], []).append(f"{r['label']} ({d['value']:+.3f})")
        parts = [f"<b>{k}</b>: {html.escape(', '.join(v))}" for k, v in found.items() if v]
        lines.append(f"<li>{html.escape(network)}: {'; '.join(parts) or 'no augmented setting'}</li>")
    return f"<p>Adding synthetic images, {NAMES[metric]} against the same real share alone:</p><ul>{''.join(lines)}</ul>"


def _conditional_table(conditional: Mapping[str, Mapping]) -> str:
    if not conditional:
        return "<p class='note'>No conditional fidelity (no TRTR classifier labelled the synthetic images).</p>"
    parts = []
    for network, c in conditional.items():
        head = ("<tr><th>class</th><th>synthetic images</th><th>share assigned to their class</th>"
                "<th>classifier recall on real held-out</th></tr>")
        body = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{v['n']}</td><td>{_score(v['share'])}</td>"
            f"<td>{_num(v.get('real_recall'))}</td></tr>"
            for name, v in c["per_class"].items()
        )
        body += (f"<tr><th>all</th><th>{c['n']}</th><th>{_score(c['score'])}</th><th></th></tr>"
                 f"<tr><th>mean over classes</th><th></th><th>{_score(c['balanced_score'])}</th><th></th></tr>")
        parts.append(f"<h3>{html.escape(network)}</h3><table>{head}{body}</table>")
    return "".join(parts)


def render_utility_report(metrics: Mapping[str, Any], grids: Mapping[str, bytes]) -> str:
    """The HTML text of the report.

    Args:
        metrics: the study's ``metrics.json`` dict.
        grids: PNG grids by caption (e.g. ``"real held-out"``, ``"synthetic"``), one row per class.
    """
    rows = metrics["settings"]
    networks = list(dict.fromkeys(r["network"] for r in rows))
    s = metrics["study"]
    title = f"Downstream utility: {html.escape(str(metrics.get('synthetic', '')))}"
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>Real: {html.escape(str(metrics.get('real')))}: {metrics['n_real_train']} training images "
        f"(split '{html.escape(str(s['train_split']))}'), {metrics['n_real_test']} held-out test images (split "
        f"'{html.escape(str(s['test_split']))}'), {len(metrics['class_names'])} classes. Synthetic pool: "
        f"{metrics['n_synthetic_pool']} images. Every classifier trains for {s['training']['steps']} steps of "
        f"{s['training']['batch_size']} images and is tested on the same real held-out images; seeds "
        f"{s['seeds']}.</p>",
        "<p class='note'>Figures: mean over training seeds &plusmn; their standard deviation [bootstrap "
        f"{int(round(100 * s['confidence']))}% interval of the mean over test images, stratified by class]. "
        "Differences: paired bootstrap over the same test images; green: the interval lies above 0, red: below.</p>",
    ]
    for w in metrics.get("warnings") or []:
        parts.append(f"<p class='warn'>Warning: {html.escape(w)}</p>")
    parts += ["<h2>Train on real vs train on synthetic (test on real)</h2>", _versus_table(metrics["trtr_vs_tstr"])]
    parts += ["<h2>Augmentation curve</h2>", _verdicts(rows)]
    for network in networks:
        parts.append("<div class='charts'>" + "".join(_curve_svg(rows, network, m) for m in METRICS) + "</div>")
        for m in METRICS:
            parts.append(f"<h3>{html.escape(network)}: {NAMES[m]}</h3>{_curve_table(rows, network, m)}")
    parts += ["<h2>Conditional fidelity</h2>",
              "<p class='note'>A classifier trained on all real training images (the TRTR cells) labels the "
              "synthetic images; the share it assigns to the class they were generated for.</p>",
              _conditional_table(metrics["conditional_fidelity"])]
    if grids:
        parts.append("<h2>Images (one row per class)</h2><div class='charts'>")
        parts += [f"<div><h3>{html.escape(k)}</h3>{_img_tag(v, k)}</div>" for k, v in grids.items()]
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)
