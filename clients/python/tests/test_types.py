"""The daemon's answers read into types, without a testnet: every shape a member can take."""

from vouch_client import Exchange, Refusal


def exchange(acknowledged: bool, refusal: object = None) -> Exchange:
    answer = (
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
    if refusal is not None:
        answer["refusal"] = refusal
    return Exchange.from_json(answer)


def test_acknowledged_is_a_boolean_and_the_refusal_says_why_not() -> None:
    assert (exchange(True).acknowledged, exchange(True).refusal) == (True, None)
    refused = exchange(
        False,
        {"code": "refused", "message": "not the verifier's signature", "reason": "invalid_proof"},
    )
    assert refused.acknowledged is False
    assert refused.refusal == Refusal(reason="invalid_proof", message="not the verifier's signature")
    # A prover that did not judge the decision: no reason, and the code says what happened.
    busy = exchange(False, {"code": "busy", "message": "ask again"})
    assert busy.refusal == Refusal(reason=None, message="ask again", code="busy")


def test_a_decision_that_needs_approval_says_which_request() -> None:
    rejected = exchange(True).rejected()
    assert [(d.reason, d.approval_request) for d in rejected] == [("needs_approval", "zQmRequest")]
    assert exchange(True).decisions[0].approval_request is None
