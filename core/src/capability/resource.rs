//! Resources: hierarchical URIs normalized per [RFC 3986 §6.2.2](https://www.rfc-editor.org/rfc/rfc3986#section-6.2.2),
//! matched segment by segment (DESIGN §5 rule 2).
//!
//! Normalization lowercases the scheme and host, drops the default port, decodes percent-encoded
//! unreserved characters and uppercases the remaining escapes. What could make two spellings of
//! one path compare differently, or one path reach outside another, is refused instead of
//! normalized: dot segments (also encoded), encoded `/` and `\`, empty segments, user info, queries
//! and fragments. In a pattern, `*` is exactly one segment and a final `**` one or more; a prefix
//! therefore always ends at a `/`.

use std::fmt;

use super::CapabilityError;

/// Longest resource accepted, in bytes.
pub const MAX_RESOURCE_LEN: usize = 2048;
/// Most path segments in a resource.
pub const MAX_RESOURCE_SEGMENTS: usize = 64;

/// One path segment of a pattern.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Segment {
    /// A normalized literal segment.
    Literal(String),
    /// `*`: any one segment.
    Any,
    /// A final `**`: one or more segments.
    Subtree,
}

/// A resource or resource pattern.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ResourcePattern {
    /// Lowercase scheme.
    scheme: String,
    /// Lowercase host, with a non-default port if any.
    authority: String,
    /// The path, segment by segment; empty for `/`.
    segments: Vec<Segment>,
}

fn bad(why: &'static str) -> CapabilityError {
    CapabilityError::BadResource(why)
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~".contains(&b)
}

fn is_pchar(b: u8) -> bool {
    is_unreserved(b) || b"!$&'()*+,;=:@".contains(&b)
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

/// Normalizes one path segment: decodes unreserved escapes, uppercases the rest, refuses what
/// could change the path's structure.
fn normalize_segment(raw: &str) -> Result<String, CapabilityError> {
    let bytes = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).copied().and_then(hex),
                bytes.get(i + 2).copied().and_then(hex),
            ) else {
                return Err(bad("invalid percent-encoding"));
            };
            let decoded = hi << 4 | lo;
            match decoded {
                b'/' | b'\\' => return Err(bad("encoded `/` or `\\` in a path")),
                0 => return Err(bad("encoded NUL in a path")),
                d if is_unreserved(d) => out.push(d as char),
                d => {
                    out.push('%');
                    out.push_str(&format!("{d:02X}"));
                }
            }
            i += 3;
        } else if is_pchar(b) {
            out.push(b as char);
            i += 1;
        } else {
            return Err(bad("character not allowed in a path; percent-encode it"));
        }
    }
    match out.as_str() {
        "" => Err(bad("empty path segment")),
        "." | ".." => Err(bad("dot segments are not allowed")),
        _ => Ok(out),
    }
}

fn normalize_authority(scheme: &str, raw: &str) -> Result<String, CapabilityError> {
    if raw.is_empty() {
        return Err(bad("missing host"));
    }
    if raw.contains('@') {
        return Err(bad("user info is not allowed"));
    }
    let (host, port) = if let Some(rest) = raw.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or(bad("unterminated IPv6 literal"))?;
        if !v6
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(bad("invalid IPv6 literal"));
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or(bad("junk after IPv6 literal"))?),
        };
        (format!("[{}]", v6.to_ascii_lowercase()), port)
    } else {
        let (host, port) = match raw.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (raw, None),
        };
        if host.is_empty()
            || !host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        {
            return Err(bad("host must be a DNS name or an IP literal"));
        }
        (host.to_ascii_lowercase(), port)
    };
    let port = match port {
        None | Some("") => None,
        Some(p) => {
            let n: u16 = p.parse().map_err(|_| bad("invalid port"))?;
            let default = matches!(
                (scheme, n),
                ("https", 443) | ("http", 80) | ("wss", 443) | ("ws", 80)
            );
            (!default).then_some(n)
        }
    };
    Ok(match port {
        Some(n) => format!("{host}:{n}"),
        None => host,
    })
}

impl ResourcePattern {
    /// Parses a resource pattern, which may use `*` and a final `**` as whole segments.
    pub fn parse(s: &str) -> Result<Self, CapabilityError> {
        Self::parse_inner(s, true)
    }

    /// Its origin: the scheme and authority (`https://billing.example:8443`), normalized.
    pub fn origin(&self) -> String {
        format!("{}://{}", self.scheme, self.authority)
    }

    /// Parses a concrete resource, as a request names it: no wildcards.
    pub fn parse_concrete(s: &str) -> Result<Self, CapabilityError> {
        Self::parse_inner(s, false)
    }

    fn parse_inner(s: &str, wildcards: bool) -> Result<Self, CapabilityError> {
        if s.len() > MAX_RESOURCE_LEN {
            return Err(bad("too long"));
        }
        if s.contains(['?', '#']) {
            return Err(bad(
                "queries and fragments are not allowed; name arguments separately",
            ));
        }
        let (scheme, rest) = s
            .split_once("://")
            .ok_or(bad("expected scheme://host/path"))?;
        let mut scheme_bytes = scheme.bytes();
        if !scheme_bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
            || !scheme_bytes.all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(bad("invalid scheme"));
        }
        let scheme = scheme.to_ascii_lowercase();
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, ""),
        };
        let authority = normalize_authority(&scheme, authority)?;
        let mut segments = Vec::new();
        let path = path.strip_prefix('/').unwrap_or(path);
        if !path.is_empty() {
            let raw: Vec<&str> = path.split('/').collect();
            if raw.len() > MAX_RESOURCE_SEGMENTS {
                return Err(bad("too many path segments"));
            }
            for (i, segment) in raw.iter().enumerate() {
                let last = i + 1 == raw.len();
                segments.push(match *segment {
                    "*" if wildcards => Segment::Any,
                    "**" if wildcards && last => Segment::Subtree,
                    "**" if wildcards => return Err(bad("`**` may only be the final segment")),
                    s if s.contains('*') && wildcards => {
                        return Err(bad("`*` may only be a whole segment"));
                    }
                    "*" | "**" => return Err(bad("a request names one resource, no wildcards")),
                    s => Segment::Literal(normalize_segment(s)?),
                });
            }
        }
        Ok(Self {
            scheme,
            authority,
            segments,
        })
    }

    /// Whether this pattern matches nothing that `parent` does not.
    pub fn is_subset_of(&self, parent: &ResourcePattern) -> bool {
        if self.scheme != parent.scheme || self.authority != parent.authority {
            return false;
        }
        for (i, p) in parent.segments.iter().enumerate() {
            let c = self.segments.get(i);
            let covered = match (p, c) {
                // One or more segments remain below the subtree's root.
                (Segment::Subtree, c) => return c.is_some(),
                (_, None) => false,
                (Segment::Any, Some(c)) => *c != Segment::Subtree,
                (Segment::Literal(p), Some(Segment::Literal(c))) => p == c,
                (Segment::Literal(_), Some(_)) => false,
            };
            if !covered {
                return false;
            }
        }
        self.segments.len() == parent.segments.len()
    }
}

impl ResourcePattern {
    /// Whether everything this pattern matches lies at or below `base`, a resource server's URI
    /// (RFC 8707 §2: a resource indicator): same scheme and authority, and `base`'s path a prefix
    /// of this one's, segment by segment, so `/api` never covers `/apix`.
    pub fn is_under(&self, base: &ResourcePattern) -> bool {
        self.scheme == base.scheme
            && self.authority == base.authority
            && base.segments.len() <= self.segments.len()
            && base
                .segments
                .iter()
                .zip(&self.segments)
                .all(|(b, s)| matches!(b, Segment::Literal(_)) && b == s)
    }
}

impl ResourcePattern {
    /// Whether some resource this pattern matches lies at or below `base` (a resource server's
    /// URI, concrete): same scheme and authority, and segment by segment this pattern's path can
    /// be `base`'s path followed by more. `https://x/*/refunds` reaches under `https://x/api`,
    /// `https://x/**` under anything of `https://x`, `https://x/api` not under `https://x/api/v2`.
    pub fn reaches_under(&self, base: &ResourcePattern) -> bool {
        if self.scheme != base.scheme || self.authority != base.authority {
            return false;
        }
        for (i, b) in base.segments.iter().enumerate() {
            match (self.segments.get(i), b) {
                // One or more segments: `base`'s rest and beyond.
                (Some(Segment::Subtree), _) => return true,
                (Some(Segment::Any), _) => {}
                (Some(Segment::Literal(s)), Segment::Literal(b)) if s == b => {}
                _ => return false,
            }
        }
        true
    }
}

impl fmt::Display for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)?;
        if self.segments.is_empty() {
            return f.write_str("/");
        }
        for segment in &self.segments {
            match segment {
                Segment::Literal(s) => write!(f, "/{s}")?,
                Segment::Any => f.write_str("/*")?,
                Segment::Subtree => f.write_str("/**")?,
            }
        }
        Ok(())
    }
}

impl fmt::Debug for ResourcePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Resource({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(s: &str) -> ResourcePattern {
        ResourcePattern::parse(s).unwrap()
    }

    #[test]
    fn normalizes() {
        assert_eq!(
            r("HTTPS://API.Example.com:443/a/%7euser/%2a").to_string(),
            "https://api.example.com/a/~user/%2A"
        );
        assert_eq!(
            r("https://api.example.com").to_string(),
            "https://api.example.com/"
        );
        assert_eq!(
            r("https://api.example.com:8443/x").to_string(),
            "https://api.example.com:8443/x"
        );
        assert_eq!(r("https://[::1]:9/x").to_string(), "https://[::1]:9/x");
    }

    #[test]
    fn refuses_tricks() {
        for s in [
            "https://h/a/../b",
            "https://h/a/./b",
            "https://h/a/%2e%2E/b",
            "https://h/a%2Fb",
            "https://h/a%2fb",
            "https://h/a%5Cb",
            "https://h/a//b",
            "https://h/a/",
            "https://u@h/a",
            "https://h/a?x=1",
            "https://h/a#f",
            "https://h/a%zz",
            "https://h/a b",
            "https://h/é",
            "https://h/a*",
            "https://h/**/a",
            "https:///a",
            "h/a",
            "https://h:99999/a",
        ] {
            assert!(ResourcePattern::parse(s).is_err(), "{s}");
        }
        assert!(ResourcePattern::parse_concrete("https://h/a/*").is_err());
    }

    #[test]
    fn matching() {
        assert!(r("https://h/a/ab").is_subset_of(&r("https://h/a/ab")));
        assert!(!r("https://h/a/abc").is_subset_of(&r("https://h/a/ab")));
        assert!(!r("https://h/a/ab").is_subset_of(&r("https://h/a/abc")));
        assert!(r("https://h/a/x").is_subset_of(&r("https://h/a/*")));
        assert!(!r("https://h/a/x/y").is_subset_of(&r("https://h/a/*")));
        assert!(r("https://h/a/x/y").is_subset_of(&r("https://h/a/**")));
        assert!(r("https://h/a/*/y").is_subset_of(&r("https://h/a/**")));
        assert!(r("https://h/a/x/**").is_subset_of(&r("https://h/a/**")));
        assert!(!r("https://h/a").is_subset_of(&r("https://h/a/**")));
        assert!(!r("https://h/a/**").is_subset_of(&r("https://h/a/*")));
        assert!(!r("https://h/ab/x").is_subset_of(&r("https://h/a/**")));
        assert!(!r("https://other/a/x").is_subset_of(&r("https://h/a/**")));
        assert!(!r("http://h/a/x").is_subset_of(&r("https://h/a/**")));
        assert!(r("https://H:443/a/%78").is_subset_of(&r("https://h/a/x")));
    }

    proptest! {
        #[test]
        fn round_trips(host in "[a-z][a-z0-9-]{0,10}(\\.[a-z]{2,5}){0,2}",
                       path in proptest::collection::vec("[A-Za-z0-9_~-]{1,6}|\\*", 0..6)) {
            let text = format!("https://{host}/{}", path.join("/"));
            let parsed = r(&text);
            prop_assert_eq!(r(&parsed.to_string()), parsed.clone());
            prop_assert!(parsed.is_subset_of(&parsed));
        }

        #[test]
        fn never_panics(s in "\\PC{0,60}") {
            let _ = ResourcePattern::parse(&s);
        }
    }
}
