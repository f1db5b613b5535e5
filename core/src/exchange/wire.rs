//! The exchange's messages on the wire (`/vouch/exchange/1.0.0`, libp2p request-response): one
//! JSON object per message, tagged by `type`, at most [`MAX_MESSAGE_BYTES`], read whole or
//! refused. The verifier sends a `request` (answered by a `response` or a `refused`), then its
//! `decision` (answered by `accepted` or `refused`). Either may be answered `unavailable`
//! instead: the prover did not judge it at all (it is busy, or it failed), which is no refusal
//! of the verifier's and says nothing about its credentials.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::flow::{MAX_RESPONSE_BYTES, Unanswered};
use crate::report::Reason;

/// The protocol's id.
pub const PROTOCOL: &str = "/vouch/exchange/1.0.0";
/// The largest message: a response (the largest presentation) and its envelope.
pub const MAX_MESSAGE_BYTES: usize = MAX_RESPONSE_BYTES + 1024;
/// The longest message of a refusal.
pub const MAX_REFUSAL: usize = 1024;

/// What the verifier sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Message {
    /// Its request.
    Request {
        /// The request ([`super::CapabilityRequest`]).
        request: Value,
    },
    /// Its decision on the prover's response.
    Decision {
        /// The signed `CapabilityDecision`.
        decision: Value,
    },
}

/// What the prover answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply {
    /// Its response to a request: `{"verifiablePresentation": …}`.
    Response {
        /// The response.
        response: Value,
    },
    /// It refuses, and why.
    Refused {
        /// The reason code.
        reason: Reason,
        /// What happened (at most [`MAX_REFUSAL`] bytes).
        message: String,
    },
    /// It took the decision.
    Accepted {},
    /// It did not judge the message: busy, or failed (at most [`MAX_REFUSAL`] bytes of why).
    Unavailable {
        /// Busy or failed.
        why: Unavailable,
        /// What happened.
        message: String,
    },
}

/// Why a prover did not judge a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unavailable {
    /// At its bound of work: ask again.
    Busy,
    /// It failed (its audit log could not be written): nothing was given or taken.
    Failed,
}

/// Why bytes are not a message.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Larger than any message.
    #[error("{0} bytes: larger than {MAX_MESSAGE_BYTES}")]
    TooLarge(usize),
    /// Not a message of the protocol.
    #[error("not an exchange message: {0}")]
    Malformed(String),
}

/// Reads a message or a reply, whole: bounded before it is parsed.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    if bytes.len() > MAX_MESSAGE_BYTES {
        return Err(WireError::TooLarge(bytes.len()));
    }
    let decoded: T =
        serde_json::from_slice(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    Ok(decoded)
}

/// Writes a message or a reply.
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    serde_json::to_vec(message).expect("exchange messages always serialize")
}

impl Reply {
    /// A refusal, its message cut to [`MAX_REFUSAL`] bytes.
    pub fn refused(reason: Reason, message: &str) -> Self {
        Self::Refused {
            reason,
            message: bounded(message),
        }
    }

    /// An answer that the message was not judged, its message cut to [`MAX_REFUSAL`] bytes.
    pub fn unavailable(why: Unavailable, message: &str) -> Self {
        Self::Unavailable {
            why,
            message: bounded(message),
        }
    }

    /// What the verifier is told when the prover did not answer: its refusal, or that it did
    /// not judge the message (a failure's cause is the prover's own: it is not sent).
    pub fn of(unanswered: &Unanswered) -> Self {
        match unanswered {
            Unanswered::Refused(refused) => Self::refused(refused.reason, &refused.message),
            Unanswered::Busy(message) => Self::unavailable(Unavailable::Busy, message),
            Unanswered::Failed(_) => {
                Self::unavailable(Unavailable::Failed, "the prover could not record it")
            }
        }
    }

    /// Reads a reply, with the refusal's message bounded too.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let reply: Self = decode(bytes)?;
        if let Self::Refused { message, .. } | Self::Unavailable { message, .. } = &reply
            && message.len() > MAX_REFUSAL
        {
            return Err(WireError::Malformed(
                "a refusal's message is too long".into(),
            ));
        }
        Ok(reply)
    }
}

/// `message`, cut to at most [`MAX_REFUSAL`] bytes on a character's boundary.
fn bounded(message: &str) -> String {
    let mut end = message.len().min(MAX_REFUSAL);
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    message[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_are_read_whole_or_refused() {
        let request = Message::Request {
            request: json!({"a": 1}),
        };
        assert_eq!(
            decode::<Message>(&encode(&request)).expect("reads"),
            request
        );
        let accepted = Reply::Accepted {};
        assert_eq!(encode(&accepted), br#"{"type":"accepted"}"#);
        assert_eq!(Reply::decode(&encode(&accepted)).expect("reads"), accepted);
        let refused = Reply::refused(Reason::NotHolder, &"é".repeat(MAX_REFUSAL));
        let Reply::Refused { message, .. } = &refused else {
            panic!("a refusal")
        };
        assert!(message.len() <= MAX_REFUSAL);
        assert_eq!(Reply::decode(&encode(&refused)).expect("reads"), refused);
        let busy = Reply::unavailable(Unavailable::Busy, "ask again");
        assert_eq!(
            encode(&busy),
            br#"{"type":"unavailable","why":"busy","message":"ask again"}"#
        );
        assert_eq!(Reply::decode(&encode(&busy)).expect("reads"), busy);
        let long = format!(
            r#"{{"type":"unavailable","why":"failed","message":"{}"}}"#,
            "a".repeat(MAX_REFUSAL + 1)
        );
        assert!(Reply::decode(long.as_bytes()).is_err());

        for bad in [
            &br#"{"type":"request"}"#[..],
            br#"{"type":"request","request":{},"extra":1}"#,
            br#"{"type":"sign","bytes":"AA"}"#,
            br#"{"type":"refused","reason":"because","message":""}"#,
            b"[]",
            b"",
        ] {
            assert!(
                decode::<Message>(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let long = format!(
            r#"{{"type":"refused","reason":"revoked","message":"{}"}}"#,
            "x".repeat(MAX_REFUSAL + 1)
        );
        assert!(Reply::decode(long.as_bytes()).is_err());
        assert!(matches!(
            decode::<Message>(&vec![b' '; MAX_MESSAGE_BYTES + 1]),
            Err(WireError::TooLarge(_))
        ));
    }
}
