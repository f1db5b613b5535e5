"""Vouch for Python agents: prove and check capabilities through the wallet daemon and the
node's HTTP API. The client never holds a key: the daemon signs, and only structured operations
(an exchange, a delegation) are offered.

    from vouch_client import Wallet

    with Wallet("/run/vouch/agent.sock") as wallet:
        exchange = wallet.exchange(peer, [{"action": "call:payments:refund",
                                           "resource": "https://api.example/refunds/42"}])
        if exchange.accepted:
            ...
"""

from .a2a import EXTENSION, VouchIdentity, exchange_from_card, fetch_card, vouch_identity
from .errors import NodeError, VouchError, WalletError
from .node import Node
from .types import Check, Decision, Exchange, Identity, Refusal, Resolution, Verification
from .wallet import Wallet

__all__ = [
    "EXTENSION",
    "VouchIdentity",
    "exchange_from_card",
    "fetch_card",
    "vouch_identity",
    "Check",
    "Decision",
    "Exchange",
    "Identity",
    "Node",
    "NodeError",
    "Refusal",
    "Resolution",
    "Verification",
    "VouchError",
    "Wallet",
    "WalletError",
]
__version__ = "0.1.0"
