// The TypeScript example (examples/typescript), run as a newcomer would run it, against a testnet.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";

import { startTestnet } from "./testnet.mjs";

const examples = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "examples", "typescript");
let testnet;

before(() => {
  testnet = startTestnet();
});

after(() => testnet?.stop());

test("a tool call runs only after an exchange accepts it", () => {
  const out = execFileSync(process.execPath, [join(examples, "gated_refund.mjs"), testnet.path], {
    encoding: "utf8",
    timeout: 120_000,
  });
  assert.deepEqual(out.trim().split("\n"), [
    "refund 42 of 1200 EUR: issued",
    "refund 43 of 9000 EUR: refused (constraint_violated)",
    "delete order 42: refused (not_granted)",
  ]);
});
