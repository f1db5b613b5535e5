// The daemon signs the HTTP requests its agent sends (RFC 9421), and a JavaScript implementation
// that is not ours — `http-message-signatures` from npm — verifies them under the instance's
// did:key, and refuses them when what was signed changed.
import assert from "node:assert/strict";
import { createPublicKey } from "node:crypto";
import { after, before, test } from "node:test";

import bs58 from "bs58";
import { httpbis, createVerifier } from "http-message-signatures";

import { Wallet, WalletError } from "../dist/index.js";
import { startTestnet } from "./testnet.mjs";

let agents;
let stop;
before(() => {
  ({ agents, stop } = startTestnet());
});
after(() => stop?.());

const URL_ = "https://testnet.example/refunds/42?notify=1";

/** The Ed25519 key of a did:key verification method (multicodec 0xed 0x01). */
const didKeyPublic = (keyid) => {
  const raw = bs58.decode(keyid.split("#")[0].replace("did:key:z", ""));
  assert.equal(raw[0], 0xed);
  assert.equal(raw[1], 0x01);
  return createPublicKey({
    key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(raw.slice(2)).toString("base64url") },
    format: "jwk",
  });
};

const verify = (request) =>
  httpbis.verifyMessage(
    {
      keyLookup: async (params) => ({
        id: params.keyid,
        algs: ["ed25519"],
        verify: createVerifier(didKeyPublic(params.keyid), "ed25519"),
      }),
      requiredFields: ["@method", "@target-uri", "vouch-capability", "content-digest"],
    },
    request,
  );

test("a signed request verifies in an independent implementation", async () => {
  const wallet = new Wallet(agents.prover.socket);
  try {
    const credential = (await wallet.credentials())[0].id;
    const body = JSON.stringify({ order: 42, amount: 1200 });
    const signed = await wallet.signFetch(
      new Request(URL_, { method: "POST", body, headers: { "content-type": "application/json" } }),
      { credential, action: "call:testnet:refund", arguments: { amount: { value: 1200, unit: "EUR" } } },
    );
    const headers = Object.fromEntries(signed.headers.entries());
    assert.ok(headers["vouch-capability"].includes(`credential="${credential}"`), JSON.stringify(headers));
    assert.equal(await verify({ method: "POST", url: URL_, headers }), true);
    // What was signed cannot change: another path, another method.
    assert.equal(await verify({ method: "POST", url: URL_.replace("/42", "/43"), headers }), false);
    assert.equal(await verify({ method: "PUT", url: URL_, headers }), false);
    // Beyond what the credential permits, the daemon signs nothing.
    await assert.rejects(
      wallet.signRequest("POST", URL_, {
        credential,
        action: "call:testnet:refund",
        arguments: { amount: { value: 9000, unit: "EUR" } },
      }),
      (e) => e instanceof WalletError && e.reason === "constraint_violated",
    );
  } finally {
    wallet.close();
  }
});
