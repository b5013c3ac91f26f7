"""Thin Ignite handlers: weight EMA, periodic FID/KID/precision/recall, best checkpoint by FID."""

from monai_synth.handlers.ema import WeightEMA
from monai_synth.handlers.metrics_handler import BestFidCheckpoint, FidelityEvents, GenerativeFidelityHandler

__all__ = ["BestFidCheckpoint", "FidelityEvents", "GenerativeFidelityHandler", "WeightEMA"]
