"""json_ready: results with numpy scalars, tuples and NaN become plain, strict JSON."""

import json
import math

import numpy as np

from monai_synth.io.json_values import json_ready


def test_json_ready_gives_strict_json():
    value = {1: (np.float32(0.5), np.int64(3)), "nan": float("nan"), "inf": [math.inf, -1.0], "s": "x"}
    out = json_ready(value)
    assert out == {"1": [0.5, 3], "nan": None, "inf": [None, -1.0], "s": "x"}
    assert type(out["1"][1]) is int and json.loads(json.dumps(out, allow_nan=False)) == out


def test_json_ready_takes_arrays_tensors_and_paths():
    from pathlib import Path

    import torch

    out = json_ready({"a": np.array([1.5, np.nan]), "t": torch.tensor([[1, 2]]), "s": torch.tensor(2.5), "p": Path("x/y")})
    assert out == {"a": [1.5, None], "t": [[1, 2]], "s": 2.5, "p": "x/y"}
    assert json.loads(json.dumps(out, allow_nan=False)) == out
