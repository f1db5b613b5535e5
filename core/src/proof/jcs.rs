//! `eddsa-jcs-2022` canonicalization: the JSON Canonicalization Scheme
//! ([RFC 8785](https://www.rfc-editor.org/rfc/rfc8785)).
//!
//! No JSON-LD processing happens on this path, which is what makes it fast: the bytes signed are
//! the sorted, minimally escaped JSON of the document. They are written here straight from the
//! `Value` into one buffer — members sorted by their UTF-16 code units (§3.2.3), strings escaped
//! as serde_json escapes them (which is §3.2.2.2's minimal escaping), numbers written as
//! ECMAScript writes them (§3.2.2.3, `ryu-js`) — because `serde_jcs`, which gives the same
//! bytes (a property test holds it), buffers and re-parses every key and boxes a writer per
//! fragment, which made it a quarter of a jcs verification.

use serde_json::{Map, Value};

use super::ProofError;

/// The deepest nesting written; serde_json reads no deeper than 128.
const MAX_DEPTH: usize = 256;

/// The canonical JSON of an object.
pub fn canonicalize(object: &Map<String, Value>) -> Result<Vec<u8>, ProofError> {
    let mut out = Vec::with_capacity(1024);
    write_object(object, None, &mut out, 0)?;
    Ok(out)
}

/// The canonical JSON of an object without one of its members: a secured document without its
/// `proof`, a proof without its `proofValue`, canonicalized where they are, never copied.
pub fn canonicalize_without(
    object: &Map<String, Value>,
    member: &str,
) -> Result<Vec<u8>, ProofError> {
    let mut out = Vec::with_capacity(1024);
    write_object(object, Some(member), &mut out, 0)?;
    Ok(out)
}

fn write_object(
    object: &Map<String, Value>,
    without: Option<&str>,
    out: &mut Vec<u8>,
    depth: usize,
) -> Result<(), ProofError> {
    let mut members: Vec<(&String, &Value)> = object
        .iter()
        .filter(|(key, _)| Some(key.as_str()) != without)
        .collect();
    members.sort_unstable_by(|(a, _), (b, _)| a.encode_utf16().cmp(b.encode_utf16()));
    out.push(b'{');
    for (n, (key, value)) in members.into_iter().enumerate() {
        if n > 0 {
            out.push(b',');
        }
        write_string(key, out);
        out.push(b':');
        write(value, out, depth + 1)?;
    }
    out.push(b'}');
    Ok(())
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    serde_json::to_writer(&mut *out, s).expect("a string always serializes into a Vec");
}

fn write(value: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), ProofError> {
    if depth > MAX_DEPTH {
        return Err(ProofError::Canonicalization("nested too deeply".into()));
    }
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(number) => {
            let float = number.as_f64().filter(|f| f.is_finite()).ok_or_else(|| {
                ProofError::Canonicalization(format!("{number} is no finite IEEE 754 number"))
            })?;
            out.extend_from_slice(ryu_js::Buffer::new().format_finite(float).as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push(b'[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                write(item, out, depth + 1)?;
            }
            out.push(b']');
        }
        Value::Object(object) => write_object(object, None, out, depth)?,
    }
    Ok(())
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

    fn json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            ".{0,12}".prop_map(Value::String),
            "[\\u{0}-\\u{7f}\\u{80}-\\u{ffff}\\u{10000}-\\u{10ffff}]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                proptest::collection::vec((".{0,6}", inner), 0..8)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The bytes are serde_jcs's, member order, escapes and numbers included.
        #[test]
        fn the_canonical_bytes_are_serde_jcs_bytes(value in json(), skip in ".{0,2}") {
            let object = match value {
                Value::Object(object) => object,
                other => [("k".to_owned(), other)].into_iter().collect(),
            };
            proptest::prop_assert_eq!(
                canonicalize(&object).unwrap(),
                serde_jcs::to_vec(&object).unwrap()
            );
            let mut without = object.clone();
            without.remove(&skip);
            proptest::prop_assert_eq!(
                canonicalize_without(&object, &skip).unwrap(),
                serde_jcs::to_vec(&without).unwrap()
            );
        }
    }

    #[test]
    fn a_document_nested_too_deeply_is_refused_not_recursed_into() {
        let mut deep = Value::Null;
        for _ in 0..=MAX_DEPTH {
            deep = Value::Array(vec![deep]);
        }
        let object = serde_json::json!({"a": deep});
        assert!(matches!(
            canonicalize(object.as_object().unwrap()),
            Err(ProofError::Canonicalization(_))
        ));
        // Empty members, null and empty containers are written as they are.
        let plain = serde_json::json!({"": null, "b": [], "c": {}});
        assert_eq!(
            canonicalize(plain.as_object().unwrap()).unwrap(),
            br#"{"":null,"b":[],"c":{}}"#
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
