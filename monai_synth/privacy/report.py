"""The audit's self-contained ``report.html``: one verdict line per measure, the distributions behind them,
and a gallery of the closest pairs (synthetic | nearest training image | difference) in every space.

Images are embedded as base64 PNGs, so the file can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from monai_synth.metrics.report import image_grid_png

__all__ = ["GalleryRow", "difference_image", "similarity_histogram_png", "render_audit_report"]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:left}
th{background:#f4f4f4}.flag{color:#a00;font-weight:bold}.ok{color:#060;font-weight:bold}.skip{color:#666}
.pairs td{text-align:center;font-size:small}img{image-rendering:pixelated;max-width:100%}
.note{color:#666;font-size:small}
"""

#: one gallery row: (synthetic name, training name, similarity, above the copy threshold, PNG of the 3 tiles)
GalleryRow = tuple[str, str, float, bool, bytes]


def difference_image(synthetic: torch.Tensor, training: torch.Tensor) -> torch.Tensor:
    """``|synthetic - training|`` averaged over channels, shown on ``[-1, 1]`` (black: identical)."""
    diff = (synthetic.float() - training.float()).abs().mean(0, keepdim=True)  # 0..2
    return diff - 1.0


def pair_png(synthetic: torch.Tensor, training: torch.Tensor, tile: int = 96) -> bytes:
    """PNG of synthetic | nearest training image | difference, side by side."""
    grey = (lambda x: x.float().mean(0, keepdim=True)) if synthetic.shape[0] != 1 else (lambda x: x.float())
    return image_grid_png([grey(synthetic), grey(training), difference_image(synthetic, training)], 3, tile)


def similarity_histogram_png(synthetic: np.ndarray, holdout: np.ndarray, threshold: float, label: str) -> bytes:
    """Histogram of nearest-training similarities of synthetic and hold-out images with the copy threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 2.6), dpi=100)
    values = np.concatenate([synthetic, holdout])
    bins = np.linspace(float(values.min()), float(values.max()) + 1e-9, 40)
    ax.hist(holdout, bins=bins, alpha=0.6, density=True, label="hold-out (real, unseen)")
    ax.hist(synthetic, bins=bins, alpha=0.6, density=True, label="synthetic")
    ax.axvline(threshold, color="k", linestyle="--", linewidth=1, label="copy threshold")
    ax.set_xlabel(f"similarity to the nearest training image ({label})")
    ax.set_yticks([])
    ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _num(value: Any) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _verdict_table(verdicts: Sequence[Mapping[str, Any]]) -> str:
    rows = []
    for v in verdicts:
        status = v["status"]
        css = {"FLAG": "flag", "OK": "ok"}.get(status, "skip")
        rows.append(f"<tr><td class='{css}'>{status}</td><td>{html.escape(v['measure'])}</td>"
                    f"<td>{html.escape(v.get('space') or '')}</td><td>{html.escape(v['line'])}</td></tr>")
    return ("<table><tr><th>verdict</th><th>measure</th><th>space</th><th>finding (threshold used)</th></tr>"
            + "".join(rows) + "</table>")


def _space_table(spaces: Mapping[str, Mapping[str, Any]]) -> str:
    head = ("<tr><th>space</th><th>copy threshold</th><th>synthetic above</th><th>interval</th>"
            "<th>hold-out above</th><th>DCR median synth / hold-out</th><th>DCR p</th>"
            "<th>NNDR median synth / hold-out</th><th>NNDR p</th></tr>")
    rows = []
    for name, s in spaces.items():
        c, d, n = s["copy"], s["dcr"], s["nndr"]
        ci = c.get("share_ci")
        interval = f"[{_num(ci[0])}, {_num(ci[1])}]" if ci else "&ndash;"
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{_num(c['threshold'])}</td><td>{_num(c['share'])}</td>"
            f"<td>{interval}</td><td>{_num(c['holdout_share'])}</td>"
            f"<td>{_num(d['synthetic']['median'])} / {_num(d['holdout']['median'])}</td><td>{_num(d['p_value'])}</td>"
            f"<td>{_num(n['synthetic']['median'])} / {_num(n['holdout']['median'])}</td>"
            f"<td>{_num(n['p_value'])}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _membership(m: Mapping[str, Any]) -> str:
    if m.get("skipped"):
        return f"<p class='note'>Not run: {html.escape(m['skipped'])}</p>"
    ci = m.get("auc_ci")
    rows = "".join(
        f"<tr><td>t = {t}</td><td>{_num(p['auc'])}</td><td>{_num(p['tpr_at_fpr'])}</td></tr>"
        for t, p in zip(m.get("timesteps", []), m.get("per_timestep", []))
    )
    return (
        f"<p>{m['n_members']} training images (members) against {m['n_nonmembers']} hold-out images; "
        f"loss averaged over timesteps {m.get('timesteps')}. AUC {_num(m['auc'])}"
        f"{' [' + _num(ci[0]) + ', ' + _num(ci[1]) + ']' if ci else ''}, TPR at {_num(100 * m['target_fpr'])} % FPR "
        f"{_num(m['tpr_at_fpr'])}. Mean loss: members {_num(m['member_loss_mean'])}, non-members "
        f"{_num(m['nonmember_loss_mean'])}.</p>"
        + (f"<table><tr><th>timestep</th><th>AUC</th><th>TPR at FPR</th></tr>{rows}</table>" if rows else "")
    )


def _gallery(rows: Sequence[GalleryRow]) -> str:
    cells = "".join(
        f"<tr><td>{_img(png, 'synthetic | nearest training image | difference')}</td>"
        f"<td>{html.escape(s)}<br>{html.escape(t)}<br>similarity {sim:.4f}"
        f"{'<br><span class=flag>above the copy threshold</span>' if above else ''}</td></tr>"
        for s, t, sim, above, png in rows
    )
    return f"<table class='pairs'><tr><th>synthetic | nearest training | difference</th><th></th></tr>{cells}</table>"


def render_audit_report(audit: Mapping[str, Any], histograms: Mapping[str, bytes],
                        galleries: Mapping[str, Sequence[GalleryRow]]) -> str:
    """The HTML text of the report.

    Args:
        audit: the audit dict (as written to ``audit.json``).
        histograms: PNG of the similarity histogram per space.
        galleries: closest pairs per space.
    """
    title = f"Memorization and privacy audit: {html.escape(str(audit.get('source', '')))}"
    overall = audit.get("memorization_found")
    summary = ("<p class='flag'>Signs of memorization: " + html.escape(", ".join(audit.get("flagged_by", []))) + "</p>"
               if overall else "<p class='ok'>No sign of memorization in any measure.</p>")
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>Synthetic: {audit.get('n_synthetic')} images in {html.escape(str(audit.get('synthetic')))}; "
        f"training: {audit['train']['n']} images, {html.escape(audit['train']['source'])}; "
        f"hold-out: {audit['holdout']['n']} images, {html.escape(audit['holdout']['source'])}. "
        f"Grid: {audit['grid']['image_size']} px, {audit['grid']['channels']} channel(s), "
        f"intensity {html.escape(str(audit['grid']['intensity']))}.</p>",
        summary,
        "<h2>Verdicts</h2>", _verdict_table(audit.get("verdicts", [])),
        "<p class='note'>Copy rate: share of synthetic images more similar to a training image than the hold-out "
        "percentile (a real patient not in training is that close by chance); flagged when its bootstrap interval "
        "lies above the share expected by chance. DCR / NNDR: one-sided Mann-Whitney test that synthetic images sit "
        "closer to the training set than hold-out images do. Membership: loss-threshold attack, flagged when the "
        "AUC interval lies above 0.5. See docs/audit.md.</p>",
        "<h2>Numbers per space</h2>", _space_table(audit.get("spaces", {})),
    ]
    for name, png in histograms.items():
        parts.append(f"<h3>{html.escape(name)}</h3>{_img(png, name + ' similarity histogram')}")
    parts += ["<h2>Membership inference</h2>", _membership(audit.get("membership", {}))]
    for name, rows in galleries.items():
        parts += [f"<h2>Closest pairs: {html.escape(name)}</h2>", _gallery(rows)]
    parts.append("</body></html>")
    return "\n".join(parts)
