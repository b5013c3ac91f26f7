"""Self-contained HTML report of a segmentation utility study: Dice and HD95 per structure and training set,
the paired differences, and a gallery of test images with the masks each network predicts (base64 PNG)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from monai_synth.metrics.utility.report import _STYLE, _img_tag
from monai_synth.metrics.utility.segmentation import SEGMENTATION_METRICS

__all__ = ["render_segmentation_report", "score_text"]

NAMES = {"dice": "Dice (higher is better)", "hd95": "HD95, px (lower is better)"}
TRAINED_ON = {"real": "real clean images", "restored": "restored images", "degraded": "degraded images (floor)"}


def score_text(entry: Mapping | None, digits: int = 3) -> str:
    """``mean ± std (min-max) [lo, hi]`` of a summary entry, as plain text."""
    if not entry or entry.get("mean") is None:
        return "-"
    ci = entry.get("ci")
    interval = f" [{entry['ci'][0]:.{digits}f}, {entry['ci'][1]:.{digits}f}]" if ci else ""
    return (f"{entry['mean']:.{digits}f} ± {entry['std']:.{digits}f} ({entry['min']:.{digits}f}-"
            f"{entry['max']:.{digits}f}){interval}")


def _difference(entry: Mapping | None) -> str:
    if not entry or entry.get("value") is None:
        return "&ndash;"
    ci = entry.get("ci")
    return f"{entry['value']:+.3f}" + (f" [{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else "")


def render_segmentation_report(metrics: Mapping[str, Any], gallery: bytes | None, columns: Sequence[str]) -> str:
    """The HTML text of the report.

    Args:
        metrics: the study's ``metrics.json`` dict.
        gallery: PNG grid, one row per test image (None: no gallery).
        columns: captions of the gallery's columns.
    """
    s = metrics["study"]
    structures = metrics["structures"]
    title = f"Segmentation utility: {html.escape(str(metrics.get('restorer', '')))}"
    setting = s["degradation_setting"].get("name", "")
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>Real image/mask pairs: {html.escape(str(metrics['real']))}: {metrics['n_real_train']} training images "
        f"(split '{html.escape(s['train_split'])}'), {metrics['n_real_test']} held-out test images (split "
        f"'{html.escape(s['test_split'])}'), {metrics['image_size']} px, structures "
        f"{html.escape(', '.join(structures))}. The training images are degraded ({html.escape(s['task'])} "
        f"{html.escape(str(setting))}) and restored by {html.escape(str(s['restorer']))}; a DynUNet is trained "
        f"({s['training']['epochs']} epochs, batch {s['training']['batch_size']}) on each training set with the "
        f"real masks, seeds {s['seeds']}, and tested on the real clean test images.</p>",
        "<p class='note'>Figures: mean over training seeds &plusmn; their standard deviation (min&ndash;max over "
        f"seeds) [bootstrap {int(round(100 * s['confidence']))}% interval over test images of the seed-averaged "
        "mean]. HD95 in pixels; where a network predicts none of a structure that the true mask holds, HD95 is the "
        "image diagonal. Differences: paired over the same test images.</p>",
    ]
    for m in SEGMENTATION_METRICS:
        head = "<tr><th>trained on</th>" + "".join(f"<th>{html.escape(n)}</th>" for n in structures) + "</tr>"
        body = ""
        for name, entry in metrics["settings"].items():
            tds = "".join(f"<td>{html.escape(score_text(entry[n][m]))}</td>" for n in structures)
            body += f"<tr><td>{html.escape(TRAINED_ON.get(name, name))}</td>{tds}</tr>"
        parts.append(f"<h2>{NAMES[m]}</h2><table>{head}{body}</table>")
    if metrics.get("differences"):
        head = "<tr><th>difference</th><th>score</th>" + "".join(f"<th>{html.escape(n)}</th>" for n in structures)
        body = ""
        for label, entry in metrics["differences"].items():
            for m in SEGMENTATION_METRICS:
                tds = "".join(f"<td>{_difference(entry[n][m])}</td>" for n in structures)
                body += f"<tr><td>{html.escape(label)}</td><td>{m}</td>{tds}</tr>"
        parts.append(f"<h2>Paired differences</h2><table>{head}</tr>{body}</table>")
    empty = {n: {k: v[k]["empty_predictions"] for k in structures} for n, v in metrics["settings"].items()}
    parts.append(f"<p class='note'>Test images where a network predicted none of a structure present in the truth "
                 f"(per seed): {html.escape(str(empty))}. Training seconds per set: "
                 f"{html.escape(str(metrics.get('train_seconds')))}.</p>")
    if gallery:
        parts.append("<h2>Test images</h2><p class='note'>Columns: " + html.escape(" | ".join(columns)) +
                     f" (the masks of the first training seed, {s['seeds'][0]}).</p>" + _img_tag(gallery, "gallery"))
    parts.append("</body></html>")
    return "\n".join(parts)
