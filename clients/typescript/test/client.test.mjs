// The client against real nodes and wallet daemons: each operation, refusals as errors with
// codes, rejections as results with reason codes.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";

import {
  EXTENSION,
  Node,
  NodeError,
  VouchError,
  Wallet,
  WalletError,
  exchangeFromCard,
  fetchCard,
  vouchIdentity,
} from "../dist/index.js";
import { startTestnet } from "./testnet.mjs";
import { readFileSync } from "node:fs";
import Ajv2020 from "ajv/dist/2020.js";
import { parse as parseYaml } from "yaml";

// The daemon's socket protocol, as the Rust types generate it (docs/schemas/daemon.json, kept
// equal to them by vouch-api's test): every request these tests send and every refusal they get
// must be what the schema allows, and what the schema refuses the daemon must refuse as
// malformed — the client, the schema and the daemon cannot drift apart unseen.
const schemas = JSON.parse(readFileSync(new URL("../../../docs/schemas/daemon.json", import.meta.url), "utf8"));
const ajv = new Ajv2020({ strict: false, validateFormats: false });
const requestValid = ajv.compile(schemas.request);
const answerValid = ajv.compile(schemas.answer);
const send = Wallet.prototype.request;
Wallet.prototype.request = async function (op, fields = {}) {
  const allowed = requestValid({ ...fields, op });
  let answer;
  try {
    answer = await send.call(this, op, fields);
  } catch (e) {
    if (e instanceof WalletError) {
      const error = { code: e.code, message: e.detail, ...(e.reason ? { reason: e.reason } : {}) };
      assert.ok(answerValid({ error }), `a refusal outside the schema: ${JSON.stringify(error)}`);
      assert.ok(allowed || e.code === "malformed", `${op}: refused ${e.code}, not malformed`);
    }
    throw e;
  }
  assert.ok(allowed, `the daemon took a request the schema refuses: ${op} ${JSON.stringify(fields)}`);
  const okValid = ajv.compile(schemas.ok[op]);
  assert.ok(okValid(answer), `${op}: an answer outside the schema: ${JSON.stringify(answer).slice(0, 400)}`);
  return answer;
};

// The node's HTTP API, as the Rust types and the prose generate it (docs/openapi.yaml, kept equal
// to them by vouch-api's test): every body the node client sends must be what the route's request
// schema allows, and every answer it reads — a success, a report, a refusal — what the route's
// answer for that status allows; a body the document refuses the node must refuse (4xx).
const openapi = parseYaml(readFileSync(new URL("../../../docs/openapi.yaml", import.meta.url), "utf8"));
ajv.addSchema({ ...openapi, $id: "urn:vouch:openapi" });
const token = (text) => text.replaceAll("~", "~0").replaceAll("/", "~1");
const compiled = new Map();
/** Whether `value` is what the content at `at` (a pointer into the document) allows, in any media type. */
const openapiAllows = (value, at, media) =>
  media.some((m) => {
    const ref = `urn:vouch:openapi#${at}/content/${token(m)}/schema`;
    if (!compiled.has(ref)) compiled.set(ref, ajv.compile({ $ref: ref }));
    return compiled.get(ref)(value);
  });
const routeOf = (method, path) => {
  const segments = path.split("?")[0].split("/");
  for (const [template, ops] of Object.entries(openapi.paths)) {
    const parts = template.split("/");
    const matches =
      parts.length === segments.length &&
      parts.every((p, i) => p === segments[i] || (p.startsWith("{") && p.endsWith("}")));
    if (matches && ops[method.toLowerCase()]) return [template, ops[method.toLowerCase()]];
  }
  assert.fail(`${method} ${path}: no route of docs/openapi.yaml`);
};
const nodeCall = Node.prototype.call;
Node.prototype.call = async function (method, path, body, report = false) {
  const [template, op] = routeOf(method, path);
  const at = `/paths/${token(template)}/${method.toLowerCase()}`;
  let allowed = true;
  if (body !== undefined) {
    assert.ok(op.requestBody, `${method} ${template} takes no body`);
    allowed = openapiAllows(body, `${at}/requestBody`, Object.keys(op.requestBody.content));
  }
  let answer;
  try {
    answer = await nodeCall.call(this, method, path, body, report);
  } catch (e) {
    if (e instanceof NodeError && e.status) {
      let described = op.responses[String(e.status)];
      let where = `${at}/responses/${e.status}`;
      assert.ok(described, `${method} ${template}: ${e.status} is not in the document`);
      if (described.$ref) {
        const name = described.$ref.split("/").pop();
        described = openapi.components.responses[name];
        where = `/components/responses/${name}`;
      }
      assert.ok(
        openapiAllows(e.body, where, Object.keys(described.content ?? {})),
        `${method} ${template}: a ${e.status} the document does not describe: ${JSON.stringify(e.body).slice(0, 400)}`,
      );
      assert.ok(allowed || (e.status >= 400 && e.status < 500), `${method} ${template}: ${e.status}`);
    }
    throw e;
  }
  assert.ok(allowed, `the node took a body the document refuses: ${method} ${template}`);
  const statuses = Object.keys(op.responses).filter((s) => s.startsWith("2"));
  if (report && answer?.verified === false) statuses.push("400");
  assert.ok(
    statuses.some((s) => openapiAllows(answer, `${at}/responses/${s}`, Object.keys(op.responses[s].content ?? {}))),
    `${method} ${template}: an answer none of ${statuses} describes: ${JSON.stringify(answer).slice(0, 400)}`,
  );
  return answer;
};

test("what the OpenAPI document refuses, the node refuses, and the check sees a wrong answer", async () => {
  const node = new Node(agents.verifier.node);
  await assert.rejects(
    node.call("POST", "/1.0/exchanges", { capabilities: [], extra: 1 }),
    (e) => e instanceof NodeError && e.status === 400 && e.body?.code === "bad_request",
  );
  const at = "/paths/~11.0~1exchanges/post/responses/201";
  assert.ok(openapiAllows({ exchangeId: "e-1", request: {} }, at, ["application/json"]));
  assert.ok(!openapiAllows({ exchangeId: 1, request: {} }, at, ["application/json"]));
  assert.ok(!openapiAllows({ exchangeId: "e-1" }, at, ["application/json"]));
});

let agents;
let stop;

const wallets = [];
const wallet = (role) => {
  const w = new Wallet(agents[role].socket);
  wallets.push(w);
  return w;
};

before(() => {
  ({ agents, stop } = startTestnet());
});

after(() => {
  for (const w of wallets) w.close();
  stop?.();
});

const refund = (amount, resource = "https://testnet.example/refunds/42") => ({
  action: "call:testnet:refund",
  resource,
  arguments: { amount: { value: amount, unit: "EUR" } },
});

test("identity is the instance and its exchange address", async () => {
  const identity = await wallet("prover").identity();
  assert.equal(identity.did, agents.prover.did);
  assert.ok(identity.addresses.includes(agents.prover.address));
});

test("credentials are those issued to the instance", async () => {
  const w = wallet("prover");
  const held = await w.credentials();
  assert.equal(held.length, 1);
  assert.deepEqual(await w.credentials(agents.prover.task), held);
  assert.deepEqual(await w.credentials("no-such-task"), []);
  assert.equal(held[0].credentialSubject.id, agents.prover.did);
  assert.equal(held[0].issuer, agents.prover.org);
});

test("an exchange accepts what the credential grants and says why not otherwise", async () => {
  const w = wallet("verifier");
  const peer = agents.prover.address;
  const within = await w.exchange(peer, [refund(1200)]);
  assert.ok(within.accepted && within.acknowledged);
  assert.equal(within.prover, agents.prover.did);
  assert.equal(within.decisions[0].reason, undefined);
  assert.deepEqual(within.decision.type, ["VerifiableCredential", "CapabilityDecision"]);

  const over = await w.exchange(peer, [refund(9000)]);
  assert.equal(over.accepted, false);
  assert.equal(over.decisions[0].reason, "constraint_violated");
  // Nothing the prover holds names it: it presents nothing (the least that answers) and says why.
  await assert.rejects(
    w.exchange(peer, [{ action: "call:testnet:delete", resource: "https://testnet.example/x" }]),
    (e) => e instanceof WalletError && e.code === "refused" && e.reason === "not_granted",
  );
  const both = await w.exchange(peer, [refund(10), refund(9000)]);
  assert.deepEqual(both.decisions.map((d) => d.accepted), [true, false]);
  assert.equal(both.accepted, false);
});

test("an approval is asked only for what needs one", async () => {
  const w = wallet("prover");
  // The refund credential needs no approval: the org's node has nothing to ask the owner.
  // Its codes pass through the daemon: the reason of its refusal, and its not_found.
  await assert.rejects(
    w.requestApproval(refund(100)),
    (e) => e instanceof WalletError && e.code === "not_granted" && e.detail.includes("nothing to approve"),
  );
  await assert.rejects(
    w.approvalStatus("urn:uuid:6f1b3a44-2c8e-4f53-9a57-0c1a1d2e3f40"),
    (e) => e instanceof WalletError && e.code === "not_found",
  );
});

test("a delegation is signed within the parent and refused beyond it", async () => {
  const w = wallet("prover");
  const subAgent = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
  const parent = (await w.credentials())[0].id;
  const child = await w.delegate(parent, subAgent, [
    {
      action: "call:testnet:refund",
      resource: "https://testnet.example/refunds/7/**",
      constraints: { maxAmount: { value: 100, unit: "EUR" } },
    },
  ]);
  const credential = child.credential ?? child;
  assert.equal(credential.credentialSubject.id, subAgent);
  assert.equal(credential.issuer, agents.prover.did);
  await assert.rejects(
    w.delegate(parent, subAgent, [{ action: "call:testnet:delete", resource: "https://testnet.example/**" }]),
    (error) => error instanceof WalletError && error.code === "refused",
  );
});

test("refusals come back as errors with codes, and the connection still serves", async () => {
  const w = wallet("verifier");
  await assert.rejects(w.request("sign_these_bytes", { bytes: "00" }), (e) => e instanceof WalletError && e.code === "malformed");
  await assert.rejects(w.exchange("not-an-address", [refund(1)]), (e) => e instanceof WalletError);
  assert.equal((await w.identity()).did, agents.verifier.did);
});

test("no daemon is a clear error", async () => {
  const w = new Wallet("/nonexistent/wallet.sock");
  await assert.rejects(w.identity(), (e) => e instanceof VouchError && /no wallet daemon/.test(e.message));
});

test("the node resolves an org and an instance, and refuses an unknown DID", async () => {
  const node = new Node(agents.verifier.node);
  const org = await node.resolve(agents.prover.org);
  assert.equal(org.document.id, agents.prover.org);
  assert.equal(org.deactivated, false);
  assert.equal((await node.resolve(agents.prover.did)).document.id, agents.prover.did);
  await assert.rejects(
    node.resolve("did:vouch:zQmaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"),
    (e) => e instanceof NodeError && (e.status === 404 || e.status === 400),
  );
});

test("a credential verifies at another org's node and a tampered one does not", async () => {
  const credential = (await wallet("prover").credentials())[0];
  const node = new Node(agents.verifier.node);
  const report = await node.verifyCredential(credential);
  assert.ok(report.verified, JSON.stringify(report.errors));
  const tampered = structuredClone(credential);
  tampered.credentialSubject.capabilities[0].resource = "https://testnet.example/**";
  const refused = await node.verifyCredential(tampered);
  assert.equal(refused.verified, false);
  assert.ok(refused.reasons.includes("invalid_proof"));
});

test("an unreachable node is a clear error", async () => {
  await assert.rejects(new Node("http://127.0.0.1:9").resolve("did:key:z6Mk"), (e) => e instanceof NodeError && e.status === 0);
  assert.throws(() => new Node("ftp://example"), TypeError);
});

test("the agent card advertises the instance, its org and what it can prove", async () => {
  const card = await wallet("prover").agentCard({ name: "refund desk", url: "https://agent.example/a2a" });
  assert.equal(card.capabilities.extensions[0].uri, EXTENSION);
  const identity = vouchIdentity(card);
  assert.equal(identity.instance, agents.prover.did);
  assert.deepEqual(identity.organizations, [agents.prover.org]);
  assert.ok(identity.addresses.includes(agents.prover.address));
  assert.deepEqual(identity.credentialTypes, ["AgentCapabilityCredential"]);
  await assert.rejects(
    wallet("prover").agentCard({ name: "x", url: "file:///etc/passwd" }),
    (e) => e instanceof WalletError && e.code === "malformed",
  );
});

test("an exchange from a card checks who answered", async () => {
  const card = await wallet("prover").agentCard({ name: "refund desk" });
  const verifier = wallet("verifier");
  const exchange = await exchangeFromCard(verifier, card, [refund(50)]);
  assert.ok(exchange.accepted);
  const lying = structuredClone(card);
  lying.capabilities.extensions[0].params.instance = agents.verifier.did;
  await assert.rejects(exchangeFromCard(verifier, lying, [refund(50)]), (e) => e instanceof VouchError && /not the card's/.test(e.message));
  assert.throws(() => vouchIdentity({ capabilities: { extensions: [] } }), VouchError);
});

test("the node as verifier over HTTP: opened, answered by the prover's wallet, decided once", async () => {
  const node = new Node(agents.verifier.node);
  const { id, request } = await node.openExchange([refund(700)]);
  const response = await wallet("prover").answer(request);
  const exchange = await node.completeExchange(id, response);
  assert.ok(exchange.accepted);
  assert.equal(exchange.prover, agents.prover.did);
  await assert.rejects(node.completeExchange(id, response), (e) => e instanceof NodeError && e.status === 403 && e.body?.code === "replayed");
});

test("the daemon serves the card, and an exchange starts from it", async () => {
  const card = await fetchCard(agents.prover.card);
  assert.equal(card.name, "refund desk");
  assert.equal(vouchIdentity(card).instance, agents.prover.did);
  assert.ok((await exchangeFromCard(wallet("verifier"), card, [refund(20)])).accepted);
  await assert.rejects(fetchCard(agents.prover.card.replace("agent-card.json", "nothing.json")), VouchError);
});

test("closing fails the requests in flight, and the next request has a connection of its own", async () => {
  const w = wallet("verifier");
  const inFlight = w.exchange(agents.prover.address, [refund(10)]);
  w.close();
  await assert.rejects(inFlight, (e) => e instanceof VouchError && /closed/.test(e.message));
  // Its answer, if the daemon still gives one, never reaches another request.
  const [identity, card] = await Promise.all([w.identity(), w.agentCard({ name: "x", op: "credentials" })]);
  assert.equal(identity.did, agents.verifier.did);
  assert.equal(card.name, "x", "a field named op never changes the operation");
});

test("fetchCard stops reading a card as soon as it passes its bound", async () => {
  const { createServer } = await import("node:http");
  const limit = 64 * 1024 * 1024;
  let written = 0;
  let closed;
  const done = new Promise((resolve) => {
    closed = resolve;
  });
  const server = createServer((request, response) => {
    // No length announced: the client learns the size only by reading.
    response.writeHead(200, { "content-type": "application/json" });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const more = () => {
      while (written < limit) {
        written += chunk.length;
        if (!response.write(chunk)) return response.once("drain", more);
      }
      response.end();
    };
    response.on("close", () => closed(written));
    more();
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const url = `http://127.0.0.1:${server.address().port}/.well-known/agent-card.json`;
    await assert.rejects(fetchCard(url), (e) => e instanceof VouchError && /larger than/.test(e.message));
    const sent = await done;
    assert.ok(sent < 16 * 1024 * 1024, `the server wrote ${sent} bytes before the client stopped`);
  } finally {
    server.close();
  }
});
