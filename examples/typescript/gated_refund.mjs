// A payments agent whose refund tool runs only after a Vouch capability exchange accepts it
// (the TypeScript twin of examples/python/gated_refund.py).
//
// Before the tool runs, this agent asks the caller, through its own wallet daemon, to prove the
// capability the call needs — this action, on this order, for this amount — and runs the tool
// only if the exchange accepts it. This agent never holds a key.
//
//   node gated_refund.mjs path/to/agents.json     # written by `vouch-testnet agents`
//   (build the client first: npm ci && npm run build in clients/typescript)
import { readFileSync } from "node:fs";

import { Wallet, WalletError } from "../../clients/typescript/dist/index.js";

/** Wraps `tool` so that it runs only for a caller (`peer`) that proves `capabilityOf(args)`. */
function requiresCapability(wallet, capabilityOf, tool) {
  return async (peer, args) => {
    let exchange;
    try {
      exchange = await wallet.exchange(peer, [capabilityOf(args)]);
    } catch (e) {
      // The caller presented nothing: it holds nothing for this (`not_granted`), or would not.
      if (e instanceof WalletError && e.reason) return `refused (${e.reason})`;
      throw e;
    }
    if (!exchange.accepted) {
      return `refused (${exchange.decisions.filter((d) => !d.accepted).map((d) => d.reason ?? "rejected").join(", ")})`;
    }
    return tool(args);
  };
}

const agents = JSON.parse(readFileSync(process.argv[2] ?? "testnet-data/agents.json", "utf8"));
const caller = agents.prover.address; // the agent asking for refunds
const wallet = new Wallet(agents.verifier.socket);
try {
  const issueRefund = requiresCapability(
    wallet,
    ({ order, amount }) => ({
      action: "call:testnet:refund",
      resource: `https://testnet.example/refunds/${order}`,
      arguments: { amount: { value: amount, unit: "EUR" } },
    }),
    () => "issued", // the real work would go here
  );
  const deleteOrder = requiresCapability(
    wallet,
    ({ order }) => ({ action: "call:testnet:delete", resource: `https://testnet.example/orders/${order}` }),
    () => "deleted",
  );
  console.log(`refund 42 of 1200 EUR: ${await issueRefund(caller, { order: "42", amount: 1200 })}`);
  console.log(`refund 43 of 9000 EUR: ${await issueRefund(caller, { order: "43", amount: 9000 })}`);
  console.log(`delete order 42: ${await deleteOrder(caller, { order: "42" })}`);
} finally {
  wallet.close();
}
