"""What a Vouch call can fail with."""

from __future__ import annotations

from typing import Optional


class VouchError(Exception):
    """Any failure of a Vouch client call."""


class WalletError(VouchError):
    """The wallet daemon refused a request.

    ``code`` is the daemon's stable code (``malformed``, ``too_large``, ``refused``,
    ``busy`` — all its connections in use: ask again —, ``internal``); ``reason`` the DESIGN §8 reason code when an exchange was refused
    (``not_granted``, ``revoked``, …), else ``None``.
    """

    def __init__(self, code: str, message: str, reason: Optional[str] = None) -> None:
        super().__init__(f"{code}: {message}" + (f" ({reason})" if reason else ""))
        self.code = code
        self.message = message
        self.reason = reason


class NodeError(VouchError):
    """The node answered with an error status, or could not be reached.

    ``status`` is the HTTP status (0 when the node could not be reached); ``body`` its answer,
    parsed when it was JSON (an RFC 9457 problem object, or a DID resolution result).
    """

    def __init__(self, status: int, message: str, body: object = None) -> None:
        super().__init__(f"{status}: {message}" if status else message)
        self.status = status
        self.message = message
        self.body = body
