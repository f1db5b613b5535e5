"""An agent calling an MCP server that speaks OAuth, not Vouch (`mcp_refund_oauth.py`): its wallet
daemon exchanges the agent's refund capability at its org's node for an access token bound to
the agent's key (RFC 8693, RFC 9449), and signs a DPoP proof of each request; the key never
enters this process. The server runs the refund its token covers and refuses one beyond it; once
the task is revoked at the org's node (by the command given after the agents file, run between
the calls), the same token is refused: the server asks the node, which says it is inactive.

    python call_refund_oauth.py path/to/agents.json [REVOKE-COMMAND…]
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import anyio
import httpx2
from mcp import ClientSession
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

from vouch_client import Wallet
from vouch_client.calls import dpop_auth

ORIGIN = "https://testnet.example"  # the server's public origin (mcp_refund_oauth.py)
PATH = "/refunds/mcp"
ACCEPT = {"accept": "application/json, text/event-stream"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(node: str) -> tuple[subprocess.Popen, str]:
    """Runs mcp_refund_oauth.py on a local port; its URL once it answers."""
    here = os.path.dirname(os.path.abspath(__file__))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, os.path.join(here, "mcp_refund_oauth.py"), f"127.0.0.1:{port}"],
        env={**os.environ, "VOUCH_NODE": node},
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}{PATH}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the MCP server did not start")


def call(order: str, value: int) -> dict:
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "refund", "arguments": {"order": order, "amount": {"value": value, "unit": "EUR"}}}}


def refusal(answer) -> str:
    return f"{answer.status_code} {answer.json().get('error')}"


async def main(agents_path: str, revoke: list[str]) -> None:
    with open(agents_path) as f:
        agents = json.load(f)
    prover = agents["prover"]
    process, url = start_server(prover["node"])
    try:
        with Wallet(prover["socket"]) as wallet:
            token = wallet.access_token(ORIGIN + PATH)
            details = token["authorization_details"]
            print(f"token: {token['token_type']}, {len(details)} capability, "
                  f"{details[0]['actions'][0]} up to {details[0]['constraints']['maxAmount']['value']} EUR")
            auth = dpop_auth(wallet, token["access_token"], origin=ORIGIN, auth_base=httpx2.Auth)
            async with create_mcp_http_client(auth=auth) as client:
                async with streamable_http_client(url, http_client=client) as (read, write):
                    async with ClientSession(read, write) as session:
                        await session.initialize()
                        result = await session.call_tool(
                            "refund", {"order": "42", "amount": {"value": 1200, "unit": "EUR"}})
                        print("refund 42, 1200 EUR:", result.content[0].text)
                # Beyond the capability: the server refuses before the tool runs.
                answer = await client.post(url, json=call("44", 9000), headers=ACCEPT)
                print("refund 44, 9000 EUR:", refusal(answer))
            # Without the proof, the token alone is nothing.
            async with create_mcp_http_client() as bare:
                answer = await bare.post(url, json=call("45", 10), headers={
                    **ACCEPT, "authorization": f"DPoP {token['access_token']}"})
                print("refund 45, token without proof:", refusal(answer))
            if revoke:
                subprocess.run(revoke, check=True, stdout=subprocess.DEVNULL)
                # The node knows at once; the server asks it at each request.
                async with create_mcp_http_client(auth=auth) as client:
                    answer = await client.post(url, json=call("46", 10), headers=ACCEPT)
                    print("refund 46 after the task's revocation:", refusal(answer))
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else "testnet-data/agents.json", sys.argv[2:])
