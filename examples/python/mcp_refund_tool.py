"""The verifier side for tool providers: an MCP server over streamable HTTP whose `refund` tool
runs only for a request signed by the caller's Vouch wallet daemon (RFC 9421) under a capability
that permits this very refund.

The provider has no wallet of its own. `SignedRequests` (vouch_client.asgi) checks every HTTP
request before the MCP server sees it: a `tools/call` of `refund` is the action
`call:testnet:refund` on this server's URL, with the call's arguments (the amount) as the server
reads them from the request; its org's node verifies the signature, its freshness and nonce, the
body's digest, then the capability — its chain, status and constraints (`POST
/1.0/requests/verify`) — and records the decision. The first request of a session carries the
caller's credential and chain; the following ones name it only. Anything else is answered 401 or
403 with the node's reason and never reaches the tool.

    VOUCH_NODE=http://127.0.0.1:8080 python mcp_refund_tool.py 127.0.0.1:8765

The server's public origin is `https://testnet.example` (the testnet's refund capabilities are
for `https://testnet.example/refunds/**`) and its MCP endpoint `/refunds/mcp`: here it listens on
a local port, as it would behind the TLS proxy that serves that name.
"""

from __future__ import annotations

import os
import sys
from typing_extensions import TypedDict

import uvicorn
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError

from vouch_client.asgi import SignedRequests
from vouch_client.calls import mcp_action, mcp_arguments

ORIGIN = "https://testnet.example"
PATH = "/refunds/mcp"

server = MCPServer("refunds")


class Amount(TypedDict):
    value: int
    unit: str


@server.tool()
def refund(order: str, amount: Amount, ctx: Context) -> str:
    """Issues a refund of `amount` on `order`. Runs only for a request your Vouch wallet daemon
    signed under a capability that permits it (`call:testnet:refund`, within its limits)."""
    request = ctx.request_context.request
    caller = getattr(getattr(request, "state", None), "vouch", None)
    if not caller:  # Never reached past the middleware; a tool does not run unchecked anyway.
        raise ToolError("refused: no Vouch signature was checked for this call")
    return f"refund of {amount['value']} {amount['unit']} on order {order} issued for {caller['signer']}"


def app(node: str):
    """The MCP server's HTTP application, behind the signature check."""
    return SignedRequests(
        server.streamable_http_app(streamable_http_path=PATH),
        node=node,
        origin=ORIGIN,
        action=mcp_action("call:testnet"),
        arguments=mcp_arguments,
    )


if __name__ == "__main__":
    host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8765").rsplit(":", 1)
    node = os.environ.get("VOUCH_NODE", "http://127.0.0.1:8080")
    uvicorn.run(app(node), host=host, port=int(port), log_level="warning")
