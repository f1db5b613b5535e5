//! The exchange's messages on the wire (`/vouch/exchange/1.0.0`, libp2p request-response): one
//! JSON object per message, tagged by `type`, at most [`MAX_MESSAGE_BYTES`], read whole or
//! refused. The verifier sends a `request` (answered by a `response` or a `refused`), then its
//! `decision` (answered by `accepted` or `refused`).

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::flow::MAX_RESPONSE_BYTES;
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
        let mut end = message.len().min(MAX_REFUSAL);
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        Self::Refused {
            reason,
            message: message[..end].to_owned(),
        }
    }

    /// Reads a reply, with the refusal's message bounded too.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let reply: Self = decode(bytes)?;
        if let Self::Refused { message, .. } = &reply
            && message.len() > MAX_REFUSAL
        {
            return Err(WireError::Malformed(
                "a refusal's message is too long".into(),
            ));
        }
        Ok(reply)
    }
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
