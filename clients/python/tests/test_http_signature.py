"""The daemon signs the HTTP requests its agent sends (RFC 9421), and a Python implementation that
is not ours — ``http-message-signatures`` from PyPI — verifies them under the instance's did:key,
and refuses them when what was signed changed."""

from __future__ import annotations

import httpx
import pytest
import requests
from base58 import b58decode
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)

from vouch_client import Wallet, WalletError

REFUND = "call:testnet:refund"
URL = "https://testnet.example/refunds/42?notify=1"


def did_key_public(keyid: str) -> Ed25519PublicKey:
    """The Ed25519 key of a did:key verification method (multicodec 0xed 0x01)."""
    multibase = keyid.split("#", 1)[0].removeprefix("did:key:")
    assert multibase.startswith("z6Mk"), keyid
    raw = b58decode(multibase[1:])
    assert raw[:2] == b"\xed\x01" and len(raw) == 34, keyid
    return Ed25519PublicKey.from_public_bytes(raw[2:])


class DidKeys(HTTPSignatureKeyResolver):
    def resolve_public_key(self, key_id: str):
        return did_key_public(key_id)


def verified(request: requests.PreparedRequest):
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.ED25519, key_resolver=DidKeys())
    return verifier.verify(request)


def test_a_signed_request_verifies_in_an_independent_implementation(testnet):
    with Wallet(testnet["prover"]["socket"]) as wallet:
        credential = wallet.credentials()[0]["id"]
        body = b'{"order": 42, "amount": 1200}'
        unsigned = httpx.Request(
            "POST", URL, content=body, headers={"content-type": "application/json"}
        )
        signed = wallet.sign_httpx(
            unsigned,
            credential=credential,
            action=REFUND,
            arguments={"amount": {"value": 1200, "unit": "EUR"}},
        )
        headers = {k: v for k, v in signed.headers.items() if k != "content-length"}
        for field in ("signature", "signature-input", "content-digest", "vouch-capability"):
            assert field in headers, headers
        assert f'credential="{credential}"' in headers["vouch-capability"]

        prepared = requests.Request("POST", URL, data=body, headers=headers).prepare()
        results = verified(prepared)
        assert len(results) == 1
        assert results[0].label == "vouch"
        params = results[0].parameters
        assert params["tag"] == "vouch" and params["alg"] == "ed25519"
        assert params["expires"] - params["created"] <= 60
        assert params["keyid"].startswith(testnet["prover"]["did"])

        # What was signed cannot change: another path, another method, another capability.
        for changed in (
            requests.Request("POST", URL.replace("/42", "/43"), data=body, headers=headers),
            requests.Request("PUT", URL, data=body, headers=headers),
            requests.Request(
                "POST",
                URL,
                data=body,
                headers={**headers, "vouch-capability": 'credential="x", action="y"'},
            ),
        ):
            with pytest.raises(InvalidSignature):
                verified(changed.prepare())

        # Beyond what the credential permits, the daemon signs nothing.
        with pytest.raises(WalletError) as refused:
            wallet.sign_request(
                "POST",
                URL,
                credential=credential,
                action=REFUND,
                arguments={"amount": {"value": 9000, "unit": "EUR"}},
            )
        assert refused.value.reason == "constraint_violated"


def test_a_dpop_proof_the_daemon_makes_is_verified_by_pyjwt(testnet):
    """PyJWT (PyPI), not ours, verifies the daemon's DPoP proof under the key its header carries;
    the claims are the request's and the token's, and `jkt` is that key's RFC 7638 thumbprint."""
    import base64
    import hashlib
    import json

    import jwt

    with Wallet(testnet["prover"]["socket"]) as wallet:
        made = wallet.dpop_proof("post", URL, access_token="an.access.token")
    header = jwt.get_unverified_header(made["proof"])
    assert header["typ"] == "dpop+jwt" and header["alg"] == "EdDSA"
    assert "d" not in header["jwk"]
    key = jwt.PyJWK(header["jwk"], algorithm="EdDSA")
    claims = jwt.decode(
        made["proof"],
        key.key,
        algorithms=["EdDSA"],
        options={"require": ["jti", "iat", "htm", "htu"]},
    )
    assert claims["htm"] == "POST"
    assert claims["htu"] == URL.split("?")[0]
    digest = hashlib.sha256(b"an.access.token").digest()
    assert claims["ath"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    members = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": header["jwk"]["x"]}, separators=(",", ":")
    )
    thumbprint = base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest())
    assert made["jkt"] == thumbprint.rstrip(b"=").decode()
    # Changed, it no longer verifies.
    head, body, signature = made["proof"].split(".")
    forged = base64.urlsafe_b64encode(
        json.dumps({**claims, "htm": "GET"}).encode()
    ).rstrip(b"=").decode()
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(f"{head}.{forged}.{signature}", key.key, algorithms=["EdDSA"])
