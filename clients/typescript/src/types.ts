/** Typed results: what the wallet daemon and the node answer, with DESIGN §8's reason codes. */

/**
 * A reason code of DESIGN §8 (`not_granted`, `constraint_violated`, `revoked`, …), kept as a
 * string: a newer node may give one this client does not know yet.
 */
export type Reason = string;

/** A JSON object. */
export type Json = Record<string, unknown>;

/** A capability asked for: an action on a resource, with the call's arguments. */
export interface Capability {
  action: string;
  resource: string;
  arguments?: Json;
  constraints?: Json;
}

/** The agent instance a wallet daemon holds the key of. */
export interface Identity {
  /** Its did:key. */
  did: string;
  /** Where its daemon takes exchanges (libp2p addresses ending in `/p2p/<peer id>`). */
  addresses: string[];
}

/** The verifier's decision on one capability. */
export interface Decision {
  capability: Capability;
  accepted: boolean;
  /** Why it was rejected; undefined when accepted. */
  reason?: Reason;
  /** With `needs_approval`: the hash of the exact request the owner must approve. */
  approvalRequest?: string;
}

/**
 * Why the other agent did not take what this one sent it: it refused it (`code` `refused`, with
 * a DESIGN §8 `reason`), or did not judge it at all (`busy`: ask again; `peer_failed`: its own
 * failure), without a reason.
 */
export interface Refusal {
  code: "refused" | "busy" | "peer_failed" | (string & {});
  reason?: Reason;
  message: string;
}

/** A capability exchange this agent asked for, as its verifier. */
export interface Exchange {
  /** The other agent's did:key. */
  prover: string;
  /** One per capability asked, in order. */
  decisions: Decision[];
  /** The signed `CapabilityDecision` credential, as sent to the prover. */
  decision: Json;
  /** Whether the prover took the decision. */
  acknowledged: boolean;
  /** Why the prover did not take the decision, when it did not (`acknowledged` is then false). */
  refusal?: Refusal;
  /** Whether every capability asked was accepted. */
  accepted: boolean;
}

/** One check of a verification. */
export interface Check {
  check: string;
  outcome: "passed" | "failed" | "skipped" | (string & {});
  reason?: Reason;
  detail?: string;
}

/** A verification report: `verified` only when every check ran and passed. */
export interface Verification {
  verified: boolean;
  checks: Check[];
  errors: Check[];
  warnings: Check[];
  /** The reason codes of the failed checks. */
  reasons: Reason[];
}

/** A DID resolution result. */
export interface Resolution {
  document: Json | null;
  documentMetadata: Json;
  resolutionMetadata: Json;
  deactivated: boolean;
}

export function decisionOf(value: Json): Decision {
  const decision = value["decision"];
  if (decision !== "accepted" && decision !== "rejected") {
    throw new TypeError(`a decision is accepted or rejected, not ${JSON.stringify(decision)}`);
  }
  const reason = value["reason"];
  return {
    capability: (value["capability"] ?? {}) as Capability,
    accepted: decision === "accepted",
    ...(typeof reason === "string" ? { reason } : {}),
    ...(typeof value["approvalRequest"] === "string" ? { approvalRequest: value["approvalRequest"] } : {}),
  };
}

/** The daemon's refusal object `{code, message, reason?}`, when there is one. */
function refusalOf(refusal: unknown): { refusal?: Refusal } {
  if (typeof refusal !== "object" || refusal === null || Array.isArray(refusal)) {
    return {};
  }
  const refused = refusal as Json;
  const reason = refused["reason"];
  return {
    refusal: {
      code: String(refused["code"] ?? "refused"),
      ...(typeof reason === "string" ? { reason: reason as Reason } : {}),
      message: String(refused["message"] ?? ""),
    },
  };
}

export function exchangeOf(value: Json): Exchange {
  const decisions = ((value["decisions"] ?? []) as Json[]).map(decisionOf);
  return {
    prover: String(value["prover"]),
    decisions,
    decision: (value["decision"] ?? {}) as Json,
    acknowledged: value["acknowledged"] === true,
    ...refusalOf(value["refusal"]),
    accepted: decisions.length > 0 && decisions.every((d) => d.accepted),
  };
}

function checkOf(value: Json): Check {
  return {
    check: String(value["check"] ?? ""),
    outcome: String(value["outcome"] ?? ""),
    ...(typeof value["reason"] === "string" ? { reason: value["reason"] } : {}),
    ...(typeof value["detail"] === "string" ? { detail: value["detail"] } : {}),
  };
}

export function verificationOf(value: Json): Verification {
  const list = (key: string) => ((value[key] ?? []) as Json[]).map(checkOf);
  const errors = list("errors");
  return {
    verified: value["verified"] === true,
    checks: list("checks"),
    errors,
    warnings: list("warnings"),
    reasons: errors.flatMap((e) => (e.reason ? [e.reason] : [])),
  };
}

export function resolutionOf(value: Json): Resolution {
  const documentMetadata = (value["didDocumentMetadata"] ?? {}) as Json;
  return {
    document: (value["didDocument"] ?? null) as Json | null,
    documentMetadata,
    resolutionMetadata: (value["didResolutionMetadata"] ?? {}) as Json,
    deactivated: documentMetadata["deactivated"] === true,
  };
}
