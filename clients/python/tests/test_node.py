"""The node client against real nodes: resolution and the verification service."""

from __future__ import annotations

import copy

import pytest

from conftest import openapi_allows, refund
from vouch_client import Node, NodeError, Wallet


def test_resolves_an_org_and_an_instance(testnet):
    node = Node(testnet["verifier"]["node"])
    org = node.resolve(testnet["prover"]["org"])
    assert org.document["id"] == testnet["prover"]["org"]
    assert not org.deactivated
    instance = node.resolve(testnet["prover"]["did"])
    assert instance.document["id"] == testnet["prover"]["did"]


def test_an_unknown_did_is_an_error_with_the_resolution_result(testnet):
    node = Node(testnet["verifier"]["node"])
    with pytest.raises(NodeError) as unknown:
        node.resolve("did:vouch:zQmaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
    assert unknown.value.status in (400, 404)
    with pytest.raises(NodeError):
        node.resolve("not a did")


def test_a_credential_verifies_at_another_orgs_node_and_a_tampered_one_does_not(testnet):
    with Wallet(testnet["prover"]["socket"]) as wallet:
        credential = wallet.credentials()[0]
    node = Node(testnet["verifier"]["node"])
    report = node.verify_credential(credential)
    assert report.verified, report.errors
    assert report.reasons == []

    tampered = copy.deepcopy(credential)
    tampered["credentialSubject"]["capabilities"][0]["resource"] = "https://testnet.example/**"
    refused = node.verify_credential(tampered)
    assert not refused.verified
    assert "invalid_proof" in refused.reasons


def test_an_unreachable_node_is_a_clear_error():
    with pytest.raises(NodeError) as error:
        Node("http://127.0.0.1:9").resolve("did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK")
    assert error.value.status == 0
    with pytest.raises(ValueError):
        Node("ftp://example")


def test_the_node_as_verifier_over_http_decides_once(testnet):
    node = Node(testnet["verifier"]["node"])
    capability = refund(700)
    exchange_id, request = node.open_exchange([capability])
    with Wallet(testnet["prover"]["socket"]) as wallet:
        response = wallet.answer(request)
    exchange = node.complete_exchange(exchange_id, response)
    assert exchange.accepted and exchange.prover == testnet["prover"]["did"]
    assert exchange.decisions[0].capability == capability
    with pytest.raises(NodeError) as again:
        node.complete_exchange(exchange_id, response)
    assert (again.value.status, again.value.body["code"]) == (403, "replayed")


def test_what_the_openapi_document_refuses_the_node_refuses(testnet):
    # The document's check (conftest) runs on every call: a body with a member the route's type
    # does not have is refused by the node too (400) — the two agree on what a request is.
    node = Node(testnet["verifier"]["node"])
    with pytest.raises(NodeError) as refused:
        node._call("POST", "/1.0/exchanges", {"capabilities": [], "extra": 1})
    assert (refused.value.status, refused.value.body["code"]) == (400, "bad_request")
    # And the check sees what it looks for: an answer of another shape is not the route's.
    at = "/paths/~11.0~1exchanges/post/responses/201"
    assert openapi_allows({"exchangeId": "e-1", "request": {}}, at, ["application/json"])
    assert not openapi_allows({"exchangeId": 1, "request": {}}, at, ["application/json"])
    assert not openapi_allows({"exchangeId": "e-1"}, at, ["application/json"])
