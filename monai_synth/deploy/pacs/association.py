"""Open an association with a PACS, turning every way it can fail into one clear :class:`PacsError`.

pynetdicom reports a refused connection, a rejected association (wrong AE title, unknown caller) and an
abort in the same way (the association is simply not established) and logs the reason. Here the TCP
connection is tried first (unreachable host or port), and pynetdicom's log is read for the rejection's
reason, so that the message says which of these happened.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
from collections.abc import Iterator, Sequence
from typing import Any

from monai_synth.deploy.pacs.config import PacsConfig
from monai_synth.deploy.pacs.errors import PacsError

__all__ = ["associate", "require_pynetdicom", "tls_context"]


def require_pynetdicom() -> Any:
    """The ``pynetdicom`` module, or an error saying how to install it."""
    try:
        import pynetdicom
    except ImportError as err:
        raise PacsError("PACS commands need pynetdicom: pip install 'monai_synth[pacs]'") from err
    return pynetdicom


def tls_context(config: PacsConfig) -> ssl.SSLContext | None:
    """A client TLS context from ``config.tls`` (None: plain DICOM)."""
    if config.tls is None:
        return None
    try:
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=config.tls.ca)
        if config.tls.cert:
            context.load_cert_chain(config.tls.cert, keyfile=config.tls.key)
    except (OSError, ssl.SSLError) as err:
        raise PacsError(f"cannot set up TLS for {config.name}: {err}") from err
    return context


def _check_reachable(config: PacsConfig) -> None:
    """Open and close a TCP connection, so that an unreachable PACS is named as such."""
    try:
        with socket.create_connection((config.host, int(config.port)), timeout=config.timeout):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise PacsError(f"cannot reach the PACS at {config.host}:{config.port} ({reason})") from err


class _ReasonLog(logging.Handler):
    """Keeps pynetdicom's error lines (the association's rejection reason) instead of printing them."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    def reason(self) -> str:
        """The rejection's reason (``"Reason: ..."`` line) or the last error line."""
        reasons = [line.split("Reason:", 1)[1].strip() for line in self.lines if "Reason:" in line]
        return reasons[-1] if reasons else (self.lines[-1] if self.lines else "no reason given")


@contextlib.contextmanager
def _captured_pynetdicom_log() -> Iterator[_ReasonLog]:
    """Route pynetdicom's log to a :class:`_ReasonLog` (and away from the console) for a while."""
    logger = logging.getLogger("pynetdicom")
    handler, propagate = _ReasonLog(), logger.propagate
    logger.addHandler(handler)
    logger.propagate = logger.isEnabledFor(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def _failure(config: PacsConfig, assoc: Any, log: _ReasonLog) -> PacsError:
    """The error of an association that was not established."""
    if assoc.is_rejected:
        return PacsError(f"PACS {config.name} rejected the association from {config.calling_aet}: {log.reason()}"
                         " (check the called and calling AE titles)")
    if assoc.is_aborted:
        return PacsError(f"PACS {config.name} aborted the association: {log.reason()}")
    return PacsError(f"no association with PACS {config.name}: {log.reason()}")


@contextlib.contextmanager
def associate(
    config: PacsConfig,
    contexts: Sequence[Any],
    *,
    roles: Sequence[Any] = (),
    handlers: Sequence[tuple[Any, Any]] = (),
) -> Iterator[Any]:
    """An established association with the PACS, released at the end (aborted on an exception).

    Args:
        config: the PACS.
        contexts: requested presentation contexts (pynetdicom ``PresentationContext``).
        roles: SCP/SCU role selection items (C-GET needs the storage SCP role).
        handlers: pynetdicom event handlers ``(event, handler)``.

    Yields:
        The pynetdicom ``Association``.

    Raises:
        PacsError: unreachable PACS, rejected or aborted association.
    """
    pynetdicom = require_pynetdicom()
    _check_reachable(config)
    ae = pynetdicom.AE(ae_title=config.calling_aet)
    ae.requested_contexts = list(contexts)
    for timeout in ("acse_timeout", "dimse_timeout", "network_timeout", "connection_timeout"):
        setattr(ae, timeout, config.timeout)
    context = tls_context(config)
    with _captured_pynetdicom_log() as log:
        assoc = ae.associate(
            config.host, int(config.port), ae_title=config.called_aet, ext_neg=list(roles) or None,
            evt_handlers=list(handlers) or None, tls_args=(context, config.host) if context else None,
        )
        if not assoc.is_established:
            raise _failure(config, assoc, log)
        try:
            yield assoc
        except BaseException:
            assoc.abort()
            raise
        assoc.release()
