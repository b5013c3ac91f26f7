"""One paragraph saying what an exported model is, from its settings."""

from __future__ import annotations

from monai_synth.export.run_folder import TrainedRun

__all__ = ["describe"]


def describe(run: TrainedRun) -> str:
    """What was trained, at which size, and what the bundle's inference does."""
    s = run.settings
    if run.kind == "medfusion":
        size, ch, schedule = s["image_size"], s["channels"], s["noise_schedule_def"]
        time = "continuous noise levels" if schedule.get("kind") == "edm" else f"T = {schedule['num_steps']}"
        return (f"Medfusion latent diffusion: a VAE ({s['latent_shape'][0]} latent channels) and a class-conditional "
                f"latent UNet ({s['prediction']} prediction, {time}, EMA weights) "
                f"generating {size} x {size} images with {ch} channel(s) for {s['num_classes']} classes, with "
                "classifier-free guidance. Inference writes N images of one class from a seed.")
    if run.kind == "stylegan2_ada":
        g = s["generator_config"]
        return (f"StyleGAN2-ADA generator (EMA weights) for {g['image_size']} x {g['image_size']} images with "
                f"{g.get('image_channels', 1)} channel(s), {g.get('num_classes', 0)} classes (0 = unconditional), "
                f"z_dim {g['z_dim']}. Inference writes N images from consecutive seeds.")
    words = {"sr": "super-resolution", "denoise": "denoising", "inpaint": "inpainting"}[s["task"]]
    how = {"diffusion": "the conditional pixel-space diffusion UNet (EMA weights) of Med-cDiff",
           "pix2pix": "the pix2pix U-Net generator", "srgan": "the SRGAN SRResNet generator"}[s["model"]]
    return (f"Med-cDiff {words} with {how}, at {s['image_size']} x {s['image_size']} px, {s['channels']} channel(s). "
            "Inference restores a folder of images, a NIfTI volume or a DICOM series (written as a derived series).")
