"""DataError and BadInputReport."""

from __future__ import annotations

import csv
import logging
import pickle

import pytest

from monai_synth.data.errors import BadInput, BadInputReport, DataError, reject


def test_data_error_names_file_and_problem():
    err = DataError("truncated pixel data", "/x/IM1")
    assert isinstance(err, ValueError)
    assert str(err) == "/x/IM1: truncated pixel data"
    assert (err.path, err.problem) == ("/x/IM1", "truncated pixel data")
    assert str(DataError("just a message")) == "just a message"


def test_data_error_survives_pickling_and_single_argument_rebuild():
    err = pickle.loads(pickle.dumps(DataError("bad", "/a.png")))
    assert (err.path, err.problem, str(err)) == ("/a.png", "bad", "/a.png: bad")
    assert str(type(err)("Caught DataError in worker")) == "Caught DataError in worker"  # as torch re-raises


def test_reject_raises_without_report_and_records_with_one():
    with pytest.raises(DataError, match="a.png: broken"):
        reject("a.png", "broken", None)
    report = BadInputReport()
    reject("a.png", "broken", report)
    assert report == [BadInput("a.png", "broken")]


def test_report_write_and_log(tmp_path, caplog):
    report = BadInputReport()
    report.add(tmp_path / "a.dcm", "no pixel data")
    report.add("b,c.png", 'odd "name"')
    out = report.write(tmp_path / "sub" / "bad.csv")
    with open(out, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows == [["path", "reason"], [str(tmp_path / "a.dcm"), "no pixel data"], ["b,c.png", 'odd "name"']]
    assert [p.name for p in out.parent.iterdir()] == ["bad.csv"]  # no temp file left behind
    with caplog.at_level(logging.WARNING):
        report.log(limit=1)
    assert "skipped or repaired 2 input(s)" in caplog.text and "and 1 more" in caplog.text
    assert "no pixel data" in str(report)
