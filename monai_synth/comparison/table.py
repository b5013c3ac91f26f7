"""The result table of a comparison: ``<name>.json`` (everything) and ``<name>.md`` (the table to read)."""

from __future__ import annotations

import datetime
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from monai_synth.comparison.runs import write_json
from monai_synth.io.atomic import atomic_open

# column key -> (header, format)
COLUMNS: dict[str, tuple[str, str]] = {
    "model": ("Model", "{}"),
    "variant": ("Variant", "{}"),
    "fid": ("FID ↓", "{:.2f}"),
    "kid_mean": ("KID ×10³ ↓", "kid"),
    "precision": ("Precision ↑", "{:.3f}"),
    "recall": ("Recall ↑", "{:.3f}"),
    "train_seconds": ("Training s", "{:.0f}"),
    "length": ("Length", "{}"),
    "ada_p": ("ADA p (end)", "{:.3f}"),
    "rt_end": ("r_t (end)", "{:.3f}"),
}


def _cell(key: str, value: Any, row: Mapping[str, Any]) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    fmt = COLUMNS[key][1]
    if fmt == "kid":
        std = row.get("kid_std")
        return f"{value * 1e3:.2f} ± {std * 1e3:.2f}" if isinstance(std, (int, float)) else f"{value * 1e3:.2f}"
    if key == "fid" and isinstance(row.get("fid_ci"), Sequence) and row["fid_ci"] and None not in row["fid_ci"]:
        lo, hi = row["fid_ci"]
        return f"{value:.2f} [{lo:.2f}, {hi:.2f}]"
    return fmt.format(value)


def markdown_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """A Markdown table of ``rows`` with the given ``COLUMNS`` keys."""
    lines = ["| " + " | ".join(COLUMNS[c][0] for c in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(c, row.get(c), row) for c in columns) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _settings_lines(settings: Mapping[str, Any]) -> str:
    return "".join(f"- {key}: `{value}`\n" for key, value in settings.items())


def write_markdown(
    out_dir: Path,
    name: str,
    title: str,
    table: str,
    note: str,
    settings: Mapping[str, Any],
    payload: Mapping[str, Any],
) -> tuple[Path, Path]:
    """Write ``out_dir/<name>.json`` (title, time, settings, ``payload``) and ``out_dir/<name>.md`` atomically."""
    created = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    json_path, md_path = out_dir / f"{name}.json", out_dir / f"{name}.md"
    write_json({"title": title, "created_at": created, "settings": dict(settings), **payload}, json_path)
    text = f"# {title}\n\n{table}\n{note}\n\nSettings ({created}):\n\n{_settings_lines(settings)}"
    with atomic_open(md_path) as handle:
        handle.write(text.encode("utf-8"))
    return json_path, md_path


def write_table(
    out_dir: Path,
    name: str,
    title: str,
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    settings: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> tuple[Path, Path]:
    """Write ``out_dir/<name>.json`` and ``out_dir/<name>.md`` atomically; return both paths."""
    note = ("FID with its 95% bootstrap interval; KID mean ± std over subsets; training seconds measured by each "
            "run (optimisation only, without sampling or scoring).")  # fmt: skip
    payload = {"rows": list(rows), **(extra or {})}
    return write_markdown(out_dir, name, title, markdown_table(rows, columns), note, settings, payload)
