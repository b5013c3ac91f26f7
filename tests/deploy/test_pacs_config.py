"""PACS config files and options (no PACS needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monai_synth.cli import main
from monai_synth.data.errors import DataError
from monai_synth.deploy.pacs import load_pacs_config
from monai_synth.deploy.pacs.association import tls_context
from monai_synth.deploy.pacs.errors import PacsError


def test_config_file_and_options(tmp_path: Path) -> None:
    path = tmp_path / "pacs.yaml"
    path.write_text("host: pacs.example.org\nport: 11112\ncalled_aet: PACS\ntls: {ca: certs/ca.pem}\n")
    config = load_pacs_config(path, port=104, calling_aet=None)
    assert (config.host, config.port, config.called_aet, config.calling_aet) == ("pacs.example.org", 104, "PACS",
                                                                                  "MONAI_SYNTH")
    assert config.tls is not None and config.tls.ca == str(tmp_path / "certs" / "ca.pem")
    with pytest.raises(PacsError, match="cannot set up TLS for PACS@pacs.example.org:104"):
        tls_context(config)  # the CA file does not exist


@pytest.mark.parametrize(("content", "problem"), [
    ({"hostname": "x"}, "unknown PACS config keys \\['hostname'\\]"),
    ({"called_aet": "A_TITLE_LONGER_THAN_16"}, "called_aet must be 1 to 16 characters"),
    ([1, 2], "must be a mapping"),
])
def test_bad_config_names_the_file(tmp_path: Path, content: object, problem: str) -> None:
    path = tmp_path / "pacs.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DataError, match=problem) as info:
        load_pacs_config(path)
    assert str(path) in str(info.value)


def test_cli_bad_config_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "pacs.json"
    path.write_text("{not json")
    assert main(["pacs", "echo", "--config", str(path)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: not a valid PACS config") and err.count("\n") == 1
