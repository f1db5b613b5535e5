//! Actions: `:`-separated segments (`call:billing_api:refund`), DESIGN §5 rule 1.
//!
//! Actions are compared segment by segment, never as strings: `read:customer` does not cover
//! `read:customer_records`. A `*` may stand only as the whole final segment and covers one or more
//! further segments: `read:*` covers `read:customer` and `read:customer:notes`, not `read`.

use std::fmt;

use super::CapabilityError;

/// Longest action accepted, in bytes.
pub const MAX_ACTION_LEN: usize = 256;
/// Most segments in an action.
pub const MAX_ACTION_SEGMENTS: usize = 16;

/// An action or action pattern.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Action {
    /// The literal segments, without the wildcard.
    segments: Vec<String>,
    /// Whether a final `*` follows the segments.
    wildcard: bool,
}

fn is_segment_char(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-'
}

impl Action {
    /// Parses an action pattern, which may end in `*`.
    pub fn parse(s: &str) -> Result<Self, CapabilityError> {
        let bad = |why: &'static str| CapabilityError::BadAction(why);
        if s.len() > MAX_ACTION_LEN {
            return Err(bad("too long"));
        }
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() > MAX_ACTION_SEGMENTS {
            return Err(bad("too many segments"));
        }
        let wildcard = parts.last() == Some(&"*");
        let literal = &parts[..parts.len() - usize::from(wildcard)];
        for part in literal {
            if part.is_empty() {
                return Err(bad("empty segment"));
            }
            if part.contains('*') {
                return Err(bad("`*` may only be the whole final segment"));
            }
            if !part.bytes().all(is_segment_char) {
                return Err(bad("segments are lowercase letters, digits, `_` and `-`"));
            }
        }
        Ok(Self {
            segments: literal.iter().map(|s| (*s).to_owned()).collect(),
            wildcard,
        })
    }

    /// Parses a concrete action, as a request names it: no wildcard.
    pub fn parse_concrete(s: &str) -> Result<Self, CapabilityError> {
        let action = Self::parse(s)?;
        if action.wildcard {
            return Err(CapabilityError::BadAction(
                "a request names one action, no `*`",
            ));
        }
        Ok(action)
    }

    /// Whether this pattern covers nothing that `parent` does not.
    pub fn is_subset_of(&self, parent: &Action) -> bool {
        let p = parent.segments.len();
        if parent.wildcard {
            self.segments.len() >= p
                && self.segments[..p] == parent.segments[..]
                && (self.segments.len() > p || self.wildcard)
        } else {
            !self.wildcard && self.segments == parent.segments
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.segments.join(":"))?;
        match (self.wildcard, self.segments.is_empty()) {
            (true, true) => f.write_str("*"),
            (true, false) => f.write_str(":*"),
            (false, _) => Ok(()),
        }
    }
}

impl fmt::Debug for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Action({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(s: &str) -> Action {
        Action::parse(s).unwrap()
    }

    #[test]
    fn segment_comparison() {
        assert!(a("read:customer").is_subset_of(&a("read:customer")));
        assert!(!a("read:customer_records").is_subset_of(&a("read:customer")));
        assert!(!a("read:customer").is_subset_of(&a("read:customer_records")));
        assert!(a("read:customer").is_subset_of(&a("read:*")));
        assert!(a("read:customer:notes").is_subset_of(&a("read:*")));
        assert!(a("read:customer:*").is_subset_of(&a("read:*")));
        assert!(!a("read").is_subset_of(&a("read:*")));
        assert!(!a("read:*").is_subset_of(&a("read:customer")));
        assert!(!a("readx:y").is_subset_of(&a("read:*")));
        assert!(a("anything:at:all").is_subset_of(&a("*")));
        assert!(!a("*").is_subset_of(&a("read:*")));
    }

    #[test]
    fn malformed_actions() {
        for s in [
            "", "read:", ":read", "read::x", "re*d", "read:*:x", "read:**", "Read", "read x",
            "read:é",
        ] {
            assert!(Action::parse(s).is_err(), "{s:?}");
        }
        assert!(Action::parse_concrete("read:*").is_err());
        assert!(Action::parse(&"a:".repeat(20)).is_err());
    }

    proptest! {
        #[test]
        fn round_trips(s in "[a-z0-9_-]{1,8}(:[a-z0-9_-]{1,8}){0,5}(:\\*)?") {
            prop_assert_eq!(a(&s).to_string(), s);
        }

        #[test]
        fn never_panics(s in "\\PC{0,40}") {
            let _ = Action::parse(&s);
        }
    }
}
