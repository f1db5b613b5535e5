"""Typed results: what the wallet daemon and the node answer, with the reason codes of DESIGN §8."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

# Reason codes (``not_granted``, ``constraint_violated``, ``revoked``, …) are those of DESIGN §8,
# kept as strings: a newer node may give one this client does not know yet.


@dataclass(frozen=True)
class Identity:
    """The agent instance a wallet daemon holds the key of."""

    did: str
    """Its did:key."""
    addresses: List[str]
    """Where its daemon takes exchanges (libp2p addresses ending in ``/p2p/<peer id>``)."""

    @classmethod
    def from_json(cls, value: Dict[str, Any]) -> "Identity":
        return cls(did=value["did"], addresses=list(value.get("addresses", [])))


@dataclass(frozen=True)
class Decision:
    """The verifier's decision on one capability."""

    capability: Dict[str, Any]
    """The capability as asked: ``action``, ``resource``, ``arguments``."""
    accepted: bool
    reason: Optional[str] = None
    """Why it was rejected (a DESIGN §8 reason code); ``None`` when accepted."""
    approval_request: Optional[str] = None
    """With ``needs_approval``: the hash of the exact request the owner must approve."""

    @classmethod
    def from_json(cls, value: Dict[str, Any]) -> "Decision":
        decision = value.get("decision")
        if decision not in ("accepted", "rejected"):
            raise ValueError(f"a decision is accepted or rejected, not {decision!r}")
        return cls(
            capability=value.get("capability", {}),
            accepted=decision == "accepted",
            reason=value.get("reason"),
            approval_request=value.get("approvalRequest"),
        )


@dataclass(frozen=True)
class Refusal:
    """Why the other agent did not take what this one sent it: it refused it (``code``
    ``refused``, with a DESIGN §8 ``reason``), or did not judge it at all (``busy``: ask again;
    ``peer_failed``: its own failure), when ``reason`` is None."""

    reason: Optional[str]
    """A DESIGN §8 reason code, when the other agent refused."""
    message: str
    code: str = "refused"
    """The daemon's error code: ``refused``, ``busy`` or ``peer_failed``."""


@dataclass(frozen=True)
class Exchange:
    """A capability exchange this agent asked for, as its verifier."""

    prover: str
    """The other agent's did:key."""
    decisions: List[Decision]
    """One per capability asked, in order."""
    decision: Dict[str, Any]
    """The signed ``CapabilityDecision`` credential, as sent to the prover."""
    acknowledged: bool
    """Whether the prover took the decision."""
    refusal: Optional[Refusal] = None
    """Why the prover did not take the decision, when it did not (``acknowledged`` is then
    false)."""

    @property
    def accepted(self) -> bool:
        """Whether every capability asked was accepted."""
        return bool(self.decisions) and all(d.accepted for d in self.decisions)

    def rejected(self) -> List[Decision]:
        """The capabilities rejected, with their reasons."""
        return [d for d in self.decisions if not d.accepted]

    @classmethod
    def from_json(cls, value: Dict[str, Any]) -> "Exchange":
        return cls(
            prover=value["prover"],
            decisions=[Decision.from_json(d) for d in value.get("decisions", [])],
            decision=value.get("decision", {}),
            acknowledged=value.get("acknowledged") is True,
            refusal=_refusal(value.get("refusal")),
        )


def _refusal(refusal: Any) -> Optional[Refusal]:
    """The daemon's refusal object ``{"code", "message", "reason"?}``, when there is one."""
    if isinstance(refusal, dict):
        reason = refusal.get("reason")
        return Refusal(
            reason=str(reason) if reason is not None else None,
            message=str(refusal.get("message", "")),
            code=str(refusal.get("code", "refused")),
        )
    return None


@dataclass(frozen=True)
class Check:
    """One check of a verification: what was checked, and how it came out."""

    check: str
    outcome: str
    """``passed``, ``failed`` or ``skipped``."""
    reason: Optional[str] = None
    detail: Optional[str] = None

    @classmethod
    def from_json(cls, value: Dict[str, Any]) -> "Check":
        return cls(
            check=value.get("check", ""),
            outcome=value.get("outcome", ""),
            reason=value.get("reason"),
            detail=value.get("detail"),
        )


@dataclass(frozen=True)
class Verification:
    """A verification report of the node's verification service.

    ``verified`` is true only when every check ran and passed: a skipped check is a warning and
    the report is not verified.
    """

    verified: bool
    checks: List[Check]
    errors: List[Check] = field(default_factory=list)
    warnings: List[Check] = field(default_factory=list)

    @property
    def reasons(self) -> List[str]:
        """The reason codes of the failed checks."""
        return [e.reason for e in self.errors if e.reason]

    @classmethod
    def from_json(cls, value: Dict[str, Any]) -> "Verification":
        return cls(
            verified=value.get("verified") is True,
            checks=[Check.from_json(c) for c in value.get("checks", [])],
            errors=[Check.from_json(c) for c in value.get("errors", [])],
            warnings=[Check.from_json(c) for c in value.get("warnings", [])],
        )


@dataclass(frozen=True)
class Resolution:
    """A DID resolution result (W3C DID Resolution)."""

    document: Optional[Dict[str, Any]]
    document_metadata: Dict[str, Any]
    resolution_metadata: Dict[str, Any]

    @property
    def deactivated(self) -> bool:
        return self.document_metadata.get("deactivated") is True

    @classmethod
    def from_json(cls, value: Dict[str, Any]) -> "Resolution":
        return cls(
            document=value.get("didDocument"),
            document_metadata=value.get("didDocumentMetadata") or {},
            resolution_metadata=value.get("didResolutionMetadata") or {},
        )
