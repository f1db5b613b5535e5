//! `eddsa-jcs-2022` canonicalization: the JSON Canonicalization Scheme
//! ([RFC 8785](https://www.rfc-editor.org/rfc/rfc8785)), through `serde_jcs`.
//!
//! No JSON-LD processing happens on this path, which is what makes it fast: the bytes signed are
//! the sorted, minimally escaped JSON of the document.

use serde_json::{Map, Value};

use super::ProofError;

/// The canonical JSON of an object.
pub fn canonicalize(object: &Map<String, Value>) -> Result<Vec<u8>, ProofError> {
    serde_jcs::to_vec(object).map_err(|e| ProofError::Canonicalization(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_canonical() {
        // RFC 8785 §3.2.2.3: numbers are written as ECMAScript writes them.
        let value: Value = serde_json::from_str(
            r#"{"b": 1.5e3, "a": 100, "c": -0.0, "d": 9007199254740991, "e": 1e21, "f": 0.000001}"#,
        )
        .unwrap();
        let canonical = canonicalize(value.as_object().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(canonical).unwrap(),
            r#"{"a":100,"b":1500,"c":0,"d":9007199254740991,"e":1e+21,"f":0.000001}"#
        );
    }

    #[test]
    fn strings_are_canonical() {
        let value = serde_json::json!({"\u{20ac}": "\u{2028}\n\u{1}é", "a": [true, null]});
        let canonical = canonicalize(value.as_object().unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(canonical).unwrap(),
            "{\"a\":[true,null],\"\u{20ac}\":\"\u{2028}\\n\\u0001é\"}"
        );
    }
}
