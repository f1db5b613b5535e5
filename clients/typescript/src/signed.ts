/**
 * A `fetch`-style handler that runs only for requests its callers' Vouch agents signed (RFC 9421,
 * through their wallet daemons) under a capability that permits them — for servers built on the
 * Fetch API's `Request` and `Response` (Node's, Deno, Bun, Hono, Cloudflare Workers).
 *
 *     const handler = signedRequests(app, { node: new Node(url), origin: "https://api.example.org",
 *                                           action: () => "call:billing_api:refund" });
 *
 * The service says which action each request is (`action`; `undefined` for one that needs no
 * capability, which then carries no Vouch identity) and how it reads the call's arguments (`args`:
 * the body's JSON object by default). What the capability's constraints are checked against is
 * the service's reading of the call, never the agent's word. A request that is an action is read
 * whole (at most `maxBody` bytes) and checked by the node (`POST /1.0/requests/verify`): the
 * signature, its freshness, nonce and body digest, then the capability. A permitted request
 * reaches `handler` with the caller (`signer`, `credential`, `action` — the action the service
 * said, and no other); any other is answered 401 (the signature, or who holds the credential) or
 * 403 (the capability does not permit it) with the node's reason, and never reaches `handler`. A
 * node that cannot be asked fails the request (503): nothing passes unchecked.
 */

import { NodeError } from "./errors.js";
import type { Node } from "./node.js";
import type { Json } from "./types.js";
import type { Wallet } from "./wallet.js";

/** Who signed a permitted request, and under what. */
export interface Caller {
  signer: string;
  credential: string;
  action: string;
}

/** The reasons that say the signature, or the signer's holding of the credential, failed. */
const UNAUTHENTICATED = new Set([
  "malformed",
  "invalid_proof",
  "unresolvable_did",
  "replayed",
  "expired",
  "not_yet_valid",
  "not_holder",
  "request_mismatch",
  "domain_mismatch",
]);

/** The body's JSON object, or an empty one. */
export function jsonObject(body: Uint8Array): Json {
  if (body.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(body));
    return typeof parsed === "object" && parsed !== null && !Array.isArray(parsed) ? (parsed as Json) : {};
  } catch {
    return {};
  }
}

export interface SignedOptions {
  /** The service's node. */
  node: Node;
  /** The service's public origin: the URL signed is rebuilt from it, never from `Host`. */
  origin: string;
  /** The action a request is, from its body; `undefined`: no capability needed. */
  action: (body: Uint8Array, request: Request) => string | undefined;
  /** The call's arguments as the service reads them; the body's JSON object by default. */
  args?: (body: Uint8Array, request: Request) => Json;
  /** The largest body read (1 MiB by default). */
  maxBody?: number;
}

function refusal(status: number, code: string, message: string): Response {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (status === 401) headers["www-authenticate"] = 'Signature realm="vouch"';
  return new Response(JSON.stringify({ code, message }), { status, headers });
}

async function readBody(request: Request, limit: number): Promise<Uint8Array | undefined> {
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > limit) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.length;
  }
  return body;
}

/** `handler`, behind the node's check of each request's signature and capability. */
export function signedRequests(
  handler: (request: Request, caller: Caller | undefined) => Response | Promise<Response>,
  options: SignedOptions,
): (request: Request) => Promise<Response> {
  const origin = options.origin.replace(/\/+$/, "");
  if (!/^https?:\/\//.test(origin)) throw new TypeError(`origin is http(s)://host[:port], not ${options.origin}`);
  const limit = options.maxBody ?? 1024 * 1024;
  return async (request: Request): Promise<Response> => {
    const body = await readBody(request, limit);
    if (body === undefined) return refusal(413, "malformed", `a body of at most ${limit} bytes`);
    const replayed = new Request(request, body.length > 0 ? { body } : {});
    const wanted = options.action(body, request);
    if (wanted === undefined) return handler(replayed, undefined);
    const target = new URL(request.url);
    let caller: Caller;
    try {
      caller = await options.node.verifyRequest({
        method: request.method,
        url: origin + target.pathname + target.search,
        headers: [...request.headers.entries()],
        body,
        args: (options.args ?? jsonObject)(body, request),
      });
    } catch (error) {
      const code =
        error instanceof NodeError && typeof error.body === "object" && error.body !== null
          ? (error.body as Json)["code"]
          : undefined;
      if (!(error instanceof NodeError) || error.status === 0 || typeof code !== "string") {
        return refusal(503, "unavailable", "the node could not be asked");
      }
      return refusal(UNAUTHENTICATED.has(code) ? 401 : 403, code, error.detail);
    }
    if (caller.action !== wanted) {
      return refusal(403, "not_granted", `signed for ${caller.action}, not ${wanted}`);
    }
    return handler(replayed, caller);
  };
}

/** How an agent's requests are signed by {@link signingFetch}. */
export interface SigningOptions {
  /** The credential relied on. */
  credential: string;
  /** The action a request is, from its body; `undefined`: sent unsigned. */
  action: (body: Uint8Array, request: Request) => string | undefined;
  /** The call's arguments as the service reads them; the body's JSON object by default. */
  args?: (body: Uint8Array, request: Request) => Json;
  /** The service's public origin, when this client reaches it at another address. */
  origin?: string;
  /** Sign in the Web Bot Auth profile too, naming this key directory. */
  signatureAgent?: string;
  /** The `fetch` that sends (the global one by default). */
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * A `fetch` whose requests `wallet`'s daemon signs (RFC 9421) under `options.credential`: the
 * first carries the credential and its chain, the later ones name it only; a service that kept
 * none (`401 not_holder`) gets the request once more, presented. The key never leaves the daemon.
 */
export function signingFetch(
  wallet: Pick<Wallet, "signRequest">,
  options: SigningOptions,
): (request: Request) => Promise<Response> {
  const send = options.fetch ?? ((request: Request) => fetch(request));
  let presented = false;
  return async (request: Request): Promise<Response> => {
    const body = new Uint8Array(await request.clone().arrayBuffer());
    const wanted = options.action(body, request);
    if (wanted === undefined) return send(request);
    const target = new URL(request.url);
    const url = options.origin ? options.origin.replace(/\/+$/, "") + target.pathname + target.search : request.url;
    const signed = async (present: boolean): Promise<Request> => {
      const covered: Record<string, string> = {};
      const contentType = request.headers.get("content-type");
      if (contentType !== null) covered["content-type"] = contentType;
      const added = await wallet.signRequest(request.method, url, {
        credential: options.credential,
        action: wanted,
        arguments: (options.args ?? jsonObject)(body, request),
        headers: covered,
        body,
        ...(present ? { present: true } : {}),
        ...(options.signatureAgent ? { signatureAgent: options.signatureAgent } : {}),
      });
      const headers = new Headers(request.headers);
      for (const [name, value] of Object.entries(added)) headers.set(name, value);
      return new Request(request, { headers, ...(body.length > 0 ? { body } : {}) });
    };
    let present = !presented;
    let response = await send(await signed(present));
    if (response.status === 401 && !present) {
      const code = ((await response.clone().json().catch(() => ({}))) as Json)["code"];
      if (code === "not_holder") {
        present = true;
        response = await send(await signed(true));
      }
    }
    if (present && response.status < 400) presented = true;
    return response;
  };
}
