"""The one error type of PACS operations: a message a user can act on, shown as one line by the CLI."""

from __future__ import annotations

__all__ = ["PacsError"]


class PacsError(RuntimeError):
    """A PACS operation failed (unreachable, association rejected, a refused or failed request).

    The message names the PACS (``AE@host:port``) and the problem, e.g. ``"PACS ORTHANC@127.0.0.1:4242
    rejected the association: called AE title not recognised"``.
    """
