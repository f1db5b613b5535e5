"""The OAuth bridge, judged by others' code: the node's access tokens and the daemon's DPoP proofs
checked by PyJWT and joserfc from PyPI, and the example MCP server (the MCP SDK's authorization
support, PyJWT, joserfc, the node's introspection) taking a call its token covers and refusing a
replayed proof, a token for another resource, a call beyond the token, and a token whose task is
suspended."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import jwt
import pytest
from joserfc import jws
from joserfc import jwt as jose_jwt
from joserfc.jwk import KeySet, OKPKey

from vouch_client import Wallet, WalletError

from conftest import bin_dir

ORIGIN = "https://testnet.example"
PATH = "/refunds/mcp"
RESOURCE = ORIGIN + PATH
EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "python"


def node_metadata(testnet) -> dict:
    return httpx.get(f"{testnet['prover']['node']}/.well-known/oauth-authorization-server").json()


def jwks(testnet) -> dict:
    return httpx.get(f"{testnet['prover']['node']}/1.0/oauth/jwks").json()


def test_pyjwt_and_joserfc_verify_the_nodes_token_and_the_daemons_proof(testnet):
    metadata = node_metadata(testnet)
    assert metadata["token_endpoint"].endswith("/1.0/oauth/token")
    with Wallet(testnet["prover"]["socket"]) as wallet:
        token = wallet.access_token(RESOURCE)
        assert token["token_type"] == "DPoP" and 0 < token["expires_in"] <= 300
        access = token["access_token"]
        # PyJWT, with the key the node's JWK Set names by the token's kid.
        keys = jwks(testnet)["keys"]
        kid = jwt.get_unverified_header(access)["kid"]
        assert jwt.get_unverified_header(access)["typ"] == "at+jwt"
        jwk = next(k for k in keys if k["kid"] == kid)
        claims = jwt.decode(access, jwt.PyJWK(jwk, algorithm="EdDSA"), algorithms=["EdDSA"],
                            audience=RESOURCE, issuer=metadata["issuer"],
                            options={"require": ["exp", "iat", "sub", "jti", "client_id", "cnf"]})
        assert claims["client_id"] == testnet["prover"]["did"]
        assert claims["act"] == {"sub": testnet["prover"]["did"]}
        assert claims["sub"].startswith("urn:vouch:principal:")
        assert claims["exp"] - claims["iat"] <= 300
        assert [d["actions"] for d in claims["authorization_details"]] == [["call:testnet:refund"]]
        # Another resource, and the token seen after its expiry: refused by PyJWT.
        with pytest.raises(jwt.InvalidAudienceError):
            jwt.decode(access, jwt.PyJWK(jwk, algorithm="EdDSA"), algorithms=["EdDSA"],
                       audience=ORIGIN + "/ledger")
        with pytest.raises(jwt.ExpiredSignatureError):
            jwt.decode(access, jwt.PyJWK(jwk, algorithm="EdDSA"), algorithms=["EdDSA"],
                       audience=RESOURCE, leeway=-(claims["exp"] - int(time.time()) + 1),
                       options={"verify_iat": False, "verify_nbf": False})
        # joserfc, from the JWK Set as a key set, with its claims registry.
        decoded = jose_jwt.decode(access, KeySet.import_key_set({"keys": keys}), algorithms=["EdDSA"])
        jose_jwt.JWTClaimsRegistry(aud={"essential": True, "value": RESOURCE},
                                   iss={"essential": True, "value": metadata["issuer"]}).validate(decoded.claims)

        # The daemon's DPoP proof of a request with the token: joserfc verifies it under the key
        # in its header, whose thumbprint is the token's cnf.jkt.
        proof = wallet.dpop_proof("POST", RESOURCE + "?page=2", access_token=access)["proof"]
        header = jws.extract_compact(proof.encode()).protected
        assert header["typ"] == "dpop+jwt" and "d" not in header["jwk"]
        key = OKPKey.import_key(header["jwk"])
        proved = json.loads(jws.deserialize_compact(proof, key, algorithms=["EdDSA"]).payload)
        assert key.thumbprint() == claims["cnf"]["jkt"]
        assert proved["htm"] == "POST" and proved["htu"] == RESOURCE
        assert proved["ath"] == base64.urlsafe_b64encode(hashlib.sha256(access.encode()).digest()).rstrip(b"=").decode()
        # A byte changed in the proof: joserfc refuses it.
        head, body, signature = proof.split(".")
        forged = ".".join([head, body, ("A" if signature[0] != "A" else "B") + signature[1:]])
        with pytest.raises(Exception):
            jws.deserialize_compact(forged, key, algorithms=["EdDSA"])

        # A resource no credential reaches: the daemon says why, and no token is made.
        with pytest.raises(WalletError) as refused:
            wallet.access_token("https://elsewhere.example/api")
        assert refused.value.reason == "not_granted"


@pytest.fixture(scope="module")
def server(testnet):
    """The example MCP server, on a local port, its node the prover's."""
    sys.path.insert(0, str(EXAMPLES))
    import uvicorn

    import mcp_refund_oauth

    app = mcp_refund_oauth.build(testnet["prover"]["node"])
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    running = uvicorn.Server(config)
    thread = threading.Thread(target=running.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not running.started and time.monotonic() < deadline:
        time.sleep(0.05)
    port = running.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}{PATH}"
    running.should_exit = True
    thread.join(timeout=10)


def tool_call(value: int) -> dict:
    return {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "refund", "arguments": {"order": "42", "amount": {"value": value, "unit": "EUR"}}}}


INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                         "clientInfo": {"name": "test", "version": "1"}}}
ACCEPT = "application/json, text/event-stream"


def send(wallet: Wallet, url: str, token: str, body: dict, proof: str | None = None) -> httpx.Response:
    proof = proof or wallet.dpop_proof("POST", RESOURCE, access_token=token)["proof"]
    return httpx.post(url, json=body, headers={"authorization": f"DPoP {token}", "dpop": proof,
                                              "accept": ACCEPT})


def error(answer: httpx.Response) -> str:
    return f"{answer.status_code} {answer.json()['error']}"


def test_the_example_mcp_server_takes_what_the_token_covers_and_nothing_else(testnet, server):
    metadata = httpx.get(server.replace(PATH, "/.well-known/oauth-protected-resource" + PATH)).json()
    assert metadata["resource"] == RESOURCE
    assert metadata["authorization_servers"] == [testnet["prover"]["node"]]
    assert metadata["dpop_bound_access_tokens_required"] is True
    with Wallet(testnet["prover"]["socket"]) as wallet:
        token = wallet.access_token(RESOURCE)["access_token"]
        assert send(wallet, server, token, INITIALIZE).status_code == 200
        # A call beyond the capability (5,000 EUR): refused before the tool runs.
        assert error(send(wallet, server, token, tool_call(9000))) == "403 insufficient_scope"
        # A proof used once already.
        proof = wallet.dpop_proof("POST", RESOURCE, access_token=token)["proof"]
        assert send(wallet, server, token, INITIALIZE, proof).status_code == 200
        assert error(send(wallet, server, token, INITIALIZE, proof)) == "401 invalid_dpop_proof"
        # A proof of another key (the verifier agent's), or none: the token alone is nothing.
        with Wallet(testnet["verifier"]["socket"]) as other:
            stranger = other.dpop_proof("POST", RESOURCE, access_token=token)["proof"]
        assert error(send(wallet, server, token, INITIALIZE, stranger)) == "401 invalid_dpop_proof"
        bare = httpx.post(server, json=INITIALIZE, headers={"authorization": f"DPoP {token}", "accept": ACCEPT})
        assert error(bare) == "401 invalid_dpop_proof"
        # A token for another resource of the same API.
        elsewhere = wallet.access_token(ORIGIN + "/refunds/other")["access_token"]
        assert error(send(wallet, server, elsewhere, INITIALIZE)) == "401 invalid_token"
        # As a bearer token, with no proof at all: the SDK's scheme is not this server's.
        bearer = httpx.post(server, json=INITIALIZE, headers={"authorization": f"Bearer {token}", "accept": ACCEPT})
        assert error(bearer) == "401 invalid_token"

        # The task suspended at the org's node: the same token is refused at once, through the
        # node's introspection; lifted, it stands again.
        node_config = Path(testnet["path"]).parent / "node-0" / "node.toml"
        admin = [str(bin_dir() / "vouch-node"), "--config", str(node_config), "admin"]
        suspended = subprocess.run([*admin, "suspend", "--level", "task", testnet["prover"]["task"]],
                                   check=True, capture_output=True, text=True, timeout=60)
        suspension = json.loads(suspended.stdout)["suspension"]
        try:
            assert error(send(wallet, server, token, INITIALIZE)) == "401 invalid_token"
            introspected = httpx.post(f"{testnet['prover']['node']}/1.0/oauth/introspect", data={"token": token})
            assert introspected.json() == {"active": False}
        finally:
            subprocess.run([*admin, "lift", suspension], check=True, capture_output=True, timeout=60)
        assert send(wallet, server, token, INITIALIZE).status_code == 200


def test_pyjwt_reads_the_nodes_security_event_tokens_and_never_as_access_tokens(testnet):
    """The org's revocation events as SETs (RFC 8417), polled (RFC 8936) by the receiver whose
    token the operator wrote in the node's data folder."""
    node = testnet["prover"]["node"]
    data = Path(testnet["path"]).parent / "node-0" / "data"
    (data / "events.token").write_text("siem-token\n")
    poll = lambda body, token="siem-token": httpx.post(  # noqa: E731
        f"{node}/1.0/oauth/events", json=body, headers={"authorization": f"Bearer {token}"}, timeout=20)
    assert poll({"returnImmediately": True}, token="wrong").status_code == 401
    node_config = Path(testnet["path"]).parent / "node-0" / "node.toml"
    admin = [str(bin_dir() / "vouch-node"), "--config", str(node_config), "admin"]
    suspended = subprocess.run([*admin, "suspend", "--level", "task", "a-task-of-no-one", "--preemptive"],
                               check=True, capture_output=True, text=True, timeout=60)
    suspension = json.loads(suspended.stdout)["suspension"]
    subprocess.run([*admin, "lift", suspension], check=True, capture_output=True, timeout=60)
    answer = poll({"returnImmediately": True}).json()
    assert answer["sets"], answer
    keys = jwks(testnet)["keys"]
    metadata = node_metadata(testnet)
    types = []
    for jti, set_ in answer["sets"].items():
        header = jwt.get_unverified_header(set_)
        assert header["typ"] == "secevent+jwt"
        jwk = next(k for k in keys if k["kid"] == header["kid"])
        claims = jwt.decode(set_, jwt.PyJWK(jwk, algorithm="EdDSA"), algorithms=["EdDSA"],
                            audience=f"{node}/1.0/oauth/events", issuer=metadata["issuer"],
                            options={"require": ["iat", "jti", "iss", "aud"]})
        assert claims["jti"] == jti and "exp" not in claims and "sub" not in claims
        (event_type, event), = claims["events"].items()
        types.append(event_type)
        assert event["org"] == testnet["prover"]["org"]
    assert "https://w3id.org/vouch/events/suspended" in types
    assert "https://w3id.org/vouch/events/reinstated" in types
    # Acknowledged, never given again.
    assert poll({"returnImmediately": True, "ack": list(answer["sets"])}).json()["sets"] == {}
