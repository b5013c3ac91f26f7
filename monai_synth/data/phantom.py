"""Procedural chest-radiograph phantoms: the embedded, offline default dataset.

Every phantom is a deterministic function of an integer seed. It shows two dark lung fields, a
bright heart shadow that sits medially against the patient's left lung (image right, PA view),
posterior and anterior ribs, clavicles, the spine, the trachea and the soft tissue of the body,
with mild blur and noise. Anatomy varies in size, position, rotation and intensity.

The label follows the clinical definition of cardiomegaly on a PA chest radiograph:
``CTR = maximal transverse heart diameter / maximal inner thoracic diameter`` and ``label = 1``
when ``CTR > 0.5``. The CTR is drawn first (label 0: 0.38..0.48, label 1: 0.53..0.65, leaving a
margin around 0.5) and the heart is scaled to reach it exactly. ``ctr`` is the anatomical value,
computed from the geometry (not from pixels) in the patient frame, i.e. perpendicular to the
patient's midline, so it does not depend on the image size; the CTR of the rasterised masks agrees
with it to about 0.01 at 256 px.

Geometry is described in normalised coordinates: the image spans ``[-1, 1]`` on both axes,
``x`` grows to the right, ``y`` grows downwards.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

__all__ = ["CTR_RANGES", "make_phantom", "phantom_datalist"]

#: Sampling range of the true cardiothoracic ratio for each label.
CTR_RANGES: dict[int, tuple[float, float]] = {0: (0.38, 0.48), 1: (0.53, 0.65)}

_MIN_SIZE, _MAX_SIZE = 32, 512


@dataclass(frozen=True)
class _Lobe:
    """One lung in the patient frame; lateral distances ``u`` are measured from the midline."""

    side: int  # -1: image left (patient right), +1: image right (patient left)
    width: float  # lateral half-width at the shoulder of the lobe
    apex: float  # y of the apex
    apex_u: float  # lateral position of the apex
    shoulder: float  # y where the rounded apical cap ends
    dome_top: float  # y of the top of the hemidiaphragm
    dome_depth: float  # how much lower the costophrenic angle lies than the dome top
    dome_u: float  # lateral position of the dome top
    flare: float  # relative widening of the lobe from the shoulder to the base
    med: float  # half-width of the upper mediastinum on this side


@dataclass(frozen=True)
class _Heart:
    """Heart silhouette in the patient frame: an egg (an ellipse widening towards the apex)."""

    x: float
    y: float
    a: float  # semi-axis along the long axis
    b: float  # semi-axis across, at the centre
    angle: float  # long-axis angle in radians (positive: pointing down and to the image right)
    taper: float  # relative widening of the cross-section towards the apex (0 = ellipse)
    top: float = 0.0  # y of the highest point

    def outline(self, n: int = 1440) -> np.ndarray:
        """Boundary points (n, 2) as (x, y) offsets from the centre."""
        t = np.linspace(0.0, 2.0 * np.pi, n, endpoint=False)
        p, q = self.a * np.cos(t), self.b * (1.0 + self.taper * np.cos(t)) * np.sin(t)
        c, s = np.cos(self.angle), np.sin(self.angle)
        return np.stack([c * p - s * q, s * p + c * q], axis=1)


@dataclass(frozen=True)
class _Anatomy:
    """All geometric parameters of one phantom."""

    cx: float
    cy: float
    rotation: float
    body: float
    lobes: tuple[_Lobe, _Lobe]
    heart: _Heart
    ctr: float


# ----------------------------------------------------------------------------------------------
# Geometry
# ----------------------------------------------------------------------------------------------


def _sample_lobes(rng: np.random.Generator, half_width: float, med: float) -> tuple[_Lobe, _Lobe]:
    """Draw both lungs; the patient's right hemidiaphragm (image left) lies higher."""
    apex = rng.uniform(-0.86, -0.74)
    dome_right = rng.uniform(0.28, 0.44)
    lobes = []
    for side, dome_top in ((-1, dome_right), (1, dome_right + rng.uniform(0.02, 0.07))):
        width = half_width * rng.uniform(0.96, 1.04)
        side_med = med * rng.uniform(0.9, 1.1)
        lobes.append(
            _Lobe(
                side=side,
                width=width,
                apex=apex + rng.uniform(-0.02, 0.02),
                apex_u=side_med + rng.uniform(0.30, 0.45) * (width - side_med),
                shoulder=apex + rng.uniform(0.45, 0.60) * (dome_top - apex),
                dome_top=dome_top,
                dome_depth=rng.uniform(0.10, 0.18),
                dome_u=side_med + rng.uniform(0.35, 0.50) * (width - side_med),
                flare=rng.uniform(0.0, 0.05),
                med=side_med,
            )
        )
    return lobes[0], lobes[1]


def _diaphragm(lobe: _Lobe, u: np.ndarray) -> np.ndarray:
    """y of the hemidiaphragm below lateral position ``u``: a dome, deepest at the costophrenic
    angle and shallower towards the heart."""
    lateral = (u - lobe.dome_u) / (lobe.width * (1.0 + lobe.flare) - lobe.dome_u)
    medial = (lobe.dome_u - u) / (lobe.dome_u - lobe.med)
    rel = np.where(u >= lobe.dome_u, lateral**2, 0.4 * medial**2)
    return lobe.dome_top + lobe.dome_depth * rel


def _cap(y: np.ndarray, top: float, bottom: float) -> np.ndarray:
    """Elliptic profile 0..1 rising from ``top`` to ``bottom`` (1 below ``bottom``)."""
    rel = np.clip((bottom - y) / (bottom - top), 0.0, 1.0)
    return np.sqrt(1.0 - rel**2)


def _lateral_wall(lobe: _Lobe, y: np.ndarray) -> np.ndarray:
    """Lateral distance of the lung's outer border at height ``y`` (nan outside the lung)."""
    base = lobe.dome_top + lobe.dome_depth
    t = np.clip((y - lobe.shoulder) / (base - lobe.shoulder), 0.0, 1.0)
    u = lobe.apex_u + (lobe.width * (1.0 + lobe.flare * t) - lobe.apex_u) * _cap(y, lobe.apex, lobe.shoulder)
    inside = (y >= lobe.apex) & (y <= _diaphragm(lobe, u))
    return np.where(inside, u, np.nan)


_LUT = np.linspace(-1.25, 1.25, 2501)  # patient-frame sample positions of the 1-D profiles


def _lookup(values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Evaluate a profile sampled on the uniform grid ``_LUT`` at ``at`` (linear interpolation;
    much faster than ``np.interp``, which bisects for every point)."""
    scale = np.float32((len(_LUT) - 1) / (_LUT[-1] - _LUT[0]))
    pos = np.clip((at - np.float32(_LUT[0])) * scale, np.float32(0), np.float32(len(_LUT) - 1.001))
    lo = pos.astype(np.int32)
    w = pos - lo.astype(np.float32)
    table = values.astype(np.float32)
    return table[lo] + (table[lo + 1] - table[lo]) * w


def _medial_wall(lobe: _Lobe, y: np.ndarray) -> np.ndarray:
    """Lateral distance of the lung's medial border (mediastinum) at height ``y``."""
    steep = lobe.apex + 0.3 * (lobe.shoulder - lobe.apex)
    widening = 0.03 * np.clip((y - lobe.apex) / (lobe.dome_top - lobe.apex), 0.0, 1.0)
    return lobe.apex_u - (lobe.apex_u - lobe.med - widening) * _cap(y, lobe.apex, steep)


def _thoracic_width(lobes: tuple[_Lobe, _Lobe]) -> float:
    """Maximal inner thoracic width: widest row through both lungs (dense 1-D evaluation)."""
    y = np.linspace(-1.0, 1.0, 4001)
    width = _lateral_wall(lobes[0], y) + _lateral_wall(lobes[1], y)
    return float(np.nanmax(width))


def _place_heart(
    rng: np.random.Generator, ctr: float, thorax: float, lobes: tuple[_Lobe, _Lobe], cx: float
) -> _Heart:
    """Scale, orient and position the heart so that its width equals ``ctr * thorax``."""
    shape = _Heart(x=0.0, y=0.0, a=rng.uniform(1.1, 1.4), b=1.0, angle=np.deg2rad(rng.uniform(28.0, 50.0)),
                   taper=rng.uniform(0.1, 0.25))  # fmt: skip
    unit = shape.outline()
    scale = ctr * thorax / float(np.ptp(unit[:, 0]))
    left, right = unit[np.argmin(unit[:, 0])] * scale, unit[np.argmax(unit[:, 0])] * scale
    # Two thirds of the heart lie left of the patient's midline (image right).
    x = cx - left[0] - (right[0] - left[0]) * rng.uniform(0.30, 0.42)
    # Both horizontal extremes must lie above the diaphragm so the silhouette shows its full width.
    floor_left = float(_diaphragm(lobes[0], np.asarray(cx - x - left[0]))) - left[1]
    floor_right = float(_diaphragm(lobes[1], np.asarray(x + right[0] - cx))) - right[1]
    y = min(floor_left, floor_right) - rng.uniform(0.3, 0.6) * scale
    top = y + float(unit[:, 1].min()) * scale
    return _Heart(x=float(x), y=y, a=shape.a * scale, b=scale, angle=shape.angle, taper=shape.taper, top=top)


def _sample_anatomy(rng: np.random.Generator, label: int) -> _Anatomy:
    """Draw every geometric parameter of one phantom for the requested label."""
    lo, hi = CTR_RANGES[label]
    ctr = float(rng.uniform(lo, hi))
    cx, cy = rng.uniform(-0.05, 0.05), rng.uniform(-0.04, 0.04)
    half_width = rng.uniform(0.56, 0.68)
    med = rng.uniform(0.07, 0.10)
    lobes = _sample_lobes(rng, half_width, med)
    thorax = _thoracic_width(lobes)
    heart = _place_heart(rng, ctr, thorax, lobes, cx)
    return _Anatomy(
        cx=cx,
        cy=cy,
        rotation=float(np.deg2rad(rng.uniform(-3.0, 3.0))),
        body=half_width + rng.uniform(0.10, 0.16),
        lobes=lobes,
        heart=heart,
        ctr=ctr,
    )


# ----------------------------------------------------------------------------------------------
# Rasterisation
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Grid:
    """Patient-frame coordinates of every pixel centre and quantities shared by several layers."""

    x: np.ndarray  # horizontal, relative to the midline
    y: np.ndarray  # vertical
    u: np.ndarray  # |x|, lateral distance from the midline
    floor: np.ndarray  # height of the diaphragm below each pixel


def _make_grid(size: int, anat: _Anatomy) -> _Grid:
    """Rotate and shift the pixel grid into the patient frame."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) * np.float32(2.0 / size) - np.float32(1.0)
    xi, yi = axis[None, :], axis[:, None]
    c, s = np.float32(np.cos(anat.rotation)), np.float32(np.sin(anat.rotation))
    x = c * xi + s * yi - np.float32(anat.cx)
    y = c * yi - s * xi - np.float32(anat.cy)
    left, right = anat.lobes
    ul = np.maximum(-_LUT, left.med)
    floor = np.where(_LUT < 0, _diaphragm(left, ul), _diaphragm(right, np.maximum(_LUT, right.med)))
    return _Grid(x=x, y=y, u=np.abs(x), floor=_lookup(floor, x))


def _lobe_mask(lobe: _Lobe, g: _Grid) -> np.ndarray:
    """Boolean mask of one lung field (before the heart is cut out)."""
    u = lobe.side * g.x
    lateral = _lookup(np.nan_to_num(_lateral_wall(lobe, _LUT), nan=-10.0), g.y)
    return (u >= _lookup(_medial_wall(lobe, _LUT), g.y)) & (u <= lateral) & (g.y <= g.floor)


def _heart_mask(h: _Heart, g: _Grid, cx: float) -> np.ndarray:
    """Boolean mask of the heart silhouette (the egg, above the diaphragm)."""
    c, s = np.cos(h.angle), np.sin(h.angle)
    dx, dy = g.x - np.float32(h.x - cx), g.y - np.float32(h.y)
    p = (c / h.a) * dx + (s / h.a) * dy  # along the long axis, in units of a
    q = ((c / h.b) * dy - (s / h.b) * dx) / (1.0 + h.taper * p)
    return (p * p + q * q <= 1.0) & (g.y <= g.floor)


def _body(anat: _Anatomy, g: _Grid) -> tuple[np.ndarray, np.ndarray]:
    """Body outline (boxy torso plus neck) and the relative tissue thickness inside it."""
    rel2 = np.square(g.u / anat.body)
    dy2 = np.square((g.y - 0.30) / 1.32)
    torso = rel2 * rel2 + dy2 * dy2 <= 1.0
    neck = (g.u < 0.24) & (g.y < -0.5)
    return torso | neck, np.sqrt(np.maximum(1.0 - rel2 * rel2, np.float32(0)))


def _smooth_noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Low-frequency noise (unit variance at the nodes) bilinearly upsampled to (size, size)."""
    coarse = rng.standard_normal((cells, cells), dtype=np.float32)
    pos = (np.arange(size, dtype=np.float32) + 0.5) * np.float32((cells - 1) / size)
    lo = np.minimum(pos.astype(np.int64), cells - 2)
    w = (pos - lo.astype(np.float32))[:, None]
    rows = coarse[lo] * (1.0 - w) + coarse[lo + 1] * w  # (size, cells)
    return rows[:, lo] * (1.0 - w.T) + rows[:, lo + 1] * w.T


def _ribs(style: dict, anat: _Anatomy, g: _Grid) -> np.ndarray:
    """Posterior (bright) and anterior (faint) rib arcs, each family drawn as one periodic pattern."""
    extent = anat.lobes[1].width * 1.1
    peak, spacing = extent * style["rib_peak"], style["rib_spacing"]
    first = anat.lobes[0].apex - style["rib_first"]
    phase = (g.y - style["rib_bend"] * (np.square(g.u - peak) - peak**2) - first) / spacing
    phase *= 1.0 - 0.015 * phase  # lower intercostal spaces are a bit wider
    frac = phase - np.floor(phase)
    tri = np.abs(4.0 * frac - 1.0)
    band = np.clip(1.0 - tri * tri * tri, 0.0, None) * (frac < 0.5)
    fade = np.clip((extent - g.u) / 0.08, 0.0, 1.0) * np.clip((g.u - 0.05) / 0.04, 0.0, 1.0)
    posterior = band * ((phase > 0) & (phase < 11)) * fade
    aphase = (g.y + 0.55 * (g.u - extent) - first - 0.1) / (spacing * 1.3)
    afrac = aphase - np.floor(aphase)
    anterior = (afrac < 0.3) & (aphase > 0) & (aphase < 6) & (g.u > 0.18)
    return posterior + np.float32(0.3) * anterior * fade


def _clavicles(anat: _Anatomy, g: _Grid) -> np.ndarray:
    """Two bright bars at the thoracic inlet, rising from the sternum towards the shoulders."""
    lateral = np.clip(g.u - 0.45, 0.0, None)
    centre = anat.lobes[0].apex + 0.10 - 0.28 * (g.u - 0.08) + 0.35 * lateral * lateral
    return (np.abs(g.y - centre) < 0.032) & (g.u > 0.06) & (g.u < anat.body * 0.95)


def _spine(style: dict, g: _Grid) -> np.ndarray:
    """Vertebral column: a vertical band with faint vertebral bodies and disc spaces."""
    rel2 = np.square(g.u / style["spine_width"])
    level = g.y / style["vertebra"]
    frac = level - np.floor(level)
    return np.maximum(1.0 - rel2 * rel2, np.float32(0)) * (np.float32(0.7) + np.float32(0.3) * (frac < 0.8))


def _aortic_knob(anat: _Anatomy, g: _Grid) -> np.ndarray:
    """Aortic arch bulging into the left lung just above the heart."""
    top = anat.heart.top
    return np.square(g.x - anat.lobes[1].med - 0.01) + np.square(g.y - top + 0.03) < 0.05**2


def _trachea(anat: _Anatomy, g: _Grid) -> np.ndarray:
    """Air column of the trachea down to the carina."""
    carina = anat.heart.top - 0.05
    return (np.abs(g.x + 0.01) < 0.025) & (g.y < carina) & (g.y > -0.95)


def _gastric_bubble(style: dict, anat: _Anatomy, g: _Grid) -> np.ndarray:
    """Gas in the stomach fundus, under the left hemidiaphragm."""
    lobe = anat.lobes[1]
    cu = lobe.dome_u + style["bubble_shift"]
    cy = float(_diaphragm(lobe, np.asarray(cu))) + style["bubble_depth"]
    return np.square((g.x - cu) / style["bubble_w"]) + np.square((g.y - cy) / style["bubble_h"]) < 1.0


def _lung_darkening(style: dict, noise: np.random.Generator, g: _Grid, size: int) -> np.ndarray:
    """How much darker the aerated lung is than soft tissue: less near the hila, mottled by vessels."""
    hilum = np.exp(-(np.square((g.u - 0.16) / 0.18) + np.square((g.y + 0.05) / 0.3)))
    texture = 0.035 * _smooth_noise(noise, size, max(4, size // 14))
    texture += 0.015 * _smooth_noise(noise, size, max(4, size // 4))
    return style["lung_dark"] * (1.0 - 0.25 * hilum) - texture


def _sample_style(rng: np.random.Generator) -> dict:
    """Draw the appearance parameters (bones, densities, exposure) of one phantom."""
    u = rng.uniform
    return {
        "rib_peak": u(0.25, 0.35), "rib_bend": u(0.9, 1.3), "rib_spacing": u(0.10, 0.12),
        "rib_first": u(0.06, 0.12), "rib_gain": u(0.08, 0.12), "spine_width": u(0.06, 0.08),
        "vertebra": u(0.10, 0.12), "spine_gain": u(0.03, 0.06), "bubble_shift": u(-0.05, 0.05),
        "bubble_depth": u(0.17, 0.22), "bubble_w": u(0.07, 0.11), "bubble_h": u(0.04, 0.06),
        "bubble_gain": u(0.08, 0.16), "tissue": u(0.30, 0.36), "tissue_gain": u(0.20, 0.26),
        "lung_dark": u(0.34, 0.44), "background": u(0.02, 0.06), "blur": u(0.002, 0.004),
        "gamma": u(0.85, 1.15), "exposure": u(0.92, 1.04), "noise": u(0.006, 0.015),
    }  # fmt: skip


def _render(style: dict, noise: np.random.Generator, anat: _Anatomy, size: int) -> tuple[np.ndarray, ...]:
    """Draw the image and the exact masks of one phantom at ``size`` pixels."""
    g = _make_grid(size, anat)
    body, thickness = _body(anat, g)
    heart = _heart_mask(anat.heart, g, anat.cx)
    lungs = (_lobe_mask(anat.lobes[0], g) | _lobe_mask(anat.lobes[1], g)) & ~(heart | _aortic_knob(anat, g))
    f32 = np.float32

    image = f32(style["tissue"]) + f32(style["tissue_gain"]) * thickness
    image += f32(0.10) * np.exp(-np.square(g.x * f32(1 / 0.30)))  # mediastinum and spine are denser
    wall = np.where(g.x < 0, f32(anat.lobes[0].width), f32(anat.lobes[1].width))
    image += f32(0.06) * np.exp(-np.square((g.u - wall) * f32(1 / 0.06)))  # ribs seen tangentially
    image += f32(0.05) * (g.y > g.floor) + f32(0.03) * heart
    image -= f32(0.05) * _trachea(anat, g)
    image -= _lung_darkening(style, noise, g, size) * lungs
    image -= f32(style["bubble_gain"]) * _gastric_bubble(style, anat, g)
    image += f32(style["rib_gain"]) * _ribs(style, anat, g) * np.where(lungs, f32(1.0), f32(0.35))
    image += f32(0.08) * _clavicles(anat, g)
    image += f32(style["spine_gain"]) * _spine(style, g)
    image = np.where(body, image, f32(style["background"]))

    image = ndimage.gaussian_filter(image, sigma=max(0.5, size * style["blur"]), truncate=3.0)
    image = np.clip(image, f32(0), f32(1)) ** f32(style["gamma"]) * f32(style["exposure"])
    image += f32(style["noise"]) * noise.standard_normal(image.shape, dtype=np.float32)
    return np.clip(image, f32(0), f32(1)), lungs.astype(np.uint8), heart.astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------


def make_phantom(seed: int, size: int = 256, label: int | None = None) -> dict:
    """Generate one chest-radiograph phantom.

    Args:
        seed: seed of the numpy random generator; the same seed (and label) gives the same anatomy
            at every size.
        size: side length in pixels, 32..512.
        label: 0 (normal heart, CTR 0.38..0.48), 1 (cardiomegaly, CTR 0.53..0.65) or None to draw
            it from the seed.

    Returns:
        dict with ``image`` float32 (1, H, W) in [0, 1], ``lung_mask`` and ``heart_mask`` uint8
        (1, H, W), ``label`` int and ``ctr`` float (true cardiothoracic ratio).

    Raises:
        ValueError: if ``size`` or ``label`` is out of range, or ``seed`` is negative.
    """
    if not _MIN_SIZE <= int(size) <= _MAX_SIZE:
        raise ValueError(f"phantom size must be in [{_MIN_SIZE}, {_MAX_SIZE}], got {size}")
    if label is not None and label not in CTR_RANGES:
        raise ValueError(f"phantom label must be 0, 1 or None, got {label!r}")
    # Separate streams: anatomy and appearance do not depend on the size, pixel noise does.
    anat_rng, style_rng, noise_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(3))
    drawn = int(anat_rng.integers(0, 2))  # always drawn, so that giving the drawn label changes nothing
    label = drawn if label is None else int(label)
    anat = _sample_anatomy(anat_rng, int(label))
    image, lungs, heart = _render(_sample_style(style_rng), noise_rng, anat, int(size))
    return {
        "image": image[None],
        "lung_mask": lungs[None],
        "heart_mask": heart[None],
        "label": int(label),
        "ctr": anat.ctr,
    }


def phantom_datalist(count: int, size: int = 64, seed: int = 0) -> list[dict]:
    """Generate a balanced, deterministic list of phantoms (a datalist with in-memory images).

    Labels alternate 0, 1, 0, 1, ... so any even-length prefix is exactly balanced; every entry has
    its own seed derived from ``seed`` and its index.

    Args:
        count: number of phantoms (>= 0).
        size: side length in pixels, 32..512.
        seed: base seed of the list.

    Returns:
        list of the dicts returned by :func:`make_phantom` (keys ``image``, ``lung_mask``,
        ``heart_mask``, ``label``, ``ctr``).

    Raises:
        ValueError: if ``count`` is negative or ``size`` is out of range.
    """
    if count < 0:
        raise ValueError(f"phantom count must be >= 0, got {count}")
    seeds = np.random.SeedSequence(int(seed)).generate_state(max(int(count), 1), dtype=np.uint64)
    return [make_phantom(int(seeds[i] >> np.uint64(1)), size, label=i % 2) for i in range(int(count))]
