"""`vouch mcp` driven by the official MCP Python SDK (`mcp` from PyPI) over stdio: the tools are
listed with their schemas, each does what it says against a real wallet daemon, and a refused
call comes back as a tool error while the server keeps serving."""

from __future__ import annotations

import json

import anyio
import pytest

mcp = pytest.importorskip("mcp")
from mcp import ClientSession, StdioServerParameters  # noqa: E402
from mcp.client.stdio import stdio_client  # noqa: E402

from conftest import bin_dir, refund  # noqa: E402

TOOLS = {
    "vouch_identity",
    "vouch_list_credentials",
    "vouch_request_exchange",
    "vouch_answer_request",
    "vouch_delegate",
    "vouch_request_approval",
    "vouch_approval_status",
    "vouch_check_presentation",
}


def with_session(agent, body, node=True, delegation=True):
    """Runs ``body(session)`` against ``vouch mcp`` for ``agent``'s daemon."""
    args = ["mcp", "--socket", agent["socket"]] + (["--node", agent["node"]] if node else [])
    args += ["--allow-delegation"] if delegation else []
    params = StdioServerParameters(command=str(bin_dir() / "vouch"), args=args)

    async def main():
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                return await body(session)

    return anyio.run(main)


def field(value, snake, camel):
    """A field of the SDK's models, as the SDK names it (2.x snake_case, 1.x camelCase)."""
    return getattr(value, snake) if hasattr(value, snake) else getattr(value, camel)


def structured(result):
    assert not field(result, "is_error", "isError"), result.content
    content = field(result, "structured_content", "structuredContent")
    if content is not None:
        return content
    return json.loads(result.content[0].text)


def error_text(result):
    assert field(result, "is_error", "isError"), result
    return result.content[0].text


def test_the_tools_are_listed_with_their_schemas(testnet):
    async def body(session):
        return (await session.list_tools()).tools

    tools = with_session(testnet["prover"], body)
    assert {t.name for t in tools} == TOOLS, "a curated set: nothing reads or exports a key"
    for tool in tools:
        assert tool.description
        assert field(tool, "input_schema", "inputSchema")["type"] == "object"
    exchange = next(t for t in tools if t.name == "vouch_request_exchange")
    assert field(exchange, "input_schema", "inputSchema")["required"] == ["peer", "capabilities"]


def test_identity_and_credentials(testnet):
    async def body(session):
        identity = structured(await session.call_tool("vouch_identity", {}))
        held = structured(await session.call_tool("vouch_list_credentials", {}))
        none = structured(
            await session.call_tool("vouch_list_credentials", {"task": "no-such-task"})
        )
        return identity, held, none

    identity, held, none = with_session(testnet["prover"], body)
    assert identity["did"] == testnet["prover"]["did"]
    assert len(held["credentials"]) == 1
    credential = held["credentials"][0]
    assert credential["issuer"] == testnet["prover"]["org"]
    assert credential["capabilities"][0]["action"] == "call:testnet:refund"
    assert "proof" not in credential
    assert none == {"credentials": []}


def test_an_exchange_through_mcp_decides_each_capability(testnet):
    peer = testnet["prover"]["address"]

    async def body(session):
        within = structured(
            await session.call_tool(
                "vouch_request_exchange", {"peer": peer, "capabilities": [refund(100)]}
            )
        )
        over = structured(
            await session.call_tool(
                "vouch_request_exchange", {"peer": peer, "capabilities": [refund(9000)]}
            )
        )
        return within, over

    within, over = with_session(testnet["verifier"], body)
    assert within["allAccepted"] is True and within["prover"] == testnet["prover"]["did"]
    assert over["allAccepted"] is False
    assert over["decisions"][0]["reason"] == "constraint_violated"


def test_refused_calls_are_tool_errors_and_the_server_keeps_serving(testnet):
    sub_agent = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"

    async def body(session):
        held = structured(await session.call_tool("vouch_list_credentials", {}))
        parent = held["credentials"][0]["id"]
        narrower = {
            "action": "call:testnet:refund",
            "resource": "https://testnet.example/refunds/7/**",
            "constraints": {"maxAmount": {"value": 100, "unit": "EUR"}},
        }
        delegated = structured(
            await session.call_tool(
                "vouch_delegate", {"parent": parent, "to": sub_agent, "capabilities": [narrower]}
            )
        )
        wider = await session.call_tool(
            "vouch_delegate",
            {
                "parent": parent,
                "to": sub_agent,
                "capabilities": [{"action": "call:testnet:delete", "resource": "https://testnet.example/**"}],
            },
        )
        missing = await session.call_tool("vouch_request_exchange", {"peer": "x"})
        unknown = await session.call_tool("vouch_export_key", {})
        bad_peer = await session.call_tool(
            "vouch_request_exchange", {"peer": "not-an-address", "capabilities": [refund(1)]}
        )
        still = structured(await session.call_tool("vouch_identity", {}))
        return delegated, wider, missing, unknown, bad_peer, still

    delegated, wider, missing, unknown, bad_peer, still = with_session(testnet["prover"], body)
    credential = delegated.get("credential", delegated)
    assert credential["credentialSubject"]["id"] == sub_agent
    assert error_text(wider).startswith("refused")
    assert "capabilities" in error_text(missing)
    assert "unknown tool" in error_text(unknown)
    assert error_text(bad_peer)
    assert still["did"] == testnet["prover"]["did"]


def test_checking_a_presentation_asks_the_node_and_needs_one(testnet):
    broken = {"@context": ["https://www.w3.org/ns/credentials/v2"], "type": ["VerifiablePresentation"]}
    args = {"presentation": broken, "challenge": "c", "domain": "d"}

    async def with_node(session):
        return structured(await session.call_tool("vouch_check_presentation", args))

    async def without_node(session):
        return await session.call_tool("vouch_check_presentation", args)

    report = with_session(testnet["verifier"], with_node)
    assert report["verified"] is False
    assert [e["reason"] for e in report["errors"]] == ["malformed"]
    assert "--node" in error_text(with_session(testnet["verifier"], without_node, node=False))


def test_answering_a_request_through_mcp_proves_to_the_node(testnet):
    from vouch_client import Node

    node = Node(testnet["verifier"]["node"])
    exchange_id, request = node.open_exchange([refund(300)])

    async def body(session):
        answered = structured(await session.call_tool("vouch_answer_request", {"request": request}))
        replayed = await session.call_tool("vouch_answer_request", {"request": request})
        return answered, replayed

    response, replayed = with_session(testnet["prover"], body)
    assert "verifiablePresentation" in response
    assert error_text(replayed), "a request is answered once"
    exchange = node.complete_exchange(exchange_id, response)
    assert exchange.accepted and exchange.prover == testnet["prover"]["did"]


def test_a_request_rewritten_by_a_relay_is_refused_through_mcp(testnet):
    """A relay opens an exchange for 4,900 EUR and shows the agent a copy rewritten to 10 EUR
    (a prompt injection reaches the same tool): the verifier's presentation does not sign the
    copy, and the daemon refuses it. Nor can the relay take the agent's answer to a genuine 10
    EUR request to the 4,900 EUR exchange: the node decides `request_mismatch`."""
    import copy

    from vouch_client import Node

    node = Node(testnet["verifier"]["node"])
    big_id, big = node.open_exchange([refund(4900, "https://testnet.example/refunds/666")])
    shown = copy.deepcopy(big)
    shown["capabilities"] = [refund(10)]
    _, small = node.open_exchange([refund(10)])

    async def body(session):
        rewritten = await session.call_tool("vouch_answer_request", {"request": shown})
        genuine = structured(await session.call_tool("vouch_answer_request", {"request": small}))
        return rewritten, genuine

    rewritten, genuine = with_session(testnet["prover"], body)
    assert "request_mismatch" in error_text(rewritten)
    exchange = node.complete_exchange(big_id, genuine)
    assert not exchange.accepted
    assert [d.reason for d in exchange.decisions] == ["request_mismatch"], exchange.decisions


def test_a_model_can_ask_for_an_approval_but_only_of_what_needs_one(testnet):
    """The prover's refund credential needs no approval: asked through MCP, the org's node says
    there is nothing to approve (a tool error); an unknown request is not found."""

    async def body(session):
        asked = await session.call_tool("vouch_request_approval", {"request": refund(100)})
        unknown = await session.call_tool(
            "vouch_approval_status", {"id": "urn:uuid:6f1b3a44-2c8e-4f53-9a57-0c1a1d2e3f40"}
        )
        return asked, unknown

    asked, unknown = with_session(testnet["prover"], body)
    assert "nothing to approve" in error_text(asked)
    assert error_text(unknown).startswith("not_found")


def test_delegation_is_offered_only_when_allowed(testnet):
    async def body(session):
        listed = {t.name for t in (await session.list_tools()).tools}
        called = await session.call_tool(
            "vouch_delegate", {"parent": "urn:uuid:x", "to": "did:key:z6Mk", "capabilities": [refund(1)]}
        )
        return listed, called

    listed, called = with_session(testnet["prover"], body, delegation=False)
    assert "vouch_delegate" not in listed and listed == TOOLS - {"vouch_delegate"}
    assert "--allow-delegation" in error_text(called)
