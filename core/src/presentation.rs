//! Verifiable presentations: the holder's proof of possession over a verifier's challenge and
//! domain ([VC Data Model 2.0 §4.13](https://www.w3.org/TR/vc-data-model-2.0/#verifiable-presentations)).
//!
//! Verification checks what ssi leaves to the caller: that the proof answers this verifier's
//! challenge and domain and was made by the holder, and that every presented credential lies on
//! a whole, attenuated delegation chain from a trusted root to a leaf the holder holds
//! ([`verify_presentation`] states the rule).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::capability::{Capability, Denial, Request};
use crate::credential::{AgentCapabilityCredential, CredentialId, MAX_DEPTH_CAP};
use crate::delegation::check_link;
use crate::did::document::Relationship;
use crate::did::{Did, key as did_key};
use crate::key::KeyPair;
use crate::proof::{self, Cryptosuite, ProofError, ProofOptions};
use crate::report::{Reason, Report, check};
use crate::verify::{
    Checked, Verifier, check_capability_trust, check_chain_status, check_credential_with,
    judge_proof,
};

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
        expires: None,
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

impl Chain {
    /// Whether the chain permits a concrete request at `now`: every credential's resource
    /// pinning admits the request's resource, and every hop has a capability that names and
    /// permits it (DESIGN §5: attenuation is checked again at use, every hop's constraints must
    /// hold).
    pub fn permits(&self, request: &Request, now: DateTime<Utc>) -> Result<(), Denial> {
        for (hop, credential) in self.credentials.iter().enumerate() {
            if !credential.admits_resource(&request.resource) {
                return Err(Denial::ResourceNotPinned { hop });
            }
        }
        request.permitted_by_chain(self.capabilities.iter().map(Vec::as_slice), now)
    }

    /// Checks again what may have changed since the chain verified: every credential's validity
    /// window, status and capabilities' trust, with `verifier`'s clock, lists and policy. For a
    /// chain kept between uses (a signed request's session): a revocation or suspension, an
    /// expiry or a change of the consortium's policy refuses the next use.
    pub fn recheck(&self, verifier: &Verifier<'_>) -> Report {
        let mut report = Report::new();
        let Some(root) = self.credentials.first() else {
            report.fail(check::CHAIN, None, Reason::BrokenChain, "an empty chain");
            return report;
        };
        for (credential, capabilities) in self.credentials.iter().zip(&self.capabilities) {
            crate::verify::recheck_chain_credential(
                verifier,
                credential,
                capabilities,
                root,
                &mut report,
            );
        }
        report
    }
}

/// The result of verifying a presentation.
#[derive(Debug, Clone)]
pub struct VerifiedPresentation {
    /// Every check.
    pub report: Report,
    /// The presenter, if the presentation could be read.
    pub holder: Option<Did>,
    /// The chains of the holder's credentials, root first; use them only if the report verified.
    pub chains: Vec<Chain>,
    /// The approvals presented that passed every check of their own (`crate::approval`).
    pub approvals: Vec<crate::approval::Approval>,
}

/// The members a presentation has: exactly what [`create`] writes, and its proof.
const MEMBERS: [&str; 5] = [
    "@context",
    "type",
    "holder",
    "verifiableCredential",
    "proof",
];

/// Reads the presentation's envelope. Only the shape Vouch emits is accepted, before anything
/// is canonicalized: extra members or contexts could carry a graph that costs the verifier
/// more than any presentation needs (RDFC-1.0 §4.4 poison graphs).
fn shape(raw: &Value) -> Result<(Did, &Vec<Value>), String> {
    let object = raw.as_object().ok_or("a presentation is a JSON object")?;
    if let Some(extra) = object.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        let extra: String = extra.chars().take(64).collect();
        return Err(format!("a presentation has no member {extra:?}"));
    }
    if object.get("@context") != Some(&json!([vouch_schemas::CREDENTIALS_V2])) {
        return Err(format!(
            "@context must be [{:?}]",
            vouch_schemas::CREDENTIALS_V2
        ));
    }
    if object.get("type") != Some(&json!(["VerifiablePresentation"])) {
        return Err("type must be [\"VerifiablePresentation\"]".into());
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
///
/// The rule: a presentation verifies only if **every** credential it carries lies on a chain
/// that ends in a root credential whose issuer is trusted for each capability, with every link
/// attenuated, and the chain's leaf held by the presenter. Structure is found positively: from
/// each credential, its parents are walked up to a root, so a cycle, a self-parent, an orphan or
/// an unrelated extra credential fails its own `chain` or `holder` check; nothing is concluded
/// from what is absent. Every credential gets every check of [`check::CREDENTIAL`], as passed,
/// failed, or skipped with why.
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
            report.fail(check::SCHEMA, None, Reason::Malformed, why);
            report.skip_all(
                &check::PRESENTATION[1..],
                None,
                "the presentation could not be read",
            );
            return VerifiedPresentation {
                report,
                holder: None,
                chains: Vec::new(),
                approvals: Vec::new(),
            };
        }
    };
    let subject = Some(holder.as_str());
    report.pass(check::SCHEMA, subject);
    // Every signature, the presentation's and each credential's, checked in one batch.
    let mut proofs = proof::check_all(
        std::iter::once(proof::prepare(
            raw,
            Relationship::Authentication,
            verifier.resolver,
        ))
        .chain(credentials.iter().map(|credential| {
            proof::prepare(credential, Relationship::AssertionMethod, verifier.resolver)
        }))
        .collect(),
    )
    .into_iter();
    let presentation_proof = proofs
        .next()
        .expect("one outcome per proof, the presentation's first");
    record_binding(
        &mut report,
        subject,
        judge_proof(verifier, presentation_proof, &holder),
        challenge,
        domain,
    );

    // Each credential alone; the first of two with one id is kept, the second refused.
    let mut presented: Vec<Checked> = Vec::with_capacity(credentials.len());
    let mut approvals = Vec::new();
    for (index, raw_credential) in credentials.iter().enumerate() {
        let label = format!("credential {index}");
        let credential_proof = proofs.next().expect("one outcome per credential");
        // An approval is checked on its own: it is on no chain.
        if crate::approval::is_approval(raw_credential) {
            approvals.extend(crate::verify::check_approval(
                raw_credential,
                verifier,
                &label,
                &holder,
                &mut report,
                credential_proof,
            ));
            continue;
        }
        let Some(checked) =
            check_credential_with(raw_credential, verifier, &label, &mut report, || {
                credential_proof
            })
        else {
            continue;
        };
        let id = checked.credential.id.to_string();
        if presented
            .iter()
            .any(|c| c.credential.id == checked.credential.id)
        {
            report.fail(
                check::CHAIN,
                Some(&id),
                Reason::Malformed,
                "a credential with this id is presented twice",
            );
            report.skip_all(
                &[check::HOLDER, check::AUDIENCE],
                Some(&id),
                "a credential with this id is presented twice",
            );
            check_capability_trust(verifier, &checked, None, &mut report);
            check_chain_status(verifier, &checked, None, &mut report);
            continue;
        }
        presented.push(checked);
    }
    let by_id: HashMap<&CredentialId, usize> = presented
        .iter()
        .enumerate()
        .map(|(index, c)| (&c.credential.id, index))
        .collect();
    let structure = Structure::of(&presented, &by_id, verifier.max_depth);

    let mut chains = Vec::new();
    for (index, checked) in presented.iter().enumerate() {
        let credential = &checked.credential;
        let id = credential.id.to_string();
        let subject = Some(id.as_str());
        let chain = structure.chain_of(index);
        report.record(check::CHAIN, subject, chain.clone().map(|_| ()));
        let root = chain
            .as_ref()
            .ok()
            .map(|path| &presented[path[0]].credential);
        check_capability_trust(verifier, checked, root, &mut report);
        check_chain_status(verifier, checked, root, &mut report);

        let audience = &credential.credential_subject.audience;
        report.record(
            check::AUDIENCE,
            subject,
            if audience.is_empty() || audience.iter().any(|a| a == domain) {
                Ok(())
            } else {
                Err((Reason::AudienceMismatch, format!("not for {domain}")))
            },
        );

        let children = &structure.children[index];
        if children.is_empty() {
            // A leaf: the presenter's own credential.
            report.record(
                check::HOLDER,
                subject,
                if credential.credential_subject.id == holder {
                    Ok(())
                } else {
                    Err((
                        Reason::NotHolder,
                        format!(
                            "issued to {}, presented by {holder}",
                            credential.credential_subject.id
                        ),
                    ))
                },
            );
            if let Ok(path) = chain {
                chains.push(Chain {
                    credentials: path
                        .iter()
                        .map(|&i| presented[i].credential.clone())
                        .collect(),
                    capabilities: path
                        .iter()
                        .map(|&i| presented[i].capabilities.clone())
                        .collect(),
                });
            }
        } else {
            // A parent: bound to whoever delegated from it, each of its children's issuer.
            let strangers: Vec<&Did> = children
                .iter()
                .map(|&c| &presented[c].credential.issuer)
                .filter(|issuer| **issuer != credential.credential_subject.id)
                .collect();
            report.record(
                check::HOLDER,
                subject,
                match strangers.first() {
                    None => Ok(()),
                    Some(stranger) => Err((
                        Reason::NotHolder,
                        format!(
                            "held by {}, but delegated from by {stranger}",
                            credential.credential_subject.id
                        ),
                    )),
                },
            );
        }
    }
    VerifiedPresentation {
        report,
        holder: Some(holder),
        chains,
        approvals,
    }
}

/// The delegation structure of the presented credentials, found from each credential upward.
struct Structure {
    /// For each credential, the path from its root down to it (indexes), or why there is none.
    chains: Vec<Result<Vec<usize>, (Reason, String)>>,
    /// For each credential, the credentials presented that name it as their parent (itself
    /// excepted).
    children: Vec<Vec<usize>>,
}

impl Structure {
    fn of(presented: &[Checked], by_id: &HashMap<&CredentialId, usize>, max_depth: u32) -> Self {
        let mut children = vec![Vec::new(); presented.len()];
        for (index, checked) in presented.iter().enumerate() {
            let parent = checked
                .credential
                .credential_subject
                .delegation
                .parent
                .as_ref();
            if let Some(&p) = parent.and_then(|p| by_id.get(p)).filter(|&&p| p != index) {
                children[p].push(index);
            }
        }
        // Each link is checked once; a credential's chain fails at the first bad link above it.
        let links: Vec<Result<(), (Reason, String)>> = presented
            .iter()
            .map(|child| {
                let Some(parent_id) = &child.credential.credential_subject.delegation.parent else {
                    return Ok(());
                };
                let Some(&p) = by_id.get(parent_id) else {
                    return Ok(());
                };
                let parent = &presented[p];
                check_link(
                    &parent.credential,
                    &parent.capabilities,
                    &child.credential,
                    &child.capabilities,
                    max_depth,
                )
            })
            .collect();
        let chains = (0..presented.len())
            .map(|start| walk(start, presented, by_id, &links, max_depth))
            .collect();
        Self { chains, children }
    }

    fn chain_of(&self, index: usize) -> Result<Vec<usize>, (Reason, String)> {
        self.chains[index].clone()
    }
}

/// Walks from a credential up to its root. The walk takes at most one step per presented
/// credential: a longer one has met a credential twice.
fn walk(
    start: usize,
    presented: &[Checked],
    by_id: &HashMap<&CredentialId, usize>,
    links: &[Result<(), (Reason, String)>],
    max_depth: u32,
) -> Result<Vec<usize>, (Reason, String)> {
    let cap = max_depth.min(MAX_DEPTH_CAP) as usize;
    let mut path = vec![start];
    let mut at = start;
    loop {
        let credential = &presented[at].credential;
        let Some(parent_id) = &credential.credential_subject.delegation.parent else {
            break;
        };
        let Some(&parent) = by_id.get(parent_id) else {
            return Err((
                Reason::BrokenChain,
                format!(
                    "{} names parent {parent_id}, which is not presented",
                    credential.id
                ),
            ));
        };
        if parent == at {
            return Err((
                Reason::BrokenChain,
                format!("{} names itself as its parent", credential.id),
            ));
        }
        if path.contains(&parent) {
            return Err((
                Reason::BrokenChain,
                format!("delegation cycle through {parent_id}"),
            ));
        }
        links[at].clone()?;
        path.push(parent);
        if path.len() > cap + 1 {
            return Err((Reason::DepthExceeded, format!("deeper than {cap}")));
        }
        at = parent;
    }
    path.reverse();
    Ok(path)
}

/// Records a presentation's own checks: its proof as judged, then — when it holds — that it
/// answers `challenge` and was made for `domain`; skipped, with why, when it does not.
fn record_binding(
    report: &mut Report,
    subject: Option<&str>,
    judged: Result<proof::VerifiedProof, (Reason, String)>,
    challenge: &str,
    domain: &str,
) {
    let verified = match judged {
        Err(failure) => {
            report.record(check::PROOF, subject, Err(failure));
            report.skip_all(
                &[check::CHALLENGE, check::DOMAIN],
                subject,
                "the presentation's proof does not verify",
            );
            return;
        }
        Ok(verified) => verified,
    };
    report.pass(check::PROOF, subject);
    report.record(
        check::CHALLENGE,
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
        check::DOMAIN,
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

/// Whether a presentation carries anything of Vouch's: an agent credential or an approval,
/// which only [`verify_presentation`]'s rules may judge.
pub fn carries_vouch_credentials(raw: &Value) -> bool {
    let credentials: Vec<&Value> = match raw.get("verifiableCredential") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
        None => Vec::new(),
    };
    credentials.iter().any(|credential| {
        crate::verify::is_agent_credential(credential) || crate::approval::is_approval(credential)
    })
}

/// Verifies a presentation of W3C credentials that are none of Vouch's (VC Data Model 2.0
/// §4.13): its form, a proof by its holder (or, with no `holder`, by whoever signed it) for
/// authentication over `challenge` and `domain`, and each credential as
/// [`crate::verify::verify_generic_credential`] does, each check named by the credential's place.
/// A presentation that carries an agent credential or an approval is never judged here
/// ([`carries_vouch_credentials`]): Vouch's rules are [`verify_presentation`]'s.
pub fn verify_generic_presentation(
    raw: &Value,
    challenge: &str,
    domain: &str,
    verifier: &Verifier<'_>,
) -> Report {
    let mut report = Report::new();
    let credentials = match generic_shape(raw) {
        Ok(credentials) => credentials,
        Err(why) => {
            report.fail(check::SCHEMA, None, Reason::Malformed, why);
            report.skip_all(
                &check::PRESENTATION[1..],
                None,
                "the presentation could not be read",
            );
            return report;
        }
    };
    report.pass(check::SCHEMA, None);
    let holder = crate::datamodel::issuer_like(raw.get("holder"));
    let verified = proof::verify(raw, Relationship::Authentication, verifier.resolver);
    // The holder signs; with no holder named, whoever signed is the presenter.
    let judged = match (holder, verified) {
        (Some(holder), verified) => Did::parse(holder)
            .map_err(|_| {
                (
                    Reason::NotHolder,
                    format!("the holder {holder:.128} is no DID: nothing ties a proof to it"),
                )
            })
            .and_then(|signer| judge_proof(verifier, verified, &signer)),
        (None, Ok(verified)) => {
            let signer = verified.verification_method.did();
            judge_proof(verifier, Ok(verified), &signer)
        }
        (None, Err(e)) => Err((crate::verify::proof_reason(&e), e.to_string())),
    };
    record_binding(&mut report, None, judged, challenge, domain);
    for (index, credential) in credentials.into_iter().enumerate() {
        let mut one = crate::verify::verify_generic_credential(credential, verifier);
        let label = format!("credential {index}");
        for check in &mut one.checks {
            check.subject = Some(match &check.subject {
                Some(id) => format!("{label} ({id})"),
                None => label.clone(),
            });
        }
        report.merge(one);
    }
    report
}

/// The credentials of a generic presentation, once its form is read: `@context` first the VC
/// 2.0 context, a `type` with `VerifiablePresentation`, an optional URL `id` and `holder`, and
/// 0 to [`MAX_CREDENTIALS`] credentials, each an object (an enveloped credential is not read
/// here), spelled plainly.
fn generic_shape(raw: &Value) -> Result<Vec<&Value>, String> {
    let object = raw.as_object().ok_or("a presentation is a JSON object")?;
    crate::verify::plain_spelling(raw).map_err(str::to_owned)?;
    match object.get("@context") {
        Some(Value::Array(contexts))
            if contexts.first().and_then(Value::as_str) == Some(vouch_schemas::CREDENTIALS_V2) => {}
        _ => {
            return Err(format!(
                "@context must be a list whose first item is {}",
                vouch_schemas::CREDENTIALS_V2
            ));
        }
    }
    let typed = match object.get("type") {
        Some(Value::Array(types)) => types.iter().any(|t| t == "VerifiablePresentation"),
        Some(one) => one == "VerifiablePresentation",
        None => false,
    };
    if !typed {
        return Err("type must include VerifiablePresentation".into());
    }
    if let Some(id) = object.get("id")
        && !id.as_str().is_some_and(crate::iri::is_url)
    {
        return Err("id must be a single URL".into());
    }
    if object.contains_key("holder")
        && !crate::datamodel::issuer_like(object.get("holder")).is_some_and(crate::iri::is_url)
    {
        return Err("holder must be a URL or an object with a URL id".into());
    }
    let credentials: Vec<&Value> = match object.get("verifiableCredential") {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(one) => vec![one],
    };
    if credentials.len() > MAX_CREDENTIALS {
        return Err(format!(
            "a presentation carries at most {MAX_CREDENTIALS} credentials"
        ));
    }
    if let Some(bad) = credentials.iter().find(|c| !c.is_object()) {
        return Err(format!(
            "verifiableCredential holds credentials, as objects, not {:.64}",
            bad.to_string()
        ));
    }
    if credentials.iter().any(|c| {
        c.get("type")
            .is_some_and(|t| t == "EnvelopedVerifiableCredential")
    }) {
        return Err("an enveloped credential is not verified here: embed it with its proof".into());
    }
    if !object.contains_key("proof") {
        return Err("a presentation without a proof proves nothing".into());
    }
    Ok(credentials)
}
