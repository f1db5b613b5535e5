"""An agent calling a Vouch-gated MCP tool (`mcp_refund_tool.py`): it asks, gets a capability
request back, has its wallet daemon answer it, and calls again with the proof.

    python call_refund_tool.py path/to/agents.json     # written by `vouch-testnet agents`
"""

from __future__ import annotations

import json
import os
import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from vouch_client import Wallet


def text_of(result) -> str:
    text = result.content[0].text if result.content else ""
    return text.removeprefix("Error executing tool refund: ")


def request_in(result) -> dict:
    """The capability request a refused call carries (the SDK may put words before it)."""
    text = text_of(result)
    asked, _ = json.JSONDecoder().raw_decode(text[text.index("{") :])
    if asked.get("vouch") != "capability_required":
        raise ValueError(f"not a capability request: {text[:200]}")
    return asked


def is_error(result) -> bool:
    return bool(getattr(result, "is_error", getattr(result, "isError", False)))


async def refund(session: ClientSession, wallet: Wallet, order: str, amount: int) -> str:
    """Calls the tool; answers the capability request it returns with the wallet; calls again."""
    first = await session.call_tool("refund", {"order": order, "amount": amount})
    if not is_error(first):
        return text_of(first)
    asked = request_in(first)
    response = wallet.answer(asked["request"])  # a presentation, signed by the daemon
    proved = await session.call_tool(
        "refund",
        {"order": order, "amount": amount, "exchange_id": asked["exchangeId"], "response": response},
    )
    return text_of(proved)


async def main(agents_path: str) -> None:
    with open(agents_path) as f:
        agents = json.load(f)
    tool = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mcp_refund_tool.py")
    server = StdioServerParameters(
        command=sys.executable,
        args=[tool],
        env={**os.environ, "VOUCH_NODE": agents["verifier"]["node"]},
    )
    with Wallet(agents["prover"]["socket"]) as wallet:
        # The tool server's own log (its refusals) is not this agent's output.
        with open(os.devnull, "w") as quiet:
            async with stdio_client(server, errlog=quiet) as (read, write):
                async with ClientSession(read, write) as session:
                    await session.initialize()
                    print("refund 42, 1200 EUR:", await refund(session, wallet, "42", 1200))
                    print("refund 43, 9000 EUR:", await refund(session, wallet, "43", 9000))
                    # A proof for a small refund, replayed for a large one: refused.
                    first = await session.call_tool("refund", {"order": "44", "amount": 10})
                    asked = request_in(first)
                    response = wallet.answer(asked["request"])
                    reused = await session.call_tool(
                        "refund",
                        {"order": "44", "amount": 4000, "exchange_id": asked["exchangeId"], "response": response},
                    )
                    print("refund 44, 4000 EUR with the proof for 10 EUR:", text_of(reused))


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else "testnet-data/agents.json")
