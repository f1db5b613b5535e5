//! `vouch audit`: an auditor's check of an audit log from its first entry against a checkpoint, over HTTP or an export.

use super::wallet::wallet_log;
use crate::*;

pub(crate) fn audit(command: AuditCommand) -> Result<ExitCode> {
    use vouch_wallet::audit::{self, Finding};
    match command {
        AuditCommand::Verify {
            node,
            export,
            checkpoint,
            origin,
            log_key,
            consortium,
            amendments,
            witnesses,
            quorum,
        } => {
            let (note, entries) = match (&node, export, checkpoint) {
                (Some(node), _, _) => audit::fetch(node)?,
                (None, Some(export), Some(checkpoint)) => {
                    let text = std::fs::read_to_string(&export)
                        .with_context(|| export.display().to_string())?;
                    let note = std::fs::read(&checkpoint)
                        .with_context(|| checkpoint.display().to_string())?;
                    (note, audit::read_export(&text)?)
                }
                _ => bail!("--node, or --export with --checkpoint"),
            };
            let origin = match origin {
                Some(origin) => origin,
                None => {
                    String::from_utf8_lossy(note.split(|b| *b == b'\n').next().unwrap_or_default())
                        .into_owned()
                }
            };
            let members = match &consortium {
                Some(path) => {
                    let amendments = match &amendments {
                        Some(path) => std::fs::read_to_string(path)
                            .with_context(|| path.display().to_string())?,
                        None => String::new(),
                    };
                    audit::members(
                        &std::fs::read_to_string(path)
                            .with_context(|| path.display().to_string())?,
                        &amendments,
                    )?
                }
                None if amendments.is_some() => bail!("--amendments amend a --consortium genesis"),
                None => Vec::new(),
            };
            let log_key = match (
                log_key,
                members
                    .iter()
                    .find(|(did, _)| format!("{did}/audit") == origin),
            ) {
                (Some(key), _) => vouch_core::key::PublicKey::from_multibase(&key)
                    .map_err(|e| anyhow::anyhow!("--log-key: {e}"))?,
                (None, Some((_, key))) => *key,
                (None, None) => bail!("--log-key, or --consortium naming the log's member"),
            };
            let mut known: Vec<(String, vouch_core::key::PublicKey)> = members
                .iter()
                .filter(|(did, _)| format!("{did}/audit") != origin)
                .map(|(did, key)| (format!("{did}/witness"), *key))
                .collect();
            for witness in &witnesses {
                let (name, key) = witness
                    .split_once('=')
                    .with_context(|| format!("--witness {witness}: NAME=KEY"))?;
                let key = vouch_core::key::PublicKey::from_multibase(key)
                    .map_err(|e| anyhow::anyhow!("--witness {name}: {e}"))?;
                known.push((name.to_owned(), key));
            }
            // The log up to the checkpoint its witnesses cosigned, then all of it.
            if !known.is_empty() {
                let node = node
                    .as_deref()
                    .context("witnesses are checked on a live node (--node)")?;
                let quorum = quorum.unwrap_or(known.len() / 2 + 1);
                let cosigned = audit::check_cosigned(
                    &audit::fetch_witnessed(node, &origin)?,
                    &origin,
                    &log_key,
                    &known,
                    quorum,
                )?;
                match audit::check(&entries, &cosigned.note, &origin, &log_key)? {
                    Finding::Verified { size, root } => println!(
                        "witnessed: {size} entries, root {root}, cosigned by {} of {} witnesses",
                        cosigned.cosigners.len(),
                        known.len()
                    ),
                    Finding::Tampered { at, what } => {
                        println!(
                            "NOT verified against the checkpoint {} witnesses cosigned: entry {at}: {what}",
                            cosigned.cosigners.len()
                        );
                        return Ok(ExitCode::from(1));
                    }
                }
            }
            match audit::check(&entries, &note, &origin, &log_key)? {
                Finding::Verified { size, root } => {
                    println!("verified: {size} entries, root {root}");
                    Ok(ExitCode::SUCCESS)
                }
                Finding::Tampered { at, what } => {
                    println!("NOT verified: entry {at}: {what}");
                    Ok(ExitCode::from(1))
                }
            }
        }
        AuditCommand::Export {
            wallet,
            key,
            checkpoint,
        } => {
            let pair = keyfile::read(&key)?;
            let log = wallet_log(&wallet, &pair)?;
            let note = log.checkpoint(&pair)?;
            let mut out = std::io::stdout().lock();
            let mut from = 0;
            loop {
                let page = log.entries(from)?;
                if page.is_empty() {
                    break;
                }
                from += page.len() as u64;
                for entry in page {
                    writeln!(out, "{}", serde_json::to_string(&entry)?)?;
                }
            }
            std::fs::write(&checkpoint, note).with_context(|| checkpoint.display().to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        AuditCommand::Show { node, task, agent } => {
            let (_, entries) = audit::fetch(&node)?;
            for entry in entries.iter().filter(|e| {
                task.as_ref().is_none_or(|t| e.task.as_ref() == Some(t))
                    && agent.as_ref().is_none_or(|a| e.agent.as_ref() == Some(a))
            }) {
                println!("{}", serde_json::to_string(entry)?);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
