"""Which series of a study an application processes: MONAI Deploy selection rules, applied to scanned headers.

The rules are the App SDK's ``DICOMSeriesSelectorOperator`` JSON (``{"selections": [{"name": ...,
"conditions": {keyword: value}}]}``). The SDK applies them inside the app; this module applies the common
subset (a string is a case-insensitive regular expression searched in the attribute, a number must be
equal, a list must be contained in a multi-valued attribute) when the apps run without the SDK, and checks
in both cases that exactly one series was chosen.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from monai_synth.data.errors import DataError

__all__ = ["DEFAULT_RULES", "load_rules", "match_condition", "matching_series", "require_one"]

DEFAULT_RULES: dict[str, Any] = {
    "selections": [
        {"name": "CT series", "conditions": {"Modality": "(?i)^CT$"}},
        {"name": "MR series", "conditions": {"Modality": "(?i)^MR$"}},
    ]
}
"""Default rules: the CT series of the study, else its MR series."""


def load_rules(path: str | os.PathLike | None) -> dict[str, Any]:
    """Selection rules from a JSON file (None: :data:`DEFAULT_RULES`).

    Raises:
        DataError: unreadable or malformed rules, naming the file.
    """
    if path is None:
        return DEFAULT_RULES
    try:
        rules = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise DataError(f"cannot read the selection rules ({err})", path) from err
    selections = rules.get("selections") if isinstance(rules, Mapping) else None
    if not isinstance(selections, list) or not all(isinstance(s, Mapping) and "conditions" in s for s in selections):
        raise DataError('selection rules need {"selections": [{"name": ..., "conditions": {...}}]}', path)
    return rules


def match_condition(wanted: Any, value: Any) -> bool:
    """Whether an attribute ``value`` meets one condition (the SDK's common cases)."""
    if value is None:
        return False
    if isinstance(wanted, str):
        return re.search(wanted, str(value), re.IGNORECASE) is not None
    if isinstance(wanted, (list, tuple)):
        values = {str(v).upper() for v in (value if isinstance(value, (list, tuple)) else [value])}
        return {str(w).upper() for w in wanted} <= values
    try:
        return float(value) == float(wanted)
    except (TypeError, ValueError):
        return False


def matching_series(headers: Sequence[Mapping[str, Any]], rules: Mapping[str, Any]) -> tuple[str, list[int]]:
    """The first selection that matches any series, and the indices of all series it matches.

    Args:
        headers: one mapping of DICOM keyword -> value per series (study and series attributes).
        rules: selection rules.

    Returns:
        ``(selection name, indices)``; ``("", [])`` when nothing matches.
    """
    for selection in rules["selections"]:
        conditions = selection["conditions"]
        hits = [i for i, h in enumerate(headers) if all(match_condition(v, h.get(k)) for k, v in conditions.items())]
        if hits:
            return str(selection.get("name", "")), hits
    return "", []


def require_one(found: Sequence[str], matched: Sequence[str], rules: Mapping[str, Any],
                source: str | os.PathLike) -> None:
    """Refuse a selection of no series or of several, with a :class:`DataError` saying what was found.

    Args:
        found: a description of every series of the input.
        matched: descriptions of the matched series.
        rules: the rules (named in the message).
        source: the input folder.
    """
    names = [s.get("name", "?") for s in rules["selections"]]
    if not matched:
        listing = "; ".join(found) or "no DICOM series"
        raise DataError(f"no series matches the selection rules {names} (found: {listing})", source)
    if len(matched) > 1:
        raise DataError(f"{len(matched)} series match the selection rules {names}: " + "; ".join(matched)
                        + "; make the rules choose one (e.g. add a SeriesDescription or SeriesInstanceUID condition)",
                        source)
