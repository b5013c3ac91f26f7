"""Percentile and value-range normalisation, the auto mode, and MONAI name clashes."""

from __future__ import annotations

import monai.transforms
import numpy as np
import pytest
import torch
from monai.data import MetaTensor

import monai_synth.transforms as synth
from monai_synth.data.errors import DataError
from monai_synth.transforms import (
    AutoIntensityd,
    PercentileNormalize,
    PercentileNormalized,
    RangeToSymmetric,
    RangeToSymmetricd,
    WindowIntensityd,
    make_intensity_transform,
)


def _mr(seed: int = 0) -> MetaTensor:
    values = np.random.default_rng(seed).gamma(2.0, 300.0, size=(1, 32, 32)).astype(np.float32)
    return MetaTensor(torch.from_numpy(values), meta={"modality": "MR", "filename_or_obj": "mr.nii.gz"})


def test_no_clash_with_monai_class_names() -> None:
    monai_names = set(dir(monai.transforms))
    assert not [name for name in synth.__all__ if name in monai_names]


def test_percentile_maps_percentiles_and_inverts() -> None:
    mr = _mr()
    unit = PercentileNormalize(lower=1, upper=99)(mr)
    lo, hi = np.percentile(mr.numpy(), [1, 99])
    assert float(unit.min()) == -1.0 and float(unit.max()) == 1.0
    assert unit.meta["window_center"] == pytest.approx((lo + hi) / 2, rel=1e-5)
    assert unit.meta["window_width"] == pytest.approx(hi - lo, rel=1e-5)
    back = PercentileNormalize().inverse(unit)  # any instance can undo it: the window is recorded
    inside = (mr >= lo) & (mr <= hi)
    assert torch.allclose(back[inside], mr[inside], atol=1e-2)


def test_percentile_constant_image() -> None:
    out = PercentileNormalize()(np.full((1, 4, 4), 7.0, dtype=np.float32))
    assert torch.isfinite(out).all() and float(out.max()) == -1.0


def test_percentile_inverse_needs_a_window() -> None:
    with pytest.raises(ValueError, match="no window"):
        PercentileNormalize().inverse(torch.zeros(1, 4, 4))


def test_range_to_symmetric_from_meta_and_back() -> None:
    img = MetaTensor(torch.tensor([[[0.0, 127.5, 255.0]]]), meta={"value_range": (0, 255)})
    out = RangeToSymmetricd(keys=("image",))({"image": img})
    assert torch.allclose(out["image"].as_tensor(), torch.tensor([[[-1.0, 0.0, 1.0]]]))
    back = RangeToSymmetricd(keys=("image",)).inverse(out)["image"]
    assert torch.allclose(back.as_tensor(), img.as_tensor(), atol=1e-4)
    sixteen = MetaTensor(torch.tensor([[[65535.0]]]), meta={"value_range": [0, 65535]})
    assert float(RangeToSymmetric()(sixteen)) == pytest.approx(1.0)


def test_range_without_meta() -> None:
    with pytest.raises(DataError, match="value_range"):
        RangeToSymmetric()(np.zeros((1, 2, 2), dtype=np.float32))
    out = RangeToSymmetric(value_range=(0, 1))(np.array([[[0.25]]], dtype=np.float32))
    assert float(out) == pytest.approx(-0.5)
    with pytest.raises(ValueError):
        RangeToSymmetric(value_range=(1, 0))


def test_auto_picks_by_source_and_inverts() -> None:
    auto = make_intensity_transform("auto")
    assert isinstance(auto, AutoIntensityd)
    raster = MetaTensor(torch.tensor([[[0.0, 255.0]]]), meta={"value_range": (0, 255), "modality": None})
    ct = MetaTensor(torch.tensor([[[-160.0, 40.0, 240.0]]]), meta={"value_range": None, "modality": "CT"})
    mr = _mr(1)
    outputs = [auto({"image": img})["image"] for img in (raster, ct, mr)]
    applied = [o.applied_operations[-1]["class"] for o in outputs]
    assert applied == ["RangeToSymmetric", "WindowIntensity", "PercentileNormalize"]
    assert torch.allclose(outputs[1].as_tensor(), torch.tensor([[[-1.0, 0.0, 1.0]]]))  # abdomen window 40/400
    for img, out in zip((raster, ct), outputs):
        assert torch.allclose(auto.inverse({"image": out})["image"].as_tensor(), img.as_tensor(), atol=1e-3)


def test_make_intensity_transform_modes() -> None:
    meta = {"modality": "CT", "window_center": 30, "window_width": 300}
    ct = MetaTensor(torch.tensor([[[-125.0, 225.0]]]), meta=meta)
    liver = make_intensity_transform("window", window="liver")
    assert isinstance(liver, WindowIntensityd)
    assert torch.allclose(liver({"image": ct})["image"].as_tensor(), torch.tensor([[[-1.0, 1.0]]]))
    pair = make_intensity_transform("window", window=(50, 350))({"image": ct})["image"]
    assert pair.meta["window_width"] == 350.0
    header = make_intensity_transform("window")({"image": ct})["image"]
    assert header.meta["window_center"] == 30.0
    explicit = make_intensity_transform("window", level=50, width=350)({"image": ct})["image"]
    assert explicit.meta["window_center"] == 50.0
    assert isinstance(make_intensity_transform("percentile"), PercentileNormalized)
    assert isinstance(make_intensity_transform("RANGE", keys=("a", "b")), RangeToSymmetricd)
    with pytest.raises(ValueError, match="unknown intensity mode"):
        make_intensity_transform("zscore")


def test_phantom_through_auto_is_symmetric() -> None:
    from monai_synth.data.phantom import make_phantom

    image = make_phantom(0, 32)["image"]
    img = MetaTensor(torch.from_numpy(image), meta={"value_range": (0.0, 1.0)})
    out = make_intensity_transform()({"image": img})["image"]
    assert torch.allclose(out.as_tensor(), torch.from_numpy(image) * 2 - 1, atol=1e-6)
