"""Med-cDiff restorers: rebuild the three trained networks, and restore degraded images with them.

A restorer maps a condition (the degraded image, plus the mask for inpainting) ``(B, C_cond, H, W)`` in
[-1, 1] to restored images ``(B, C, H, W)``. :func:`load_restorer` rebuilds one from the ``final.pt`` that
:class:`~monai_synth.engines.med_cdiff.workflow.MedCDiffWorkflow` writes under ``<checkpoint_dir>/<model>/``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from monai_synth import diffusion
from monai_synth.diffusion import default_timesteps
from monai_synth.engines.checkpoint import load_state, sha256_of
from monai_synth.engines.components import build
from monai_synth.engines.precision import autocast_for
from monai_synth.seeding import noise_from_seeds, step_noise_generators
from monai_synth.io.bundle_configs import config_defaults
from monai_synth.io.model_bundle import (
    bundle_weights_path,
    is_exported_bundle,
    read_bundle_settings,
    read_bundle_weights,
)
from monai_synth.transforms.degradation import Degradation, make_degradation, upsample

__all__ = [
    "MODELS",
    "SAMPLERS",
    "check_model_task",
    "Restorer",
    "InterpolationRestorer",
    "load_restorer",
]

MODELS = ("diffusion", "pix2pix", "srgan")
SAMPLERS = ("ddpm", "ddim", "dpmpp_2m", "euler", "heun")


def check_model_task(model: str, task: str) -> None:
    """Raise ``ValueError`` for an unknown model or a model that cannot do the task (SRGAN: sr only)."""
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    if model == "srgan" and task != "sr":
        raise ValueError(f"model 'srgan' is a super-resolution baseline: it needs task 'sr', got task {task!r}")


class Restorer:
    """A trained restorer: ``restorer(condition, seeds) -> restored`` in [-1, 1].

    Attributes:
        model: "diffusion" | "pix2pix" | "srgan"; task: "sr" | "denoise" | "inpaint".
        degradation: the task's :class:`Degradation` as trained.
        image_size / channels: the training image size and channels.
        intensity: the training data's intensity settings (``ImageTensorSet.intensity``).
        checkpoint_sha256: hash of ``final.pt``; description: one line saying what restores.

    Args:
        net: the restoring network (EMA UNet for diffusion), in eval mode.
        state: the ``final.pt`` contents (settings). Its ``prediction`` says what the diffusion UNet predicts:
            "epsilon" or "v" with a DDPM schedule, "velocity" with rectified flow (absent: the schedule's first,
            as runs trained before the setting existed).
        schedule: the noise schedule (diffusion only): a DDPM ``NoiseSchedule`` or a rectified-flow ``FlowSchedule``.
        sampler / steps / eta: diffusion sampling settings ("ddpm" | "ddim" | "dpmpp_2m" for a DDPM schedule,
            "euler" | "heun" for rectified flow).
        device: compute device.
        strength: where diffusion sampling starts, as a fraction of the ``T`` training timesteps. 1 starts from
            pure noise at ``t = T - 1`` (the paper's DDPM). Below 1 sampling starts at ``t0 = round(strength * T) - 1``
            from the degraded image noised to ``t0`` (SDEdit / "come closer, diffuse faster", Chung et al. 2022):
            the condition then fixes the image's low frequencies (brightness, layout) that an eps-predicting model
            trained briefly gets wrong at low signal-to-noise ratio. ``steps`` denoiser calls cover ``[t0, 0]``.
            With rectified flow ``t0 = strength * T`` (continuous time) and ``steps`` timesteps cover ``[t0, 0)``.
    """

    def __init__(self, net: nn.Module, state: dict[str, Any], checkpoint_sha256: str, schedule, sampler: str,
                 steps: int, eta: float, device: str | torch.device = "cpu", precision: str = "fp32",
                 strength: float = 1.0) -> None:
        if sampler not in SAMPLERS:
            raise ValueError(f"sampler must be one of {SAMPLERS}, got {sampler!r}")
        if not 0.0 < float(strength) <= 1.0:
            raise ValueError(f"strength must be in (0, 1], got {strength}")
        self.net, self.schedule = net.eval().requires_grad_(False), schedule
        self.model, self.task = str(state["model"]), str(state["task"])
        self.degradation: Degradation = make_degradation(self.task, state.get("degradation", {}))
        self.image_size, self.channels = int(state["image_size"]), int(state["channels"])
        self.intensity = dict(state.get("intensity", {}))
        self.class_names = list(state.get("class_names", []))
        self.checkpoint_sha256 = checkpoint_sha256
        self.sampler, self.steps, self.eta = sampler, int(steps), float(eta)
        self.device, self.precision, self.strength = torch.device(device), precision, float(strength)
        self.prediction = None
        if self.model == "diffusion" and schedule is not None:
            self.prediction = str(state.get("prediction") or schedule.predictions[0])
            if self.prediction not in schedule.predictions:
                raise ValueError(f"the UNet predicts {self.prediction!r}, which does not fit a {schedule.kind!r} "
                                 f"noise schedule (one of {schedule.predictions})")
            self._timesteps((self.image_size, self.image_size))  # a sampler that does not fit the schedule fails here
        how = ""
        if self.model == "diffusion":
            how = f", {sampler} {self.steps} steps"
            if self.strength < 1.0:
                how += f" from the degraded image noised to t={self.start_timestep()}"
        self.description = f"Med-cDiff {self.model}, {self.task}{how}"

    def start_timestep(self) -> int | float:
        """The timestep diffusion sampling starts at (``T - 1`` at ``strength`` 1; rectified flow: ``strength * T``)."""
        total = self.schedule.num_steps if self.schedule is not None else 1
        if getattr(self.schedule, "kind", None) == "rectified_flow":
            return self.strength * total
        return min(total - 1, max(0, round(self.strength * total) - 1))

    def _flow(self) -> bool:
        return getattr(self.schedule, "kind", None) == "rectified_flow"

    def _partial(self) -> bool:
        """Whether sampling starts below pure noise (``T - 1`` for DDPM, ``T`` for rectified flow)."""
        return self.start_timestep() < self.schedule.num_steps - (0 if self._flow() else 1)

    def _timesteps(self, spatial_shape: tuple[int, ...]) -> list:
        """The explicit timesteps of diffusion sampling: ``steps`` of them from :meth:`start_timestep` down."""
        if not self._partial():
            return default_timesteps(self.sampler, self.schedule, self.steps, spatial_shape=spatial_shape)
        start = self.start_timestep()
        steps = self.steps if self._flow() else min(self.steps, int(start) + 1)
        return default_timesteps(self.sampler, self.schedule, steps, start, spatial_shape)

    def _check(self, condition: torch.Tensor, seeds: Sequence[int]) -> None:
        want = self.degradation.condition_channels(self.channels)
        if condition.ndim != 4 or condition.shape[1] != want:
            raise ValueError(f"condition must be (B, {want}, H, W) for task {self.task!r}, got {tuple(condition.shape)}")
        if len(seeds) != condition.shape[0]:
            raise ValueError(f"got {len(seeds)} seeds for a batch of {condition.shape[0]} images")

    @torch.no_grad()
    def __call__(self, condition: torch.Tensor, seeds: Sequence[int]) -> torch.Tensor:
        """Restore a batch of conditions; diffusion starts from noise seeded per image by ``seeds``.

        For inpainting, only the missing pixels (mask channel 1) are replaced; the known ones are returned as given.
        """
        self._check(condition, seeds)
        cond = condition.to(self.device).float()
        if self.model != "diffusion":
            with autocast_for(self.device, self.precision):
                out = self.net(cond).float().clamp(-1.0, 1.0)
        else:
            out = self._sample(cond, seeds)
        return self.keep_known(cond, out)

    def keep_known(self, condition: torch.Tensor, restored: torch.Tensor) -> torch.Tensor:
        """Inpainting: the pixels outside the mask are known, so they are kept as given; other tasks: unchanged."""
        if self.task != "inpaint":
            return restored
        missing = condition[:, -1:].to(restored.dtype)
        return self.degradation.image_part(condition).to(restored.dtype) * (1.0 - missing) + restored * missing

    def _sample(self, cond: torch.Tensor, seeds: Sequence[int]) -> torch.Tensor:
        x_t = noise_from_seeds(seeds, (self.channels, *cond.shape[-2:]), self.device)
        gens = step_noise_generators([int(s) for s in seeds], 0)  # independent of the starting noise
        timesteps = self._timesteps(tuple(cond.shape[-2:]))
        if self._partial():
            start = self.degradation.image_part(cond).clamp(-1.0, 1.0)
            x_t = self.schedule.add_noise(start, x_t, timesteps[0])

        def denoiser(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            with autocast_for(self.device, self.precision):
                out = self.net(torch.cat([x, cond], dim=1), t).float()
            return diffusion.sampler_input(self.schedule, self.prediction, x, t, out)

        # images live in [-1, 1]: clamp the predicted clean image at every step (Ho et al. 2020's
        # "clip_denoised"). With T = 2000 linear betas, alphas_cumprod[T-1] ~ 1.6e-9, so an eps error of 0.01 at
        # the first step implies an x0 error of ~250; unclamped, the trajectory never recovers.
        kwargs: dict[str, Any] = {"timesteps": timesteps, "generator": gens, "clip_x0": 1.0}
        if self.sampler == "ddim":
            kwargs["eta"] = self.eta
        if self.sampler == "ddpm":
            kwargs["variance"] = "beta"  # Med-cDiff: sigma_t^2 = beta_t
        x0 = getattr(diffusion, f"sample_{self.sampler}")(denoiser, x_t, self.schedule, **kwargs)
        return x0.clamp(-1.0, 1.0)


class InterpolationRestorer:
    """Interpolation baseline for super-resolution: ``restorer(low, size)`` upsamples the low-resolution image.

    Args:
        mode: "bicubic" or "bilinear".
    """

    def __init__(self, mode: str = "bicubic") -> None:
        if mode not in ("bicubic", "bilinear"):
            raise ValueError(f"interpolation mode must be 'bicubic' or 'bilinear', got {mode!r}")
        self.model = self.mode = mode
        self.task = "sr"
        self.description = f"{mode} interpolation"

    def __call__(self, low: torch.Tensor, size: int | Sequence[int]) -> torch.Tensor:
        """Upsample ``low`` (B, C, h, w) to ``size``."""
        return upsample(low, size, self.mode)


def load_restorer(checkpoint_dir: str | Path, model: str = "diffusion", device: str | torch.device = "cpu",
                  sampler: str | None = None, steps: int | None = None, eta: float | None = None,
                  strength: float | None = None, net: nn.Module | None = None) -> Restorer:
    """Rebuild a trained restorer from ``checkpoint_dir/<model>/final.pt``, or from an exported bundle folder.

    Args:
        checkpoint_dir: the ``output_dir`` of ``train.json``, or a bundle written by ``monai-synth export``.
        model: "diffusion", "pix2pix" or "srgan" (a bundle holds one: it must be that one).
        sampler / steps / eta / strength: the diffusion sampling settings (see :class:`Restorer`); None takes the
            value of ``bundles/med_cdiff/infer.json``, the one place their defaults live. A GAN ignores them.
        net: a network to load the weights into (e.g. built by a bundle's ``network_def``); None: built from
            the stored settings.

    Raises:
        FileNotFoundError: naming the missing ``final.pt``.
        ValueError: on an unknown model or sampler, or a bundle holding another model.
    """
    if model not in MODELS:
        raise ValueError(f"model must be one of {MODELS}, got {model!r}")
    device = torch.device(device)
    state, path = _restorer_state(Path(checkpoint_dir), model, device)
    if "network_def" not in state:
        raise ValueError(f"{path}: trained by an older monai_synth (no network definition stored); train it again")
    net = (net if net is not None else build(state["network_def"])).to(device)
    net.load_state_dict(state.get("network_ema", state["network"]))
    schedule = build(state["noise_schedule_def"]).to(device) if model == "diffusion" else None
    given = {"sampler": sampler, "steps": steps, "eta": eta, "strength": strength}
    missing = [k for k, v in given.items() if v is None]
    settings = {**(config_defaults("med_cdiff", "infer.json", missing) if missing else {}),
                **{k: v for k, v in given.items() if v is not None}}  # fmt: skip
    return Restorer(net, state, sha256_of(path), schedule, str(settings["sampler"]), int(settings["steps"]),
                    float(settings["eta"]), device, strength=float(settings["strength"]))


def restore_batches(
    restorer: Callable[[torch.Tensor, list[int]], torch.Tensor],
    condition: torch.Tensor,
    seeds: Sequence[int],
    batch_size: int = 16,
    desc: str = "restoring",
    progress: bool = True,
) -> torch.Tensor:
    """Run ``restorer(condition, seeds)`` batch by batch, with a progress bar over batches.

    Returns:
        ``(N, C, H, W)`` float32 CPU tensor clamped to [-1, 1].
    """
    out = []
    starts = range(0, len(condition), batch_size)
    for start in tqdm(starts, desc=desc, unit="batch", disable=not progress, leave=False):
        part = condition[start : start + batch_size]
        with torch.no_grad():
            out.append(restorer(part, [int(s) for s in seeds[start : start + batch_size]]).detach().float().cpu())
    return torch.cat(out).clamp(-1.0, 1.0)


def _restorer_state(ckdir: Path, model: str, device: torch.device) -> tuple[dict[str, Any], Path]:
    """The ``final.pt`` contents (settings and weights) and its file, from a run folder or an exported bundle."""
    if is_exported_bundle(ckdir):
        settings = read_bundle_settings(ckdir)
        if settings["kind"] != "med_cdiff" or settings.get("model") != model:
            held = f"{settings['kind']} {settings.get('model', '')}".strip()
            raise ValueError(f"{ckdir}: the bundle holds a {held} model, not a Med-cDiff {model} model "
                             f"(pass model={settings.get('model')!r} for a Med-cDiff bundle)")
        state = {k: v for k, v in settings.items() if k != "kind"}
        state["network"] = read_bundle_weights(ckdir, "model", device)
        return state, bundle_weights_path(ckdir)
    path = ckdir / model / "final.pt"
    if not path.is_file():
        raise FileNotFoundError(
            f"{path}: no trained {model} model here; run bundles/med_cdiff/train.json with model={model}"
        )
    return load_state(path, device), path
