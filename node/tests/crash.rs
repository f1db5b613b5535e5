//! `kill -9` while the node is acknowledging writes: after a restart it still has every write it
//! acknowledged.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;
use vouch_api::node::routes::{self, IDENTIFIERS};

use chrono::Utc;
use vouch_core::audit::Event;
use vouch_core::did_vouch::{self, DocumentContent};
use vouch_core::key::KeyPair;
use vouch_core::revocation::{Change, RevocationEvent};
use vouch_keyfile as keyfile;
use vouch_node::audit::AuditLog;
use vouch_node::registry::Registry;
use vouch_node::store::Store;
use vouch_node::{datadir, metrics::Metrics};

use crate::common::{get, node, run, try_post, write_config};

fn stored_log(data: &Path, did: &vouch_core::did::Did) -> did_vouch::DidLog {
    let store = Store::open(&data.join(datadir::DB)).expect("opens");
    Registry::new(Arc::new(store), Metrics::new())
        .log(did)
        .expect("reads")
        .expect("held")
}

/// A node initialized by `vouch-node init` in `dir`, not running.
struct Initialized {
    config: std::path::PathBuf,
    http: u16,
    data: std::path::PathBuf,
    identity: datadir::Identity,
    token: String,
}

fn initialized(dir: &Path) -> Initialized {
    let (config, http) = write_config(dir);
    assert!(node(&config, "init").status().expect("runs").success());
    let data = dir.join("data");
    let identity = datadir::identity(&data).expect("identity");
    let token = std::fs::read_to_string(data.join("admin.token")).expect("token");
    Initialized {
        config,
        http,
        data,
        identity,
        token,
    }
}

#[test]
fn kill_9_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Initialized {
        config,
        http,
        data,
        identity,
        token,
    } = initialized(dir.path());
    let mut log = stored_log(&data, &identity.did);

    let mut child = run(&config);
    // The writer reports each acknowledged version; the test kills the node at the 20th while
    // the writer goes on writing.
    let (acks, acknowledged) = mpsc::channel();
    let writer = {
        let mut key = keyfile::read(&datadir::update_key_path(&data, 2)).expect("update key");
        std::thread::spawn(move || {
            let url = format!("http://127.0.0.1:{http}{}", routes::DID_OPERATIONS.path);
            loop {
                let next = KeyPair::generate();
                let operation = did_vouch::update(
                    &log,
                    DocumentContent::single_key(&KeyPair::generate().public()),
                    &key,
                    &[next.public()],
                    Utc::now(),
                )
                .expect("an update");
                match try_post(&url, &operation.to_json(), Some(&token)) {
                    Some(answer) if answer.status == 200 => {
                        log.apply(operation).expect("applies locally");
                        let _ = acks.send(log.version());
                        key = next;
                    }
                    _ => return,
                }
            }
        })
    };
    let mut last = 1;
    while last < 20 {
        last = acknowledged
            .recv_timeout(Duration::from_secs(60))
            .expect("the node acknowledges writes");
    }
    // SIGKILL while the writer keeps writing.
    child.kill_9();
    writer.join().expect("the writer ends");
    let acknowledged = acknowledged.try_iter().last().unwrap_or(last);

    let after = stored_log(&data, &identity.did);
    eprintln!(
        "acknowledged up to version {acknowledged}, stored {}",
        after.version()
    );
    assert!(
        after.version() >= acknowledged,
        "acknowledged {acknowledged}, found {}",
        after.version()
    );
    // And the node starts again on that folder and serves it.
    let _child = run(&config);
    let answer = get(
        &format!("http://127.0.0.1:{http}{IDENTIFIERS}{}", identity.did),
        None,
    );
    assert_eq!(
        answer.json()["didDocumentMetadata"]["versionId"],
        after.version().to_string()
    );
}

/// `kill -9` while the node revokes task after task, five times over: each revocation (its
/// status list bits and its signed event) and its audit entry are in the store together, or
/// neither is, and the log stays whole.
#[test]
fn kill_9_leaves_every_change_with_its_audit_entry_or_neither() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Initialized {
        config,
        http,
        data,
        identity,
        token,
    } = initialized(dir.path());

    let mut next = 0;
    for round in 0..5 {
        let mut child = run(&config);
        let (acks, acknowledged) = mpsc::channel();
        let writer = {
            let token = token.clone();
            std::thread::spawn(move || {
                let url = format!("http://127.0.0.1:{http}{}", routes::REVOKE.path);
                for i in next.. {
                    let body = format!(
                        "{{\"level\": \"task\", \"subject\": \"task-{i}\", \"preemptive\": true}}"
                    );
                    match try_post(&url, &body, Some(&token)) {
                        Some(answer) if answer.status == 200 => {
                            let _ = acks.send(i);
                        }
                        _ => return,
                    }
                }
            })
        };
        let mut last = next;
        while last < next + 10 {
            last = acknowledged
                .recv_timeout(Duration::from_secs(60))
                .expect("the node acknowledges revocations");
        }
        // SIGKILL while the writer keeps revoking.
        child.kill_9();
        writer.join().expect("the writer ends");
        let last = acknowledged.try_iter().last().unwrap_or(last);

        let store = Arc::new(Store::open(&data.join(datadir::DB)).expect("opens"));
        let log = AuditLog::new(store.clone(), &identity.did.to_string());
        let (size, _) = log.verify().expect("the log is whole");
        let mut entries = Vec::new();
        while (entries.len() as u64) < size {
            entries.extend(log.entries(entries.len() as u64).expect("entries"));
        }
        let mut audited: Vec<String> = entries
            .iter()
            .filter(|e| e.event == Event::Revoked)
            .filter_map(|e| e.task.clone())
            .collect();
        let mut revoked: Vec<String> = store
            .revocation_events(Some(&identity.did), 100_000)
            .expect("events")
            .iter()
            .map(|bytes| {
                let event = RevocationEvent::parse(&serde_json::from_slice(bytes).expect("JSON"))
                    .expect("an event");
                assert_eq!(event.change, Change::Revoked);
                event.subject.id().to_owned()
            })
            .collect();
        audited.sort();
        revoked.sort();
        eprintln!(
            "round {round}: acknowledged up to task-{last}; {} revocations stored, {} audited",
            revoked.len(),
            audited.len()
        );
        assert_eq!(
            audited, revoked,
            "a change without its audit entry, or an entry without its change"
        );
        for i in 0..=last {
            assert!(
                audited.contains(&format!("task-{i}")),
                "task-{i} was acknowledged"
            );
        }
        next = revoked.len();
    }
}
