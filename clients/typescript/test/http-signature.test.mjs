// The daemon signs the HTTP requests its agent sends (RFC 9421), and a JavaScript implementation
// that is not ours — `http-message-signatures` from npm — verifies them under the instance's
// did:key, and refuses them when what was signed changed.
import assert from "node:assert/strict";
import { createHash, createPublicKey, verify as verifySignature } from "node:crypto";
import { after, before, test } from "node:test";

import bs58 from "bs58";
import { httpbis, createVerifier } from "http-message-signatures";

import { Node, Wallet, WalletError, signedRequests, signingFetch } from "../dist/index.js";
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

test("a fetch handler behind signedRequests runs only for what the node permits", async () => {
  const wallet = new Wallet(agents.prover.socket);
  try {
    const credential = (await wallet.credentials())[0].id;
    const callers = [];
    // The service's reading of a refund: its amount, from the body it acts on.
    const amountOf = (body) => ({
      amount: { value: JSON.parse(new TextDecoder().decode(body)).amount, unit: "EUR" },
    });
    const handler = signedRequests(
      async (request, caller) => {
        callers.push(caller);
        return new Response(caller ? `refunded ${(await request.json()).amount}` : "ok");
      },
      {
        node: new Node(agents.prover.node),
        origin: "https://testnet.example",
        action: (_, request) => (request.method === "POST" ? "call:testnet:refund" : undefined),
        args: amountOf,
      },
    );
    const refund = (amount) =>
      new Request("https://testnet.example/refunds/42", {
        method: "POST",
        body: JSON.stringify({ amount }),
        headers: { "content-type": "application/json" },
      });
    const sign = (request, amount, present) =>
      wallet.signFetch(request, {
        credential,
        action: "call:testnet:refund",
        arguments: { amount: { value: amount, unit: "EUR" } },
        ...(present ? { present: true } : {}),
      });
    const code = async (response) => [response.status, (await response.json()).code];

    // Before any presentation, a signed request without one: the signer must present.
    assert.deepEqual(await code(await handler(await sign(refund(1200), 1200, false))), [401, "not_holder"]);
    // Presented: the handler runs, with the caller.
    const first = await sign(refund(1200), 1200, true);
    const again = first.clone();
    const answered = await handler(first);
    assert.equal(answered.status, 200);
    assert.equal(await answered.text(), "refunded 1200");
    assert.equal(callers.at(-1).signer, agents.prover.did);
    assert.equal(callers.at(-1).credential, credential);
    // The same request again: replayed.
    assert.deepEqual(await code(await handler(again)), [401, "replayed"]);
    // The session's next request names the credential only.
    const later = await sign(refund(300), 300, false);
    assert.equal(later.headers.get("vouch-presentation"), null);
    assert.equal((await handler(later)).status, 200);
    // An agent that tells its daemon 50 EUR and sends 9000: the service reads 9000.
    assert.deepEqual(await code(await handler(await sign(refund(9000), 50, false))), [403, "constraint_violated"]);
    // Not signed at all: refused before the handler.
    const count = callers.length;
    assert.equal((await handler(refund(10))).status, 401);
    assert.equal(callers.length, count);
    // A request that is no action passes, with no caller.
    assert.equal((await handler(new Request("https://testnet.example/health"))).status, 200);
    assert.equal(callers.at(-1), undefined);
  } finally {
    wallet.close();
  }
});

test("signingFetch presents once per service, then names the credential, and presents again when asked", async () => {
  const wallet = new Wallet(agents.prover.socket);
  try {
    const credential = (await wallet.credentials())[0].id;
    const service = (node) =>
      signedRequests(async (request, caller) => new Response(JSON.stringify({ caller, presented: request.headers.has("vouch-presentation") })), {
        node: new Node(node),
        origin: "https://testnet.example",
        action: () => "call:testnet:refund",
        args: (body) => ({ amount: { value: JSON.parse(new TextDecoder().decode(body)).amount, unit: "EUR" } }),
      });
    // Two services behind two nodes: a session kept by one is unknown to the other.
    const [first, second] = [service(agents.prover.node), service(agents.verifier.node)];
    let to = first;
    const send = signingFetch(wallet, {
      credential,
      action: () => "call:testnet:refund",
      args: (body) => ({ amount: { value: JSON.parse(new TextDecoder().decode(body)).amount, unit: "EUR" } }),
      fetch: (request) => to(request),
    });
    const refund = (amount) =>
      new Request("https://testnet.example/refunds/42", {
        method: "POST",
        body: JSON.stringify({ amount }),
        headers: { "content-type": "application/json" },
      });
    const a = await send(refund(100));
    assert.equal(a.status, 200);
    assert.equal((await a.json()).presented, true);
    const b = await send(refund(200));
    assert.equal(b.status, 200);
    assert.equal((await b.json()).presented, false);
    // The other service never saw the chain: 401 not_holder, then the same request presented.
    to = second;
    const c = await send(refund(300));
    assert.equal(c.status, 200);
    const answered = await c.json();
    assert.equal(answered.presented, true);
    assert.equal(answered.caller.signer, agents.prover.did);
  } finally {
    wallet.close();
  }
});

test("a DPoP proof the daemon makes verifies under the key its header carries (node:crypto)", async () => {
  const wallet = new Wallet(agents.prover.socket);
  try {
    const made = await wallet.dpopProof("post", URL_, { accessToken: "an.access.token" });
    const [head, body, signature] = made.proof.split(".");
    const header = JSON.parse(Buffer.from(head, "base64url").toString());
    const claims = JSON.parse(Buffer.from(body, "base64url").toString());
    assert.equal(header.typ, "dpop+jwt");
    assert.equal(header.alg, "EdDSA");
    assert.equal(header.jwk.d, undefined);
    const key = createPublicKey({ key: header.jwk, format: "jwk" });
    assert.ok(verifySignature(null, Buffer.from(`${head}.${body}`), key, Buffer.from(signature, "base64url")));
    assert.equal(claims.htm, "POST");
    assert.equal(claims.htu, URL_.split("?")[0]);
    assert.equal(claims.ath, createHash("sha256").update("an.access.token").digest("base64url"));
    const members = JSON.stringify({ crv: "Ed25519", kty: "OKP", x: header.jwk.x });
    assert.equal(made.jkt, createHash("sha256").update(members).digest("base64url"));
  } finally {
    wallet.close();
  }
});

test("the node's access token verifies under its JWK Set and is bound to the daemon's DPoP key (node:crypto)", async () => {
  const wallet = new Wallet(agents.prover.socket);
  try {
    const resource = "https://testnet.example/refunds/mcp";
    const token = await wallet.accessToken(resource);
    assert.equal(token.token_type, "DPoP");
    assert.ok(token.expires_in > 0 && token.expires_in <= 300);
    const [head, body, signature] = token.access_token.split(".");
    const header = JSON.parse(Buffer.from(head, "base64url").toString());
    const claims = JSON.parse(Buffer.from(body, "base64url").toString());
    assert.equal(header.typ, "at+jwt");
    assert.equal(header.alg, "EdDSA");
    const jwks = await (await fetch(`${agents.prover.node}/1.0/oauth/jwks`)).json();
    const jwk = jwks.keys.find((k) => k.kid === header.kid);
    const key = createPublicKey({ key: { kty: jwk.kty, crv: jwk.crv, x: jwk.x }, format: "jwk" });
    assert.ok(verifySignature(null, Buffer.from(`${head}.${body}`), key, Buffer.from(signature, "base64url")));
    assert.equal(claims.aud, resource);
    assert.equal(claims.client_id, agents.prover.did);
    assert.ok(claims.exp - claims.iat <= 300);
    const proof = await wallet.dpopProof("POST", resource, { accessToken: token.access_token });
    assert.equal(claims.cnf.jkt, proof.jkt);
    // Nothing held reaches another API: refused, with the reason.
    await assert.rejects(wallet.accessToken("https://elsewhere.example/api"), (e) => e.reason === "not_granted");
  } finally {
    wallet.close();
  }
});
