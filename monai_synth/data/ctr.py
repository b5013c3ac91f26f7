"""Cardiothoracic ratio (CTR) measured from a chest radiograph alone.

``CTR = maximal transverse heart diameter / maximal inner thoracic diameter``. The measurement is
classical image analysis (no learned model), so it can score any image, including generated ones:

1. normalise the intensities by percentiles (any scale: [0, 1], [-1, 1], raw counts);
2. body = holes-filled region brighter than the lower threshold of a three-class Otsu split,
   eroded off the dark skin line; lungs = regions inside the body darker than an Otsu threshold
   over the body, computed after a vertical blur that washes out the ribs, cleaned by morphology;
   the two largest components, one on each side of the image, are the lungs;
3. thoracic width = widest row (median over a few rows) from the outer border of one lung to the
   outer border of the other;
4. heart width = distance between the lungs' medial borders where the heart pushes them furthest
   apart: below the most medial point of each lung (the mediastinum), the outermost point of the
   medial border among rows where that border runs close to vertically (slope <= 0.5 px/row) and
   the lung is not a thin recess -- the heart's extreme has a vertical tangent, while the diaphragm
   and the costophrenic tip, which the medial border reaches lower down, do not;
5. CTR = heart width / thoracic width (both in pixels).

Anything that cannot be found gives ``nan`` instead of an exception, so a batch of poor generated
images can be scored without special cases. Images are expected in radiograph polarity (air dark,
bone and heart bright) and PA orientation (heart towards the image right, but either side works).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import torch
from scipy import ndimage

__all__ = ["ctr_from_masks", "measurable_ctr_share", "measure_ctr", "measure_ctr_batch"]

_MIN_LUNG_AREA = 0.01  # fraction of the image a lung must cover at least
_MIN_SIZE = 16
_WORK_SIZE = 128  # smaller images are upsampled (bilinear) to this size before measuring


def _to_2d(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """Return a float64 (H, W) array; channels of a (C, H, W) image are averaged."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().float().numpy()
    arr = np.asarray(image, dtype=np.float64)
    if arr.ndim == 3:
        arr = arr.mean(axis=0)
    if arr.ndim != 2:
        raise ValueError(f"measure_ctr expects an image of shape (H, W) or (C, H, W), got {arr.shape}")
    return arr


def _normalise(arr: np.ndarray) -> np.ndarray | None:
    """Map the 1st..99th percentiles to [0, 1]; None for a flat or non-finite image."""
    if not np.all(np.isfinite(arr)):
        return None
    lo, hi = np.percentile(arr, [1.0, 99.0])
    if hi - lo < 1e-8:
        return None
    return np.clip((arr - lo) / (hi - lo), 0.0, 1.0)


def _otsu(values: np.ndarray) -> float:
    """Otsu threshold of values in [0, 1] (256-bin histogram)."""
    hist, edges = np.histogram(values, bins=256, range=(0.0, 1.0))
    centres = 0.5 * (edges[:-1] + edges[1:])
    weight0 = np.cumsum(hist)
    weight1 = weight0[-1] - weight0
    mass0 = np.cumsum(hist * centres)
    mean0 = mass0 / np.maximum(weight0, 1)
    mean1 = (mass0[-1] - mass0) / np.maximum(weight1, 1)
    between = weight0 * weight1 * (mean0 - mean1) ** 2
    return float(edges[int(np.argmax(between)) + 1])


def _lower_otsu3(values: np.ndarray) -> float:
    """Lower threshold of a three-class Otsu split (background | lungs | soft tissue and bone)."""
    hist, edges = np.histogram(values, bins=64, range=(0.0, 1.0))
    centres = 0.5 * (edges[:-1] + edges[1:])
    w, m = np.cumsum(hist).astype(np.float64), np.cumsum(hist * centres)
    i, j = np.triu_indices(63, k=1)  # class boundaries after bins i and j
    w0, w1, w2 = w[i], w[j] - w[i], w[-1] - w[j]
    m0, m1, m2 = m[i], m[j] - m[i], m[-1] - m[j]
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.nan_to_num(m0**2 / w0 + m1**2 / w1 + m2**2 / w2, nan=-np.inf, posinf=-np.inf)
    return float(edges[i[int(np.argmax(score))] + 1])


def _disk(radius: int) -> np.ndarray:
    """Boolean disk structuring element."""
    r = np.arange(-radius, radius + 1)
    return r[:, None] ** 2 + r[None, :] ** 2 <= radius * radius


def _segment_lungs(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Return boolean masks of the (image-)left and right lung, or None if not found."""
    size = min(unit.shape)
    square = ndimage.generate_binary_structure(2, 2)
    smooth = ndimage.gaussian_filter(unit, sigma=max(0.7, size / 160))
    body = ndimage.binary_fill_holes(smooth > _lower_otsu3(smooth))
    # The skin line is dark (little tissue is crossed there): keep lungs away from it.
    body = ndimage.binary_erosion(body, square, iterations=max(2, round(size / 40)), border_value=0)
    if body.sum() < 0.1 * unit.size:
        return None
    # Ribs cross the lungs as bright horizontal bands: smooth them away vertically before
    # thresholding, so that they do not cut notches into the lung borders.
    ribless = ndimage.gaussian_filter(unit, sigma=(max(1.0, size / 50), max(0.7, size / 160)))
    dark = body & (ribless < _otsu(ribless[body]))
    radius = max(1, round(size / 100))
    dark = ndimage.binary_opening(dark, square, iterations=radius)
    dark = ndimage.binary_fill_holes(ndimage.binary_closing(dark, square, iterations=radius))
    labels, count = ndimage.label(dark)
    if count < 2:
        return None
    areas = ndimage.sum_labels(dark, labels, index=np.arange(1, count + 1))
    order = np.argsort(areas)[::-1][:2]
    if areas[order[1]] < _MIN_LUNG_AREA * unit.size:
        return None
    first, second = (labels == order[0] + 1), (labels == order[1] + 1)
    cols = np.arange(unit.shape[1])
    if (first.sum(0) * cols).sum() / first.sum() > (second.sum(0) * cols).sum() / second.sum():
        first, second = second, first
    return (first, second) if _look_like_lungs(first, second) else None


def _look_like_lungs(left: np.ndarray, right: np.ndarray) -> bool:
    """Two lung fields: side by side without horizontal overlap, at the same height, each taller
    than wide."""
    (lr, lc), (rr, rc) = (np.flatnonzero(left.any(1)), np.flatnonzero(left.any(0))), (
        np.flatnonzero(right.any(1)), np.flatnonzero(right.any(0)))  # fmt: skip
    if lc[-1] >= rc[0]:
        return False
    overlap = min(lr[-1], rr[-1]) - max(lr[0], rr[0]) + 1
    if overlap < 0.5 * max(len(lr), len(rr)):
        return False
    return all(rows[-1] - rows[0] >= cols[-1] - cols[0] for rows, cols in ((lr, lc), (rr, rc)))


def _thoracic_row(left: np.ndarray, right: np.ndarray) -> tuple[int, int, int] | None:
    """Row of the widest inner thorax and the outer lung columns there: (row, left col, right col).

    Row widths are median-filtered over a few rows first, so that a single ragged row (noise on
    the border) does not set the maximum.
    """
    rows = np.flatnonzero(left.any(1) & right.any(1))
    if len(rows) == 0:
        return None
    cols = np.arange(left.shape[1])
    outer_left = np.where(left[rows], cols, left.shape[1]).min(1)
    outer_right = np.where(right[rows], cols, -1).max(1)
    span = 2 * max(1, round(left.shape[0] / 128)) + 1
    widths = ndimage.median_filter(outer_right - outer_left, size=min(span, len(rows)), mode="nearest")
    best = int(np.argmax(widths))
    return int(rows[best]), int(outer_left[best]), int(outer_right[best])


def _medial_runs(lung: np.ndarray, medial_is_right: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: whether the lung is present, the column of its medial edge and the width of the
    run of lung pixels that ends there. Runs narrower than ``width / 64`` are ignored."""
    min_width = max(2, lung.shape[1] // 64)
    lung = ndimage.binary_opening(lung, np.ones((1, min_width), dtype=bool))
    width = lung.shape[1]
    cols = np.arange(width)[None, :]
    present = lung.any(1)
    if medial_is_right:
        edge = np.where(lung, cols, -1).max(1)
        gap = np.where(~lung & (cols <= edge[:, None]), cols, -1).max(1)
        return present, edge, edge - gap
    edge = np.where(lung, cols, width).min(1)
    gap = np.where(~lung & (cols >= edge[:, None]), cols, width).min(1)
    return present, edge, gap - edge


def _track_medial_border(
    lung: np.ndarray, medial_is_right: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Rows, medial-edge columns and medial-run widths of every lung row below the most medial
    point of the upper lung (the mediastinum), or None if the lung is too small."""
    present, edge, run_width = _medial_runs(lung, medial_is_right)
    rows = np.flatnonzero(present)
    if len(rows) < 8:
        return None
    upper = rows[rows <= rows[0] + 0.65 * (rows[-1] - rows[0])]
    start = upper[np.argmax(edge[upper])] if medial_is_right else upper[np.argmin(edge[upper])]
    # Follow while each row's medial run overlaps the one above: where the medial part of the lung
    # ends on the diaphragm, the next medial run is the costophrenic recess further out.
    inner = edge if medial_is_right else edge + run_width - 1  # the run spans [outer_end, inner_end]
    outer = edge - run_width + 1 if medial_is_right else edge
    lo, hi = np.minimum(inner, outer), np.maximum(inner, outer)
    end = start
    while end + 1 < lung.shape[0] and present[end + 1] and lo[end + 1] <= hi[end] and hi[end + 1] >= lo[end]:
        end += 1
    followed = np.arange(start, end + 1)
    return followed, edge[followed], run_width[followed]


def _heart_border(lung: np.ndarray, medial_is_right: bool) -> tuple[int, int] | None:
    """(row, column) of the lung's medial edge pixel at the heart's outermost point on this side.

    The heart border is the part of the lung's medial border that runs close to vertically (its
    extreme has a vertical tangent); the diaphragm, where the border turns horizontal, and the thin
    tip of the costophrenic recess are excluded.
    """
    tracked = _track_medial_border(lung, medial_is_right)
    if tracked is None:
        return None
    rows, edges, widths = tracked
    outward = (edges[0] - edges) if medial_is_right else (edges - edges[0])
    k = max(2, round(lung.shape[0] / 64))
    padded = np.pad(outward.astype(np.float64), k, mode="edge")
    slope = (padded[2 * k :] - padded[: -2 * k]) / (2 * k)
    wide = widths >= max(3, lung.shape[1] // 64, 0.05 * widths.max())
    steep = (np.abs(slope) <= 0.5) & wide
    steep[-k:] = False  # the slope is not known at the lowest rows
    if not steep.any():
        return None
    best = int(np.argmax(np.where(steep, outward, -np.inf)))
    return int(rows[best]), int(edges[best])


def ctr_from_masks(lung_mask: np.ndarray | torch.Tensor, heart_mask: np.ndarray | torch.Tensor) -> float:
    """CTR from segmentation masks (e.g. the phantom's exact masks): heart extent / thoracic width.

    Args:
        lung_mask: (H, W) or (1, H, W), nonzero inside both lungs.
        heart_mask: (H, W) or (1, H, W), nonzero inside the heart.

    Returns:
        the ratio, or nan if either mask is empty.
    """
    lungs, heart = _to_2d(lung_mask) > 0, _to_2d(heart_mask) > 0
    if not lungs.any() or not heart.any():
        return math.nan
    cols = np.arange(lungs.shape[1])
    thorax = (np.where(lungs, cols, -1).max(1) - np.where(lungs, cols, lungs.shape[1]).min(1) + 1).max()
    heart_cols = np.flatnonzero(heart.any(0))
    return float((heart_cols[-1] - heart_cols[0] + 1) / thorax)


def measure_ctr(image: np.ndarray | torch.Tensor) -> float:
    """Measure the cardiothoracic ratio of a chest radiograph from its pixels alone.

    Args:
        image: numpy array or torch tensor of shape (H, W) or (C, H, W) (channels are averaged),
            any intensity scale, radiograph polarity (lungs dark).

    Returns:
        the CTR (heart width / inner thoracic width), or nan when the lungs or the heart cannot be
        found.

    Raises:
        ValueError: if the array does not have 2 or 3 dimensions.
    """
    arr = _to_2d(image)
    if min(arr.shape) < _MIN_SIZE:
        return math.nan
    if min(arr.shape) < _WORK_SIZE:  # the morphology needs a few pixels per structure: interpolate
        arr = ndimage.zoom(arr, _WORK_SIZE / min(arr.shape), order=1, grid_mode=True, mode="nearest")
    unit = _normalise(arr)
    lungs = None if unit is None else _segment_lungs(unit)
    if lungs is None:
        return math.nan
    left, right = lungs
    thorax_at = _thoracic_row(left, right)
    heart_left, heart_right = _heart_border(left, medial_is_right=True), _heart_border(right, medial_is_right=False)
    if thorax_at is None or heart_left is None or heart_right is None:
        return math.nan
    _, outer_left, outer_right = thorax_at
    thorax = outer_right - outer_left + 1
    heart = heart_right[1] - heart_left[1] - 1  # non-lung pixels between the medial lung edges
    if not 0 < heart < thorax:
        return math.nan
    return float(heart / thorax)


def measure_ctr_batch(images: np.ndarray | torch.Tensor | Iterable) -> np.ndarray:
    """Measure the CTR of every image of a batch.

    Args:
        images: (B, H, W) or (B, C, H, W) array/tensor, or an iterable of images accepted by
            :func:`measure_ctr`.

    Returns:
        float64 array of shape (B,), nan where the measurement failed.
    """
    if isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim not in (3, 4):
        raise ValueError(f"measure_ctr_batch expects (B, H, W) or (B, C, H, W), got {tuple(images.shape)}")
    return np.array([measure_ctr(img) for img in images], dtype=np.float64)


def measurable_ctr_share(images: np.ndarray | torch.Tensor | Iterable) -> float:
    """Share of images on which :func:`measure_ctr` finds lungs and heart (nan for no images).

    On phantom radiographs this is the share of generated images that show the anatomy at all.
    """
    values = measure_ctr_batch(images)
    return float((~np.isnan(values)).mean()) if values.size else math.nan
