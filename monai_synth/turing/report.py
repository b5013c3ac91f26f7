"""``report.json`` and ``report.html`` (tables and plots) of a reader study.

The HTML file stands alone: plots are PNGs embedded as data URIs (matplotlib, Agg backend).
"""

from __future__ import annotations

import base64
import io
import json
import os
from html import escape
from pathlib import Path
from typing import Any

from monai_synth.data.errors import DataError
from monai_synth.io.atomic import atomic_open

from .analysis import analyse
from .store import AnswerStore
from .study import Study, load_study

__all__ = ["build_report", "render_html", "write_report"]

RATES = ("precision", "recall", "accuracy", "fpr", "fnr")


def build_report(study_dir: str | os.PathLike, *, fids: dict[str, float] | None = None,
                 alphas: tuple[float, ...] = (0.05,), confidence: float = 0.95, permutations: int = 10000,
                 seed: int = 0) -> tuple[Study, dict[str, Any]]:
    """Load a study and its answers and compute the report (see :func:`monai_synth.turing.analysis.analyse`).

    Raises:
        DataError: a bad study folder, FIDs for unknown models, or FIDs given in 2AFC mode.
    """
    study = load_study(study_dir)
    fids = dict(fids or {})
    unknown = sorted(set(fids) - set(study.info["models"]))
    if unknown:
        raise DataError(f"--fid names unknown model(s) {unknown}; the study's models are {study.info['models']}")
    if fids and study.mode != "real-fake":
        raise DataError("--fid applies to real-fake studies (FPR per model); this study is 2afc")
    for alpha in alphas:
        if not 0 < alpha < 1:
            raise DataError(f"--alpha must be in (0, 1), got {alpha}")
    answers = AnswerStore(study.root / "answers.sqlite").all_answers()
    return study, analyse(study, answers, fids=fids, alphas=alphas, confidence=confidence,
                          permutations=permutations, seed=seed)


def _pyplot() -> Any:
    """matplotlib's pyplot on the Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _figure_uri(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    _pyplot().close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def _interval_bars(ax: Any, labels: list[str], intervals: list[dict[str, Any]], offset: float, width: float,
                   name: str) -> None:
    values = [i["value"] if i["value"] is not None else 0.0 for i in intervals]
    low = [v - (i["low"] if i["low"] is not None else v) for v, i in zip(values, intervals)]
    high = [(i["high"] if i["high"] is not None else v) - v for v, i in zip(values, intervals)]
    ax.bar([x + offset for x in range(len(labels))], values, width, yerr=[low, high], capsize=3, label=name)


def _rates_plot(report: dict[str, Any], keys: tuple[str, ...], title: str) -> str:
    plt = _pyplot()
    blocks = {**report["readers"], "pooled": report["pooled"]}
    labels = list(blocks)
    fig, ax = plt.subplots(figsize=(1.6 + 1.3 * len(labels), 3.2))
    width = 0.8 / len(keys)
    for j, key in enumerate(keys):
        intervals = [b["rates"][key] if "rates" in b else b[key] for b in blocks.values()]
        _interval_bars(ax, labels, intervals, (j - (len(keys) - 1) / 2) * width, width, key)
    if report["study"]["mode"] == "2afc":
        ax.axhline(0.5, color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_xticks(range(len(labels)), labels)
    ax.set_ylim(0, 1.05)
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=len(keys) + 1, loc="upper center", bbox_to_anchor=(0.5, -0.12))
    return _figure_uri(fig)


def _fid_plot(fid: dict[str, Any]) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(3.6, 3.0))
    ax.scatter(fid["fid"], fid["fpr"])
    for name, x, y in zip(fid["models"], fid["fid"], fid["fpr"]):
        ax.annotate(name, (x, y), fontsize=7)
    ax.set_xlabel("FID")
    ax.set_ylabel("FPR (synthetic taken for real)")
    r = "n/a" if fid["r"] is None else f"{fid['r']:.2f}"
    ax.set_title(f"FPR against FID (r = {r})")
    return _figure_uri(fig)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 1e-3 and value != 0 else f"{value:.{digits}f}"
    return escape(str(value))


def _interval_cell(interval: dict[str, Any]) -> str:
    if interval["value"] is None:
        return "-"
    return (f"{interval['value']:.3f} [{interval['low']:.3f}, {interval['high']:.3f}] "
            f"<small>({interval['k']}/{interval['n']})</small>")


def _table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _real_fake_html(report: dict[str, Any]) -> list[str]:
    blocks = {**report["readers"], "pooled": report["pooled"]}
    parts = ["<h2>Real or synthetic</h2>", _table(
        ["reader", "answers", "TP", "FP", "FN", "TN", *RATES, "accuracy permutation p"],
        [[escape(name), str(b["answers"]), *(str(b["counts"][k]) for k in ("tp", "fp", "fn", "tn")),
          *(_interval_cell(b["rates"][k]) for k in RATES), _fmt(b["accuracy_permutation_test"]["p"])]
         for name, b in blocks.items()]),
        f'<img alt="rates" src="{_rates_plot(report, ("accuracy", "fpr", "fnr"), "Accuracy, FPR, FNR")}">',
        "<h3>FPR by synthetic model</h3>",
        _table(["reader", *report["study"]["models"]],
               [[escape(name), *(_interval_cell(b["fpr_by_model"][m]) for m in report["study"]["models"])]
                for name, b in blocks.items()])]
    if report["study"]["likert"]:
        alphas = [f"{a:g}" for a in report["settings"]["alphas"]]
        parts += ["<h3>Likert realism (1-5): real against synthetic</h3>", _table(
            ["reader", "mean real", "mean synthetic", "difference", "permutation p",
             *(f"p < {a}" for a in alphas)],
            [[escape(name), _fmt(b["likert"]["mean_real"]), _fmt(b["likert"]["mean_fake"]),
              _fmt(b["likert"]["difference"]), _fmt(b["likert"]["p"]),
              *("yes" if b["likert"]["significant"][a] else "no" for a in alphas)] for name, b in blocks.items()])]
    if "fid_vs_fpr" in report:
        fid = report["fid_vs_fpr"]
        parts += ["<h3>FPR against FID</h3>",
                  f"<p>Pearson r = {_fmt(fid['r'])}, permutation p = {_fmt(fid['p'])} "
                  f"({'exact, all orderings' if fid['exact'] else 'random permutations'}; {fid['n']} models)"
                  f"{'; ' + escape(fid['note']) if fid['note'] else ''}</p>",
                  f'<img alt="FPR against FID" src="{_fid_plot(fid)}">']
    return parts


def _afc_html(report: dict[str, Any]) -> list[str]:
    blocks = {**report["readers"], "pooled": report["pooled"]}
    models = report["study"]["models"]
    return ["<h2>Two-alternative forced choice</h2>", _table(
        ["reader", "answers", "accuracy [exact CI]", "binomial p (vs 0.5)",
         *(f"{m}: accuracy" for m in models)],
        [[escape(name), str(b["answers"]), _interval_cell(b["accuracy"]), _fmt(b["binomial_p"]),
          *(_interval_cell(b["by_model"][m]["accuracy"]) for m in models)] for name, b in blocks.items()]),
        f'<img alt="accuracy" src="{_rates_plot(report, ("accuracy",), "2AFC accuracy (real image picked)")}">']


def render_html(report: dict[str, Any]) -> str:
    """The report as one self-contained HTML page."""
    study, settings = report["study"], report["settings"]
    agreement = report["agreement"]
    parts = [f"<h1>Visual Turing test: {escape(study['mode'])}</h1>",
             f"<p>Models: {escape(', '.join(study['models']))}. Readers: {escape(', '.join(study['readers']))}. "
             f"Trials per reader: {study['trials_per_reader']}. Answers: "
             f"{escape(', '.join(f'{k}: {v}' for k, v in report['progress'].items()))}.</p>",
             f"<p>Positive class: real (FPR: synthetic images called real; FNR: real images called synthetic). "
             f"Intervals: exact (Clopper-Pearson), {settings['confidence']:.0%}. Permutation tests: "
             f"{settings['permutations']} permutations, seed {settings['seed']}.</p>"]
    parts += _afc_html(report) if study["mode"] == "2afc" else _real_fake_html(report)
    parts.append(f"<h3>Agreement between readers</h3><p>Fleiss' kappa = {_fmt(agreement['fleiss_kappa'])} "
                 f"on the {agreement['trials']} trials answered by all {agreement['readers']} readers.</p>")
    if "likert_agreement" in report:
        parts.append(f"<p>Likert scores (nominal): Fleiss' kappa = "
                     f"{_fmt(report['likert_agreement']['fleiss_kappa'])}.</p>")
    style = ("body{font-family:sans-serif;max-width:70rem;margin:1rem auto;padding:0 1rem}"
             "table{border-collapse:collapse;margin:.5rem 0}"
             "td,th{border:1px solid #bbb;padding:.2rem .5rem;font-size:.85rem}")
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Visual Turing test report</title>'
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")


def write_report(study_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                 **options: Any) -> tuple[Path, Path, dict[str, Any]]:
    """Compute the report and write ``report.json`` and ``report.html`` (atomically).

    Args:
        study_dir: the study folder.
        out_dir: where to write (default: ``STUDY_DIR/report``).
        **options: see :func:`build_report`.

    Returns:
        (json path, html path, the report).
    """
    _, report = build_report(study_dir, **options)
    out = Path(out_dir) if out_dir is not None else Path(study_dir) / "report"
    json_path, html_path = out / "report.json", out / "report.html"
    with atomic_open(json_path) as handle:
        handle.write((json.dumps(report, indent=1) + "\n").encode("utf-8"))
    with atomic_open(html_path) as handle:
        handle.write(render_html(report).encode("utf-8"))
    return json_path, html_path, report
