"""An agent calling a Vouch-gated MCP tool over streamable HTTP (`mcp_refund_tool.py`): every
tool call it sends is signed by its wallet daemon (RFC 9421) under its refund capability — the
first with its credential and chain, the following ones naming it only. The key never enters this
process; the daemon signs only what its capability permits.

    python call_refund_tool.py path/to/agents.json     # written by `vouch-testnet agents`
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

from vouch_client import Wallet, WalletError
from vouch_client.calls import mcp_action, mcp_arguments, signing_auth

ORIGIN = "https://testnet.example"  # the tool server's public origin (mcp_refund_tool.py)
PATH = "/refunds/mcp"


def text_of(result) -> str:
    return result.content[0].text if result.content else ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_tool_server(node: str) -> tuple[subprocess.Popen, str]:
    """Runs mcp_refund_tool.py on a local port; its URL once it answers."""
    here = os.path.dirname(os.path.abspath(__file__))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, os.path.join(here, "mcp_refund_tool.py"), f"127.0.0.1:{port}"],
        env={**os.environ, "VOUCH_NODE": node},
        stderr=subprocess.DEVNULL,  # the tool server's own log is not this agent's output
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return process, f"http://127.0.0.1:{port}{PATH}"
        except OSError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError("the tool server did not start")


async def refund(session: ClientSession, order: str, value: int) -> str:
    result = await session.call_tool(
        "refund", {"order": order, "amount": {"value": value, "unit": "EUR"}}
    )
    return text_of(result)


async def main(agents_path: str) -> None:
    with open(agents_path) as f:
        agents = json.load(f)
    process, url = start_tool_server(agents["verifier"]["node"])
    try:
        with Wallet(agents["prover"]["socket"]) as wallet:
            credential = wallet.credentials(task=agents["prover"]["task"])[0]["id"]
            auth = signing_auth(
                wallet,
                credential=credential,
                action=mcp_action("call:testnet"),
                arguments=mcp_arguments,
                origin=ORIGIN,
                auth_base=httpx2.Auth,
            )
            async with create_mcp_http_client(auth=auth) as client:
                async with streamable_http_client(url, http_client=client) as (read, write):
                    async with ClientSession(read, write) as session:
                        await session.initialize()
                        print("refund 42, 1200 EUR:", await refund(session, "42", 1200))
                        print("refund 43, 300 EUR:", await refund(session, "43", 300))
            # Beyond its capability (5000 EUR), the daemon signs nothing: the call is never sent.
            try:
                wallet.sign_request(
                    "POST",
                    ORIGIN + PATH,
                    credential=credential,
                    action="call:testnet:refund",
                    arguments={"amount": {"value": 9000, "unit": "EUR"}},
                )
            except WalletError as refused:
                print(f"refund 44, 9000 EUR: the daemon refused to sign ({refused.reason})")
            # Without the daemon's signature, the server refuses before the tool runs.
            async with create_mcp_http_client() as client:
                body = {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {"name": "refund", "arguments": {"order": "45", "amount": {"value": 1, "unit": "EUR"}}},
                }
                answer = await client.post(url, json=body, headers={"accept": "application/json, text/event-stream"})
                print(f"refund 45 unsigned: {answer.status_code} {answer.json()['code']}")
    finally:
        process.terminate()
        process.wait(timeout=10)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else "testnet-data/agents.json")
