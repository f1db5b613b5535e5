/**
 * The node's HTTP API, for an agent or a partner without a node: DID resolution and the
 * verification service (VC API shapes).
 */

import { NodeError } from "./errors.js";
import {
  type Capability,
  type Exchange,
  type Json,
  type Resolution,
  type Verification,
  exchangeOf,
  resolutionOf,
  verificationOf,
} from "./types.js";

/** The largest answer this client reads. */
export const MAX_ANSWER = 16 * 1024 * 1024;

/** A Vouch node's public HTTP API at `base` (`http://host:port`). */
export class Node {
  readonly base: string;

  constructor(
    base: string,
    private readonly timeoutMs = 30_000,
  ) {
    const url = new URL(base);
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new TypeError(`a node's base URL is http(s)://host:port, not ${base}`);
    }
    this.base = base.replace(/\/+$/, "");
  }

  /**
   * `report`: a verification report that says "not verified" comes with 400 (the VC API's way):
   * it is the answer, not an error.
   */
  private async call(method: string, path: string, body?: Json, report = false): Promise<Json> {
    let response: Response;
    try {
      response = await fetch(this.base + path, {
        method,
        headers: {
          accept: "application/json, application/ld+json;q=0.9, */*;q=0.1",
          ...(body ? { "content-type": "application/json" } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new NodeError(0, `the node at ${this.base} could not be reached: ${String(error)}`, undefined);
    }
    const text = await response.text();
    if (text.length > MAX_ANSWER) {
      throw new NodeError(response.status, `the node answered more than ${MAX_ANSWER} bytes`);
    }
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // kept as text
    }
    const object = typeof parsed === "object" && parsed !== null ? (parsed as Json) : undefined;
    if (response.ok && object) return object;
    if (report && response.status === 400 && object && "verified" in object) return object;
    const detail = object ? (object["detail"] ?? object["title"]) : undefined;
    throw new NodeError(
      response.status,
      typeof detail === "string" ? detail : response.statusText || "not JSON",
      parsed,
    );
  }

  /** Resolves a DID at its latest version; one that does not resolve throws {@link NodeError}. */
  async resolve(did: string): Promise<Resolution> {
    return resolutionOf(await this.call("GET", `/1.0/identifiers/${encodeURIComponent(did).replaceAll("%3A", ":")}`));
  }

  /**
   * Verifies a presentation with the node's documents, status lists and trust policy. A failed
   * verification is a result with its reasons, not an error.
   */
  async verifyPresentation(presentation: Json, challenge: string, domain: string): Promise<Verification> {
    return verificationOf(
      await this.call(
        "POST",
        "/1.0/presentations/verify",
        { verifiablePresentation: presentation, options: { challenge, domain } },
        true,
      ),
    );
  }

  /**
   * Opens a capability exchange with the node as verifier (for a service without a wallet of
   * its own): its id, and the signed request for the prover's wallet to answer
   * ({@link Wallet.answer}). Answered once, within a minute.
   */
  async openExchange(capabilities: Capability[], query?: Json): Promise<{ id: string; request: Json }> {
    const opened = await this.call("POST", "/1.0/exchanges", { capabilities, ...(query ? { query } : {}) });
    return { id: String(opened["exchangeId"]), request: (opened["request"] ?? {}) as Json };
  }

  /**
   * Gives the node the prover's response to an exchange it opened: its decision on each
   * capability, signed and recorded in the node's audit log. Given twice, or late: a
   * {@link NodeError} (403 `replayed`).
   */
  async completeExchange(id: string, response: Json): Promise<Exchange> {
    const decided = await this.call("POST", `/1.0/exchanges/${encodeURIComponent(id)}`, response);
    const decision = (decided["decision"] ?? {}) as Json;
    const subject = (decision["credentialSubject"] ?? {}) as Json;
    return exchangeOf({ prover: subject["id"] ?? "", decisions: decided["decisions"] ?? [], decision, acknowledged: true });
  }

  /**
   * Asks the node whether a request an agent signed (RFC 9421) may be acted on: its signature,
   * then its capability, with `args` as the service reads the call. The signer, credential and
   * action, or {@link NodeError} with the refusal's `code` in its body (`not_holder`: send the
   * presentation; `constraint_violated`, `revoked`, `invalid_proof`…).
   */
  async verifyRequest(request: {
    method: string;
    url: string;
    headers: [string, string][];
    body?: Uint8Array;
    args?: Json;
  }): Promise<{ signer: string; credential: string; action: string }> {
    const fields: Json = {
      method: request.method,
      url: request.url,
      headers: request.headers.map(([name, value]) => ({ name, value })),
    };
    if (request.body && request.body.length > 0) fields["body"] = Buffer.from(request.body).toString("base64");
    if (request.args && Object.keys(request.args).length > 0) fields["arguments"] = request.args;
    const permitted = await this.call("POST", "/1.0/requests/verify", fields);
    return {
      signer: String(permitted["signer"]),
      credential: String(permitted["credential"]),
      action: String(permitted["action"]),
    };
  }

  /** Verifies one credential with the node's documents, status lists and trust policy. */
  async verifyCredential(credential: Json): Promise<Verification> {
    return verificationOf(
      await this.call("POST", "/1.0/credentials/verify", { verifiableCredential: credential }, true),
    );
  }
}
