//! `vouch wallet`: the wallet daemon — serving it, and every request an agent makes of it.

use crate::*;
use vouch_api::daemon::{
    Accepted, Added, Delegated, Exchanged, HeaderField, Identity, SignAsk, SignedRequest,
};
use vouch_api::node::public::{OpenExchange, Pending, Standing};
use vouch_core::exchange::{Decided, Verdict};

/// The audit log of the wallet in `dir`, whose instance `pair` is.
pub(crate) fn wallet_log(
    dir: &std::path::Path,
    pair: &KeyPair,
) -> Result<vouch_wallet::store::WalletLog> {
    let instance = did_key::did_of(&pair.public());
    let store = vouch_wallet::store::WalletStore::open(dir, &instance)
        .with_context(|| dir.display().to_string())?;
    Ok(std::sync::Arc::new(store).log(&instance))
}

/// Records a delegation in the wallet's audit log, when there is one.
pub(crate) fn record_delegation(
    wallet: Option<&std::path::Path>,
    pair: &KeyPair,
    parent: &AgentCapabilityCredential,
    signed: &serde_json::Value,
    now: DateTime<Utc>,
) -> Result<()> {
    let Some(wallet) = wallet else {
        return Ok(());
    };
    let entry = vouch_wallet::records::delegation_entry(parent, signed);
    wallet_log(wallet, pair)?.record(entry, now)?;
    Ok(())
}

fn secret_of(args: &SecretArgs) -> Result<vouch_wallet::keystore::Secret> {
    use vouch_wallet::keystore::Secret;
    match (&args.passphrase_file, &args.raw_key_file) {
        (Some(path), _) => {
            let text = zeroize::Zeroizing::new(
                std::fs::read_to_string(path).with_context(|| path.display().to_string())?,
            );
            let line = text.lines().next().unwrap_or_default();
            if line.is_empty() {
                bail!("{}: an empty passphrase", path.display());
            }
            Ok(Secret::Passphrase(zeroize::Zeroizing::new(line.to_owned())))
        }
        (None, Some(path)) => Ok(Secret::raw_from_file(path)?),
        (None, None) => bail!("--passphrase-file or --raw-key-file"),
    }
}

/// The capabilities given as JSON arguments.
fn capabilities_of(arguments: &[String]) -> Result<Vec<Value>> {
    arguments
        .iter()
        .map(|c| serde_json::from_str::<Value>(c).with_context(|| format!("--capability {c}")))
        .collect()
}

/// Prints each capability's decision, one per line: `accepted <action> <resource>` or
/// `rejected <action> <resource>: <reason>`. Success only if every one was accepted.
fn print_decisions(decisions: &[Decided]) -> Result<ExitCode> {
    let mut all = true;
    for decided in decisions {
        let capability = &decided.capability;
        let (action, resource) = (
            capability["action"].as_str().unwrap_or("?"),
            capability["resource"].as_str().unwrap_or("?"),
        );
        match (decided.decision, decided.reason) {
            (Verdict::Accepted, _) => println!("accepted {action} {resource}"),
            (Verdict::Rejected, reason) => {
                all = false;
                let reason = reason.map_or("no reason given", |r| r.as_str());
                println!("rejected {action} {resource}: {reason}");
            }
        }
    }
    Ok(if all {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Sends one request to the daemon at `socket`; its answer's `ok`, or its refusal.
fn ask_daemon(socket: &Path, request: Request) -> Result<Value> {
    Ok(DaemonClient::new(socket).ask(&request)?)
}

/// The daemon's answer to `request`, as the operation's type.
fn ask_daemon_as<A: serde::de::DeserializeOwned>(socket: &Path, request: Request) -> Result<A> {
    Ok(DaemonClient::new(socket).ask_as(&request)?)
}

pub(crate) fn wallet(command: WalletCommand) -> Result<ExitCode> {
    use vouch_wallet::{daemon, keystore};
    match command {
        WalletCommand::Seal { key, out, secret } => {
            let pair = keyfile::read(&key)?;
            let sealed = keystore::seal(&pair, &secret_of(&secret)?, keystore::Cost::default())?;
            keystore::write(&out, &sealed)?;
            println!("{}", sealed.did());
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Serve {
            wallet,
            sealed_key,
            secret,
            ephemeral,
            socket,
            node,
            consortium,
            listen,
            status_refresh_ms,
            card_listen,
            card_name,
            card_description,
            card_url,
        } => {
            let card = card_name.map(|name| daemon::CardAsk {
                name,
                description: card_description,
                url: card_url,
                version: None,
            });
            let listen = listen
                .iter()
                .map(|a| {
                    a.parse::<vouch_wallet::p2p::Multiaddr>()
                        .with_context(|| format!("--listen {a}"))
                })
                .collect::<Result<Vec<_>>>()?;
            let pair = match (ephemeral, &sealed_key) {
                (true, _) => {
                    let pair = KeyPair::generate();
                    vouch_wallet::log_line!(
                        "ephemeral instance {} (its key in memory only)",
                        did_key::did_of(&pair.public())
                    );
                    pair
                }
                (false, Some(sealed)) => keystore::read(sealed, &secret_of(&secret)?, None)?,
                (false, None) => bail!("--sealed-key or --ephemeral"),
            };
            // The daemon's own uid (Linux: the owner of /proc/self): the one caller it answers.
            let uid =
                std::fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m))?;
            let mut state = daemon::Daemon::open(&wallet, pair, uid)?;
            if let Some(node) = &node {
                let freshness = vouch_wallet::knowledge::Freshness {
                    lists: std::time::Duration::from_millis(status_refresh_ms),
                    ..Default::default()
                };
                if consortium.is_none() {
                    vouch_wallet::log_line!(
                        "no --consortium: no issuer is trusted; capabilities shown to this agent are rejected untrusted_issuer"
                    );
                }
                state = state.with_node(node_url(node)?, consortium, freshness);
            }
            let state = std::sync::Arc::new(state);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(async {
                // The card is checked, and its port taken, before the socket is: a bad flag
                // leaves nothing behind.
                let card_listener = match (card_listen, card) {
                    (Some(at), Some(card)) => {
                        state
                            .card(card.clone())
                            .map_err(|e| anyhow::anyhow!("the agent card: {}", e.message))?;
                        let listener = tokio::net::TcpListener::bind(at)
                            .await
                            .with_context(|| format!("--card-listen {at}"))?;
                        Some((listener, card))
                    }
                    _ => None,
                };
                let listener =
                    daemon::bind(&socket).with_context(|| socket.display().to_string())?;
                let (stop, stopped) = tokio::sync::watch::channel(false);
                let mut network_stop = stopped.clone();
                let addresses = state
                    .join(&listen, async move {
                        let _ = network_stop.wait_for(|s| *s).await;
                    })
                    .await?;
                vouch_wallet::log_line!("wallet daemon listening on {}", socket.display());
                for address in addresses {
                    vouch_wallet::log_line!("exchanges at {address}");
                }
                if let Some((listener, card)) = card_listener {
                    let bound = listener.local_addr()?;
                    let mut card_stop = stopped.clone();
                    tokio::spawn(daemon::serve_card(
                        state.clone(),
                        listener,
                        card,
                        async move {
                            let _ = card_stop.wait_for(|s| *s).await;
                        },
                    ));
                    vouch_wallet::log_line!(
                        "agent card at http://{bound}/.well-known/agent-card.json"
                    );
                }
                let mut tending_stop = stopped.clone();
                let tending = tokio::spawn(daemon::tend(
                    state.clone(),
                    std::time::Duration::from_secs(30),
                    async move {
                        let _ = tending_stop.wait_for(|s| *s).await;
                    },
                ));
                // Until SIGINT or SIGTERM: then the socket is removed and the database closed.
                let mut terminate =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
                daemon::serve(listener, state, async move {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = terminate.recv() => {}
                    }
                })
                .await;
                let _ = stop.send(true);
                let _ = tending.await;
                anyhow::Ok(())
            })?;
            let _ = std::fs::remove_file(&socket);
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Credentials { socket, task } => {
            let held = ask_daemon(&socket, Request::Credentials { task })?;
            for credential in held.as_array().into_iter().flatten() {
                println!("{credential}");
            }
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Add {
            socket,
            credential,
            chain,
        } => {
            let mut credential = read_json_file(&credential)?;
            let mut chain = chain
                .iter()
                .map(|path| read_json_file(path))
                .collect::<Result<Vec<_>>>()?;
            // A delegation as `vouch wallet delegate` prints it: the credential and its chain.
            if let Some(bundle) = credential.as_object()
                && bundle.len() == 2
                && let (Some(inner), Some(Value::Array(above))) =
                    (bundle.get("credential"), bundle.get("chain"))
            {
                chain.extend(above.iter().cloned());
                credential = inner.clone();
            }
            let answer: Added =
                ask_daemon_as(&socket, Request::AddCredential { credential, chain })?;
            println!("{}", serde_json::to_string(&answer)?);
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Delegate {
            socket,
            parent,
            to,
            capabilities,
        } => {
            let capabilities = serde_json::from_value(read_json_file(&capabilities)?)
                .context("the capabilities are a JSON list")?;
            let delegated: Delegated = ask_daemon_as(
                &socket,
                Request::Delegate {
                    parent,
                    to,
                    capabilities,
                    valid_until: None,
                },
            )?;
            println!("{}", serde_json::to_string(&delegated)?);
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::BindingProof { socket, definition } => {
            let proof = ask_daemon(&socket, Request::BindingProof { definition })?;
            print_json(&proof)?;
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::RequestApproval { socket, request } => {
            let request: serde_json::Value =
                serde_json::from_str(&request).context("--request is a JSON object")?;
            let pending = ask_daemon(&socket, Request::RequestApproval { request })?;
            print_json(&pending)?;
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Approval { socket, id } => {
            let pending: Pending = ask_daemon_as(&socket, Request::ApprovalStatus { id })?;
            print_json(&serde_json::to_value(&pending)?)?;
            Ok(if pending.standing == Standing::Approved {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        WalletCommand::SignRequest {
            socket,
            method,
            url,
            headers,
            body,
            credential,
            action,
            arguments,
            present,
            signature_agent,
        } => {
            use base64::Engine as _;
            let headers = headers
                .iter()
                .map(|h| {
                    let (name, value) = h
                        .split_once(':')
                        .with_context(|| format!("--header {h:.64}: name: value"))?;
                    Ok(HeaderField {
                        name: name.trim().to_owned(),
                        value: value.trim().to_owned(),
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let body = body
                .map(|path| std::fs::read(&path).with_context(|| path.display().to_string()))
                .transpose()?
                .map(|bytes| base64::engine::general_purpose::STANDARD.encode(bytes));
            let arguments = match arguments {
                Some(text) => {
                    match serde_json::from_str(&text).context("--arguments is a JSON object")? {
                        Value::Object(map) => map,
                        _ => anyhow::bail!("--arguments is a JSON object"),
                    }
                }
                None => serde_json::Map::new(),
            };
            let signed: SignedRequest = ask_daemon_as(
                &socket,
                Request::SignRequest(SignAsk {
                    method,
                    url,
                    headers,
                    body,
                    credential,
                    action,
                    arguments,
                    present,
                    signature_agent,
                }),
            )?;
            for field in signed.headers {
                println!("{}: {}", field.name, field.value);
            }
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Identity { socket } => {
            let identity: Identity = ask_daemon_as(&socket, Request::Identity {})?;
            println!("{}", serde_json::to_string(&identity)?);
            Ok(ExitCode::SUCCESS)
        }
        WalletCommand::Exchange {
            socket,
            peer,
            capabilities,
            query,
            present,
        } => {
            let capabilities = capabilities_of(&capabilities)?;
            let query = query.as_deref().map(read_json_file).transpose()?;
            let answer: Exchanged = ask_daemon_as(
                &socket,
                Request::Exchange(ExchangeAsk {
                    peer,
                    capabilities,
                    query,
                    domain: None,
                    present: (!present.is_empty()).then_some(present),
                }),
            )?;
            println!("{}", answer.decision);
            if let Some(refusal) = &answer.refusal {
                eprintln!("the prover did not take the decision: {refusal}");
            }
            print_decisions(&answer.decisions)
        }
        WalletCommand::Prove {
            socket,
            node,
            capabilities,
            query,
        } => {
            let capabilities = capabilities_of(&capabilities)?;
            let query = query.as_deref().map(read_json_file).transpose()?;
            let client = vouch_api::node::NodeClient::new(node_url(&node)?);
            let opened = client.open_exchange(&OpenExchange {
                capabilities,
                query,
            })?;
            let response = ask_daemon(
                &socket,
                Request::Answer {
                    request: opened.request,
                },
            )?;
            let decided = client.answer_exchange(&opened.exchange_id, &response)?;
            // The daemon checks the decision (signed by the node it authenticated, for this
            // exchange, once) before it is believed.
            let checked: Accepted = ask_daemon_as(
                &socket,
                Request::Accept {
                    decision: decided.decision.clone(),
                },
            )?;
            println!("{}", decided.decision);
            print_decisions(&checked.decisions)
        }
    }
}
