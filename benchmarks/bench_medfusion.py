"""Medfusion speed and memory, side by side with MONAI's reference diffusion pipeline, in one run.

Training: images/s and peak resident memory of the latent-diffusion step
  - reference: MONAI DiffusionModelUNet + SupervisedTrainer + DiffusionInferer + DiffusionPrepareBatch (fp32)
  - ours: the same UNet widths in ``LatentDiffusionStep`` (class labels + CFG dropout + EMA): fp32, bf16 autocast
    with and without channels-last, and ``ours_bundle_default``: the precision, memory layout and optimiser that
    ``bundles/medfusion/train.json`` resolves to on this machine (the setting the issue's speed target is about).
Sampling: images/s of DDIM-150 against DPM-Solver++(2M) at 20 steps on the same UNet.

Each variant runs in its own subprocess so that peak memory (ru_maxrss) is its own.
Usage: python benchmarks/bench_medfusion.py [--iters 20] [--batch 32] [--latent 4 16] [--json out.json]
       [--baseline LABEL=DIR]
Widths default to bundles/medfusion/train.json's ``unet_def``.

``--baseline old=/path/to/old/checkout`` also runs our step variants on the library of another checkout (e.g. a
``git worktree`` of an older commit), in the same interleaved rounds, so old and new are compared in one run on
one machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def unet_settings() -> dict:
    config = json.loads((ROOT / "bundles/medfusion/train.json").read_text())
    return config["unet_def"] if "unet_def" in config else config["unet"]  # today's config, or an older one


def make_unet(args: dict, ch: int, num_classes: int | None):
    from monai.networks.nets import DiffusionModelUNet

    levels = len(args["channels"])
    return DiffusionModelUNet(
        spatial_dims=2, in_channels=ch, out_channels=ch, channels=tuple(args["channels"]),
        attention_levels=tuple(args.get("attention_levels", (False,) * levels)),
        num_res_blocks=args.get("num_res_blocks", 1), norm_num_groups=args.get("norm_num_groups", 32),
        num_head_channels=args.get("num_head_channels", 32), num_class_embeds=num_classes,
    )


def run_reference(a) -> float:
    import torch
    from monai.engines import SupervisedTrainer
    from monai.engines.utils import DiffusionPrepareBatch
    from monai.inferers import DiffusionInferer
    from monai.networks.schedulers import DDPMScheduler

    torch.manual_seed(0)
    net = make_unet(unet_settings(), a.latent[0], None)
    data = [{"image": torch.randn(a.batch, a.latent[0], a.latent[1], a.latent[1])} for _ in range(a.iters + 2)]
    sched = DDPMScheduler(num_train_timesteps=1000)
    trainer = SupervisedTrainer(
        device=torch.device("cpu"), max_epochs=1, train_data_loader=data, network=net,
        optimizer=torch.optim.AdamW(net.parameters(), 1e-4), loss_function=torch.nn.MSELoss(),
        inferer=DiffusionInferer(sched), prepare_batch=DiffusionPrepareBatch(num_train_timesteps=1000),
    )
    times: list[float] = []
    from ignite.engine import Events

    trainer.add_event_handler(Events.ITERATION_COMPLETED, lambda e: times.append(time.perf_counter()))
    trainer.run()
    return a.batch * a.iters / (times[-1] - times[1])


def bundle_defaults() -> dict:
    """The step settings ``bundles/medfusion/train.json`` resolves to on this machine (its ``$`` expressions run)."""
    from monai.bundle import ConfigParser

    parser = ConfigParser()
    parser.read_config(str(ROOT / "bundles/medfusion/train.json"))
    return {"precision": parser.get_parsed_content("precision"),
            "channels_last": parser.get_parsed_content("channels_last"),
            "optimizer": parser.get_parsed_content("optimizer")}


def run_ours(a, precision: str, channels_last: bool, optimizer=None) -> float:
    import torch
    from ignite.engine import Engine

    from monai_synth.diffusion import make_schedule
    from monai_synth.handlers.ema import WeightEMA

    try:
        from monai_synth.engines.medfusion.steps import LatentDiffusionStep
    except ImportError:  # a checkout from before the per-model packages (--baseline)
        from monai_synth.engines.medfusion_steps import LatentDiffusionStep

    torch.manual_seed(0)
    net = make_unet(unet_settings(), a.latent[0], 7)
    if channels_last:
        net = net.to(memory_format=torch.channels_last)
    n = a.batch * (a.iters + 2)
    mu, sigma = torch.randn(n, a.latent[0], a.latent[1], a.latent[1]), torch.full((n, a.latent[0], a.latent[1], a.latent[1]), 0.05)
    opt = (optimizer or torch.optim.AdamW)(net.parameters(), lr=1e-4)
    ema = WeightEMA(net, 0.999)
    schedule, labels = make_schedule(1000, "scaled_linear", 0.002, 0.02), torch.arange(n) % 6
    try:
        from monai_synth.engines.batch_source import SeededBatches
    except ImportError:  # a checkout from before the step(engine, batch) contract (--baseline): the step indexes
        step = LatentDiffusionStep(net, opt, ema, schedule, mu, sigma, labels, 1.0, a.batch, 0, 0.5, 6,
                                   precision=precision, channels_last=channels_last)

        def call(e):
            return step(e)
    else:  # the batch (indexing included, as in the old step) comes from the seeded batch source
        step = LatentDiffusionStep(net, opt, ema, schedule, 1.0, 0.5, 6, precision=precision,
                                   channels_last=channels_last)
        batches = SeededBatches({"mu": mu, "sigma": sigma, "label": labels}, a.batch, 0)

        def call(e):
            return step(e, batches(e.state.iteration - 1))

    times: list[float] = []

    def proc(e, _):
        out = call(e)
        times.append(time.perf_counter())
        return out

    Engine(proc).run(range(a.iters + 2), max_epochs=1)
    return a.batch * a.iters / (times[-1] - times[1])


def run_sampler(a, sampler: str, steps: int) -> float:
    import torch

    from monai_synth.diffusion import classifier_free_guidance, make_schedule, sample_ddim, sample_dpmpp_2m

    torch.manual_seed(0)
    net = make_unet(unet_settings(), a.latent[0], 7).eval().to(memory_format=torch.channels_last)
    sched = make_schedule(1000, "scaled_linear", 0.002, 0.02)
    labels = torch.arange(a.batch) % 6

    def model(x, t, y):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return net(x.contiguous(memory_format=torch.channels_last), t, class_labels=y).float()

    den = classifier_free_guidance(model, labels, 1.0, 6)
    x = torch.randn(a.batch, a.latent[0], a.latent[1], a.latent[1])
    fn = sample_ddim if sampler == "ddim" else sample_dpmpp_2m
    with torch.inference_mode():
        t0 = time.perf_counter()
        fn(den, x, sched, steps=steps)
        return a.batch / (time.perf_counter() - t0)


VARIANTS = {
    "reference_monai_fp32": lambda a: run_reference(a),
    "ours_fp32": lambda a: run_ours(a, "fp32", False),
    "ours_bf16_channels_last": lambda a: run_ours(a, "bf16", True),
    "ours_bf16": lambda a: run_ours(a, "bf16", False),
    "ours_bundle_default": lambda a: run_ours(a, **bundle_defaults()),
    "sample_ddim_150": lambda a: run_sampler(a, "ddim", 150),
    "sample_dpmpp_2m_20": lambda a: run_sampler(a, "dpmpp_2m", 20),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--latent", type=int, nargs=2, default=[4, 16], metavar=("CHANNELS", "SIZE"))
    p.add_argument("--variant", help=argparse.SUPPRESS)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--json", type=Path)
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS), metavar="NAME",
                   help="run only these variants (default: all); reference_monai_fp32 and both samplers are always "
                        "run, as the ratios need them. On a CPU that emulates bf16 the bf16 variants take minutes.")
    p.add_argument("--baseline", action="append", default=[], metavar="LABEL=DIR",
                   help="also run our step variants with the monai_synth of another checkout")
    a = p.parse_args()
    if a.variant:
        rate = VARIANTS[a.variant](a)
        import monai_synth

        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps({"images_per_s": rate, "peak_rss_mb": peak_mb, "library": monai_synth.__file__}))
        return
    chosen = [name for name in VARIANTS if name in a.variants or not name.startswith("ours")]
    runs = [(name, name, None) for name in chosen]
    for item in a.baseline:
        label, _, folder = item.partition("=")
        runs += [(f"{name}@{label}", name, str(Path(folder).resolve())) for name in chosen if name.startswith("ours")]
    results: dict[str, dict] = {}
    for rep in range(a.repeats):  # interleaved, so drift of a shared machine hits every variant alike
        for key, name, library in runs:
            cmd = [sys.executable, __file__, "--variant", name, "--iters", str(a.iters), "--batch", str(a.batch),
                   "--latent", *map(str, a.latent)]
            env = {**os.environ, "PYTHONPATH": library} if library else None
            out = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
                             .stdout.strip().splitlines()[-1])
            if library and not out["library"].startswith(library):
                raise SystemExit(f"{key}: imported {out['library']}, not the library of {library}")
            r = results.setdefault(key, {"images_per_s": [], "peak_rss_mb": [], "library": out["library"]})
            r["images_per_s"].append(out["images_per_s"])
            r["peak_rss_mb"].append(out["peak_rss_mb"])
    med = {k: {m: sorted(v[m])[len(v[m]) // 2] for m in ("images_per_s", "peak_rss_mb")} for k, v in results.items()}
    ref = med["reference_monai_fp32"]
    print(f"{'variant':28s} {'img/s (median)':>15s} {'vs ref':>8s} {'peak MB':>9s}")
    for k, v in med.items():
        ratio = v["images_per_s"] / ref["images_per_s"] if k.startswith("ours") or k.startswith("ref") else float("nan")
        print(f"{k:28s} {v['images_per_s']:15.2f} {ratio:8.2f} {v['peak_rss_mb']:9.0f}")
    s = med["sample_dpmpp_2m_20"]["images_per_s"] / med["sample_ddim_150"]["images_per_s"]
    print(f"DPM-Solver++(2M)-20 vs DDIM-150 sampling speed: {s:.2f}x")
    if a.json:
        a.json.write_text(json.dumps({"median": med, "runs": results, "settings": vars(a) | {"json": str(a.json)}}, indent=2))


if __name__ == "__main__":
    main()
