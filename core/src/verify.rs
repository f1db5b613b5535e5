//! Credential verification: every check a verifier makes on one credential, recorded in a
//! [`Report`].
//!
//! Trust and status come from the caller through [`IssuerPolicy`] and [`StatusSource`]: the node
//! answers from the consortium genesis and its replicated status lists; a verifier without them
//! sees those checks reported as skipped, never silently passed.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use crate::capability::{Action, Capability};
use crate::credential::{AgentCapabilityCredential, DEFAULT_MAX_DEPTH, StatusEntry};
use crate::did::document::Relationship;
use crate::did::{Did, DidResolver};
use crate::proof::{self, ProofError};
use crate::report::{Reason, Report};

/// Which issuers are trusted for which actions (the consortium's trusted-issuer policy, §7).
pub trait IssuerPolicy {
    /// Whether `issuer` may attest capabilities for `action`.
    fn trusts(&self, issuer: &Did, action: &Action) -> bool;
}

/// A list of `(issuer, action pattern)` pairs.
#[derive(Debug, Clone, Default)]
pub struct TrustList(pub Vec<(Did, Action)>);

impl IssuerPolicy for TrustList {
    fn trusts(&self, issuer: &Did, action: &Action) -> bool {
        self.0
            .iter()
            .any(|(trusted, pattern)| trusted == issuer && action.is_subset_of(pattern))
    }
}

/// The status of a credential's status entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryStatus {
    /// The bit is clear.
    Clear,
    /// The bit is set: revoked or suspended, by the entry's purpose.
    Set,
}

/// Where credential status comes from.
pub trait StatusSource {
    /// The status of an entry, or why it is unknown.
    fn status(&self, entry: &StatusEntry) -> Result<EntryStatus, String>;
}

/// What a verifier knows and decides with.
pub struct Verifier<'a> {
    /// Resolves issuer and holder DIDs.
    pub resolver: &'a dyn DidResolver,
    /// The time to verify at.
    pub now: DateTime<Utc>,
    /// How far a `validFrom` may be in the future, for clocks that disagree.
    pub clock_skew: Duration,
    /// The trusted-issuer policy, if any.
    pub issuers: Option<&'a dyn IssuerPolicy>,
    /// The status source, if any.
    pub status: Option<&'a dyn StatusSource>,
    /// The deepest delegation chain accepted.
    pub max_depth: u32,
    /// The agent definition digest the verifier expects, if it pins one.
    pub expected_definition: Option<crate::credential::Multihash>,
}

impl<'a> Verifier<'a> {
    /// A verifier with no trust policy or status source, at `now`.
    pub fn new(resolver: &'a dyn DidResolver, now: DateTime<Utc>) -> Self {
        Self {
            resolver,
            now,
            clock_skew: Duration::seconds(60),
            issuers: None,
            status: None,
            max_depth: DEFAULT_MAX_DEPTH,
            expected_definition: None,
        }
    }
}

fn proof_reason(error: &ProofError) -> Reason {
    match error {
        ProofError::Resolve(_) => Reason::UnresolvableDid,
        ProofError::NotAnObject
        | ProofError::MissingProof
        | ProofError::ProofSet
        | ProofError::Malformed(_)
        | ProofError::UnsupportedType
        | ProofError::UnsupportedCryptosuite(_)
        | ProofError::BadProofValue
        | ProofError::Canonicalization(_) => Reason::Malformed,
        _ => Reason::InvalidProof,
    }
}

/// Checks the proof and that it was made by the issuer.
pub(crate) fn check_proof(
    verifier: &Verifier<'_>,
    raw: &Value,
    signer: &Did,
    purpose: Relationship,
) -> Result<proof::VerifiedProof, (Reason, String)> {
    let verified = proof::verify(raw, purpose, verifier.resolver)
        .map_err(|e| (proof_reason(&e), e.to_string()))?;
    if &verified.verification_method.did() != signer {
        return Err((
            Reason::InvalidProof,
            format!(
                "signed by {}, not by {signer}",
                verified.verification_method.did()
            ),
        ));
    }
    Ok(verified)
}

fn check_window(
    verifier: &Verifier<'_>,
    valid_from: Option<DateTime<Utc>>,
    valid_until: Option<DateTime<Utc>>,
) -> Result<(), (Reason, String)> {
    if let Some(from) = valid_from.filter(|from| verifier.now + verifier.clock_skew < *from) {
        return Err((Reason::NotYetValid, format!("valid from {from}")));
    }
    if let Some(until) = valid_until.filter(|until| verifier.now >= *until) {
        return Err((Reason::Expired, format!("expired at {until}")));
    }
    Ok(())
}

/// A credential that passed [`verify_credential`]'s structural checks, whatever the others said.
#[derive(Debug, Clone)]
pub struct Checked {
    /// The typed credential.
    pub credential: AgentCapabilityCredential,
    /// Its capabilities that parse and have no unknown constraint.
    pub capabilities: Vec<Capability>,
}

/// Verifies one `AgentCapabilityCredential`: schema, proof by the issuer, validity window, each
/// capability, issuer trust and status. Returns the report and, when it could be read, the typed
/// credential.
pub fn verify_credential(raw: &Value, verifier: &Verifier<'_>) -> (Report, Option<Checked>) {
    let mut report = Report::new();
    let credential = match AgentCapabilityCredential::from_json(raw) {
        Ok(credential) => credential,
        Err(e) => {
            let subject = raw.get("id").and_then(Value::as_str);
            report.fail("schema", subject, Reason::Malformed, e.to_string());
            return (report, None);
        }
    };
    let id = credential.id.to_string();
    let subject = Some(id.as_str());
    report.pass("schema", subject);
    report.record(
        "proof",
        subject,
        check_proof(
            verifier,
            raw,
            &credential.issuer,
            Relationship::AssertionMethod,
        )
        .map(|_| ()),
    );
    report.record(
        "validity",
        subject,
        check_window(
            verifier,
            Some(credential.valid_from),
            Some(credential.valid_until),
        ),
    );

    if let Some(expected) = &verifier.expected_definition {
        let found = &credential.credential_subject.agent.definition_hash.digest;
        report.record(
            "definition",
            subject,
            if found == expected {
                Ok(())
            } else {
                Err((
                    Reason::DefinitionMismatch,
                    format!(
                        "definition {}, expected {}",
                        found.as_str(),
                        expected.as_str()
                    ),
                ))
            },
        );
    }

    let mut capabilities = Vec::new();
    for (index, parsed) in credential.capabilities().into_iter().enumerate() {
        let label = format!("{id} capability {index}");
        match parsed {
            Err(e) => report.fail("capability", Some(&label), Reason::Malformed, e.to_string()),
            Ok(capability) => {
                if let Some(name) = capability.constraints.unknown.first() {
                    report.fail(
                        "capability",
                        Some(&label),
                        Reason::UnknownConstraint,
                        format!("unknown constraint {name}"),
                    );
                    continue;
                }
                match verifier.issuers {
                    // Delegated credentials are issued by agents; trust is checked at the root.
                    Some(policy) if credential.credential_subject.delegation.parent.is_none() => {
                        if policy.trusts(&credential.issuer, &capability.action) {
                            report.pass("issuer_trust", Some(&label));
                        } else {
                            report.fail(
                                "issuer_trust",
                                Some(&label),
                                Reason::UntrustedIssuer,
                                format!(
                                    "{} may not attest {}",
                                    credential.issuer, capability.action
                                ),
                            );
                            continue;
                        }
                    }
                    Some(_) => {}
                    None => report.skip("issuer_trust", Some(&label), "no trusted-issuer policy"),
                }
                capabilities.push(capability);
            }
        }
    }

    match verifier.status {
        None => report.skip("status", subject, "no status source"),
        Some(source) => {
            for entry in &credential.credential_status {
                let reason = match entry.status_purpose.as_str() {
                    "suspension" => Reason::Suspended,
                    _ => Reason::Revoked,
                };
                match source.status(entry) {
                    Ok(EntryStatus::Clear) => report.pass("status", subject),
                    Ok(EntryStatus::Set) => {
                        report.fail("status", subject, reason, entry.status_purpose.clone())
                    }
                    Err(why) => report.fail("status", subject, Reason::StatusUnknown, why),
                }
            }
        }
    }
    (
        report,
        Some(Checked {
            credential,
            capabilities,
        }),
    )
}

/// Verifies any W3C VC 2.0 credential that is not an `AgentCapabilityCredential`: the proof, that
/// the issuer made it, and its validity window if it has one.
pub fn verify_generic_credential(raw: &Value, verifier: &Verifier<'_>) -> Report {
    let mut report = Report::new();
    let subject = raw.get("id").and_then(Value::as_str);
    let issuer = raw
        .get("issuer")
        .and_then(|i| i.as_str().or_else(|| i.get("id").and_then(Value::as_str)));
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, (Reason, String)> {
        raw.get(name)
            .map(|v| {
                v.as_str()
                    .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                    .map(|t| t.with_timezone(&Utc))
                    .ok_or((Reason::Malformed, format!("{name} is not a date-time")))
            })
            .transpose()
    };
    match proof::verify(raw, Relationship::AssertionMethod, verifier.resolver) {
        Err(e) => report.fail("proof", subject, proof_reason(&e), e.to_string()),
        Ok(verified) => match issuer.map(Did::parse) {
            Some(Ok(did)) if did == verified.verification_method.did() => {
                report.pass("proof", subject)
            }
            _ => report.fail(
                "proof",
                subject,
                Reason::InvalidProof,
                format!(
                    "the proof is valid, but made by {}, which is not the issuer {}",
                    verified.verification_method.did(),
                    issuer.unwrap_or("(none)")
                ),
            ),
        },
    }
    let window = time("validFrom").and_then(|from| Ok((from, time("validUntil")?)));
    report.record(
        "validity",
        subject,
        window.and_then(|(from, until)| check_window(verifier, from, until)),
    );
    report
}

/// Whether a JSON document claims to be an `AgentCapabilityCredential`.
pub fn is_agent_credential(raw: &Value) -> bool {
    raw.get("type")
        .and_then(Value::as_array)
        .is_some_and(|types| types.iter().any(|t| t == "AgentCapabilityCredential"))
}
