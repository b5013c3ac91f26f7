"""UIDs and instance numbers shared by the DICOM files of one generation run."""

from __future__ import annotations

from collections.abc import Hashable

from pydicom.uid import generate_uid

__all__ = ["SyntheticStudy"]


class SyntheticStudy:
    """One synthetic DICOM study: a series per key (class label, or source study), numbered instances.

    Pass the same object to every ``save_generated(..., fmt="dicom", study=...)`` call of a run so
    that all batches land in one study, one series per class, with increasing InstanceNumbers.

    Args:
        study_uid: StudyInstanceUID of generated images; new when ``None``.
        series_uid: one SeriesInstanceUID for every image; one new series per key when ``None``.
    """

    def __init__(self, study_uid: str | None = None, series_uid: str | None = None) -> None:
        self.study_uid = study_uid or generate_uid()
        self.single_series = series_uid is not None
        self._fixed_series = series_uid
        self._series: dict[Hashable, str] = {}
        self._count: dict[str, int] = {}

    def series_uid(self, key: Hashable) -> str:
        """SeriesInstanceUID for images of ``key`` (e.g. a class label)."""
        if self._fixed_series is not None:
            return self._fixed_series
        return self._series.setdefault(key, generate_uid())

    def next_instance_number(self, key: Hashable) -> int:
        """The next InstanceNumber (1, 2, ...) in the series of ``key``."""
        uid = self.series_uid(key)
        self._count[uid] = self._count.get(uid, 0) + 1
        return self._count[uid]
