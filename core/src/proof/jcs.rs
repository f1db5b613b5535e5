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

/// The canonical JSON of an object without one of its members: a secured document without its
/// `proof`, a proof without its `proofValue`, canonicalized where they are, never copied.
pub fn canonicalize_without(
    object: &Map<String, Value>,
    member: &str,
) -> Result<Vec<u8>, ProofError> {
    serde_jcs::to_vec(&Without { object, member })
        .map_err(|e| ProofError::Canonicalization(e.to_string()))
}

/// An object seen without one member.
struct Without<'a> {
    object: &'a Map<String, Value>,
    member: &'a str,
}

impl serde::Serialize for Without<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap as _;
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in self.object.iter().filter(|(key, _)| *key != self.member) {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
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
    fn an_object_without_a_member_is_the_copy_without_it() {
        let value =
            serde_json::json!({"z": 1, "proof": {"a": 2}, "b": [{"y": 1, "x": 2}], "é": "\u{1}"});
        let object = value.as_object().unwrap();
        let mut copy = object.clone();
        copy.remove("proof");
        assert_eq!(
            canonicalize_without(object, "proof").unwrap(),
            canonicalize(&copy).unwrap()
        );
        assert_eq!(
            canonicalize_without(object, "absent").unwrap(),
            canonicalize(object).unwrap()
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
