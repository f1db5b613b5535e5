//! `vouch credential`: issuing, signing (held to the data model first), delegating and verifying credentials.

use super::wallet::{record_delegation, wallet_log};
use crate::*;

pub(crate) fn credential(command: CredentialCommand) -> Result<ExitCode> {
    match command {
        CredentialCommand::Sign {
            key,
            suite,
            created,
        } => {
            let pair = keyfile::read(&key)?;
            let unsigned = read_stdin_json()?;
            // Nothing is signed that conforming verifiers must reject (VC Data Model 2.0), nor
            // a term no context defines (under either suite).
            vouch_core::datamodel::check_credential(&unsigned)
                .and_then(|()| vouch_core::datamodel::check_terms(&unsigned))
                .map_err(|e| anyhow::anyhow!("not signed: {e}"))?;
            let options = ProofOptions {
                cryptosuite: suite,
                created: created.unwrap_or_else(Utc::now),
                verification_method: did_key::verification_method_of(&pair.public()),
                purpose: Relationship::AssertionMethod,
                challenge: None,
                domain: None,
                expires: None,
            };
            print_json(&proof::sign(&unsigned, &options, &pair)?)?;
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::Verify { verify: args } => {
            let credential = read_stdin_json()?;
            let known = Known::read(&args, &[&credential])?;
            let verifier = known.verifier(&args);
            let report = if verify::is_agent_credential(&credential) {
                verify::verify_credential(&credential, &verifier).0
            } else {
                verify::verify_generic_credential(&credential, &verifier)
            };
            print_report(&report, args.json)
        }
        CredentialCommand::Issue {
            key,
            issuer_log,
            to,
            capabilities,
            agent,
            principal,
            task,
            purpose,
            minutes,
            max_renewals,
            max_depth,
            audience,
            suite,
            now,
        } => {
            let pair = keyfile::read(&key)?;
            let (issuer, vm) = issuer_of(&pair, issuer_log.as_deref())?;
            let now = now.unwrap_or_else(Utc::now);
            let lifetime = Duration::minutes(minutes.into());
            // Every credential of the lineage may be valid for `lifetime`; the lineage ends after
            // the first and each renewal, or at the last representable time.
            let not_after = lifetime
                .checked_mul(max_renewals.saturating_add(1).try_into().unwrap_or(i32::MAX))
                .and_then(|span| now.checked_add_signed(span))
                .with_context(|| {
                    format!("--now {now} with {max_renewals} renewals ends past the last representable time")
                })?;
            let credential = RootGrant {
                issuer,
                subject: to,
                agent: read_agent(&agent)?,
                principal,
                task: Task {
                    id: task,
                    purpose_hash: Multihash::of(purpose.as_bytes()),
                },
                capabilities: read_capabilities(&capabilities)?,
                audience,
                valid_from: now,
                lifetime,
                max_renewals,
                not_after,
                max_depth,
                status: Vec::new(),
            }
            .build()?;
            print_json(&delegation::sign_credential(
                &credential,
                &pair,
                vm,
                suite,
                now,
            )?)?;
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::Delegate {
            key,
            parent,
            to,
            capabilities,
            valid_until,
            suite,
            now,
            node,
            ancestor,
            wallet,
        } => {
            let pair = keyfile::read(&key)?;
            let now = now.unwrap_or_else(Utc::now);
            let parent_json = read_json_file(&parent)?;
            let parent = AgentCapabilityCredential::from_json(&parent_json)?;
            let holder = did_key::did_of(&pair.public());
            if parent.credential_subject.id != holder {
                bail!(
                    "{holder} does not hold the parent credential; its holder is {}",
                    parent.credential_subject.id
                );
            }
            let valid_until = valid_until.unwrap_or(parent.valid_until);
            let child = delegation::delegate(
                &parent,
                to,
                read_capabilities(&capabilities)?,
                valid_until,
                now,
            )?;
            if let Some(node) = node {
                let mut chain = ancestor
                    .iter()
                    .map(|path| read_json_file(path))
                    .collect::<Result<Vec<_>>>()?;
                chain.push(parent_json);
                let signed = OrgNode::new(node_url(&node)?)
                    .register_delegation(&pair, chain, &child, suite, now)?;
                record_delegation(wallet.as_deref(), &pair, &parent, &signed, now)?;
                print_json(&signed)?;
                return Ok(ExitCode::SUCCESS);
            }
            let vm = did_key::verification_method_of(&pair.public());
            let signed = delegation::sign_credential(&child, &pair, vm, suite, now)?;
            record_delegation(wallet.as_deref(), &pair, &parent, &signed, now)?;
            eprintln!(
                "vouch: not registered with a node (--node): no status entry, so no revocation reaches it, and verifiers refuse it (status_missing) unless told otherwise"
            );
            print_json(&signed)?;
            Ok(ExitCode::SUCCESS)
        }
        CredentialCommand::Renew {
            key,
            credential,
            node,
            minutes,
            wallet,
        } => {
            let pair = keyfile::read(&key)?;
            let current = read_json_file(&credential)?;
            let now = Utc::now();
            let renewed = OrgNode::new(node_url(&node)?).renew(
                &pair,
                &current,
                Duration::minutes(minutes.into()),
                now,
            )?;
            if let Some(wallet) = wallet {
                let entry = vouch_wallet::records::renewal_entry(
                    current["id"].as_str().unwrap_or_default(),
                    renewed["credentialSubject"]["task"]["id"]
                        .as_str()
                        .unwrap_or_default(),
                    &renewed,
                );
                wallet_log(&wallet, &pair)?.record(entry, now)?;
            }
            print_json(&renewed)?;
            Ok(ExitCode::SUCCESS)
        }
    }
}
