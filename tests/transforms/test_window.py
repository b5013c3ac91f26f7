"""CT windowing: presets, header windows, inverse back to HU on a real CT series."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from monai.data import MetaTensor
from monai.transforms import Compose

from monai_synth.data.errors import DataError
from monai_synth.transforms import (
    WINDOW_PRESETS,
    WindowIntensity,
    WindowIntensityd,
    unit_to_window,
    window_to_unit,
)

CT_SERIES = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "dicom" / "ct_abdomen_18"


@pytest.fixture(scope="module")
def ct_slices() -> list[MetaTensor]:
    """Every slice of the real abdominal CT, in HU, with the header window in the meta."""
    pydicom = pytest.importorskip("pydicom")
    from pydicom.pixels import apply_modality_lut

    files = sorted(CT_SERIES.glob("*.dcm"))
    if not files:
        pytest.skip(f"real CT series not found at {CT_SERIES}")
    slices = []
    for path in files:
        ds = pydicom.dcmread(path)
        hu = apply_modality_lut(ds.pixel_array, ds).astype(np.float32)
        meta = {
            "filename_or_obj": str(path),
            "modality": ds.Modality,
            "window_center": ds.get("WindowCenter"),
            "window_width": ds.get("WindowWidth"),
        }
        slices.append(MetaTensor(torch.from_numpy(hu)[None], meta=meta))
    return slices


def test_presets_match_contract() -> None:
    assert WINDOW_PRESETS["liver"] == (50.0, 350.0)
    assert WINDOW_PRESETS["abdomen"] == WINDOW_PRESETS["soft_tissue"] == (40.0, 400.0)
    assert WINDOW_PRESETS["lung"] == (-600.0, 1500.0)
    assert WINDOW_PRESETS["mediastinum"] == (50.0, 350.0)
    assert WINDOW_PRESETS["bone"] == (400.0, 1800.0)
    assert WINDOW_PRESETS["brain"] == (40.0, 80.0)


def test_liver_window_on_real_ct_and_back_to_hu(ct_slices: list[MetaTensor]) -> None:
    window = WindowIntensity(preset="liver")
    for image in ct_slices:
        unit = window(image)
        assert isinstance(unit, MetaTensor) and unit.dtype == torch.float32 and unit.shape == image.shape
        assert unit.meta["window_center"] == 50.0 and unit.meta["window_width"] == 350.0
        assert unit.applied_operations[-1]["class"] == "WindowIntensity"
        hu, u = image.as_tensor(), unit.as_tensor()
        assert float(u.min()) == -1.0 and float(u.max()) == 1.0  # the slice spans beyond the window
        inside = (hu > -125.0) & (hu < 225.0)
        assert inside.float().mean() > 0.05
        assert torch.allclose(u[inside], (hu[inside] + 125.0) / 175.0 - 1.0, atol=1e-5)
        assert (u[hu <= -125.0] == -1.0).all() and (u[hu >= 225.0] == 1.0).all()

        back = window.inverse(unit)
        assert (back.as_tensor() - hu)[inside].abs().max() < 1.0
        assert back.applied_operations == [] and back.meta["window_center"] == image.meta["window_center"]


def test_window_from_header_takes_first_value(ct_slices: list[MetaTensor]) -> None:
    hu = ct_slices[0]
    center, width = float(hu.meta["window_center"][0]), float(hu.meta["window_width"][0])
    unit = WindowIntensity(from_header=True)(hu)
    assert unit.meta["window_center"] == center and unit.meta["window_width"] == width
    assert torch.allclose(unit.as_tensor(), window_to_unit(hu.as_tensor(), center, width))


def test_header_window_as_dicom_string() -> None:
    img = MetaTensor(torch.zeros(1, 2, 2), meta={"window_center": "40\\60", "window_width": "400\\800"})
    out = WindowIntensity(from_header=True)(img)
    assert out.meta["window_center"] == 40.0 and out.meta["window_width"] == 400.0


def test_missing_header_window_is_a_data_error() -> None:
    img = MetaTensor(torch.zeros(1, 2, 2), meta={"filename_or_obj": "scan/IM0001", "window_center": None})
    with pytest.raises(DataError, match="IM0001"):
        WindowIntensity(from_header=True)(img)


def test_dictionary_version_inverts_through_compose(ct_slices: list[MetaTensor]) -> None:
    hu = ct_slices[-1]
    pipeline = Compose([WindowIntensityd(keys=("image",), level=40, width=400)])
    out = pipeline({"image": hu.clone(), "label": 1})
    assert out["label"] == 1 and float(out["image"].max()) <= 1.0
    back, hu = pipeline.inverse(out)["image"].as_tensor(), hu.as_tensor()
    inside = (hu > -160) & (hu < 240)
    assert (back - hu)[inside].abs().max() < 1.0


def test_numpy_and_torch_inputs_and_inverse_of_generated_images() -> None:
    window = WindowIntensity(level=50, width=350)
    hu = np.array([[[-500.0, -125.0, 50.0, 225.0, 900.0]]], dtype=np.float32)
    unit = window(hu)
    np.testing.assert_allclose(unit.numpy()[0, 0], [-1, -1, 0, 1, 1], atol=1e-6)
    generated = torch.tensor([[[-1.0, 0.0, 0.5]]])  # a model output: no trace, no meta
    np.testing.assert_allclose(window.inverse(generated).numpy()[0, 0], [-125.0, 50.0, 137.5], atol=1e-4)


def test_function_forms_round_trip() -> None:
    x = np.linspace(-125, 225, 11, dtype=np.float32)
    y = window_to_unit(x, 50, 350)
    assert isinstance(y, np.ndarray) and y.dtype == np.float32
    np.testing.assert_allclose(unit_to_window(y, 50, 350), x, atol=1e-3)
    t = torch.linspace(-1, 1, 5)
    assert torch.allclose(window_to_unit(unit_to_window(t, -600, 1500), -600, 1500), t, atol=1e-6)
    assert float(window_to_unit(torch.tensor(5000.0), 50, 350, clip=False)) > 1.0


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"preset": "kidney"},
        {"level": 40},
        {"preset": "liver", "level": 1, "width": 2},
        {"preset": "liver", "from_header": True},
        {"level": 0, "width": 0},
    ],
)
def test_invalid_configurations(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        WindowIntensity(**kwargs)
