"""The ceiling an autoencoder sets: train only Medfusion's autoencoder phase for a time and score its reconstructions.

A latent diffusion model generates through its decoder, so the FID of the decoder's reconstructions of real images
bounds what its samples can score (``time_to_quality.py`` reports it per run as "AE reconstruction FID"). This
script measures that ceiling for autoencoder settings alone, without the diffusion phase: the bundle's own
autoencoder phase (``MedfusionWorkflow.train_autoencoder``, so crops, adversarial start, precision and the
budget's calibration are the bundle's) for ``--minutes`` of training, then

- the reconstructions (posterior mean, decoded) of the first ``--per-class`` training images of each class,
- scored against the real test split: FID, KID, precision, recall (Inception pool3, as the study) and PSNR;
- the same real training images scored in place of the reconstructions: the floor.

``--minutes`` is the autoencoder's own time: the bundle runs with ``budget_minutes = minutes / share``, so at the
default share of 0.25, 7.5 minutes is the autoencoder phase of a 30-minute run. Overrides are bundle keys::

  python benchmarks/quality/autoencoder_ceiling.py --data ../shared/data/mednist_64_500/split.csv --minutes 7.5 \
      --out runs/autoencoder_ceiling/lc8 --override autoencoder_def#latent_channels=8

Writes ``OUT/autoencoder_ceiling.json``; a folder that holds one is scored again without training again.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from monai.bundle import ConfigParser

REPO = Path(__file__).resolve().parents[2]
for path in (REPO, Path(__file__).resolve().parent):  # run as a script from any folder
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from time_to_quality import TRAIN_JSON, parse_override, psnr_db, reconstructions  # noqa: E402

from monai_synth.engines.image_tensors import load_image_tensors  # noqa: E402
from monai_synth.engines.run_files import save_json_atomic  # noqa: E402
from monai_synth.io.output_guard import check_output_dir  # noqa: E402
from monai_synth.metrics.fidelity import fidelity_metrics  # noqa: E402


def bundle_value(text: str) -> Any:
    """A command-line value as the bundle reads it: a Python literal where it is one, else the string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def autoencoder_workflow(a: argparse.Namespace):
    """The bundle's ``train#trainer`` with the study's data and size, the autoencoder's budget and the overrides."""
    parser = ConfigParser()
    parser.read_config(str(TRAIN_JSON))
    settings = {"dataset_dir": a.data, "image_size": a.image_size, "output_dir": str(a.out), "split": "train",
                "device": a.device, **{k: bundle_value(v) for k, v in a.override}}
    for key, value in settings.items():
        parser[key] = value
    share = float(parser.get_parsed_content("autoencoder_budget_share"))
    parser["budget_minutes"] = a.minutes / share  # the autoencoder phase gets `share` of it
    return parser.get_parsed_content("train#trainer")


def train(a: argparse.Namespace) -> tuple[torch.nn.Module, Any]:
    """Train (or load, when finished) the autoencoder phase; return the VAE in eval mode and the training data."""
    wf = autoencoder_workflow(a)
    check_output_dir(a.out, [a.data])
    torch.manual_seed(wf.seed)
    data = load_image_tensors(wf.dataset_dir, wf.image_size, wf.channels, wf.intensity, wf.window, wf.split,
                              wf.phantom_count, wf.seed, num_classes=wf.num_classes, size_hint=wf.image_size)
    wf.record = wf.check_run_folder(data)
    return wf.train_autoencoder(data), data


def score(a: argparse.Namespace, vae: torch.nn.Module, data, extractor) -> dict[str, Any]:
    """Reconstruction and floor scores against the real test split."""
    test = load_image_tensors(a.data or None, a.image_size, data.images.shape[1], split="test", seed=1,
                              num_classes=data.num_classes, phantom_count=a.phantom_count)
    idx = [(data.labels == c).nonzero().flatten()[: a.per_class] for c in range(data.num_classes)]
    real = data.images[torch.cat(idx)]
    rec = reconstructions(vae, real, torch.device(a.device), 50)
    test_features = extractor(test.images)

    def fidelity(images: torch.Tensor) -> dict[str, float]:
        scores = fidelity_metrics(test_features, extractor(images), kid_subsets=a.kid_subsets)
        return {k: float(v) for k, v in scores.items()}

    return {"n": len(real), "psnr_db": psnr_db(rec, real), "reconstruction": fidelity(rec), "floor": fidelity(real)}


def budget_spent(out: Path) -> dict[str, Any]:
    """The autoencoder phase's planned and spent time, as the bundle recorded it."""
    path = out / "autoencoder" / "budget.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="", help="the bundle's dataset_dir ('' = the embedded phantom)")
    p.add_argument("--image-size", type=int, default=64)
    p.add_argument("--minutes", type=float, default=7.5, help="training minutes of the autoencoder phase")
    p.add_argument("--per-class", type=int, default=50, help="training images per class to reconstruct and score")
    p.add_argument("--phantom-count", type=int, default=512, help="phantom images of the test split (phantom data)")
    p.add_argument("--kid-subsets", type=int, default=100)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--override", type=parse_override, action="append", default=[], metavar="KEY=VALUE",
                   help="a bundle setting, e.g. autoencoder_def#latent_channels=8 (repeatable)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None, extractor=None) -> dict[str, Any]:
    a = parse_args(argv)
    vae, data = train(a)
    if extractor is None:
        from monai_synth.metrics import InceptionFeatureExtractor

        extractor = InceptionFeatureExtractor(device=a.device, progress=False)
    result = {"data": a.data or "phantom", "image_size": a.image_size, "minutes": a.minutes,
              "overrides": dict(a.override), **score(a, vae, data, extractor), "budget": budget_spent(a.out)}
    save_json_atomic(result, a.out / "autoencoder_ceiling.json")
    rec, floor = result["reconstruction"], result["floor"]
    print(f"reconstruction FID {rec['fid']:.2f} (KID {rec['kid_mean']:.4f}, PSNR {result['psnr_db']:.2f} dB); "
          f"real training images {floor['fid']:.2f}", flush=True)
    return result


if __name__ == "__main__":
    main()
