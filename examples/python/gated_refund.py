"""A payments agent whose refund tool runs only after a Vouch capability exchange accepts it.

Another org's agent asks this one for refunds. Before the tool runs, this agent asks the caller,
through its own wallet daemon, to prove the capability the call needs — this action, on this
order, with this amount — and runs the tool only if the exchange accepts it. The caller's proof
is a presentation of a credential its org issued, checked against the consortium's documents,
revocation lists and trusted issuers; this agent never holds a key.

    python gated_refund.py path/to/agents.json     # written by `vouch-testnet agents`
"""

from __future__ import annotations

import functools
import json
import sys

from vouch_client import Wallet, WalletError


def requires_capability(wallet: Wallet, capability_of):
    """Runs the tool only for a caller (`peer`, its exchange address) that proves the capability
    `capability_of(**arguments)` in an exchange; otherwise says why not."""

    def decorator(tool):
        @functools.wraps(tool)
        def gated(peer: str, **arguments):
            try:
                exchange = wallet.exchange(peer, [capability_of(**arguments)])
            except WalletError as e:
                # The caller presented nothing: it holds nothing for this (`not_granted`).
                if e.reason:
                    return f"refused ({e.reason})"
                raise
            if not exchange.accepted:
                reasons = ", ".join(d.reason or "rejected" for d in exchange.rejected())
                return f"refused ({reasons})"
            return tool(**arguments)

        return gated

    return decorator


def main(agents_path: str) -> None:
    with open(agents_path) as f:
        agents = json.load(f)
    caller = agents["prover"]["address"]  # the agent asking for refunds

    with Wallet(agents["verifier"]["socket"]) as wallet:

        @requires_capability(
            wallet,
            lambda order, amount: {
                "action": "call:testnet:refund",
                "resource": f"https://testnet.example/refunds/{order}",
                "arguments": {"amount": {"value": amount, "unit": "EUR"}},
            },
        )
        def issue_refund(order: str, amount: int) -> str:
            return "issued"  # the real work would go here

        @requires_capability(
            wallet,
            lambda order: {"action": "call:testnet:delete", "resource": f"https://testnet.example/orders/{order}"},
        )
        def delete_order(order: str) -> str:
            return "deleted"

        print(f"refund 42 of 1200 EUR: {issue_refund(caller, order='42', amount=1200)}")
        print(f"refund 43 of 9000 EUR: {issue_refund(caller, order='43', amount=9000)}")
        print(f"delete order 42: {delete_order(caller, order='42')}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "testnet-data/agents.json")
