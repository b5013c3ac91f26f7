"""Noise schedules (DDPM, rectified flow, EDM) and samplers as small pure functions over a denoiser
``denoiser(x_t, t) -> eps`` (DDPM samplers), ``-> velocity`` (flow samplers) or ``-> F`` (EDM's preconditioned
network, EDM samplers) and explicit timesteps."""

from monai_synth.diffusion.edm import EDMSchedule, edm_timesteps
from monai_synth.diffusion.edm_samplers import sample_edm_euler, sample_edm_heun
from monai_synth.diffusion.flow import FlowSchedule, flow_timesteps
from monai_synth.diffusion.flow_samplers import sample_euler, sample_heun
from monai_synth.diffusion.guidance import classifier_free_guidance
from monai_synth.diffusion.samplers import sample_ddim, sample_ddpm, sample_dpmpp_2m
from monai_synth.diffusion.schedules import SCHEDULE_KINDS, NoiseSchedule, make_schedule, sampler_input
from monai_synth.diffusion.timesteps import SPACINGS, default_timesteps, log_snr, make_timesteps
from monai_synth.diffusion.utils import append_dims, clip_prediction, randn_like

__all__ = [
    "NoiseSchedule",
    "FlowSchedule",
    "flow_timesteps",
    "EDMSchedule",
    "edm_timesteps",
    "sample_edm_euler",
    "sample_edm_heun",
    "default_timesteps",
    "sample_euler",
    "sample_heun",
    "make_schedule",
    "sampler_input",
    "SCHEDULE_KINDS",
    "make_timesteps",
    "SPACINGS",
    "log_snr",
    "sample_ddpm",
    "sample_ddim",
    "sample_dpmpp_2m",
    "classifier_free_guidance",
    "append_dims",
    "randn_like",
    "clip_prediction",
]
