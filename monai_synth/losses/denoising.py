"""The denoising loss of diffusion and flow models, as one small callable (after NVlabs/edm's ``EDMLoss``).

Targets:

- ``"epsilon"``: the noise (Ho et al. 2020, eq. 14), on a DDPM ``NoiseSchedule``;
- ``"v"``: ``sqrt(ab_t) noise - sqrt(1 - ab_t) x0`` (Salimans & Ho 2022), on a DDPM ``NoiseSchedule``;
- ``"velocity"``: ``x0 - noise`` (rectified flow, MONAI's ``RFlowScheduler`` sign), on a ``FlowSchedule``;
- ``"edm"``: the preconditioned network's effective target (Karras et al. 2022, eq. 8), on an ``EDMSchedule``.
  EDM's loss weighting is part of its preconditioning, so Min-SNR weighting does not apply to it.

Min-SNR-gamma weighting (Hang et al. 2023, "Efficient Diffusion Training via Min-SNR Weighting Strategy")
weights the clean-sample error by ``min(snr_t, gamma)``. Expressed on each target's own error, with
``c_t`` = clean-sample error per unit of output error, the weight is ``min(snr_t, gamma) * c_t^2``:

- epsilon: ``c_t^2 = 1 / snr_t``           -> ``min(snr_t, gamma) / snr_t``        (paper, eq. 8)
- v:       ``c_t^2 = 1 / (snr_t + 1)``     -> ``min(snr_t, gamma) / (snr_t + 1)``  (paper, sec. 3.4)
- velocity: ``x0 = x_t + s v`` so ``c_t = s = 1 / (1 + sqrt(snr_t))``  -> ``min(snr_t, gamma) s^2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["DenoisingLoss", "PREDICTIONS"]

PREDICTIONS = ("epsilon", "v", "velocity", "edm")


class DenoisingLoss:
    """Mean squared error between a network's output and the target of its ``prediction``.

    Args:
        schedule: the training schedule (``NoiseSchedule`` or ``FlowSchedule``); it says which predictions fit it
            (``schedule.predictions``) and gives ``velocity`` and ``snr``.
        prediction: ``"epsilon"``, ``"v"``, ``"velocity"`` or ``"edm"``; None: the schedule's first (epsilon for
            DDPM, velocity for rectified flow, edm for EDM).
        min_snr_gamma: Min-SNR-gamma weighting (5 in the paper); None: plain mean (every timestep weighs 1).

    Raises:
        ValueError: on an unknown prediction, one that does not fit the schedule, ``min_snr_gamma <= 0``, or
            ``min_snr_gamma`` with the ``edm`` objective.
    """

    def __init__(self, schedule, prediction: str | None = None, min_snr_gamma: float | None = None) -> None:
        prediction = schedule.predictions[0] if prediction is None else prediction
        if prediction not in PREDICTIONS:
            raise ValueError(f"prediction must be one of {PREDICTIONS}, got {prediction!r}")
        if prediction not in schedule.predictions:
            raise ValueError(f"prediction {prediction!r} does not fit a {schedule.kind!r} noise schedule; "
                             f"use one of {schedule.predictions}")
        if min_snr_gamma is not None and min_snr_gamma <= 0:
            raise ValueError(f"min_snr_gamma must be positive (or None for no weighting), got {min_snr_gamma}")
        if min_snr_gamma is not None and prediction == "edm":
            raise ValueError("min_snr_gamma does not apply to the edm objective: its weighting is part of EDM's "
                             "preconditioning. Leave min_snr_gamma unset (None).")
        self.schedule, self.prediction, self.min_snr_gamma = schedule, prediction, min_snr_gamma

    def target(self, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """What the network should output for ``x_t = add_noise(x0, noise, t)``."""
        if self.prediction == "epsilon":
            return noise
        if self.prediction == "edm":
            return self.schedule.target(x0, noise, t)
        return self.schedule.velocity(x0, noise, t)

    def weights(self, t: torch.Tensor) -> torch.Tensor:
        """Min-SNR-gamma weight of each sample, float32 ``(B,)`` (see the module docstring)."""
        snr = self.schedule.snr(t).to(torch.float64)
        clipped = snr.clamp(max=self.min_snr_gamma)
        if self.prediction == "epsilon":
            w = clipped / snr
        elif self.prediction == "v":
            w = clipped / (snr + 1.0)
        else:
            w = clipped / (1.0 + snr.sqrt()).square()
        return w.float()

    def __call__(self, output: torch.Tensor, x0: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The loss of a batch (a scalar); the output is compared in float32.

        Args:
            output: the network's prediction at ``x_t``.
            x0 / noise / t: what ``x_t`` was made of.
        """
        target = self.target(x0, noise, t)
        if self.min_snr_gamma is None:
            return F.mse_loss(output.float(), target)
        per_sample = (output.float() - target).square().flatten(1).mean(dim=1)
        return (self.weights(t).to(per_sample.device) * per_sample).mean()
