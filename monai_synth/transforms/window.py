"""CT windowing to [-1, 1]: presets, explicit level/width, or the window of the DICOM header.

The liver window (level 50 HU, width 350 HU) is the one used for the abdominal CT of the
StyleGAN2-ADA evaluation study ("Evaluating the Performance of StyleGAN2-ADA on Medical Images").
"""

from __future__ import annotations

import torch
from monai.config import KeysCollection
from monai.data import MetaTensor

from monai_synth.data.errors import DataError

from .intensity import UnitIntervalTransform, UnitIntervalTransformd, header_number

__all__ = ["WINDOW_PRESETS", "WindowIntensity", "WindowIntensityd", "resolve_window"]

#: CT windows as (level, width) in HU.
WINDOW_PRESETS: dict[str, tuple[float, float]] = {
    "liver": (50.0, 350.0),
    "abdomen": (40.0, 400.0),
    "soft_tissue": (40.0, 400.0),
    "lung": (-600.0, 1500.0),
    "mediastinum": (50.0, 350.0),
    "bone": (400.0, 1800.0),
    "brain": (40.0, 80.0),
}


def resolve_window(
    level: float | None = None, width: float | None = None, preset: str | None = None
) -> tuple[float, float] | None:
    """(level, width) from an explicit pair or a preset name; None if neither is given.

    Raises:
        ValueError: unknown preset, only one of level/width, both a preset and a pair, or width <= 0.
    """
    if preset is not None and (level is not None or width is not None):
        raise ValueError(f"give either a window preset or level/width, not both (preset={preset!r})")
    if preset is not None:
        key = str(preset).lower()
        if key not in WINDOW_PRESETS:
            raise ValueError(f"unknown window preset {preset!r}; choose one of {sorted(WINDOW_PRESETS)}")
        return WINDOW_PRESETS[key]
    if level is None and width is None:
        return None
    if level is None or width is None:
        raise ValueError(f"give both window level and width, got level={level}, width={width}")
    if not float(width) > 0:
        raise ValueError(f"window width must be > 0, got {width}")
    return float(level), float(width)


class WindowIntensity(UnitIntervalTransform):
    """Map a CT window ``[level - width/2, level + width/2]`` (HU) linearly onto [-1, 1].

    Exactly one source of the window: a ``preset`` (see :data:`WINDOW_PRESETS`), an explicit
    ``level`` and ``width``, or ``from_header=True`` (the meta ``window_center`` /
    ``window_width`` read from the DICOM header, first value if multi-valued). The applied window is
    written to the output meta and to ``applied_operations``; :meth:`inverse` maps back to HU (exact
    inside the window; values outside it were clipped when ``clip=True``).

    Args:
        level: window centre in native units.
        width: window width in native units (> 0).
        preset: name of a preset window, e.g. ``"liver"`` (50, 350).
        from_header: take the window from the image meta (DICOM header).
        clip: clip the output to [-1, 1].

    Raises:
        ValueError: no window source, more than one, or an invalid window.

    Example::

        window = WindowIntensity(preset="liver")
        unit = window(ct_slice)          # MetaTensor in [-1, 1]
        hu = window.inverse(unit)        # back to HU
    """

    def __init__(
        self,
        level: float | None = None,
        width: float | None = None,
        preset: str | None = None,
        from_header: bool = False,
        clip: bool = True,
    ) -> None:
        super().__init__(clip=clip)
        self.window = resolve_window(level, width, preset)
        if from_header and self.window is not None:
            raise ValueError("give either from_header=True or a window (preset or level/width), not both")
        if not from_header and self.window is None:
            raise ValueError(
                f"WindowIntensity needs a preset (one of {sorted(WINDOW_PRESETS)}), level/width, or from_header=True"
            )
        self.from_header = from_header

    def window_for(self, img: torch.Tensor) -> tuple[float, float]:
        """The fixed window, or the one of the image's header."""
        if self.window is not None:
            return self.window
        meta = img.meta if isinstance(img, MetaTensor) else {}
        center, width = header_number(meta.get("window_center")), header_number(meta.get("window_width"))
        if center is None or width is None or not width > 0:
            raise DataError(
                f"no usable window in the header (window_center={meta.get('window_center')!r}, "
                f"window_width={meta.get('window_width')!r}); choose a preset or level/width instead",
                meta.get("filename_or_obj") or None,
            )
        return center, width

    def fallback_window(self, img: torch.Tensor) -> tuple[float, float] | None:
        """The fixed window (None for ``from_header``)."""
        return self.window


class WindowIntensityd(UnitIntervalTransformd):
    """Dictionary version of :class:`WindowIntensity`.

    Args:
        keys: keys of the images to window.
        level, width, preset, from_header, clip: as for :class:`WindowIntensity`.
        allow_missing_keys: do not fail when a key is absent.
    """

    def __init__(
        self,
        keys: KeysCollection = ("image",),
        level: float | None = None,
        width: float | None = None,
        preset: str | None = None,
        from_header: bool = False,
        clip: bool = True,
        allow_missing_keys: bool = False,
    ) -> None:
        super().__init__(keys, WindowIntensity(level, width, preset, from_header, clip), allow_missing_keys)
