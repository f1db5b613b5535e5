// The daemon's answers read into types, without a testnet: every shape a member can take.
import assert from "node:assert/strict";
import { test } from "node:test";
import { exchangeOf } from "../dist/types.js";

const exchange = (acknowledged) =>
  exchangeOf({
    prover: "did:key:z6Mkprover",
    decisions: [
      { capability: { action: "read" }, decision: "accepted" },
      { capability: { action: "pay" }, decision: "rejected", reason: "needs_approval", approvalRequest: "zQmRequest" },
    ],
    decision: { type: ["VerifiableCredential", "CapabilityDecision"] },
    acknowledged,
  });

test("acknowledged is true, false, or the prover's refusal", () => {
  assert.equal(exchange(true).acknowledged, true);
  assert.equal(exchange(true).refusal, undefined);
  assert.equal(exchange(false).refusal, undefined);
  const refused = exchange({ reason: "invalid_proof", message: "not the verifier's signature" });
  assert.equal(refused.acknowledged, false);
  assert.deepEqual(refused.refusal, { reason: "invalid_proof", message: "not the verifier's signature" });
});

test("a decision that needs approval says which request", () => {
  const [accepted, rejected] = exchange(true).decisions;
  assert.equal(accepted.approvalRequest, undefined);
  assert.equal(rejected.reason, "needs_approval");
  assert.equal(rejected.approvalRequest, "zQmRequest");
});
