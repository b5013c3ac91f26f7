"""The DDPM samplers over an explicit timestep list give the very tensors of their ``steps``/``spacing`` call."""

from __future__ import annotations

import pytest
import torch
from diffusion_reference import gaussian_denoiser

from monai_synth.diffusion import (
    default_timesteps,
    make_schedule,
    make_timesteps,
    sample_ddim,
    sample_ddpm,
    sample_dpmpp_2m,
)

SCHEDULE = make_schedule(200, "scaled_linear", 0.002, 0.02)
X_T = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


def _gens() -> list[torch.Generator]:
    return [torch.Generator().manual_seed(s) for s in (1, 2, 3)]


@pytest.mark.parametrize(
    "sampler,kw",
    [
        (sample_ddpm, {}),
        (sample_ddpm, {"variance": "posterior"}),
        (sample_ddim, {"eta": 0.0}),
        (sample_ddim, {"eta": 1.0}),
        (sample_dpmpp_2m, {}),
    ],
)
@pytest.mark.parametrize("spacing", [None, "leading", "trailing", "linspace", "logsnr"])
@pytest.mark.parametrize("clip", [None, 1.0])
def test_explicit_list_gives_identical_tensors(sampler, kw: dict, spacing, clip) -> None:  # noqa: ANN001
    denoiser = gaussian_denoiser(SCHEDULE, 0.5, 0.3)
    spaced = {} if spacing is None else {"spacing": spacing}
    old = sampler(denoiser, X_T, SCHEDULE, 12, _gens(), clip_x0=clip, **kw, **spaced)
    name = sampler.__name__.removeprefix("sample_")
    if spacing is None:
        ts = default_timesteps(name, SCHEDULE, 12)
    else:
        ts = make_timesteps(SCHEDULE.alphas_cumprod, 12, spacing)
    new = sampler(denoiser, X_T, SCHEDULE, generator=_gens(), clip_x0=clip, timesteps=ts, **kw)
    assert torch.equal(old, new)


def test_partial_list_equals_sampling_the_truncated_schedule() -> None:
    """Partial sampling (SDEdit, Med-cDiff's strength) over the full schedule = the old truncated schedule."""
    denoiser = gaussian_denoiser(SCHEDULE, 0.5, 0.3)
    for name, sampler in (("ddim", sample_ddim), ("dpmpp_2m", sample_dpmpp_2m), ("ddpm", sample_ddpm)):
        old = sampler(denoiser, X_T, SCHEDULE.truncated(69), 7, _gens())
        new = sampler(denoiser, X_T, SCHEDULE, generator=_gens(), timesteps=default_timesteps(name, SCHEDULE, 7, 69))
        assert torch.equal(old, new), name


@pytest.mark.parametrize("bad", [[], [50, 60], [199.5, 10], [200, 10], [10, -1]])
def test_bad_lists_fail_with_a_message(bad: list) -> None:
    with pytest.raises(ValueError, match="timesteps"):
        sample_ddim(gaussian_denoiser(SCHEDULE, 0.5, 0.3), X_T, SCHEDULE, timesteps=bad)
