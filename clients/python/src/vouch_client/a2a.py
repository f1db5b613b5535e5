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
EXTENSION = "https://w3id.org/vouch/a2a/identity/v1"


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
    JSON, read within ``timeout`` seconds in all — a server that sends a byte now and then is
    cut off at the deadline, not waited for read after read. Redirects are not followed. Its
    contents are claims: see :func:`exchange_from_card`."""
    import http.client
    import json
    import socket
    import threading
    import time
    import urllib.parse

    if not url.startswith(("http://", "https://")):
        raise VouchError(f"a card's URL is http(s), not {url!r}")
    try:
        parts = urllib.parse.urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError as e:
        raise VouchError(f"a card's URL does not parse: {e}") from e
    if not host:
        raise VouchError(f"a card's URL names no host: {url!r}")
    connection_type = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    connection = connection_type(host, port, timeout=timeout)
    deadline = time.monotonic() + timeout

    def cut_off() -> None:
        # The deadline: whatever read is waiting ends now.
        sock = connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    timer = threading.Timer(timeout, cut_off)
    timer.daemon = True
    timer.start()
    try:
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection.request("GET", target, headers={"Accept": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            raise VouchError(f"no agent card at {url}: HTTP {response.status}")
        raw = bytearray()
        while len(raw) <= MAX_CARD:
            left = deadline - time.monotonic()
            if left <= 0:
                raise VouchError(f"no agent card at {url} within {timeout} s")
            if connection.sock is not None:
                connection.sock.settimeout(left)
            chunk = response.read1(64 * 1024)
            if not chunk:
                break
            raw += chunk
        if time.monotonic() >= deadline:
            raise VouchError(f"no agent card at {url} within {timeout} s")
    except (OSError, ValueError, http.client.HTTPException) as e:
        if time.monotonic() >= deadline:
            raise VouchError(f"no agent card at {url} within {timeout} s") from e
        raise VouchError(f"no agent card at {url}: {e}") from e
    finally:
        timer.cancel()
        connection.close()
    if len(raw) > MAX_CARD:
        raise VouchError(f"the card at {url} is larger than {MAX_CARD} bytes")
    try:
        card = json.loads(bytes(raw))
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
