//! The Bitstring Status List codec
//! ([W3C Bitstring Status List v1.0](https://www.w3.org/TR/vc-bitstring-status-list/)): one bit
//! per credential, index 0 the most significant bit of the first byte, GZIP-compressed and
//! multibase base64url-encoded (`u…`) in `encodedList`. The encoding is ssi's
//! (`ssi::status::bitstring_status_list::EncodedList`); this module fixes the sizes, the bit order,
//! and bounds what it decodes.

use ssi::status::bitstring_status_list::EncodedList;

/// The fewest entries a list has (§2.2: at least 16 KiB of bits, for herd privacy).
pub const MIN_ENTRIES: usize = 131_072;
/// The most entries a list read from elsewhere may have: 16 Mi entries, 2 MiB of bits.
pub const MAX_ENTRIES: usize = 16 * 1024 * 1024;
/// The longest `encodedList` read.
pub const MAX_ENCODED_LEN: usize = 4 * 1024 * 1024;

/// Why a status list could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// The size asked for is out of bounds or not a whole number of bytes.
    #[error("a status list has {MIN_ENTRIES} to {MAX_ENTRIES} entries, a multiple of 8")]
    BadSize,
    /// The index is beyond the list.
    #[error("index {0} is beyond the list")]
    OutOfRange(usize),
    /// `encodedList` is not base64url multibase GZIP of a list of an allowed size.
    #[error("invalid encodedList: {0}")]
    BadEncoding(&'static str),
}

/// A list of one-bit statuses (revoked, suspended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    /// The bits, index 0 the most significant bit of byte 0.
    bytes: Vec<u8>,
}

/// The byte of an index, and the mask of its bit in it.
fn position(index: usize) -> (usize, u8) {
    (index / 8, 0x80 >> (index % 8))
}

impl StatusList {
    /// A list of `entries` zero bits.
    pub fn new(entries: usize) -> Result<Self, StatusError> {
        if !(MIN_ENTRIES..=MAX_ENTRIES).contains(&entries) || !entries.is_multiple_of(8) {
            return Err(StatusError::BadSize);
        }
        Ok(Self {
            bytes: vec![0; entries / 8],
        })
    }

    /// How many entries the list has.
    pub fn len(&self) -> usize {
        self.bytes.len() * 8
    }

    /// Whether the list has no entries (never, once made).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bit at `index`.
    pub fn get(&self, index: usize) -> Result<bool, StatusError> {
        let (byte, mask) = position(index);
        self.bytes
            .get(byte)
            .map(|b| b & mask != 0)
            .ok_or(StatusError::OutOfRange(index))
    }

    /// Sets the bit at `index`.
    pub fn set(&mut self, index: usize, value: bool) -> Result<(), StatusError> {
        let (byte, mask) = position(index);
        let byte = self
            .bytes
            .get_mut(byte)
            .ok_or(StatusError::OutOfRange(index))?;
        if value {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
        Ok(())
    }

    /// The `encodedList` of the list.
    pub fn encode(&self) -> String {
        match serde_json::to_value(EncodedList::encode(&self.bytes)) {
            Ok(serde_json::Value::String(encoded)) => encoded,
            _ => unreachable!("an EncodedList serializes as its string"),
        }
    }

    /// Reads an `encodedList`, refusing other bases, undersized and oversized lists, and input
    /// longer than [`MAX_ENCODED_LEN`], before it is inflated past the bound.
    pub fn decode(encoded: &str) -> Result<Self, StatusError> {
        if encoded.len() > MAX_ENCODED_LEN {
            return Err(StatusError::BadEncoding("too long"));
        }
        if !encoded.starts_with('u') {
            return Err(StatusError::BadEncoding("not multibase base64url"));
        }
        let limit = (MAX_ENTRIES / 8) as u64 + 1;
        let bytes = EncodedList::new(encoded.to_owned())
            .decode(Some(limit))
            .map_err(|_| StatusError::BadEncoding("not GZIP of base64url"))?;
        let entries = bytes.len() * 8;
        if !(MIN_ENTRIES..=MAX_ENTRIES).contains(&entries) {
            return Err(StatusError::BadEncoding("the list's size is out of bounds"));
        }
        Ok(Self { bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn bit_order_and_bounds() {
        let mut list = StatusList::new(MIN_ENTRIES).unwrap();
        list.set(0, true).unwrap();
        list.set(9, true).unwrap();
        let decoded = StatusList::decode(&list.encode()).unwrap();
        assert_eq!(decoded, list);
        // Index 0 is the most significant bit of the first byte (§3.2 "left-most bit").
        assert_eq!(decoded.bytes[..2], [0x80, 0x40]);
        assert!(decoded.get(0).unwrap() && decoded.get(9).unwrap() && !decoded.get(1).unwrap());
        assert_eq!(
            list.get(MIN_ENTRIES),
            Err(StatusError::OutOfRange(MIN_ENTRIES))
        );
        assert_eq!(
            list.set(MIN_ENTRIES, true),
            Err(StatusError::OutOfRange(MIN_ENTRIES))
        );
        for bad in [0, MIN_ENTRIES - 8, MIN_ENTRIES + 1, MAX_ENTRIES + 8] {
            assert_eq!(StatusList::new(bad), Err(StatusError::BadSize), "{bad}");
        }
        // The empty list is 16 KiB of zeros: it compresses to well under 1 KiB.
        assert!(StatusList::new(MIN_ENTRIES).unwrap().encode().len() < 1024);
    }

    #[test]
    fn hostile_encodings_are_refused() {
        let small = {
            let mut list = StatusList::new(MIN_ENTRIES).unwrap();
            list.set(5, true).unwrap();
            list.encode()
        };
        // Another base, garbage, and a list over the bound (a GZIP bomb of zeros).
        let base58 = format!("z{}", &small[1..]);
        assert!(StatusList::decode(&base58).is_err());
        assert!(StatusList::decode("unot-gzip").is_err());
        assert!(StatusList::decode("").is_err());
        let huge =
            serde_json::to_value(EncodedList::encode(&vec![0; MAX_ENTRIES / 8 + 1])).unwrap();
        assert_eq!(
            StatusList::decode(huge.as_str().unwrap()),
            Err(StatusError::BadEncoding("the list's size is out of bounds"))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn round_trips(indexes in proptest::collection::vec(0..MIN_ENTRIES, 0..50)) {
            let mut list = StatusList::new(MIN_ENTRIES).unwrap();
            for &i in &indexes {
                list.set(i, true).unwrap();
            }
            let decoded = StatusList::decode(&list.encode()).unwrap();
            for &i in &indexes {
                prop_assert!(decoded.get(i).unwrap());
            }
            prop_assert_eq!(decoded, list);
        }

        #[test]
        fn arbitrary_input_never_panics(s in "u[A-Za-z0-9_-]{0,200}") {
            let _ = StatusList::decode(&s);
        }
    }
}
