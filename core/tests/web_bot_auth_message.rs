//! A message as Cloudflare's `web-bot-auth` crate reads it: each component's value from the
//! message itself — a Dictionary member (`;key=`, RFC 9421 §2.1.2) picked from its field. Shared
//! by core's and the node's cross-checks (`#[path]`).

use url::Url;
use web_bot_auth::components::{
    CoveredComponent, DerivedComponent, HTTPField, HTTPFieldParameters,
};
use web_bot_auth::message_signatures::SignedMessage;

/// A request or a response (its request's method and target, its own header fields).
pub(crate) struct Message {
    pub(crate) method: String,
    pub(crate) target: Url,
    pub(crate) headers: Vec<(String, String)>,
}

impl Message {
    /// The values of the field `name`.
    pub(crate) fn field(&self, name: &str) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The member `key` of the Dictionary field `name`, serialized.
    fn member(&self, name: &str, key: &str) -> Vec<String> {
        let joined = self.field(name).join(", ");
        let Ok(dictionary) = sfv::Parser::new(&joined).parse_dictionary() else {
            return vec![];
        };
        let Some(member) = dictionary.get(key) else {
            return vec![];
        };
        let mut list = sfv::ListSerializer::new();
        list.members([member]);
        list.finish().into_iter().collect()
    }

    /// `@authority`: the host, and the port when there is one.
    pub(crate) fn authority(&self) -> String {
        match self.target.port() {
            Some(port) => format!("{}:{port}", self.target.host_str().unwrap_or_default()),
            None => self.target.host_str().unwrap_or_default().to_owned(),
        }
    }
}

impl SignedMessage for Message {
    fn lookup_component(&self, name: &CoveredComponent) -> Vec<String> {
        match name {
            CoveredComponent::HTTP(HTTPField { name, parameters }) => {
                match parameters.0.iter().find_map(|p| match p {
                    HTTPFieldParameters::Key(key) => Some(key),
                    _ => None,
                }) {
                    None => self.field(name),
                    Some(key) => self.member(name, key),
                }
            }
            CoveredComponent::Derived(DerivedComponent::Method { .. }) => vec![self.method.clone()],
            CoveredComponent::Derived(DerivedComponent::TargetUri { .. }) => {
                vec![self.target.as_str().to_owned()]
            }
            CoveredComponent::Derived(DerivedComponent::Authority { .. }) => vec![self.authority()],
            CoveredComponent::Derived(DerivedComponent::Path { .. }) => {
                vec![self.target.path().to_owned()]
            }
            _ => vec![],
        }
    }
}
