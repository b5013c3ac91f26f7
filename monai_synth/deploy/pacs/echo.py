"""C-ECHO: is the PACS there and does it accept us?"""

from __future__ import annotations

import time

from monai_synth.deploy.pacs.association import associate, require_pynetdicom
from monai_synth.deploy.pacs.config import PacsConfig
from monai_synth.deploy.pacs.errors import PacsError

__all__ = ["echo", "status_text"]


def status_text(status: object) -> str:
    """``0xC000 (Failure)``-style text of a DIMSE status dataset (or "no response")."""
    if status is None or "Status" not in status:  # type: ignore[operator]
        return "no response (timeout or aborted association)"
    from pynetdicom.status import code_to_category

    code = int(status.Status)  # type: ignore[attr-defined]
    comment = status.get("ErrorComment")  # type: ignore[attr-defined]
    return f"0x{code:04X} ({code_to_category(code)}{', ' + str(comment) if comment else ''})"


def echo(config: PacsConfig) -> float:
    """Send a C-ECHO; returns the round trip in seconds (association included).

    Raises:
        PacsError: unreachable, rejected, or a non-success status.
    """
    pynetdicom = require_pynetdicom()
    start = time.perf_counter()
    context = pynetdicom.build_context(pynetdicom.sop_class.Verification)
    with associate(config, [context]) as assoc:
        status = assoc.send_c_echo()
    if status is None or int(status.get("Status", -1)) != 0:
        raise PacsError(f"PACS {config.name} answered C-ECHO with {status_text(status)}")
    return time.perf_counter() - start
