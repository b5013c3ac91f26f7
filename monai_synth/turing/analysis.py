"""The figures of a reader study, from the answer key and the stored answers (``report.json``'s content).

Real-fake mode, per reader and pooled over readers ("real" is the positive class, see
:mod:`monai_synth.turing.stats`): the 2 x 2 counts; precision, recall, accuracy, FPR and FNR with exact
intervals; a permutation test of accuracy against chance; FPR per synthetic model; with Likert, the mean
score of real against synthetic images with a permutation test judged at each ``alpha``. Across readers:
Fleiss' kappa on the trials every reader answered; FPR per model against its FID (Pearson r, permutation p).

2AFC mode: accuracy (the real image picked) per reader, per model and pooled, with exact intervals and a
two-sided binomial test against 50 %, and Fleiss' kappa on which image readers picked.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from . import stats
from .study import Study

__all__ = ["analyse"]


def _records(study: Study, answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Answers joined with the key: reader name, trial, model (None for real), truth and the answer."""
    trials, out = study.key["trials"], []
    for row in answers:
        trial = trials[row["trial"]]
        record = {"reader": study.reader_name(row["reader"]), "trial": row["trial"], "model": trial["model"]}
        if study.mode == "2afc":
            record["correct"] = row["chosen_image"] == trial["real_image"]
        else:
            record["real"] = trial["model"] is None
            record["said_real"] = row["answer"] == "real"
            record["likert"] = row["likert"]
        out.append(record)
    return out


def _likert(records: list[dict[str, Any]], alphas: Sequence[float], permutations: int, seed: int) -> dict[str, Any]:
    real = [r["likert"] for r in records if r["real"] and r["likert"] is not None]
    fake = [r["likert"] for r in records if not r["real"] and r["likert"] is not None]
    test = stats.permutation_test_mean_difference(real, fake, permutations, seed)
    p = test["p"]
    return {"mean_real": sum(real) / len(real) if real else None, "mean_fake": sum(fake) / len(fake) if fake else None,
            "n_real": len(real), "n_fake": len(fake), "difference": test["difference"], "p": p,
            "permutations": test["permutations"],
            "significant": {f"{a:g}": (p is not None and p < a) for a in alphas}}


def _real_fake_block(records: list[dict[str, Any]], models: list[str], settings: dict[str, Any],
                     seed: int, likert: bool) -> dict[str, Any]:
    truth, said = [r["real"] for r in records], [r["said_real"] for r in records]
    counts = stats.confusion_counts(truth, said)
    block = {"answers": len(records), "counts": counts,
             "rates": stats.classification_rates(counts, settings["confidence"]),
             "accuracy_permutation_test": stats.permutation_test_accuracy(truth, said, settings["permutations"], seed),
             "fpr_by_model": {}}
    for model in models:
        fooled = [r["said_real"] for r in records if r["model"] == model]
        block["fpr_by_model"][model] = stats.exact_interval(sum(fooled), len(fooled), settings["confidence"])
    if likert:
        block["likert"] = _likert(records, settings["alphas"], settings["permutations"], seed)
    return block


def _agreement(records: list[dict[str, Any]], readers: list[str], field: str, categories: list[Any]) -> dict[str, Any]:
    """Fleiss' kappa of ``field`` over the trials answered by every reader."""
    by_trial: dict[str, dict[str, Any]] = {}
    for r in records:
        if r.get(field) is not None:
            by_trial.setdefault(r["trial"], {})[r["reader"]] = r[field]
    complete = {t: list(v.values()) for t, v in sorted(by_trial.items()) if len(v) == len(readers)}
    kappa = stats.fleiss_kappa(stats.rating_table(complete, categories)) if len(readers) >= 2 else None
    return {"fleiss_kappa": kappa, "trials": len(complete), "readers": len(readers), "categories": categories}


def _fid_vs_fpr(pooled: dict[str, Any], fids: dict[str, float], settings: dict[str, Any]) -> dict[str, Any]:
    models = [m for m in sorted(fids) if pooled["fpr_by_model"][m]["value"] is not None]
    fpr = [pooled["fpr_by_model"][m]["value"] for m in models]
    fid = [float(fids[m]) for m in models]
    result = stats.pearson_permutation(fid, fpr, settings["permutations"], settings["seed"])
    note = None if result["r"] is not None else "needs at least 3 models with answers and FIDs that differ"
    return {"models": models, "fid": fid, "fpr": fpr, **result, "note": note}


def _afc_block(records: list[dict[str, Any]], models: list[str], confidence: float) -> dict[str, Any]:
    def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
        k, n = sum(r["correct"] for r in rows), len(rows)
        return {"accuracy": stats.exact_interval(k, n, confidence), "binomial_p": stats.binomial_test(k, n, 0.5)}

    return {"answers": len(records), **summary(records),
            "by_model": {m: summary([r for r in records if r["model"] == m]) for m in models}}


def analyse(study: Study, answers: list[dict[str, Any]], *, fids: dict[str, float] | None = None,
            alphas: Sequence[float] = (0.05,), confidence: float = 0.95, permutations: int = 10000,
            seed: int = 0) -> dict[str, Any]:
    """Every figure of the report as a JSON-ready dict.

    Args:
        study: the loaded study.
        answers: rows of :meth:`monai_synth.turing.store.AnswerStore.all_answers`.
        fids: model name -> FID, for the FPR-against-FID correlation (real-fake mode).
        alphas: significance levels at which the Likert tests are judged.
        confidence: confidence level of the exact intervals.
        permutations: permutations of each permutation test.
        seed: seed of the permutation tests.
    """
    readers = [study.reader_name(rid) for rid in study.reader_ids]
    models = list(study.info["models"])
    settings = {"confidence": confidence, "alphas": list(alphas), "permutations": permutations, "seed": seed,
                "positive_class": "real"}
    records = _records(study, answers)
    by_reader = {name: [r for r in records if r["reader"] == name] for name in readers}
    report: dict[str, Any] = {
        "study": {key: study.info[key] for key in ("mode", "likert", "models", "counts", "trials_per_reader",
                                                   "created_at", "version")} | {"readers": readers},
        "settings": settings,
        "progress": {name: len(rows) for name, rows in by_reader.items()},
    }
    if study.mode == "2afc":
        report["readers"] = {n: _afc_block(rows, models, confidence) for n, rows in by_reader.items()}
        report["pooled"] = _afc_block(records, models, confidence)
        report["agreement"] = _agreement(records, readers, "correct", [True, False])
        return report
    report["readers"] = {n: _real_fake_block(rows, models, settings, seed + i, study.likert)
                         for i, (n, rows) in enumerate(by_reader.items())}
    report["pooled"] = _real_fake_block(records, models, settings, seed, study.likert)
    report["agreement"] = _agreement(records, readers, "said_real", [True, False])
    if study.likert:
        report["likert_agreement"] = _agreement(records, readers, "likert", [1, 2, 3, 4, 5])
    if fids:
        report["fid_vs_fpr"] = _fid_vs_fpr(report["pooled"], fids, settings)
    return report
