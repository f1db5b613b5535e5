"""A service behind ``vouch_client.asgi.SignedRequests`` acts only on what the node permits, and an
agent signs through its daemon with ``vouch_client.calls.signing_auth`` — presenting once, naming
its credential after; and a signature made by an RFC 9421 implementation that is not ours
(``http-message-signatures`` from PyPI) is verified by the node's: it gets past the signature and is
refused only for the capability it never showed, while the same request changed is refused as an
invalid signature."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import json

import httpx
import requests
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from base58 import b58encode
from http_message_signatures import HTTPMessageSigner, HTTPSignatureKeyResolver, algorithms

from vouch_client import Node, NodeError, Wallet
from vouch_client.asgi import SignedRequests
from vouch_client.calls import signing_auth

REFUND = "call:testnet:refund"
ORIGIN = "https://testnet.example"


def amount_of(body: bytes) -> dict:
    """The service's reading of a refund: its amount, from the body it acts on."""
    return {"amount": {"value": json.loads(body)["amount"], "unit": "EUR"}}


async def refunds(scope, receive, send):
    """The service: it answers who asked, as the middleware found."""
    message = await receive()
    caller = scope["state"]["vouch"]
    text = json.dumps({"caller": caller, "body": message.get("body", b"").decode()})
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": text.encode()})


def service(testnet) -> SignedRequests:
    return SignedRequests(
        refunds,
        node=testnet["prover"]["node"],
        origin=ORIGIN,
        action=lambda body: REFUND if body else None,
        arguments=amount_of,
    )


def test_a_service_acts_only_on_what_the_node_permits(testnet):
    async def run():
        with Wallet(testnet["prover"]["socket"]) as wallet:
            credential = wallet.credentials(task=testnet["prover"]["task"])[0]["id"]
            auth = signing_auth(
                wallet,
                credential=credential,
                action=lambda body: REFUND if body else None,
                arguments=amount_of,
            )
            transport = httpx.ASGITransport(app=service(testnet))
            async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
                sent = []

                async def record(request):
                    sent.append(dict(request.headers))

                client.event_hooks["request"] = [record]
                first = await client.post("/refunds/42", json={"amount": 1200}, auth=auth)
                assert first.status_code == 200, first.text
                caller = first.json()["caller"]
                assert caller["signer"] == testnet["prover"]["did"]
                assert caller["credential"] == credential and caller["action"] == REFUND
                assert "vouch-presentation" in sent[-1]
                # The session's next request names the credential only.
                later = await client.post("/refunds/43", json={"amount": 300}, auth=auth)
                assert later.status_code == 200, later.text
                assert "vouch-presentation" not in sent[-1]
                # Not signed: refused before the service.
                bare = await client.post("/refunds/44", json={"amount": 10})
                assert (bare.status_code, bare.json()["code"]) == (401, "request_mismatch")
                # An agent that tells its daemon 50 EUR and sends 9000: the service reads 9000.
                signed = wallet.sign_httpx(
                    client.build_request("POST", "/refunds/45", json={"amount": 9000}),
                    credential=credential,
                    action=REFUND,
                    arguments={"amount": {"value": 50, "unit": "EUR"}},
                )
                lied = await client.send(signed)
                assert (lied.status_code, lied.json()["code"]) == (403, "constraint_violated")
                # The same signed request twice: replayed.
                again = wallet.sign_httpx(
                    client.build_request("POST", "/refunds/46", json={"amount": 20}),
                    credential=credential,
                    action=REFUND,
                    arguments={"amount": {"value": 20, "unit": "EUR"}},
                )
                assert (await client.send(again)).status_code == 200
                replayed = await client.send(again)
                assert (replayed.status_code, replayed.json()["code"]) == (401, "replayed")
                # A request that is no action (no body here) passes with no identity.
                free = await client.get("/refunds")
                assert free.status_code == 200 and free.json()["caller"] is None

    asyncio.run(run())


class Own(HTTPSignatureKeyResolver):
    def __init__(self, key):
        self.key = key

    def resolve_private_key(self, key_id: str):
        return self.key


def test_a_signature_an_independent_implementation_made_is_verified_by_the_node(testnet):
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    did = "did:key:z" + b58encode(b"\xed\x01" + public).decode()
    keyid = f"{did}#{did.removeprefix('did:key:')}"
    url = f"{ORIGIN}/refunds/42"
    body = b'{"amount": 10}'
    request = requests.Request(
        "POST",
        url,
        data=body,
        headers={
            "content-type": "application/json",
            "vouch-capability": 'credential="urn:uuid:theirs", action="call:testnet:refund"',
        },
    ).prepare()
    now = datetime.datetime.now(datetime.timezone.utc)
    HTTPMessageSigner(signature_algorithm=algorithms.ED25519, key_resolver=Own(key)).sign(
        request,
        key_id=keyid,
        label="vouch",
        covered_component_ids=("@method", "@target-uri", "vouch-capability", "content-digest"),
        include_alg=True,
        tag="vouch",
        nonce=base64.urlsafe_b64encode(hashlib.sha256(public + body).digest()).decode(),
        created=now,
        expires=now + datetime.timedelta(seconds=30),
        body=body,  # its own Content-Digest (RFC 9530)
    )
    node = Node(testnet["prover"]["node"])

    def refused(method: str, target: str) -> str:
        try:
            node.verify_request(method, target, list(request.headers.items()), body, {})
        except NodeError as e:
            return e.body["code"]
        raise AssertionError("permitted")

    # Their signature verifies: the node goes on to the capability, which this key never showed.
    assert refused("POST", url) == "not_holder"
    # Changed, it does not: the signature is refused before any capability.
    assert refused("PUT", url) == "invalid_proof"
    assert refused("POST", url.replace("/42", "/43")) == "invalid_proof"
