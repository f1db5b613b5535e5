//! Verifiable presentations: the holder's proof of possession over a verifier's challenge and
//! domain ([VC Data Model 2.0 §4.13](https://www.w3.org/TR/vc-data-model-2.0/#verifiable-presentations)).
//!
//! Verification checks what ssi leaves to the caller: that the proof answers this verifier's
//! challenge and domain, that it was made by the holder, that every presented credential that is
//! not a parent of another is the holder's own, and that each delegation chain is whole and
//! attenuated from its root.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::capability::Capability;
use crate::credential::AgentCapabilityCredential;
use crate::delegation::check_link;
use crate::did::document::Relationship;
use crate::did::{Did, key as did_key};
use crate::key::KeyPair;
use crate::proof::{self, Cryptosuite, ProofError, ProofOptions};
use crate::report::{Reason, Report};
use crate::verify::{Checked, Verifier, check_proof, verify_credential};

/// The most credentials one presentation may carry.
pub const MAX_CREDENTIALS: usize = 16;

/// Builds and signs a presentation of `credentials` by the holder of `key`.
pub fn create(
    key: &KeyPair,
    credentials: Vec<Value>,
    challenge: &str,
    domain: &str,
    cryptosuite: Cryptosuite,
    created: DateTime<Utc>,
) -> Result<Value, ProofError> {
    let holder = did_key::did_of(&key.public());
    let unsigned = json!({
        "@context": [vouch_schemas::CREDENTIALS_V2],
        "type": ["VerifiablePresentation"],
        "holder": holder,
        "verifiableCredential": credentials,
    });
    let options = ProofOptions {
        cryptosuite,
        created,
        verification_method: did_key::verification_method_of(&key.public()),
        purpose: Relationship::Authentication,
        challenge: Some(challenge.to_owned()),
        domain: Some(domain.to_owned()),
    };
    proof::sign(&unsigned, &options, key)
}

/// A delegation chain that verified, root first.
#[derive(Debug, Clone)]
pub struct Chain {
    /// The credentials, root first; the last is the holder's.
    pub credentials: Vec<AgentCapabilityCredential>,
    /// The usable capabilities of each credential, in the same order.
    pub capabilities: Vec<Vec<Capability>>,
}

/// The result of verifying a presentation.
#[derive(Debug, Clone)]
pub struct VerifiedPresentation {
    /// Every check.
    pub report: Report,
    /// The presenter, if the presentation could be read.
    pub holder: Option<Did>,
    /// The chains of the holder's credentials, whole or not; use them only if the report verified.
    pub chains: Vec<Chain>,
}

fn shape(raw: &Value) -> Result<(Did, &Vec<Value>), String> {
    let object = raw.as_object().ok_or("a presentation is a JSON object")?;
    let is_vp = object
        .get("type")
        .and_then(Value::as_array)
        .is_some_and(|t| t.iter().any(|t| t == "VerifiablePresentation"));
    if !is_vp {
        return Err("type must include VerifiablePresentation".into());
    }
    let holder = object
        .get("holder")
        .and_then(Value::as_str)
        .ok_or("missing holder")?;
    let holder = Did::parse(holder).map_err(|e| format!("holder: {e}"))?;
    let credentials = object
        .get("verifiableCredential")
        .and_then(Value::as_array)
        .ok_or("verifiableCredential must be a list")?;
    if credentials.is_empty() || credentials.len() > MAX_CREDENTIALS {
        return Err(format!(
            "a presentation carries 1 to {MAX_CREDENTIALS} credentials"
        ));
    }
    Ok((holder, credentials))
}

/// Verifies a presentation made for `challenge` and `domain`.
pub fn verify_presentation(
    raw: &Value,
    challenge: &str,
    domain: &str,
    verifier: &Verifier<'_>,
) -> VerifiedPresentation {
    let mut report = Report::new();
    let (holder, credentials) = match shape(raw) {
        Ok(parts) => parts,
        Err(why) => {
            report.fail("schema", None, Reason::Malformed, why);
            return VerifiedPresentation {
                report,
                holder: None,
                chains: Vec::new(),
            };
        }
    };
    let subject = Some(holder.as_str());
    report.pass("schema", subject);
    match check_proof(verifier, raw, &holder, Relationship::Authentication) {
        Err(failure) => {
            report.record("proof", subject, Err(failure));
        }
        Ok(verified) => {
            report.pass("proof", subject);
            report.record(
                "challenge",
                subject,
                match verified.challenge.as_deref() {
                    Some(c) if c == challenge => Ok(()),
                    _ => Err((
                        Reason::Replayed,
                        "the proof answers another challenge".into(),
                    )),
                },
            );
            report.record(
                "domain",
                subject,
                match verified.domain.as_deref() {
                    Some(d) if d == domain => Ok(()),
                    _ => Err((
                        Reason::DomainMismatch,
                        "the proof was made for another domain".into(),
                    )),
                },
            );
        }
    }

    let mut by_id: HashMap<String, Checked> = HashMap::new();
    for credential in credentials {
        let (credential_report, checked) = verify_credential(credential, verifier);
        report.merge(credential_report);
        if let Some(checked) = checked {
            let id = checked.credential.id.to_string();
            if by_id.insert(id.clone(), checked).is_some() {
                report.fail(
                    "schema",
                    Some(&id),
                    Reason::Malformed,
                    "credential presented twice",
                );
            }
        }
    }

    let parents: Vec<String> = by_id
        .values()
        .filter_map(|c| c.credential.credential_subject.delegation.parent.as_ref())
        .map(|p| p.to_string())
        .collect();
    let mut leaves: Vec<&Checked> = by_id
        .values()
        .filter(|c| !parents.contains(&c.credential.id.to_string()))
        .collect();
    leaves.sort_by(|a, b| a.credential.id.cmp(&b.credential.id));

    let mut chains = Vec::new();
    for leaf in leaves {
        let id = leaf.credential.id.to_string();
        let audience = &leaf.credential.credential_subject.audience;
        if !audience.is_empty() && !audience.iter().any(|a| a == domain) {
            report.fail(
                "audience",
                Some(&id),
                Reason::AudienceMismatch,
                format!("not for {domain}"),
            );
        }
        report.record(
            "holder",
            Some(&id),
            if leaf.credential.credential_subject.id == holder {
                Ok(())
            } else {
                Err((
                    Reason::NotHolder,
                    format!(
                        "issued to {}, presented by {holder}",
                        leaf.credential.credential_subject.id
                    ),
                ))
            },
        );
        let (chain, result) = walk_chain(leaf, &by_id, verifier.max_depth);
        report.record("chain", Some(&id), result);
        chains.push(chain);
    }
    VerifiedPresentation {
        report,
        holder: Some(holder),
        chains,
    }
}

/// Walks from a leaf to its root through the presented credentials, checking every link.
fn walk_chain(
    leaf: &Checked,
    by_id: &HashMap<String, Checked>,
    max_depth: u32,
) -> (Chain, Result<(), (Reason, String)>) {
    let mut path = vec![leaf];
    let mut result = Ok(());
    while let Some(parent_id) = &path[path.len() - 1]
        .credential
        .credential_subject
        .delegation
        .parent
    {
        let Some(parent) = by_id.get(parent_id.as_str()) else {
            result = Err((
                Reason::BrokenChain,
                format!("parent {parent_id} is not presented"),
            ));
            break;
        };
        if path.len() > max_depth as usize + 1 {
            result = Err((Reason::DepthExceeded, format!("deeper than {max_depth}")));
            break;
        }
        let child = path[path.len() - 1];
        if let Err(e) = check_link(
            &parent.credential,
            &parent.capabilities,
            &child.credential,
            &child.capabilities,
            max_depth,
        ) {
            result = Err(e);
            break;
        }
        path.push(parent);
    }
    path.reverse();
    let chain = Chain {
        credentials: path.iter().map(|c| c.credential.clone()).collect(),
        capabilities: path.iter().map(|c| c.capabilities.clone()).collect(),
    };
    (chain, result)
}
