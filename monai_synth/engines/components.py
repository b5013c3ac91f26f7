"""Components a bundle config hands over unbuilt, and their definitions as stored with the trained weights.

A config builds a network, optimiser or noise schedule whose arguments depend on the data (the number of
classes) or on other components (the parameters to optimise) as ``"_mode_": "callable"``: MONAI's config parser
then returns the ``_target_`` with its configured keyword arguments bound (a ``functools.partial``). The
workflow completes the call. :func:`definition` turns such a factory back into a config entry, ``{"_target_":
dotted path, **keyword arguments}``: checkpoints store it and exported bundles write it as their
``network_def``, so a trained network is rebuilt from its definition alone (:func:`build`).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

from monai.utils import instantiate

__all__ = ["definition", "build", "complete", "describe", "flatten"]


def definition(factory: Callable[..., Any], **extra: Any) -> dict[str, Any]:
    """``{"_target_": ..., **keywords}`` of a factory (a ``functools.partial`` or a bare class/function).

    ``extra`` keyword arguments are added (the ones the workflow supplies, e.g. ``num_class_embeds``).
    """
    func, keywords = factory, {}
    if isinstance(factory, functools.partial):
        if factory.args:
            raise ValueError(f"{factory!r}: a component factory binds keyword arguments only")
        func, keywords = factory.func, dict(factory.keywords)
    target = f"{func.__module__}.{func.__qualname__}"
    return {"_target_": target, **keywords, **extra}


def build(config: dict[str, Any], **extra: Any) -> Any:
    """Call the ``_target_`` of a stored definition with its keyword arguments (and ``extra``)."""
    args = {k: v for k, v in config.items() if k != "_target_"}
    return instantiate(config["_target_"], "default", **args, **extra)


def complete(factory: Callable[..., Any], **extra: Any) -> tuple[Any, dict[str, Any]]:
    """Build a component from its factory with the ``extra`` arguments; return it with its definition."""
    config = definition(factory, **extra)
    return build(config), config


def describe(component: Any) -> dict[str, Any]:
    """``{"_target_": its class, **its plain settings}`` of a built component (for run records and tracking)."""
    cls = type(component)
    plain = {k: v for k, v in vars(component).items()
             if not k.startswith("_") and isinstance(v, (bool, int, float, str, type(None)))}  # fmt: skip
    return {"_target_": f"{cls.__module__}.{cls.__qualname__}", **plain}


def flatten(definitions: dict[str, Any]) -> dict[str, Any]:
    """``{"optimizer": {"lr": 1e-3}}`` -> ``{"optimizer#lr": 1e-3}``: the ids a bundle override names."""
    flat: dict[str, Any] = {}
    for key, value in definitions.items():
        if isinstance(value, dict) and value:
            flat.update({f"{key}#{k}": v for k, v in flatten(value).items()})
        else:
            flat[key] = value
    return flat
