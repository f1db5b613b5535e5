//! What the VC data model takes as a URL (§4.4), wherever a document names one: an `id`, a
//! context, a term's IRI.

/// Whether `text` is a URL: a scheme and what follows it, no white space (any URL, a `did:`, a
/// `urn:` as well as an `https:` one).
pub fn is_url(text: &str) -> bool {
    url::Url::parse(text).is_ok() && !text.contains(char::is_whitespace)
}
