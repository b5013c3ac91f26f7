"""``network_data_format`` of an exported bundle: the inputs and outputs of ``network_def`` in the official schema's
tensor terms (``value_range`` is empty where a tensor is unbounded, e.g. Gaussian noise)."""

from __future__ import annotations

from typing import Any

from monai_synth.engines.components import build
from monai_synth.export.run_folder import TrainedRun
from monai_synth.transforms.degradation import make_degradation

__all__ = ["data_formats"]


def _tensor(kind: str, fmt: str, channels: int, shape: list[int], value_range: list[float], dtype: str = "float32",
            **extra: Any) -> dict[str, Any]:
    return {"type": kind, "format": fmt, "num_channels": channels, "spatial_shape": shape, "dtype": dtype,
            "value_range": value_range, "is_patch_data": False, **extra}


def _image(channels: int, size: int, what: str = "synthetic image") -> dict[str, Any]:
    return _tensor("image", "magnitude", channels, [size, size], [-1, 1],
                   channel_def={"0": f"{what}, intensity window mapped to [-1, 1]"})


def _timesteps(schedule_def: dict[str, Any]) -> dict[str, Any]:
    """The denoiser's time input: DDPM timestep indices, rectified-flow times in ``[0, T]`` or EDM's
    ``ln(sigma) / 4`` (the range its samplers visit)."""
    schedule = build(schedule_def)
    if schedule.kind == "edm":
        low, high = schedule.time(schedule.sigma_min), schedule.time(schedule.sigma_max)
        return _tensor("timestep", "EDM noise level as ln(sigma) / 4, one per image", 1, [1], [low, high])
    if schedule.kind == "rectified_flow":
        return _tensor("timestep", "rectified-flow time t = s * T (s = 1: pure noise), one per image", 1, [1],
                       [0, schedule.num_steps])
    return _tensor("timestep", "diffusion timestep index, one per image", 1, [1], [0, schedule.num_steps - 1],
                   dtype="int64")


def data_formats(run: TrainedRun) -> dict[str, Any]:
    """``network_data_format`` (plus ``autoencoder_data_format`` for Medfusion) of ``run``'s bundle."""
    s = run.settings
    if run.kind == "medfusion":
        return _medfusion(s)
    if run.kind == "stylegan2_ada":
        g = s["generator_config"]
        inputs = {"z": _tensor("latent", "standard normal latent vector", int(g["z_dim"]), [], [])}
        if int(g.get("num_classes", 0)):
            inputs["labels"] = _tensor("class label", "class index", 1, [1], [0, int(g["num_classes"]) - 1], "int64")
        outputs = {"pred": _image(int(g.get("image_channels", 1)), int(g["image_size"]))}
        return {"network_data_format": {"inputs": inputs, "outputs": outputs}}
    return _med_cdiff(s)


#: what the denoiser predicts, by training target
TARGETS = {
    "epsilon": "noise epsilon",
    "v": "v = alpha_t * epsilon - sigma_t * x_0",
    "velocity": "flow velocity epsilon - x_0 (rectified flow)",
    "edm": "EDM-preconditioned output F, denoised = c_skip * x + c_out * F (Karras et al. 2022)",
}


def _target(s: dict[str, Any]) -> str:
    """The prediction target of a trained denoiser: its recorded ``prediction``, else what its schedule implies."""
    flow = (s.get("noise_schedule_def") or {}).get("kind") == "rectified_flow"
    return TARGETS[s.get("prediction") or ("velocity" if flow else "epsilon")]


def _medfusion(s: dict[str, Any]) -> dict[str, Any]:
    c, h, w = (int(v) for v in s["latent_shape"])
    n = int(s["num_classes"])
    target = _target(s)
    inputs = {
        "x": _tensor("latent", "noisy latent, scaled to unit variance", c, [h, w], []),
        "timesteps": _timesteps(s["noise_schedule_def"]),
        "class_labels": _tensor("class label", f"class index; {n} = no label (classifier-free guidance)", 1, [1],
                                [0, n], "int64"),
    }
    outputs = {"pred": _tensor("prediction", f"predicted {target}", c, [h, w], [])}
    size = int(s["image_size"])
    decoder = {"inputs": {"z": _tensor("latent", "clean latent, unscaled (z / latent_scale + latent_shift)", c, [h, w],
                                       [])},
               "outputs": {"pred": _image(int(s["channels"]), size)}}
    return {"network_data_format": {"inputs": inputs, "outputs": outputs}, "autoencoder_data_format": decoder}


def _med_cdiff(s: dict[str, Any]) -> dict[str, Any]:
    channels, size = int(s["channels"]), int(s["image_size"])
    cond = make_degradation(s["task"], s.get("degradation", {})).condition_channels(channels)
    channel_def = {str(i): "degraded image in [-1, 1]" for i in range(channels)}
    if cond > channels:
        channel_def[str(channels)] = "inpainting mask, 1 = missing pixel"
    if s["model"] != "diffusion":
        inputs = {"image": _tensor("image", "degraded image (condition)", cond, [size, size], [-1, 1],
                                   channel_def=channel_def)}
        outputs = {"pred": _image(channels, size, "restored image")}
        return {"network_data_format": {"inputs": inputs, "outputs": outputs}}
    x_def = {str(i): "noisy image x_t" for i in range(channels)}
    x_def.update({str(channels + int(k)): v for k, v in channel_def.items()})
    inputs = {
        "x": _tensor("image", "noisy image x_t concatenated with the condition", channels + cond, [size, size], [],
                     channel_def=x_def),
        "timesteps": _timesteps(s["noise_schedule_def"]),
    }
    outputs = {"pred": _tensor("prediction", f"predicted {_target(s)} of x_t", channels, [size, size], [])}
    return {"network_data_format": {"inputs": inputs, "outputs": outputs}}
