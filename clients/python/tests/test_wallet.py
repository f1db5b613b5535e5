"""The wallet client against real daemons: each operation, and refusals as errors with codes."""

from __future__ import annotations

import pytest

from conftest import refund
from vouch_client import Wallet, WalletError

REFUND = "call:testnet:refund"




def test_identity_is_the_instance_and_its_exchange_address(testnet):
    with Wallet(testnet["prover"]["socket"]) as wallet:
        identity = wallet.identity()
    assert identity.did == testnet["prover"]["did"]
    assert testnet["prover"]["address"] in identity.addresses


def test_credentials_are_those_issued_to_the_instance(testnet):
    with Wallet(testnet["prover"]["socket"]) as wallet:
        held = wallet.credentials()
        for_task = wallet.credentials(task=testnet["prover"]["task"])
        none = wallet.credentials(task="no-such-task")
    assert len(held) == 1 and for_task == held and none == []
    credential = held[0]
    assert credential["credentialSubject"]["id"] == testnet["prover"]["did"]
    assert credential["issuer"] == testnet["prover"]["org"]
    assert credential["proof"]["proofValue"]


def test_an_exchange_accepts_what_the_credential_grants_and_says_why_not_otherwise(testnet):
    with Wallet(testnet["verifier"]["socket"]) as wallet:
        peer = testnet["prover"]["address"]
        within = wallet.exchange(peer, [refund(1200)])
        over = wallet.exchange(peer, [refund(9000)])
        # Nothing the prover holds names it: it presents nothing (the least that answers).
        with pytest.raises(WalletError) as other:
            wallet.exchange(
                peer, [{"action": "call:testnet:delete", "resource": "https://testnet.example/x"}]
            )
        both = wallet.exchange(peer, [refund(10), refund(9000)])
    assert within.accepted and within.acknowledged
    assert within.prover == testnet["prover"]["did"]
    assert within.decisions[0].reason is None
    assert within.decision["type"] == ["VerifiableCredential", "CapabilityDecision"]
    assert within.decision["issuer"] == testnet["verifier"]["did"]

    assert not over.accepted
    assert [d.reason for d in over.rejected()] == ["constraint_violated"]
    assert (other.value.code, other.value.reason) == ("refused", "not_granted")
    assert [d.accepted for d in both.decisions] == [True, False]
    assert not both.accepted


def test_an_approval_is_asked_only_for_what_needs_one(testnet):
    """The prover's refund credential needs no approval: its org's node has nothing to ask its
    owner, and says so; an approval request nobody made is not found."""
    with Wallet(testnet["prover"]["socket"]) as wallet:
        with pytest.raises(WalletError) as refused:
            wallet.request_approval(refund(100))
        with pytest.raises(WalletError) as unknown:
            wallet.approval_status("urn:uuid:6f1b3a44-2c8e-4f53-9a57-0c1a1d2e3f40")
    # The node's codes pass through the daemon: the reason of its refusal, and its not_found.
    assert refused.value.code == "not_granted"
    assert "nothing to approve" in refused.value.message
    assert unknown.value.code == "not_found"


def test_a_delegation_is_signed_within_the_parent_and_refused_beyond_it(testnet):
    sub_agent = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
    with Wallet(testnet["prover"]["socket"]) as wallet:
        parent = wallet.credentials()[0]["id"]
        narrower = {
            "action": REFUND,
            "resource": "https://testnet.example/refunds/7/**",
            "constraints": {"maxAmount": {"value": 100, "unit": "EUR"}},
        }
        child = wallet.delegate(parent, sub_agent, [narrower])
        with pytest.raises(WalletError) as wider:
            wallet.delegate(
                parent,
                sub_agent,
                [{"action": "call:testnet:delete", "resource": "https://testnet.example/**"}],
            )
    credential = child.get("credential", child)
    assert credential["credentialSubject"]["id"] == sub_agent
    assert credential["issuer"] == testnet["prover"]["did"]
    assert wider.value.code == "refused"


def test_refusals_come_back_as_errors_with_codes(testnet):
    with Wallet(testnet["verifier"]["socket"]) as wallet:
        with pytest.raises(WalletError) as unknown:
            wallet.request("sign_these_bytes", bytes="00")
        with pytest.raises(WalletError) as bad_peer:
            wallet.exchange("not-an-address", [refund(1)])
        # The connection still serves after refusals.
        assert wallet.identity().did == testnet["verifier"]["did"]
    assert unknown.value.code == "malformed"
    assert bad_peer.value.code in ("malformed", "refused")


def test_no_daemon_is_a_clear_error(tmp_path):
    from vouch_client import VouchError

    with pytest.raises(VouchError, match="no wallet daemon"):
        Wallet(tmp_path / "missing.sock").identity()
