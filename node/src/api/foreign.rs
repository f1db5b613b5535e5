//! Status lists of issuers outside the consortium, fetched for the verification service when the
//! node does not hold them (Bitstring Status List §3.2 step 4).
//!
//! A list is fetched only for a credential whose proof verified and whose issuer the node
//! trusts: its URL is then that issuer's signed choice, never an anonymous caller's (the node
//! fetches nothing a stranger names). `https://` only, but for this machine's own addresses;
//! no redirect; ≤ [`MAX_LIST_BYTES`], 10 s; ≤ [`MAX_FETCHES`] lists a request. A list is kept
//! verified — under its issuer's key, by the credential's own issuer — until its `validUntil`,
//! and no longer than [`KEEP`]; ≤ [`MAX_KEPT`] lists and [`MAX_KEPT_BYTES`] of bits.

use std::collections::HashMap;
use std::io::Read as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use vouch_core::did::{Did, DidResolver};
use vouch_core::lock::MutexExt as _;
use vouch_core::status::StatusListCredential;

/// The largest status list credential read.
pub const MAX_LIST_BYTES: u64 = 4 * 1024 * 1024 + 64 * 1024;
/// The most lists fetched for one request.
pub const MAX_FETCHES: usize = 8;
/// The most lists kept.
pub const MAX_KEPT: usize = 1024;
/// The most bytes of bits kept, all lists together (a list holds up to 2 MiB of them).
pub const MAX_KEPT_BYTES: usize = 64 * 1024 * 1024;
/// How long a list is kept at most.
pub const KEEP: Duration = Duration::from_secs(300);
/// How long one fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The lists fetched, each until it must be fetched again.
#[derive(Default)]
pub struct ForeignLists {
    kept: Mutex<HashMap<String, (Instant, StatusListCredential)>>,
}

impl std::fmt::Debug for ForeignLists {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignLists").finish_non_exhaustive()
    }
}

impl ForeignLists {
    /// The list at `url`, kept or fetched, verified as `issuer`'s.
    pub fn get(
        &self,
        url: &str,
        issuer: &Did,
        resolver: &dyn DidResolver,
    ) -> Result<StatusListCredential, String> {
        let now = Instant::now();
        {
            let mut kept = self.kept.locked();
            kept.retain(|_, (until, _)| *until > now);
            if let Some((_, list)) = kept.get(url)
                && &list.issuer == issuer
            {
                return Ok(list.clone());
            }
        }
        let raw = fetch(url)?;
        let list =
            StatusListCredential::verify(&raw, resolver).map_err(|e| format!("{url:.256}: {e}"))?;
        if list.id != url {
            return Err(format!("{url:.256}: the list says it is {:.256}", list.id));
        }
        if &list.issuer != issuer {
            return Err(format!(
                "{url:.256}: issued by {}, not by the credential's issuer {issuer}",
                list.issuer
            ));
        }
        let until = list
            .valid_until
            .and_then(|end| (end - chrono::Utc::now()).to_std().ok())
            .map_or(KEEP, |left| left.min(KEEP));
        let mut kept = self.kept.locked();
        let bytes: usize = kept.values().map(|(_, l)| l.list.len() / 8).sum();
        // Past either bound, a list is used for this request and fetched again for the next.
        if kept.len() < MAX_KEPT && bytes + list.list.len() / 8 <= MAX_KEPT_BYTES {
            kept.insert(url.to_owned(), (now + until, list.clone()));
        }
        Ok(list)
    }
}

/// `GET url`: `https://`, or `http://` to this machine; bounded in size and time.
fn fetch(url: &str) -> Result<Value, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| format!("{url:.256}: not an http(s) URL"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let node = vouch_api::reach::Reach::new()
        .node(&format!("{scheme}://{authority}"))
        .map_err(|e| format!("{url:.256}: {e}"))?;
    let mut response = node
        .agent()
        .get(url)
        .header("accept", "application/vc, application/json")
        .config()
        .timeout_global(Some(FETCH_TIMEOUT))
        .build()
        .call()
        .map_err(|e| format!("{url:.256}: {e}"))?;
    let status = response.status().as_u16();
    if status != 200 {
        return Err(format!("{url:.256}: HTTP {status}"));
    }
    let mut bytes = Vec::new();
    response
        .body_mut()
        .as_reader()
        .take(MAX_LIST_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{url:.256}: {e}"))?;
    if bytes.len() as u64 > MAX_LIST_BYTES {
        return Err(format!("{url:.256}: larger than {MAX_LIST_BYTES} bytes"));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("{url:.256}: not JSON: {e}"))
}
