"""The diffusion bundles' speed defaults: bf16 where the device computes it natively, channels-last only on CUDA.

On CPU, channels-last makes MONAI's UNets slower (GroupNorm's NHWC kernel; ``benchmarks/bench_medfusion.py``), and
bf16 autocast is only faster where the CPU has AVX512-BF16 / AMX.
"""

import pytest
import torch
from monai.bundle import ConfigParser

from monai_synth.engines import precision
from monai_synth.engines.precision import autocast_for, native_bf16
from monai_synth.io.bundle_configs import bundle_file


def test_native_bf16_on_cpu_needs_onednn_and_a_native_instruction(monkeypatch):
    onednn = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    flags = precision.cpu_flags()
    assert native_bf16("cpu") is (onednn and (flags is None or bool(flags & precision.NATIVE_BF16_CPU_FLAGS)))
    assert native_bf16(torch.device("meta")) is False
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: True)
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512bw"}))  # emulates bf16
    assert native_bf16("cpu") is False
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"avx512f", "amx_bf16"}))
    assert native_bf16("cpu") is True
    monkeypatch.setattr(precision, "cpu_flags", lambda: None)  # no /proc/cpuinfo: oneDNN's answer
    assert native_bf16("cpu") is True


@pytest.mark.parametrize("bundle", ["medfusion", "med_cdiff"])
@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_train_config_speed_defaults(bundle, device, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: device == "cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    parser = ConfigParser()
    parser.read_config(str(bundle_file(bundle, "train.json")))
    parser["device"] = device
    expected = "bf16" if native_bf16(device) else "fp32"
    assert parser.get_parsed_content("precision") == expected
    if bundle == "medfusion":  # the autoencoder follows: emulated bf16 made it 27x slower than fp32 on an AVX2 CPU
        assert parser.get_parsed_content("autoencoder_precision") == expected
    assert parser.get_parsed_content("channels_last") is (device == "cuda")


def test_bf16_autocast_runs_a_conv_in_bf16_on_cpu():
    conv = torch.nn.Conv2d(2, 3, 3)
    with autocast_for(torch.device("cpu"), "bf16"):
        assert conv(torch.randn(1, 2, 5, 5)).dtype is torch.bfloat16
    with autocast_for(torch.device("cpu"), "fp32"):
        assert conv(torch.randn(1, 2, 5, 5)).dtype is torch.float32
