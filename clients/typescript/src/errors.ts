/** What a Vouch call can fail with. */

/** Any failure of a Vouch client call. */
export class VouchError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "VouchError";
  }
}

/**
 * The wallet daemon refused a request. `code` is the daemon's stable code (`malformed`,
 * `too_large`, `refused`, `busy` — all its connections in use: ask again —, `internal`);
 * `reason` the DESIGN §8 reason code when an exchange was refused (`not_granted`, `revoked`, …).
 */
export class WalletError extends VouchError {
  constructor(
    readonly code: string,
    readonly detail: string,
    readonly reason?: string,
  ) {
    super(`${code}: ${detail}${reason ? ` (${reason})` : ""}`);
    this.name = "WalletError";
  }
}

/**
 * The node answered with an error status, or could not be reached (`status` 0). `body` is its
 * answer, parsed when it was JSON (an RFC 9457 problem object, or a DID resolution result).
 */
export class NodeError extends VouchError {
  constructor(
    readonly status: number,
    readonly detail: string,
    readonly body?: unknown,
  ) {
    super(status ? `${status}: ${detail}` : detail);
    this.name = "NodeError";
  }
}
