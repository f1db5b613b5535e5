//! `vouch did`: did:vouch logs — create, update, rotate, deactivate, resolve.

use crate::*;

pub(crate) fn did(command: DidCommand) -> Result<ExitCode> {
    match command {
        DidCommand::Resolve {
            did,
            log,
            version_id,
            version_time,
        } => {
            let did = Did::parse(&did)?;
            let selector = match (version_id, version_time) {
                (Some(id), _) => VersionSelector::Id(id),
                (None, Some(time)) => VersionSelector::Time(time),
                (None, None) => VersionSelector::Latest,
            };
            let resolved = match (did.method(), log) {
                ("key", None) if selector == VersionSelector::Latest => {
                    let document = did_key::resolve(&did, did_key::KeyFormat::Multikey)
                        .map_err(|e| ResolveError::InvalidDid(e.to_string()));
                    document.map(|d| ResolutionResult::found(d, DocumentMetadata::default()))
                }
                ("key", None) => bail!("a did:key has a single version"),
                (did_vouch::METHOD, Some(path)) => {
                    let log = didlog::read(&path)?;
                    did_vouch::check_did(&did)
                        .and_then(|()| match log.did() == &did {
                            true => log.resolve(selector),
                            false => Err(ResolveError::NotFound(did.clone())),
                        })
                        .map(|r| ResolutionResult::found(r.document, r.metadata))
                }
                (did_vouch::METHOD, None) => {
                    bail!("resolving a did:vouch needs its log: --log FILE")
                }
                (_, Some(_)) => bail!("--log is for did:vouch only"),
                (method, None) => Err(ResolveError::MethodNotSupported(method.to_owned())),
            };
            // A malformed DID is unusable input; a well-formed one that does not resolve is a
            // negative answer.
            let code = match &resolved {
                Ok(_) => ExitCode::SUCCESS,
                Err(ResolveError::InvalidDid(_)) => ExitCode::from(2),
                Err(_) => ExitCode::from(1),
            };
            print_json(&resolved.unwrap_or_else(|e| ResolutionResult::failed(&e)))?;
            Ok(code)
        }
        DidCommand::Create(change) => {
            let op = &change.operation;
            let (did, genesis) = did_vouch::create(
                change.document()?,
                &op.update_key()?,
                &change.next_update_keys()?,
                op.created(),
            )?;
            didlog::create(&op.log, &DidLog::new(genesis)?)?;
            print_did_change(&did, 1, op.json)
        }
        DidCommand::Update(change) => {
            let op = &change.operation;
            let mut log = didlog::read(&op.log)?;
            let operation = did_vouch::update(
                &log,
                change.document()?,
                &op.update_key()?,
                &change.next_update_keys()?,
                op.created(),
            )?;
            didlog::append(&op.log, &mut log, operation)?;
            print_did_change(log.did(), log.version(), op.json)
        }
        DidCommand::Deactivate(op) => {
            let mut log = didlog::read(&op.log)?;
            let operation = did_vouch::deactivate(&log, &op.update_key()?, op.created())?;
            didlog::append(&op.log, &mut log, operation)?;
            print_did_change(log.did(), log.version(), op.json)
        }
    }
}

fn print_did_change(did: &Did, version: u64, json: bool) -> Result<ExitCode> {
    if json {
        print_json(&serde_json::json!({ "did": did, "versionId": version.to_string() }))?;
    } else {
        say(&format!("{did} version {version}"))?;
    }
    Ok(ExitCode::SUCCESS)
}
