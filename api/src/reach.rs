//! How a program reaches a node over HTTP: `https://` under Mozilla's roots (or roots given),
//! plain `http://` only to this machine or to a host named out loud, no redirect followed,
//! every request bounded in time. The transport of every client of the node's API.

use std::sync::Arc;
use std::time::Duration;

use ureq::tls::Certificate;

/// Why a node cannot be reached as asked.
#[derive(Debug, thiserror::Error)]
pub enum ReachError {
    /// A node's URL is not `https://host[:port]` or `http://host[:port]`.
    #[error("{0}: a node's URL is https://host[:port] (http:// to this machine), nothing after it")]
    BadNodeUrl(String),
    /// Plain HTTP to a node that is not this machine, not asked for by name.
    #[error(
        "http://{0} is plain HTTP to another machine: use https://, or name it with --allow-plain-http {0}"
    )]
    PlainHttp(String),
    /// The root certificates given do not read.
    #[error("root certificates: {0}")]
    BadRoots(String),
}

/// How nodes are reached: `https://` under Mozilla's roots (or the roots given), plain `http://`
/// only to this machine or to a host named out loud. No redirect is followed: a node that
/// answers elsewhere is not the node asked.
#[derive(Debug, Clone, Default)]
pub struct Reach {
    roots: Option<Arc<Vec<Certificate<'static>>>>,
    plain_http: Vec<String>,
}

/// A node's checked base URL, and the HTTP agent that reaches it.
#[derive(Clone)]
pub struct NodeUrl {
    base: String,
    agent: ureq::Agent,
}

/// How long one request to a node may take, at most.
const NODE_TIMEOUT: Duration = Duration::from_secs(30);

impl Reach {
    /// Mozilla's roots; plain HTTP to loopback addresses only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Trusts the root certificates of `pem` instead of Mozilla's: a node under a private CA.
    pub fn with_roots_pem(mut self, pem: &[u8]) -> Result<Self, ReachError> {
        let roots = ureq::tls::parse_pem(pem)
            .filter_map(|item| match item {
                Ok(ureq::tls::PemItem::Certificate(cert)) => Some(Ok(cert)),
                Ok(_) => None,
                Err(e) => Some(Err(ReachError::BadRoots(e.to_string()))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        if roots.is_empty() {
            return Err(ReachError::BadRoots("no certificate".into()));
        }
        self.roots = Some(Arc::new(roots));
        Ok(self)
    }

    /// Also reaches `authority` (`host:port`, as the URL writes it) over plain HTTP, although it
    /// is not this machine: a deployment's own choice, made by name.
    pub fn allowing_plain_http(mut self, authority: &str) -> Self {
        self.plain_http.push(authority.to_ascii_lowercase());
        self
    }

    /// The node at `base` (`https://host[:port]`, or `http://` as allowed), nothing after the
    /// authority.
    pub fn node(&self, base: &str) -> Result<NodeUrl, ReachError> {
        let base = base.trim_end_matches('/');
        let bad = || ReachError::BadNodeUrl(base.to_owned());
        let (scheme, authority) = base.split_once("://").ok_or_else(bad)?;
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', '\\', ' ']) {
            return Err(bad());
        }
        match scheme {
            "https" => {}
            "http" if is_loopback(authority) => {}
            "http" if self.plain_http.contains(&authority.to_ascii_lowercase()) => {}
            "http" => return Err(ReachError::PlainHttp(authority.to_owned())),
            _ => return Err(bad()),
        }
        let mut tls = ureq::tls::TlsConfig::builder();
        if let Some(roots) = &self.roots {
            tls = tls.root_certs(ureq::tls::RootCerts::Specific(roots.clone()));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(NODE_TIMEOUT))
            .tls_config(tls.build())
            .build()
            .into();
        Ok(NodeUrl {
            base: base.to_owned(),
            agent,
        })
    }
}

/// Whether an authority (`host[:port]`) names this machine: `localhost`, 127.0.0.0/8, `[::1]`.
fn is_loopback(authority: &str) -> bool {
    let host = match authority.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl NodeUrl {
    /// The base URL, without a trailing slash.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The agent that reaches it (no redirects, bounded in time).
    pub fn agent(&self) -> &ureq::Agent {
        &self.agent
    }

    /// The same node, reached with `agent` instead: a load generator's one pool of connections
    /// for many nodes. The agent is the caller's to configure as [`Reach`] does (no redirects,
    /// statuses as answers, a timeout); the URL stays the one checked.
    pub fn using(mut self, agent: ureq::Agent) -> Self {
        self.agent = agent;
        self
    }
}

impl std::fmt::Debug for NodeUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.base)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_are_reached_over_https_or_plain_http_to_this_machine_or_by_name() {
        let reach = Reach::new();
        for ok in [
            "https://node.example",
            "https://node.example:8443/",
            "http://127.0.0.1:8080",
            "http://127.8.9.10",
            "http://localhost:8080",
            "http://[::1]:8080",
        ] {
            assert!(reach.node(ok).is_ok(), "{ok}");
        }
        for plain in [
            "http://node.example",
            "http://10.0.0.5:8080",
            "http://[::2]:8080",
            "http://localhost.evil.example",
            "http://127.0.0.1.evil.example",
        ] {
            assert!(
                matches!(reach.node(plain), Err(ReachError::PlainHttp(_))),
                "{plain}"
            );
        }
        for bad in [
            "node.example",
            "ftp://node.example",
            "https://",
            "https://node.example/1.0",
            "https://user@node.example",
            "https://node.example?x",
            "http://127.0.0.1@evil.example",
        ] {
            assert!(
                matches!(reach.node(bad), Err(ReachError::BadNodeUrl(_))),
                "{bad}"
            );
        }
        // Named out loud: that host and port, and no other.
        let reach = Reach::new().allowing_plain_http("10.0.0.5:8080");
        assert!(reach.node("http://10.0.0.5:8080").is_ok());
        assert!(reach.node("http://10.0.0.5:8081").is_err());
        // Roots that do not read are refused, never taken for none.
        assert!(matches!(
            Reach::new().with_roots_pem(b"no certificate here"),
            Err(ReachError::BadRoots(_))
        ));
    }
}
