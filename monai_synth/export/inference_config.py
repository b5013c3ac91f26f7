"""``configs/inference.json`` of an exported bundle: network definitions, user settings, and a pipeline object.

The ids MONAI's inference workflow requires (``monai.bundle.properties.InferProperties``) are all there:
``bundle_root``, ``device``, ``dataset_dir``, ``dataset``, ``evaluator`` (the pipeline object, built by
``_target_``), ``network_def`` and ``inferer``. The user settings take their defaults from the run-folder configs
(``bundles/medfusion/sample.json``, ``bundles/med_cdiff/infer.json``, ``bundles/stylegan2_ada/sample.json``), read
at export time: those configs hold the only copy. ``model_settings`` is plain data that the Python
loaders read (:mod:`monai_synth.io.model_bundle`); the config's expressions do not use it.
"""

from __future__ import annotations

from typing import Any

from monai_synth.export.network_defs import network_definitions
from monai_synth.export.run_folder import TrainedRun
from monai_synth.io.bundle_configs import config_defaults
from monai_synth.io.model_bundle import SETTINGS_KEY

__all__ = ["USER_SETTINGS", "inference_config", "user_defaults"]

DEVICE = "$'cuda' if torch.cuda.is_available() else 'cpu'"
#: the settings a user passes to an exported bundle's ``inference.json``, and the run-folder config whose values
#: are their defaults (read from that config: it holds the only copy); ``output_dir`` is the bundle's own.
USER_SETTINGS: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {
    "medfusion": ("sample.json", ("num_samples", "class_label", "sampler", "steps", "eta", "guidance_scale", "seed",
                                  "format", "modality", "batch_size", "precision"), {"output_dir": "samples"}),
    "stylegan2_ada": ("sample.json", ("num_samples", "class_label", "truncation_psi", "format", "seed", "batch_size",
                                      "window", "modality"), {"output_dir": "samples"}),
    "med_cdiff": ("infer.json", ("input", "format", "sampler", "steps", "eta", "strength", "seed", "simulate",
                                 "setting", "factor", "mask", "batch_size", "axis", "modality", "series_description",
                                 "progress"), {"output_dir": "restored"}),
}  # fmt: skip


def user_defaults(kind: str) -> dict[str, Any]:
    """The user settings of an exported ``kind`` bundle with their defaults, from ``bundles/<kind>/<config>``."""
    config, keys, own = USER_SETTINGS[kind]
    return {**own, **config_defaults(kind, config, keys)}


_GENERATION_REQUESTS = ("$[{'class_label': @class_label if @class_label is not None else i % max(1, @num_classes), "
                        "'seed': @seed + i} for i in range(@num_samples)]")


def inference_config(run: TrainedRun) -> dict[str, Any]:
    """The whole ``configs/inference.json`` of ``run``'s bundle."""
    check_plain_strings(run.settings)
    # MONAI binds "import a.b" to the name "a.b": import the submodules, then bind the package name
    imports = ["$import torch", "$import monai", "$import monai_synth.export.locate"]
    if run.kind == "med_cdiff":
        imports.append("$import monai_synth.data")
    imports.append("$import monai_synth")
    config: dict[str, Any] = {
        "imports": imports,
        "bundle_root": "$monai_synth.export.locate.running_bundle_root()",
        "device": DEVICE,
        **user_defaults(run.kind),
        **own_sampler(run),
        **_data_entries(run),
    }
    for key, definition in network_definitions(run).items():
        config[key] = definition
        config[key.removesuffix("_def")] = f"$@{key}.to(@device)"
    config["inferer"] = {"_target_": "monai.inferers.SimpleInferer"}
    config["evaluator"] = _pipeline(run)
    config["run"] = ["$@evaluator.run()"]
    config[SETTINGS_KEY] = run.settings
    return config


def own_sampler(run: TrainedRun) -> dict[str, Any]:
    """A Medfusion bundle's defaults for the sampling settings ``sample.json`` leaves to the run (null): the run's
    own ``sampler``, ``steps``, ``eta`` and ``guidance_scale`` (``metrics.json#sampler``, i.e. ``train.json``'s
    ``sample``). Every other setting, and every other model, keeps the run-folder config's."""
    if run.kind != "medfusion":
        return {}
    recorded = run.metrics.get("sampler") or {}
    unset = [k for k in ("sampler", "steps", "eta", "guidance_scale") if user_defaults(run.kind).get(k) is None]
    missing = [k for k in unset if recorded.get(k) is None]
    if missing:
        raise ValueError(f"{run.run_dir}: the run records no {missing} to sample with (metrics.json#sampler), and "
                         "bundles/medfusion/sample.json leaves them to the run")
    return {k: recorded[k] for k in unset}


def _data_entries(run: TrainedRun) -> dict[str, Any]:
    """``dataset_dir`` and ``dataset``: the input images (Med-cDiff), or the generation requests (class, seed)."""
    if run.kind == "med_cdiff":
        datalist = ("$monai.data.Dataset(monai_synth.data.build_datalist(@dataset_dir, split=None, axis=@axis, "
                    "skip_empty=False) if @dataset_dir else [])")
        return {"dataset_dir": "@input", "dataset": datalist}
    num_classes = run.settings.get("num_classes", run.settings.get("generator_config", {}).get("num_classes", 0))
    return {"num_classes": int(num_classes), "dataset_dir": None,
            "dataset": {"_target_": "monai.data.Dataset", "data": _GENERATION_REQUESTS}}


def _pipeline(run: TrainedRun) -> dict[str, Any]:
    """The ``evaluator``: a pipeline object of :mod:`monai_synth.export.pipelines` wired to the user settings."""
    keys = [k for k in user_defaults(run.kind) if k not in ("output_dir", "input")]
    refs = {k: f"@{k}" for k in keys}
    common = {"bundle_root": "@bundle_root", "output_dir": "@output_dir", "network": "@network", "device": "@device"}
    if run.kind == "medfusion":
        return {"_target_": "monai_synth.export.pipelines.MedfusionBundleSampler", **common,
                "autoencoder": "@autoencoder", **refs}
    if run.kind == "stylegan2_ada":
        refs["fmt"] = refs.pop("format")
        return {"_target_": "monai_synth.export.pipelines.StyleGAN2BundleSampler", **common, **refs}
    return {"_target_": "monai_synth.export.pipelines.MedCDiffBundleRestorer", **common, "input": "@dataset_dir",
            "model": run.settings["model"], **refs}


def check_plain_strings(value: Any, where: str = SETTINGS_KEY) -> None:
    """Refuse a settings string that MONAI's config parser would read as an expression or a reference.

    Raises:
        ValueError: naming the entry (e.g. a class name starting with ``$``, ``@`` or ``%``).
    """
    if isinstance(value, dict):
        for k, v in value.items():
            check_plain_strings(v, f"{where}#{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            check_plain_strings(v, f"{where}#{i}")
    elif isinstance(value, str) and value[:1] in ("$", "@", "%"):
        raise ValueError(f"{where}: {value!r} starts with {value[0]!r}, which MONAI configs read as code; "
                         "rename it in the training data")
