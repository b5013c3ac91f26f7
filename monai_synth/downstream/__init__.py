"""Downstream evaluators: score synthetic images by what a task network makes of them."""

from monai_synth.downstream.classification import classification_report, predict_labels, train_classifier

__all__ = ["classification_report", "predict_labels", "train_classifier"]
