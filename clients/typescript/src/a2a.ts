/**
 * A2A agent cards with the Vouch identity extension (docs/A2A.md). A card is a claim, not
 * evidence: {@link exchangeFromCard} refuses the outcome unless the agent that answered is the
 * card's instance; the decisions rest on the presentation it made, verified by the daemon.
 */

import { VouchError } from "./errors.js";
import type { Capability, Exchange, Json } from "./types.js";
import type { ExchangeOptions, Wallet } from "./wallet.js";

/** The URI of the Vouch identity extension of an A2A agent card. */
export const EXTENSION = "https://w3id.org/vouch/a2a/identity/v1";

/** What a card's Vouch extension says of its agent. */
export interface VouchIdentity {
  instance: string;
  organizations: string[];
  addresses: string[];
  credentialTypes: string[];
  capabilities: Json[];
}

const strings = (value: unknown): string[] =>
  Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : [];

/** The Vouch identity a card advertises; throws {@link VouchError} when it has none. */
export function vouchIdentity(card: Json): VouchIdentity {
  const capabilities = (card["capabilities"] ?? {}) as Json;
  const extensions = Array.isArray(capabilities["extensions"]) ? (capabilities["extensions"] as Json[]) : [];
  const found = extensions.filter((e) => typeof e === "object" && e !== null && e["uri"] === EXTENSION);
  if (found.length !== 1) {
    throw new VouchError(`the card has ${found.length} Vouch identity extensions, not one`);
  }
  const params = (found[0]?.["params"] ?? {}) as Json;
  const instance = params["instance"];
  if (typeof instance !== "string" || !instance.startsWith("did:key:")) {
    throw new VouchError("the card's Vouch identity names no did:key instance");
  }
  const exchange = (params["exchange"] ?? {}) as Json;
  return {
    instance,
    organizations: strings(params["organizations"]),
    addresses: strings(exchange["libp2p"]),
    credentialTypes: strings(params["credentialTypes"]),
    capabilities: Array.isArray(params["capabilities"])
      ? (params["capabilities"] as unknown[]).filter((c): c is Json => typeof c === "object" && c !== null)
      : [],
  };
}

/** The largest card read. */
export const MAX_CARD = 1024 * 1024;

/** An agent's card from `url` (its `/.well-known/agent-card.json`): at most 1 MiB of JSON. */
export async function fetchCard(url: string, timeoutMs = 10_000): Promise<Json> {
  if (!/^https?:\/\//.test(url)) throw new VouchError(`a card's URL is http(s), not ${url}`);
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (error) {
    throw new VouchError(`no agent card at ${url}: ${String(error)}`, { cause: error });
  }
  if (!response.ok) throw new VouchError(`no agent card at ${url}: ${response.status}`);
  const text = await readBounded(response, url);
  let card: unknown;
  try {
    card = JSON.parse(text);
  } catch (error) {
    throw new VouchError(`the card at ${url} is not JSON`, { cause: error });
  }
  if (typeof card !== "object" || card === null || Array.isArray(card)) {
    throw new VouchError(`the card at ${url} is not a JSON object`);
  }
  return card as Json;
}

/**
 * A response's body as text, read while it stays within {@link MAX_CARD} bytes: a larger one is
 * refused as soon as it passes the bound, never read whole first.
 */
async function readBounded(response: Response, url: string): Promise<string> {
  const tooLarge = () => new VouchError(`the card at ${url} is larger than ${MAX_CARD} bytes`);
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > MAX_CARD) {
    await response.body?.cancel();
    throw tooLarge();
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  if (response.body !== null) {
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        total += value.byteLength;
        if (total > MAX_CARD) {
          await reader.cancel();
          throw tooLarge();
        }
        chunks.push(value);
      }
    } catch (error) {
      if (error instanceof VouchError) throw error;
      throw new VouchError(`no agent card at ${url}: ${String(error)}`, { cause: error });
    }
  }
  const bytes = new Uint8Array(total);
  let at = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, at);
    at += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

/**
 * Asks the agent of `card` to prove `capabilities` through `wallet`; throws
 * {@link VouchError} if the card gives no address or the agent that answered is not the card's.
 */
export async function exchangeFromCard(
  wallet: Wallet,
  card: Json,
  capabilities: Capability[],
  options: ExchangeOptions = {},
): Promise<Exchange> {
  const identity = vouchIdentity(card);
  const address = identity.addresses[0];
  if (address === undefined) throw new VouchError("the card gives no exchange address");
  const exchange = await wallet.exchange(address, capabilities, options);
  if (exchange.prover !== identity.instance) {
    throw new VouchError(`the agent that answered is ${exchange.prover}, not the card's ${identity.instance}`);
  }
  return exchange;
}
