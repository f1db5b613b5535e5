"""The verifier side for tool providers: an MCP server whose `refund` tool runs only with a
Vouch proof that the caller may ask for this very refund.

The provider has no wallet of its own: its org's node verifies, through the node's HTTP
exchange (`POST /1.0/exchanges`). A call without proof is answered with a tool error carrying a
capability request for exactly this call (action, order, amount); the caller's wallet daemon
answers it with a presentation (`Wallet.answer`), and the caller calls again with the exchange's
id and that response. The node decides, signs and records the decision; the tool runs only if
the decision is about this call's capability and accepts it. An exchange is answered once.

    VOUCH_NODE=http://127.0.0.1:8080 python mcp_refund_tool.py     # MCP over stdio
"""

from __future__ import annotations

import json
import os
from typing import Any, Dict, Optional

try:  # mcp 2.x
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
except ImportError:  # mcp 1.x
    from mcp.server.fastmcp import FastMCP as MCPServer
    from mcp.server.fastmcp.exceptions import ToolError

from vouch_client import Node, NodeError

server = MCPServer("refunds")
node = Node(os.environ.get("VOUCH_NODE", "http://127.0.0.1:8080"))


def capability_of(order: str, amount: int) -> Dict[str, Any]:
    """What a refund call needs: this action, on this order, for this amount."""
    return {
        "action": "call:testnet:refund",
        "resource": f"https://testnet.example/refunds/{order}",
        "arguments": {"amount": {"value": amount, "unit": "EUR"}},
    }


@server.tool()
def refund(
    order: str,
    amount: int,
    exchange_id: Optional[str] = None,
    response: Optional[Dict[str, Any]] = None,
) -> str:
    """Issues a refund of `amount` EUR on `order`. Needs a Vouch proof: call without one to get
    a capability request, have your wallet answer it, and call again with `exchange_id` and the
    `response`."""
    capability = capability_of(order, amount)
    if exchange_id is None or response is None:
        opened, request = node.open_exchange([capability])
        raise ToolError(
            json.dumps({"vouch": "capability_required", "exchangeId": opened, "request": request})
        )
    try:
        exchange = node.complete_exchange(exchange_id, response)
    except NodeError as e:
        raise ToolError(f"refused: {e.message}") from None
    # The decision must be about this call: an exchange opened for another order or a smaller
    # amount proves nothing about this one.
    if [d.capability for d in exchange.decisions] != [capability]:
        raise ToolError("refused: the proof is for another call")
    if not exchange.accepted:
        reasons = ", ".join(d.reason or "rejected" for d in exchange.rejected())
        raise ToolError(f"refused ({reasons})")
    return f"refund of {amount} EUR on order {order} issued for {exchange.prover}"


if __name__ == "__main__":
    server.run()
