"""The output guard: outputs never overwrite, enter or contain inputs, nor mix with foreign data."""

from __future__ import annotations

from pathlib import Path

import pytest

from monai_synth.data.errors import DataError
from monai_synth.io.output_guard import DEFAULT_MARKER, OutputConflict, check_output_dir, check_output_path


def _data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    (data / "a").mkdir(parents=True)
    (data / "a" / "x.png").write_bytes(b"png")
    return data


def test_output_equal_to_input_file_is_refused(tmp_path: Path) -> None:
    data = _data(tmp_path)
    with pytest.raises(OutputConflict, match="it is the input"):
        check_output_path(data / "a" / "x.png", [data / "a" / "x.png"])


def test_output_inside_input_folder_is_refused(tmp_path: Path) -> None:
    data = _data(tmp_path)
    with pytest.raises(OutputConflict, match="inside the input folder") as err:
        check_output_path(data / "a" / "new.json", [None, data])
    assert str(data / "a" / "new.json") in str(err.value)
    assert isinstance(err.value, DataError)


def test_output_containing_the_input_is_refused(tmp_path: Path) -> None:
    data = _data(tmp_path)
    with pytest.raises(OutputConflict, match="contains the input"):
        check_output_dir(tmp_path, [data])


def test_output_beside_the_input_is_accepted(tmp_path: Path) -> None:
    data = _data(tmp_path)
    assert check_output_path(tmp_path / "out.json", [data, ""]) == tmp_path / "out.json"


def test_folder_of_foreign_images_is_refused_unless_overwrite(tmp_path: Path) -> None:
    data = _data(tmp_path)
    with pytest.raises(OutputConflict, match="did not write"):
        check_output_dir(data / "a", [])
    assert check_output_dir(data / "a", [], overwrite=True) == data / "a"
    assert not (data / "a" / DEFAULT_MARKER).exists()  # a forced write does not adopt the folder
    with pytest.raises(OutputConflict):
        check_output_dir(data / "a", [])


def test_dicom_without_ending_counts_as_data(tmp_path: Path) -> None:
    folder = tmp_path / "pacs"
    folder.mkdir()
    (folder / "IM0001").write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 16)
    with pytest.raises(OutputConflict, match="IM0001"):
        check_output_dir(folder, [])


def test_own_folder_is_reused_and_marked(tmp_path: Path) -> None:
    out = check_output_dir(tmp_path / "run", [tmp_path / "data"])
    assert (out / DEFAULT_MARKER).is_file()
    (out / "samples_grid.png").write_bytes(b"png")  # our own output
    assert check_output_dir(out, []) == out
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("x")  # text is not data
    assert check_output_dir(tmp_path / "notes", []) == tmp_path / "notes"


def test_folder_of_our_own_marked_runs_is_accepted(tmp_path: Path) -> None:
    """A parent of our own marked output folders (e.g. one seed's comparison) holds no foreign data."""
    seed = check_output_dir(tmp_path / "cmp" / "seed_0", [])
    (seed / "samples").mkdir()
    (seed / "samples" / "0.png").write_bytes(b"png")
    assert check_output_dir(tmp_path / "cmp", []) == tmp_path / "cmp"
    (tmp_path / "mixed" / "seed_0").mkdir(parents=True)
    (tmp_path / "mixed" / "seed_0" / "0.png").write_bytes(b"png")  # no marker: not ours
    with pytest.raises(OutputConflict, match="seed_0/0.png"):
        check_output_dir(tmp_path / "mixed", [])


def test_existing_file_as_output_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputConflict, match="existing file"):
        check_output_dir(tmp_path / "f", [])
