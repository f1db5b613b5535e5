/**
 * Vouch for TypeScript agents: prove and check capabilities through the wallet daemon and the
 * node's HTTP API. The client never holds a key: the daemon signs, and only structured
 * operations (an exchange, a delegation) are offered.
 */

export { EXTENSION, MAX_CARD, exchangeFromCard, fetchCard, vouchIdentity, type VouchIdentity } from "./a2a.js";
export { NodeError, VouchError, WalletError } from "./errors.js";
export { Node } from "./node.js";
export {
  jsonObject,
  signedRequests,
  signingFetch,
  type Caller,
  type SignedOptions,
  type SigningOptions,
} from "./signed.js";
export {
  type Capability,
  type Check,
  type Decision,
  type Exchange,
  type Identity,
  type Json,
  type Reason,
  type Refusal,
  type Resolution,
  type Verification,
} from "./types.js";
export { Wallet, type ExchangeOptions } from "./wallet.js";
