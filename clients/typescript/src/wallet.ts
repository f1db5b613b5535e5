/**
 * The wallet daemon's client: structured operations on its Unix socket, never a key.
 *
 * The daemon (`vouch wallet serve`) holds the agent instance's key and credentials and answers
 * JSON Lines on a socket only its own user can open: one request per line, one answer per line,
 * `{"ok": …}` or `{"error": {"code", "message", "reason"}}`.
 */

import { createConnection, type Socket } from "node:net";

import { VouchError, WalletError } from "./errors.js";
import { type Capability, type Exchange, type Identity, type Json, exchangeOf } from "./types.js";

/** The daemon's longest request line. */
export const MAX_REQUEST = 1024 * 1024;
/** The longest answer this client reads. */
export const MAX_ANSWER = 16 * 1024 * 1024;

interface Pending {
  resolve: (line: string) => void;
  reject: (error: Error) => void;
}

/** One connection to the daemon: its answers go to its own requests, in order, and nowhere else. */
class Connection {
  buffer = "";
  pending: Pending[] = [];
  closed = false;
  constructor(readonly socket: Socket) {}
}

/** Options of an exchange. */
export interface ExchangeOptions {
  /** A DCQL query; every capability credential by default. */
  query?: Json;
  /** The domain; the instance's did:key by default. */
  domain?: string;
  /** The ids of the credentials presented to authenticate this agent; all by default. */
  present?: string[];
}

/** A connection to a wallet daemon's socket; requests are answered in order. */
export class Wallet {
  private connection: Connection | undefined;

  constructor(
    readonly path: string,
    private readonly timeoutMs = 30_000,
  ) {}

  private connect(): Connection {
    if (this.connection && !this.connection.closed) return this.connection;
    const socket = createConnection(this.path);
    socket.setEncoding("utf8");
    const connection = new Connection(socket);
    socket.on("data", (chunk: string) => {
      connection.buffer += chunk;
      if (connection.buffer.length > MAX_ANSWER) {
        this.fail(connection, new VouchError("the wallet daemon answered too much"));
        return;
      }
      let end: number;
      while ((end = connection.buffer.indexOf("\n")) >= 0) {
        const line = connection.buffer.slice(0, end);
        connection.buffer = connection.buffer.slice(end + 1);
        connection.pending.shift()?.resolve(line);
      }
    });
    socket.on("error", (error: Error) => {
      this.fail(connection, new VouchError(`no wallet daemon at ${this.path}: ${error.message}`, { cause: error }));
    });
    socket.on("close", () => {
      this.fail(connection, new VouchError("the wallet daemon closed the connection"));
    });
    this.connection = connection;
    return connection;
  }

  /** Ends `connection`: its requests still waiting fail; a later request opens another. */
  private fail(connection: Connection, error: Error): void {
    connection.closed = true;
    connection.socket.destroy();
    if (this.connection === connection) this.connection = undefined;
    for (const waiting of connection.pending.splice(0)) waiting.reject(error);
  }

  /** Closes the connection (a later call opens another); requests still waiting fail. */
  close(): void {
    if (this.connection) this.fail(this.connection, new VouchError("the connection was closed"));
  }

  /**
   * Sends one request (`{op, …fields}`); its `ok` value, or a {@link WalletError} with the
   * daemon's code, message and reason.
   */
  async request(op: string, fields: Json = {}): Promise<unknown> {
    const line = JSON.stringify({ ...fields, op }) + "\n";
    if (Buffer.byteLength(line) > MAX_REQUEST) {
      throw new WalletError("too_large", `a request is at most ${MAX_REQUEST} bytes`);
    }
    const connection = this.connect();
    const answer = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(connection, new VouchError(`the wallet daemon did not answer in ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      connection.pending.push({
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      connection.socket.write(line);
    });
    let parsed: unknown;
    try {
      parsed = JSON.parse(answer);
    } catch (error) {
      throw new VouchError("the wallet daemon answered something not JSON", { cause: error });
    }
    if (typeof parsed !== "object" || parsed === null) {
      throw new VouchError("the wallet daemon answered something not an object");
    }
    const object = parsed as Json;
    if ("error" in object) {
      const error = (object["error"] ?? {}) as Json;
      throw new WalletError(
        String(error["code"] ?? "internal"),
        String(error["message"] ?? ""),
        typeof error["reason"] === "string" ? error["reason"] : undefined,
      );
    }
    if (!("ok" in object)) {
      throw new VouchError("the wallet daemon's answer has neither ok nor error");
    }
    return object["ok"];
  }

  /** The instance's did:key and where its daemon takes exchanges. */
  async identity(): Promise<Identity> {
    const ok = (await this.request("identity")) as Json;
    return { did: String(ok["did"]), addresses: (ok["addresses"] ?? []) as string[] };
  }

  /**
   * The instance's A2A agent card with the Vouch identity extension (docs/A2A.md), for the agent
   * to serve at `/.well-known/agent-card.json`.
   */
  async agentCard(card: { name: string; description?: string; url?: string; version?: string }): Promise<Json> {
    return (await this.request("agent_card", { ...card })) as Json;
  }

  /** The credentials held (all, or a task's), as signed. */
  async credentials(task?: string): Promise<Json[]> {
    return (await this.request("credentials", task === undefined ? {} : { task })) as Json[];
  }

  /** Keeps a credential issued to this instance, with its ancestors for a delegation. */
  async addCredential(credential: Json, chain: Json[] = []): Promise<unknown> {
    return this.request("add_credential", { credential, chain });
  }

  /**
   * Asks the agent at `peer` (a libp2p address ending in `/p2p/<peer id>`) to prove
   * `capabilities`, decides each and sends it the signed decision. A rejection is a result
   * (`decisions` say why); an exchange that could not take place throws {@link WalletError}.
   */
  async exchange(peer: string, capabilities: Capability[], options: ExchangeOptions = {}): Promise<Exchange> {
    const fields: Json = { peer, capabilities };
    if (options.query !== undefined) fields["query"] = options.query;
    if (options.domain !== undefined) fields["domain"] = options.domain;
    if (options.present !== undefined) fields["present"] = options.present;
    return exchangeOf((await this.request("exchange", fields)) as Json);
  }

  /** Answers a capability request that came another way (HTTP, an A2A message). */
  async answer(request: Json): Promise<Json> {
    return (await this.request("answer", { request })) as Json;
  }

  /** Takes the verifier's signed decision on a request answered with {@link answer}. */
  async accept(decision: Json): Promise<Json[]> {
    const ok = (await this.request("accept", { decision })) as Json;
    return (ok["decisions"] ?? []) as Json[];
  }

  /**
   * Delegates capabilities within the credential `parent` (its id) to the sub-agent `to` (its
   * did:key); the signed credential, the sub-agent's to keep.
   */
  async delegate(parent: string, to: string, capabilities: Capability[], validUntil?: string): Promise<Json> {
    const fields: Json = { parent, to, capabilities };
    if (validUntil !== undefined) fields["valid_until"] = validUntil;
    return (await this.request("delegate", fields)) as Json;
  }

  /** Renews a credential held through the org's node. */
  async renew(id: string): Promise<Json> {
    return (await this.request("renew", { id })) as Json;
  }

  /** The instance's proof of possession, for its operator to bind it to `definition`. */
  async bindingProof(definition: string): Promise<Json> {
    return (await this.request("binding_proof", { definition })) as Json;
  }

  /**
   * Asks the agent's owner, through the org's node, to approve `request` (`{action, resource,
   * arguments}`) after a decision answered `needs_approval`: the pending request, whose `id`
   * the owner approves (`vouch agent approve`).
   */
  async requestApproval(request: Capability): Promise<Json> {
    return (await this.request("request_approval", { request })) as Json;
  }

  /**
   * Where an approval request stands (`standing`); once `approved`, the daemon holds the
   * approval and presents it, once, with the request it approves.
   */
  async approvalStatus(id: string): Promise<Json> {
    return (await this.request("approval_status", { id })) as Json;
  }

  /**
   * Has the daemon sign an HTTP request (RFC 9421) under a capability of `credential`: the
   * header fields to add (`content-digest` with a body, `vouch-capability`, `signature-input`,
   * `signature`). `headers` are fields of the request the signature covers too. The daemon
   * refuses a request the credential does not permit, and signs nothing it did not build; the
   * key never leaves it.
   */
  async signRequest(
    method: string,
    url: string,
    options: {
      credential: string;
      action: string;
      arguments?: Json;
      headers?: Record<string, string>;
      body?: Uint8Array;
      /** Carry the credential and its chain (`Vouch-Presentation`): a session's first request. */
      present?: boolean;
      /** Sign in the Web Bot Auth profile too, naming this key directory in `Signature-Agent`. */
      signatureAgent?: string;
    },
  ): Promise<Record<string, string>> {
    const fields: Json = {
      method: method.toUpperCase(),
      url,
      credential: options.credential,
      action: options.action,
    };
    if (options.arguments && Object.keys(options.arguments).length > 0) fields["arguments"] = options.arguments;
    if (options.headers && Object.keys(options.headers).length > 0) {
      fields["headers"] = Object.entries(options.headers).map(([name, value]) => ({ name, value }));
    }
    if (options.body && options.body.length > 0) fields["body"] = Buffer.from(options.body).toString("base64");
    if (options.present) fields["present"] = true;
    if (options.signatureAgent) fields["signature_agent"] = options.signatureAgent;
    const signed = (await this.request("sign_request", fields)) as { headers: { name: string; value: string }[] };
    return Object.fromEntries(signed.headers.map((h) => [h.name, h.value]));
  }

  /**
   * Has the daemon make a DPoP proof (RFC 9449) of a request about to be sent: the `DPoP` header's
   * value and the instance key's RFC 7638 thumbprint (`cnf.jkt` of a token bound to it). With
   * `accessToken` the proof binds it (`ath`); `nonce` is the server's `DPoP-Nonce`.
   */
  async dpopProof(
    method: string,
    url: string,
    options: { accessToken?: string; nonce?: string } = {},
  ): Promise<{ proof: string; jkt: string }> {
    const fields: Json = { method: method.toUpperCase(), url };
    if (options.accessToken !== undefined) fields["access_token"] = options.accessToken;
    if (options.nonce !== undefined) fields["nonce"] = options.nonce;
    const made = (await this.request("dpop_proof", fields)) as { proof: string; jkt: string };
    return { proof: String(made.proof), jkt: String(made.jkt) };
  }

  /**
   * Has the daemon get an OAuth access token for `resource` (RFC 8707: the API's URI) from its
   * org's node by token exchange (RFC 8693): the one credential held that reaches the resource
   * (or `credential`) is presented with its chain, with the approvals of the `approved` requests
   * (`{action, resource, arguments}`). The token is bound to the instance key: send it as
   * `Authorization: DPoP …` with a `dpopProof` of each request.
   */
  async accessToken(
    resource: string,
    options: { credential?: string; approved?: Json[] } = {},
  ): Promise<{
    access_token: string;
    token_type: string;
    issued_token_type: string;
    expires_in: number;
    authorization_details: Json[];
  }> {
    const fields: Json = { resource };
    if (options.credential !== undefined) fields["credential"] = options.credential;
    if (options.approved !== undefined && options.approved.length > 0) fields["approved"] = options.approved;
    return (await this.request("access_token", fields)) as {
      access_token: string;
      token_type: string;
      issued_token_type: string;
      expires_in: number;
      authorization_details: Json[];
    };
  }

  /**
   * Signs a fetch `Request` (its method, URL, body, and the fields of `cover` it has): a new
   * `Request` with the signature's fields, ready to send.
   */
  async signFetch(
    request: Request,
    options: {
      credential: string;
      action: string;
      arguments?: Json;
      cover?: string[];
      present?: boolean;
      signatureAgent?: string;
    },
  ): Promise<Request> {
    const body = new Uint8Array(await request.clone().arrayBuffer());
    const headers: Record<string, string> = {};
    for (const name of options.cover ?? ["content-type"]) {
      const value = request.headers.get(name);
      if (value !== null) headers[name] = value;
    }
    const added = await this.signRequest(request.method, request.url, {
      credential: options.credential,
      action: options.action,
      ...(options.arguments ? { arguments: options.arguments } : {}),
      headers,
      body,
      ...(options.present ? { present: true } : {}),
      ...(options.signatureAgent ? { signatureAgent: options.signatureAgent } : {}),
    });
    const signed = new Headers(request.headers);
    for (const [name, value] of Object.entries(added)) signed.set(name, value);
    return new Request(request, { headers: signed, ...(body.length > 0 ? { body } : {}) });
  }
}
