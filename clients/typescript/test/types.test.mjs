// The daemon's answers read into types, without a testnet: every shape a member can take.
import assert from "node:assert/strict";
import { test } from "node:test";
import { exchangeOf } from "../dist/types.js";

const exchange = (acknowledged, refusal) =>
  exchangeOf({
    prover: "did:key:z6Mkprover",
    decisions: [
      { capability: { action: "read" }, decision: "accepted" },
      { capability: { action: "pay" }, decision: "rejected", reason: "needs_approval", approvalRequest: "zQmRequest" },
    ],
    decision: { type: ["VerifiableCredential", "CapabilityDecision"] },
    acknowledged,
    ...(refusal ? { refusal } : {}),
  });

test("acknowledged is a boolean, and the refusal says why not", () => {
  assert.equal(exchange(true).acknowledged, true);
  assert.equal(exchange(true).refusal, undefined);
  const refused = exchange(false, { code: "refused", message: "not the verifier's signature", reason: "invalid_proof" });
  assert.equal(refused.acknowledged, false);
  assert.deepEqual(refused.refusal, { code: "refused", reason: "invalid_proof", message: "not the verifier's signature" });
  // A prover that did not judge the decision: no reason, and the code says what happened.
  assert.deepEqual(exchange(false, { code: "busy", message: "ask again" }).refusal, { code: "busy", message: "ask again" });
});

test("a decision that needs approval says which request", () => {
  const [accepted, rejected] = exchange(true).decisions;
  assert.equal(accepted.approvalRequest, undefined);
  assert.equal(rejected.reason, "needs_approval");
  assert.equal(rejected.approvalRequest, "zQmRequest");
});
