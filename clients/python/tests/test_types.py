"""The daemon's answers read into types, without a testnet: every shape a member can take."""

from vouch_client import Exchange, Refusal


def exchange(acknowledged: object) -> Exchange:
    return Exchange.from_json(
        {
            "prover": "did:key:z6Mkprover",
            "decisions": [
                {"capability": {"action": "read"}, "decision": "accepted"},
                {
                    "capability": {"action": "pay"},
                    "decision": "rejected",
                    "reason": "needs_approval",
                    "approvalRequest": "zQmRequest",
                },
            ],
            "decision": {"type": ["VerifiableCredential", "CapabilityDecision"]},
            "acknowledged": acknowledged,
        }
    )


def test_acknowledged_is_true_false_or_the_provers_refusal() -> None:
    assert (exchange(True).acknowledged, exchange(True).refusal) == (True, None)
    assert (exchange(False).acknowledged, exchange(False).refusal) == (False, None)
    refused = exchange({"reason": "invalid_proof", "message": "not the verifier's signature"})
    assert refused.acknowledged is False
    assert refused.refusal == Refusal(reason="invalid_proof", message="not the verifier's signature")


def test_a_decision_that_needs_approval_says_which_request() -> None:
    rejected = exchange(True).rejected()
    assert [(d.reason, d.approval_request) for d in rejected] == [("needs_approval", "zQmRequest")]
    assert exchange(True).decisions[0].approval_request is None
