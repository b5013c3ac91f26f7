"""Self-contained HTML report of an evaluation: numbers with intervals, sample grids, nearest neighbours.

Images are embedded as base64 PNGs, so the file can be mailed or archived alone.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from PIL import Image

__all__ = ["image_grid_png", "nearest_neighbours", "render_report"]

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}
.grids{display:flex;gap:2em;flex-wrap:wrap}.grids div{flex:1}img{image-rendering:pixelated;max-width:100%}
.nn td{text-align:center;font-size:small}.note{color:#666;font-size:small}
"""


def _to_pil(image: torch.Tensor, tile: int) -> Image.Image:
    """One image ``(C, H, W)`` in ``[-1, 1]`` as an 8-bit PIL image of side ``tile``."""
    array = ((image.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
    array = array[0] if array.shape[0] == 1 else np.moveaxis(array[:3], 0, -1)
    return Image.fromarray(array).resize((tile, tile), Image.BICUBIC)


def image_grid_png(images: Sequence[torch.Tensor], columns: int = 8, tile: int = 96) -> bytes:
    """PNG bytes of a grid of images ``(C, H, W)`` in ``[-1, 1]`` (grayscale or RGB), each resized to ``tile``."""
    rows = max(1, -(-len(images) // columns))
    grid = Image.new("RGB", (columns * tile, rows * tile), "white")
    for i, image in enumerate(images):
        grid.paste(_to_pil(image, tile).convert("RGB"), ((i % columns) * tile, (i // columns) * tile))
    buffer = io.BytesIO()
    grid.save(buffer, format="PNG")
    return buffer.getvalue()


def nearest_neighbours(queries: np.ndarray, reference: np.ndarray, count: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Indices and Euclidean distances of the ``count`` nearest reference rows of each query row (float64)."""
    dist = torch.cdist(torch.as_tensor(queries, dtype=torch.float64), torch.as_tensor(reference, dtype=torch.float64))
    values, indices = dist.topk(min(count, reference.shape[0]), dim=1, largest=False)
    return indices.numpy(), values.numpy()


def _img_tag(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def _fmt(value) -> str:
    if value is None:
        return "&ndash;"
    if isinstance(value, float):
        return f"{value:.4g}"
    return html.escape(str(value))


def _ci(metrics: Mapping, key: str) -> str:
    ci = metrics.get(f"{key}_ci")
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else "&ndash;"


def _summary_table(metrics: Mapping) -> str:
    rows = [
        ("FID", "fid"), ("KID (mean)", "kid_mean"), ("KID (std over subsets)", "kid_std"),
        ("Precision (k=3)", "precision"), ("Recall (k=3)", "recall"),
        ("MS-SSIM within synthetic", "ms_ssim_fake"), ("MS-SSIM within real", "ms_ssim_real"),
    ]  # fmt: skip
    body = "".join(
        f"<tr><td>{name}</td><td>{_fmt(metrics.get(key))}</td><td>{_ci(metrics, key)}</td></tr>" for name, key in rows
    )
    level = int(round(100 * float(metrics.get("confidence", 0.95))))
    return f"<table><tr><th>metric</th><th>value</th><th>{level}% interval</th></tr>{body}</table>"


def _per_class_table(per_class: Mapping) -> str:
    if not per_class:
        return "<p class='note'>No per-class values (labels missing on one side).</p>"
    head = "<tr><th>class</th><th>n real</th><th>n synthetic</th><th>FID</th><th>precision</th><th>recall</th></tr>"
    body = "".join(
        f"<tr><td>{html.escape(label)}</td><td>{v['n_real']}</td><td>{v['n_fake']}</td><td>{_fmt(v['fid'])}</td>"
        f"<td>{_fmt(v['precision'])}</td><td>{_fmt(v['recall'])}</td></tr>"
        for label, v in per_class.items()
    )
    return f"<table>{head}{body}</table>"


def _neighbour_table(rows: Sequence[tuple[bytes, Sequence[tuple[bytes, float]]]]) -> str:
    if not rows:
        return ""
    cells = []
    for fake_png, neighbours in rows:
        cell = "".join(f"<td>{_img_tag(p, 'real neighbour')}<br>d = {d:.2f}</td>" for p, d in neighbours)
        cells.append(f"<tr><td>{_img_tag(fake_png, 'synthetic')}<br>synthetic</td>{cell}</tr>")
    return f"<table class='nn'>{''.join(cells)}</table>"


def render_report(
    metrics: Mapping,
    real_grid: bytes,
    fake_grid: bytes,
    neighbours: Sequence[tuple[bytes, Sequence[tuple[bytes, float]]]] = (),
) -> str:
    """The HTML text of the report.

    Args:
        metrics: the evaluation dict (as written to ``metrics.json``).
        real_grid: PNG bytes of a grid of real images.
        fake_grid: PNG bytes of a grid of synthetic images.
        neighbours: for some synthetic images, ``(png, [(real_png, feature_distance), ...])``.

    Returns:
        A complete HTML document.
    """
    title = f"Synthetic image evaluation: {html.escape(str(metrics.get('fake', '')))}"
    parts = [
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{title}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{title}</h1>",
        f"<p>Real: {html.escape(str(metrics.get('real', '')))} ({metrics.get('n_real')} images); "
        f"synthetic: {metrics.get('n_fake')} images. Features: Inception-v3 pool3 (TF 2015-12-05).</p>",
        _summary_table(metrics),
        "<p class='note'>FID, KID: lower is better. Precision: share of synthetic images on the real manifold; "
        "recall: share of real images on the synthetic manifold. MS-SSIM within a set: lower is more diverse. "
        "Intervals: percentile bootstrap (see docs/evaluation.md).</p>",
        "<h2>Per class</h2>",
        _per_class_table(metrics.get("per_class") or {}),
        "<h2>Samples</h2><div class='grids'>",
        f"<div><h3>Real</h3>{_img_tag(real_grid, 'real samples')}</div>",
        f"<div><h3>Synthetic</h3>{_img_tag(fake_grid, 'synthetic samples')}</div></div>",
        "<h2>Nearest real neighbours in feature space</h2>",
        "<p class='note'>Synthetic images beside their closest real images (Euclidean distance of Inception "
        "features); near-copies of training images show up here.</p>",
        _neighbour_table(neighbours),
        "</body></html>",
    ]
    return "\n".join(parts)
