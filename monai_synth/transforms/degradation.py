"""Image degradations of Med-cDiff's three restoration tasks: super-resolution, denoising, inpainting.

After "Med-cDiff: Conditional Medical Image Generation with Diffusion Models" (Bioengineering 2023):

- ``sr``: downsample by a factor in {2 sqrt 2, 4, 4 sqrt 2, 8, 8 sqrt 2, 16} (antialiased), then upsample back
  to the original size (bicubic by default), so the restoring network sees a full-size blurred image;
- ``denoise``: additive Gaussian noise, then salt-and-pepper noise (a fraction of pixels set to -1 or +1);
- ``inpaint``: a mask of random boxes and free-form strokes; missing pixels are set to 0 and the mask is
  given to the network as an extra channel.

All functions take float tensors in [-1, 1], a batch ``(B, C, H, W)`` or one image ``(C, H, W)``, and draw
their randomness only from a ``torch.Generator`` argument (on the generator's device). :class:`Degradation`
is the task-level object the training and evaluation code use; the dictionary transforms at the end serve
MONAI pipelines.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from monai.transforms import MapTransform, Transform

__all__ = [
    "SR_FACTORS",
    "TASKS",
    "downsample",
    "upsample",
    "DegradeResolution",
    "DegradeNoise",
    "DegradeInpaint",
    "Degradation",
    "make_degradation",
    "DegradeResolutiond",
    "DegradeNoised",
    "DegradeInpaintd",
]

SR_FACTORS: tuple[float, ...] = (2 * math.sqrt(2), 4.0, 4 * math.sqrt(2), 8.0, 8 * math.sqrt(2), 16.0)
TASKS = ("sr", "denoise", "inpaint")
UPSAMPLE_MODES = ("bicubic", "bilinear")


def _as_batch(x: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``(B, C, H, W)`` view of ``x`` and whether it was a single ``(C, H, W)`` image."""
    if x.ndim == 3:
        return x[None], True
    if x.ndim != 4:
        raise ValueError(f"expected an image (C, H, W) or a batch (B, C, H, W), got shape {tuple(x.shape)}")
    return x, False


def _restore(x: torch.Tensor, single: bool) -> torch.Tensor:
    return x[0] if single else x


def _rand(generator: torch.Generator | None, *shape: int) -> torch.Tensor:
    """Uniform [0, 1) draws on the generator's device (CPU without a generator)."""
    device = generator.device if generator is not None else None
    return torch.rand(shape, generator=generator, device=device)


def _choice(n: int, generator: torch.Generator | None) -> int:
    """Index drawn uniformly from ``range(n)``."""
    return min(int(float(_rand(generator, 1)) * n), n - 1)


def low_size(size: int, factor: float) -> int:
    """Side of the low-resolution image: ``round(size / factor)``, at least 1."""
    return max(1, int(round(size / float(factor))))


def downsample(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Antialiased downsampling by ``factor`` (> 1) to ``round(H / factor) x round(W / factor)`` pixels.

    Args:
        x: ``(B, C, H, W)`` or ``(C, H, W)``.
        factor: downsampling factor, e.g. one of :data:`SR_FACTORS`.
    """
    if float(factor) < 1:
        raise ValueError(f"downsampling factor must be >= 1, got {factor}")
    xb, single = _as_batch(x)
    size = (low_size(xb.shape[-2], factor), low_size(xb.shape[-1], factor))
    low = F.interpolate(xb.float(), size=size, mode="bilinear", antialias=True, align_corners=False)
    return _restore(low, single)


def upsample(low: torch.Tensor, size: int | Sequence[int], mode: str = "bicubic") -> torch.Tensor:
    """Interpolate a low-resolution image back to ``size`` (bicubic output clamped to [-1, 1]).

    Args:
        low: ``(B, C, h, w)`` or ``(C, h, w)``.
        size: target side, or ``(H, W)``.
        mode: "bicubic" or "bilinear".
    """
    if mode not in UPSAMPLE_MODES:
        raise ValueError(f"upsampling mode must be one of {UPSAMPLE_MODES}, got {mode!r}")
    lb, single = _as_batch(low)
    hw = (int(size), int(size)) if isinstance(size, (int, float)) else tuple(int(s) for s in size)
    up = F.interpolate(lb.float(), size=hw, mode=mode, align_corners=False)
    return _restore(up.clamp(-1.0, 1.0) if mode == "bicubic" else up, single)


class DegradeResolution(Transform):
    """Super-resolution degradation: ``upsample(downsample(x, f), (H, W), mode)``.

    Args:
        factors: factors one is drawn from per image when no ``factor`` is given.
        mode: upsampling interpolation, "bicubic" or "bilinear".
    """

    def __init__(self, factors: Sequence[float] = (4.0,), mode: str = "bicubic") -> None:
        if not factors or any(float(f) < 1 for f in factors):
            raise ValueError(f"factors must be a non-empty list of numbers >= 1, got {factors}")
        if mode not in UPSAMPLE_MODES:
            raise ValueError(f"upsampling mode must be one of {UPSAMPLE_MODES}, got {mode!r}")
        self.factors, self.mode = tuple(float(f) for f in factors), mode

    def degrade(self, x: torch.Tensor, factor: float) -> torch.Tensor:
        """Degrade a batch with one factor."""
        return upsample(downsample(x, factor), x.shape[-2:], self.mode)

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator | None = None, factor: float | None = None
    ) -> torch.Tensor:
        """Degrade ``x``; with ``factor=None`` each image gets a factor drawn from ``factors``."""
        xb, single = _as_batch(x)
        if factor is not None:
            return _restore(self.degrade(xb, factor), single)
        out = [self.degrade(img[None], self.factors[_choice(len(self.factors), generator)]) for img in xb]
        return _restore(torch.cat(out), single)


class DegradeNoise(Transform):
    """Denoising degradation: Gaussian noise, clamping to [-1, 1], then salt-and-pepper noise.

    Args:
        levels: ``(gaussian_std, salt_and_pepper_fraction)`` pairs; the std is in [-1, 1] units (0.1 is 5 %
            of the intensity range) and the fraction is that of pixels set to -1 or +1 (half each, on average).
    """

    def __init__(self, levels: Sequence[Sequence[float]] = ((0.1, 0.05),)) -> None:
        levels = tuple((float(s), float(p)) for s, p in levels)
        if not levels or any(s < 0 or not 0 <= p <= 1 for s, p in levels):
            raise ValueError(f"levels must be (std >= 0, fraction in [0, 1]) pairs, got {levels}")
        self.levels = levels

    @staticmethod
    def degrade(x: torch.Tensor, std: float, fraction: float, generator: torch.Generator | None) -> torch.Tensor:
        """Noise one batch at one level; the salt-and-pepper pixels are shared by all channels of a pixel."""
        b, c, h, w = x.shape
        device = generator.device if generator is not None else x.device
        gauss = torch.randn((b, c, h, w), generator=generator, device=device).to(x.device)
        noisy = (x + std * gauss).clamp(-1.0, 1.0)
        hit = (_rand(generator, b, 1, h, w) < fraction).to(x.device)
        salt = (_rand(generator, b, 1, h, w) < 0.5).to(x.device)
        impulse = torch.where(salt, 1.0, -1.0).to(x.dtype)
        return torch.where(hit, impulse, noisy)

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator | None = None, level: Sequence[float] | None = None
    ) -> torch.Tensor:
        """Noise ``x``; with ``level=None`` each image gets a level drawn from ``levels``."""
        xb, single = _as_batch(x)
        if level is not None:
            return _restore(self.degrade(xb, float(level[0]), float(level[1]), generator), single)
        out = []
        for img in xb:
            std, p = self.levels[_choice(len(self.levels), generator)]
            out.append(self.degrade(img[None], std, p, generator))
        return _restore(torch.cat(out), single)


def _box_mask(h: int, w: int, area: tuple[float, float], generator: torch.Generator | None) -> torch.Tensor:
    """One box covering a fraction of the image drawn from ``area``, aspect ratio in [1/2, 2]."""
    u = _rand(generator, 4).tolist()
    a = (area[0] + (area[1] - area[0]) * u[0]) * h * w
    aspect = math.exp(math.log(0.5) + math.log(4.0) * u[1])
    bh = min(h, max(1, int(round(math.sqrt(a * aspect)))))
    bw = min(w, max(1, int(round(a / bh))))
    top, left = int(u[2] * (h - bh + 1)), int(u[3] * (w - bw + 1))
    mask = torch.zeros(h, w)
    mask[top : top + bh, left : left + bw] = 1.0
    return mask


def _segment_distance(yy: torch.Tensor, xx: torch.Tensor, p: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Distance of every pixel centre to the segment from ``p`` to ``q`` (``(y, x)`` points)."""
    d = q - p
    t = ((yy - p[0]) * d[0] + (xx - p[1]) * d[1]) / d.pow(2).sum().clamp_min(1e-12)
    t = t.clamp(0.0, 1.0)
    return torch.hypot(yy - (p[0] + t * d[0]), xx - (p[1] + t * d[1]))


def _stroke_mask(
    h: int, w: int, width: tuple[int, int], generator: torch.Generator | None, vertices: int = 4
) -> torch.Tensor:
    """One free-form stroke: a polyline of ``vertices - 1`` random segments of a random width."""
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij")
    u = _rand(generator, 3 + 2 * vertices).tolist()
    thick = width[0] + min(int(u[0] * (width[1] - width[0] + 1)), width[1] - width[0])
    point = torch.tensor([u[1] * (h - 1), u[2] * (w - 1)])
    mask = torch.zeros(h, w, dtype=torch.bool)
    for k in range(vertices - 1):
        angle, length = 2 * math.pi * u[3 + 2 * k], (0.1 + 0.3 * u[4 + 2 * k]) * min(h, w)
        nxt = point + length * torch.tensor([math.sin(angle), math.cos(angle)])
        nxt = torch.stack([nxt[0].clamp(0, h - 1), nxt[1].clamp(0, w - 1)])
        mask |= _segment_distance(yy, xx, point, nxt) <= thick / 2.0
        point = nxt
    return mask.float()


class DegradeInpaint(Transform):
    """Inpainting degradation: a mask of one random box plus free-form strokes; missing pixels set to 0.

    Args:
        box_fraction: range of the fraction of the image the box covers (its area; aspect ratio in [1/2, 2]).
        strokes: range (inclusive) of the number of free-form strokes.
        stroke_width: range (inclusive) of the stroke width in pixels.
    """

    def __init__(
        self,
        box_fraction: Sequence[float] = (0.1, 0.3),
        strokes: Sequence[int] = (1, 4),
        stroke_width: Sequence[int] = (2, 6),
    ) -> None:
        lo, hi = (float(v) for v in box_fraction)
        if not 0 <= lo <= hi <= 1:
            raise ValueError(f"box_fraction must be (low, high) with 0 <= low <= high <= 1, got {box_fraction}")
        if not 0 <= int(strokes[0]) <= int(strokes[1]) or not 1 <= int(stroke_width[0]) <= int(stroke_width[1]):
            raise ValueError(f"bad strokes {strokes} or stroke_width {stroke_width}: need increasing (low, high)")
        self.box_fraction = (lo, hi)
        self.strokes = (int(strokes[0]), int(strokes[1]))
        self.stroke_width = (int(stroke_width[0]), int(stroke_width[1]))

    def one_mask(self, h: int, w: int, generator: torch.Generator | None) -> torch.Tensor:
        """One ``(H, W)`` mask (1 = missing)."""
        mask = _box_mask(h, w, self.box_fraction, generator)
        n = self.strokes[0] + _choice(self.strokes[1] - self.strokes[0] + 1, generator)
        for _ in range(n):
            mask = torch.maximum(mask, _stroke_mask(h, w, self.stroke_width, generator))
        return mask

    def make_mask(self, shape: Sequence[int], generator: torch.Generator | None = None) -> torch.Tensor:
        """Masks ``(B, 1, H, W)`` float in {0, 1} (1 = missing) for a batch of ``shape`` (B, C, H, W)."""
        b, h, w = int(shape[0]), int(shape[-2]), int(shape[-1])
        return torch.stack([self.one_mask(h, w, generator)[None] for _ in range(b)])

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator | None = None, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """``x`` with the missing pixels (``mask == 1``; drawn when not given) set to 0."""
        xb, single = _as_batch(x)
        m = self.make_mask(xb.shape, generator) if mask is None else _as_batch(mask)[0]
        return _restore(xb * (1.0 - m.to(xb.device, xb.dtype)), single)


def factor_name(factor: float) -> str:
    """Setting name of a super-resolution factor: 4 -> "x4", 4 sqrt 2 -> "x5.66"."""
    return f"x{round(float(factor), 2):g}"


def noise_name(std: float, fraction: float) -> str:
    """Setting name of a noise level: (0.1, 0.05) -> "noise0.1_sp0.05"."""
    return f"noise{float(std):g}_sp{float(fraction):g}"


class Degradation:
    """A task's degradation: what the restoring networks are conditioned on, in training and evaluation.

    The condition is the degraded image (C channels); for inpainting the mask follows as channel C + 1.
    Build with :func:`make_degradation`.

    Args:
        task: "sr", "denoise" or "inpaint".
        transform: the array transform of the task.
        params: the settings it was built from (stored in checkpoints).
    """

    def __init__(self, task: str, transform: Transform, params: dict[str, Any]) -> None:
        self.task, self.transform, self.params = task, transform, dict(params)

    def condition_channels(self, image_channels: int) -> int:
        """Channels of the condition: C, or C + 1 (the mask) for inpainting."""
        return int(image_channels) + (1 if self.task == "inpaint" else 0)

    def training(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Condition of a training batch ``(B, C, H, W)``: random factor / level / mask per image."""
        if self.task == "inpaint":
            mask = self.transform.make_mask(x.shape, generator).to(x.device, x.dtype)
            return torch.cat([self.transform(x, mask=mask), mask], dim=1)
        return self.transform(x, generator)

    def settings(self) -> list[dict[str, Any]]:
        """The evaluation settings: one per factor (sr) or noise level (denoise); one for inpainting."""
        if self.task == "sr":
            return [{"name": factor_name(f), "factor": f} for f in self.transform.factors]
        if self.task == "denoise":
            return [{"name": noise_name(s, p), "std": s, "salt_pepper": p} for s, p in self.transform.levels]
        return [{"name": "inpaint"}]

    def fixed(self, x: torch.Tensor, setting: dict[str, Any], seeds: Sequence[int]) -> torch.Tensor:
        """Deterministic condition of a batch for one evaluation setting: image i uses ``seeds[i]``."""
        if len(seeds) != x.shape[0]:
            raise ValueError(f"got {len(seeds)} seeds for a batch of {x.shape[0]} images")
        out = [self._fixed_one(img[None], setting, torch.Generator().manual_seed(int(s))) for img, s in zip(x, seeds)]
        return torch.cat(out)

    def _fixed_one(self, x: torch.Tensor, setting: dict[str, Any], g: torch.Generator) -> torch.Tensor:
        if self.task == "sr":
            return self.transform(x, factor=float(setting["factor"]))
        if self.task == "denoise":
            return self.transform(x, g, level=(setting["std"], setting["salt_pepper"]))
        mask = self.transform.make_mask(x.shape, g).to(x.device, x.dtype)
        return torch.cat([self.transform(x, mask=mask), mask], dim=1)

    def image_part(self, condition: torch.Tensor) -> torch.Tensor:
        """The degraded image inside a condition (drops the inpainting mask channel)."""
        return condition[:, :-1] if self.task == "inpaint" else condition

    def __repr__(self) -> str:
        return f"Degradation(task={self.task!r}, params={self.params})"


_KEYS = {
    "sr": ("factors", "mode"),
    "denoise": ("noise_levels",),
    "inpaint": ("box_fraction", "strokes", "stroke_width"),
}


def make_degradation(task: str, params: dict[str, Any] | None = None) -> Degradation:
    """The :class:`Degradation` of a task.

    Args:
        task: "sr", "denoise" or "inpaint".
        params: settings; the keys of other tasks are ignored, so one dict can hold all of them:
            ``factors`` (sr factors, default (4,)), ``mode`` (sr upsampling, "bicubic"),
            ``noise_levels`` (``[[std, salt_and_pepper_fraction], ...]``, default ``[[0.1, 0.05]]``),
            ``box_fraction``, ``strokes``, ``stroke_width`` (inpainting masks, see :class:`DegradeInpaint`).

    Raises:
        ValueError: on an unknown task or key.
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    params = dict(params or {})
    unknown = set(params) - {k for keys in _KEYS.values() for k in keys}
    if unknown:
        raise ValueError(f"unknown degradation settings {sorted(unknown)}; known: {_KEYS}")
    mine = {k: v for k, v in params.items() if k in _KEYS[task]}
    if task == "sr":
        transform: Transform = DegradeResolution(**mine)
    elif task == "denoise":
        transform = DegradeNoise(levels=mine.get("noise_levels", ((0.1, 0.05),)))
    else:
        transform = DegradeInpaint(**mine)
    return Degradation(task, transform, params)


class _SeededMapTransform(MapTransform):
    """Base of the dictionary versions: one generator per call from ``seed`` (or a running one)."""

    def __init__(self, keys: Any, seed: int = 0, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, allow_missing_keys)
        self.generator = torch.Generator().manual_seed(int(seed))

    def _generator(self, seed: int | None) -> torch.Generator:
        return self.generator if seed is None else torch.Generator().manual_seed(int(seed))


class DegradeResolutiond(_SeededMapTransform):
    """Dictionary :class:`DegradeResolution`: writes ``<key>_degraded``.

    Args:
        keys: image keys ((C, H, W) tensors in [-1, 1]).
        factors / mode: as :class:`DegradeResolution`.
        factor: fixed factor (None: drawn per call).
        seed: seed of the running generator used when a call gives no ``seed``.
    """

    def __init__(self, keys: Any, factors: Sequence[float] = (4.0,), mode: str = "bicubic",
                 factor: float | None = None, seed: int = 0, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, seed, allow_missing_keys)
        self.transform, self.factor = DegradeResolution(factors, mode), factor

    def __call__(self, data: Mapping[Hashable, Any], seed: int | None = None) -> dict[Hashable, Any]:
        d, g = dict(data), self._generator(seed)
        for key in self.key_iterator(d):
            d[f"{key}_degraded"] = self.transform(torch.as_tensor(d[key]).float(), g, self.factor)
        return d


class DegradeNoised(_SeededMapTransform):
    """Dictionary :class:`DegradeNoise`: writes ``<key>_degraded``.

    Args:
        keys: image keys ((C, H, W) tensors in [-1, 1]).
        levels: as :class:`DegradeNoise`.
        seed: seed of the running generator used when a call gives no ``seed``.
    """

    def __init__(self, keys: Any, levels: Sequence[Sequence[float]] = ((0.1, 0.05),), seed: int = 0,
                 allow_missing_keys: bool = False) -> None:
        super().__init__(keys, seed, allow_missing_keys)
        self.transform = DegradeNoise(levels)

    def __call__(self, data: Mapping[Hashable, Any], seed: int | None = None) -> dict[Hashable, Any]:
        d, g = dict(data), self._generator(seed)
        for key in self.key_iterator(d):
            d[f"{key}_degraded"] = self.transform(torch.as_tensor(d[key]).float(), g)
        return d


class DegradeInpaintd(_SeededMapTransform):
    """Dictionary :class:`DegradeInpaint`: writes ``<key>_degraded`` and ``<key>_mask`` ((1, H, W), 1 = missing).

    Args:
        keys: image keys ((C, H, W) tensors in [-1, 1]).
        box_fraction / strokes / stroke_width: as :class:`DegradeInpaint`.
        seed: seed of the running generator used when a call gives no ``seed``.
    """

    def __init__(self, keys: Any, box_fraction: Sequence[float] = (0.1, 0.3), strokes: Sequence[int] = (1, 4),
                 stroke_width: Sequence[int] = (2, 6), seed: int = 0, allow_missing_keys: bool = False) -> None:
        super().__init__(keys, seed, allow_missing_keys)
        self.transform = DegradeInpaint(box_fraction, strokes, stroke_width)

    def __call__(self, data: Mapping[Hashable, Any], seed: int | None = None) -> dict[Hashable, Any]:
        d, g = dict(data), self._generator(seed)
        for key in self.key_iterator(d):
            img = torch.as_tensor(d[key]).float()
            mask = self.transform.make_mask((1, *img.shape), g)[0]
            d[f"{key}_degraded"] = self.transform(img, mask=mask)
            d[f"{key}_mask"] = mask
        return d
