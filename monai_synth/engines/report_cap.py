"""Bound the images an end-of-training report samples, whatever the number of classes.

A report samples ``per_class`` images of every class. A label column with one stray value of 999 (or a data
set with 1000 classes) made a one-second training write its report for more than 26 minutes. The report
shows the first classes only when the total would exceed ``MAX_REPORT_IMAGES``, and says so.
"""

from __future__ import annotations

import logging

logger = logging.getLogger("monai_synth")

#: most images an end-of-training report samples
MAX_REPORT_IMAGES = 256


def report_classes(num_classes: int, per_class: int, limit: int = MAX_REPORT_IMAGES) -> tuple[list[int], str | None]:
    """The classes a report samples, and a note saying what was left out (None when nothing was).

    Args:
        num_classes: classes of the model (at least 1).
        per_class: images per class in the report.
        limit: most images in total.
    """
    per_class = max(int(per_class), 1)
    shown = max(1, min(int(num_classes), int(limit) // per_class))
    if shown >= num_classes:
        return list(range(num_classes)), None
    note = (f"report capped at {shown * per_class} images: {per_class} of each of the first {shown} of "
            f"{num_classes} classes (limit {limit})")
    logger.warning(note)
    return list(range(shown)), note
