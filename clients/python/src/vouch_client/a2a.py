"""A2A agent cards with the Vouch identity extension (docs/A2A.md).

A card is a claim, not evidence: :func:`exchange_from_card` starts an exchange at the card's
address and refuses the outcome unless the agent that answered is the card's instance; the
decisions themselves rest on the presentation the agent made, verified by the daemon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Sequence

from .errors import VouchError
from .types import Exchange

#: The URI of the Vouch identity extension of an A2A agent card.
EXTENSION = "https://vouch.id/a2a/identity/v1"


@dataclass(frozen=True)
class VouchIdentity:
    """What a card's Vouch extension says of its agent."""

    instance: str
    organizations: List[str]
    addresses: List[str]
    credential_types: List[str]
    capabilities: List[Dict[str, Any]]


def vouch_identity(card: Dict[str, Any]) -> VouchIdentity:
    """The Vouch identity a card advertises; :class:`VouchError` when it has none, or a
    malformed one."""
    extensions = (card.get("capabilities") or {}).get("extensions") or []
    found = [e for e in extensions if isinstance(e, dict) and e.get("uri") == EXTENSION]
    if len(found) != 1:
        raise VouchError(f"the card has {len(found)} Vouch identity extensions, not one")
    params = found[0].get("params") or {}
    instance = params.get("instance")
    addresses = (params.get("exchange") or {}).get("libp2p") or []
    if not isinstance(instance, str) or not instance.startswith("did:key:"):
        raise VouchError("the card's Vouch identity names no did:key instance")
    if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
        raise VouchError("the card's exchange addresses are not a list of strings")
    return VouchIdentity(
        instance=instance,
        organizations=[o for o in params.get("organizations") or [] if isinstance(o, str)],
        addresses=addresses,
        credential_types=[t for t in params.get("credentialTypes") or [] if isinstance(t, str)],
        capabilities=[c for c in params.get("capabilities") or [] if isinstance(c, dict)],
    )


#: The largest card read.
MAX_CARD = 1024 * 1024


def fetch_card(url: str, timeout: float = 10.0) -> Dict[str, Any]:
    """An agent's card from ``url`` (its ``/.well-known/agent-card.json``): at most 1 MiB of
    JSON. Its contents are claims: see :func:`exchange_from_card`."""
    import http.client
    import json
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise VouchError(f"a card's URL is http(s), not {url!r}")
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            raw = response.read(MAX_CARD + 1)
    except (OSError, ValueError, http.client.HTTPException) as e:
        raise VouchError(f"no agent card at {url}: {e}") from e
    if len(raw) > MAX_CARD:
        raise VouchError(f"the card at {url} is larger than {MAX_CARD} bytes")
    try:
        card = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise VouchError(f"the card at {url} is not JSON: {e}") from e
    if not isinstance(card, dict):
        raise VouchError(f"the card at {url} is not a JSON object")
    return card


def exchange_from_card(
    wallet: Any, card: Dict[str, Any], capabilities: Sequence[Dict[str, Any]], **options: Any
) -> Exchange:
    """Asks the agent of ``card`` to prove ``capabilities`` through ``wallet`` (a
    :class:`~vouch_client.Wallet`); raises :class:`VouchError` if the card has no address or
    the agent that answered is not the card's instance."""
    identity = vouch_identity(card)
    if not identity.addresses:
        raise VouchError("the card gives no exchange address")
    exchange = wallet.exchange(identity.addresses[0], capabilities, **options)
    if exchange.prover != identity.instance:
        raise VouchError(
            f"the agent that answered is {exchange.prover}, not the card's {identity.instance}"
        )
    return exchange
