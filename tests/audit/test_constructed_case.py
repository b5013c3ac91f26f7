"""A tiny constructed case pins the direction of every measure in every space.

Training and hold-out sets are phantom radiographs of disjoint seeds. Two "generators": one returns the training
images with a little noise (a memorizing model), the other returns further unseen phantoms (a model that learnt
the population). Every measure must flag the first and clear the second.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from helpers import StubExtractor, phantoms, write_pngs

from monai_synth.privacy.audit import MemorizationAudit

SPACES = ["pixel", "inception", "self_supervised"]


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("case")
    train = phantoms(range(40))
    write_pngs(train, root / "train")
    write_pngs(phantoms(range(100, 140)), root / "holdout")
    noise = torch.randn(train.shape, generator=torch.Generator().manual_seed(0))
    write_pngs((train + 0.05 * noise).clamp(-1, 1), root / "copier")
    write_pngs(phantoms(range(200, 240)), root / "learner")
    return root


def audit(case: Path, generator: str, out: Path) -> dict:
    return MemorizationAudit(
        case / generator, out, train=str(case / "train"), holdout=str(case / "holdout"), spaces=SPACES,
        self_supervised={"epochs": 15, "batch_size": 40, "size": 32}, num_bootstrap=300, cache_dir=out / "cache",
        extractor=StubExtractor(), progress=False,
    ).run()


@pytest.fixture(scope="module")
def copier(case: Path, tmp_path_factory) -> dict:
    return audit(case, "copier", tmp_path_factory.mktemp("copier_audit"))


@pytest.fixture(scope="module")
def learner(case: Path, tmp_path_factory) -> dict:
    return audit(case, "learner", tmp_path_factory.mktemp("learner_audit"))


@pytest.mark.parametrize("space", SPACES)
def test_copies_are_flagged_in_every_space(copier: dict, space: str) -> None:
    s = copier["spaces"][space]
    assert s["copy"]["flagged"] and s["copy"]["share"] > 0.5 and s["copy"]["share_ci"][0] > 0.05
    assert s["dcr"]["flagged"] and s["dcr"]["closer_share"] > 0.8
    assert s["dcr"]["synthetic"]["median"] < s["dcr"]["holdout"]["median"]
    assert s["nndr"]["flagged"] and s["nndr"]["synthetic"]["median"] < s["nndr"]["holdout"]["median"]


@pytest.mark.parametrize("space", SPACES)
def test_unseen_images_are_cleared_in_every_space(learner: dict, space: str) -> None:
    s = learner["spaces"][space]
    assert not s["copy"]["flagged"] and s["copy"]["share"] < 0.2
    assert not s["dcr"]["flagged"] and 0.2 < s["dcr"]["closer_share"] < 0.8
    assert not s["nndr"]["flagged"]


def test_verdicts_and_outputs(copier: dict, learner: dict) -> None:
    assert copier["memorization_found"] and not learner["memorization_found"]
    statuses = {(v["measure"], v["space"]): v["status"] for v in copier["verdicts"]}
    assert statuses[("copy rate", "pixel")] == "FLAG" and statuses[("membership inference", None)] == "NOT RUN"
    assert all(v["status"] in ("OK", "NOT RUN") for v in learner["verdicts"])
    copy_line = next(v for v in copier["verdicts"] if v["measure"] == "copy rate")
    assert "Pearson r >" in copy_line["line"] and copy_line["threshold"]["share_expected"] == pytest.approx(0.05)
    assert copier["n_synthetic"] == 40 and copier["train"]["n"] == 40 and copier["holdout"]["n"] == 40
    assert "model" in learner["membership"]["skipped"]


def test_files_of_a_finished_audit(case: Path, tmp_path: Path) -> None:
    result = audit(case, "copier", tmp_path / "out")
    written = json.loads((tmp_path / "out" / "audit.json").read_text())
    assert written["verdicts"] == result["verdicts"]
    html = (tmp_path / "out" / "report.html").read_text()
    assert html.count("data:image/png;base64") >= 3 * 12 and "FLAG" in html and "copy threshold" in html
    rows = (tmp_path / "out" / "nearest_neighbours.csv").read_text().splitlines()
    assert len(rows) == 41 and rows[0].startswith("synthetic,pixel_nearest_train,pixel_similarity")
    # the nearest training image of the noisy copy of train image k is train image k
    first = rows[1].split(",")
    assert first[0] == "img_000.png" and first[1].endswith("img_000.png")


def test_membership_attack_flags_a_model_that_memorised_its_training_set(tiny_medfusion: Path, tmp_path: Path,
                                                                         monkeypatch) -> None:
    """The attack through the whole audit, with a diffusion model whose noise prediction is the optimal one for
    its training latents (it has memorised them) against one that memorised other images of the population."""
    import monai_synth.engines.medfusion.workflow as workflow
    from helpers import EmpiricalDenoiser, encode_latents

    from monai_synth.engines.image_tensors import load_image_tensors

    load = workflow.load_medfusion
    model = load(tiny_medfusion, "cpu")

    def phantom(split: str) -> torch.Tensor:
        return load_image_tensors(None, 16, 1, "auto", None, split, 40, 0).images

    write_pngs(phantom("val")[:8], tmp_path / "synthetic")  # the images themselves do not matter here
    results = {}
    for name, memorised in (("memoriser", phantom("train")), ("learner", phantom("val"))):
        unet = EmpiricalDenoiser(encode_latents(model, memorised), model["schedule"])
        monkeypatch.setattr(workflow, "load_medfusion", lambda *a, unet=unet, **k: {**load(*a, **k), "unet": unet})
        results[name] = MemorizationAudit(
            tmp_path / "synthetic", tmp_path / name, train="", holdout="", model=str(tiny_medfusion), spaces=["pixel"],
            phantom_count=40, membership={"timestep_fractions": [0.05, 0.1, 0.2]}, num_bootstrap=300,
            progress=False).run()["membership"]
    memoriser, learner = results["memoriser"], results["learner"]
    assert memoriser["n_members"] == 40 and memoriser["n_nonmembers"] == 40 and memoriser["timesteps"] == [1, 2, 4]
    assert memoriser["flagged"] and memoriser["auc"] > 0.95 and memoriser["tpr_at_fpr"] > 0.5
    assert memoriser["member_loss_mean"] < memoriser["nonmember_loss_mean"]
    assert not learner["flagged"] and learner["auc_ci"][0] < 0.5 < learner["auc_ci"][1]
