//! `kill -9` while the node is acknowledging writes: after a restart it still has every write it
//! acknowledged.

use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use chrono::Utc;
use vouch_core::did::vouch::{self, DocumentContent};
use vouch_core::key::KeyPair;
use vouch_node::registry::Registry;
use vouch_node::store::Store;
use vouch_node::{datadir, metrics::Metrics};
use vouch_wallet::keyfile;

use crate::common::{get, node, run, try_post, write_config};

fn stored_log(data: &Path, did: &vouch_core::did::Did) -> vouch::DidLog {
    let store = Store::open(&data.join(datadir::DB)).expect("opens");
    Registry::new(Arc::new(store), Metrics::new())
        .log(did)
        .expect("reads")
        .expect("held")
}

#[test]
fn kill_9_loses_nothing_acknowledged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, http) = write_config(dir.path());
    assert!(node(&config, "init").status().expect("runs").success());
    let data = dir.path().join("data");
    let identity = datadir::identity(&data).expect("identity");
    let token = std::fs::read_to_string(data.join("admin.token")).expect("token");
    let mut log = stored_log(&data, &identity.did);

    let mut child = run(&config);
    // The writer reports each acknowledged version; the test kills the node at the 20th while
    // the writer goes on writing.
    let (acks, acknowledged) = mpsc::channel();
    let writer = {
        let mut key = keyfile::read(&datadir::update_key_path(&data, 2)).expect("update key");
        std::thread::spawn(move || {
            let url = format!("http://127.0.0.1:{http}/admin/did/operations");
            loop {
                let next = KeyPair::generate();
                let operation = vouch::update(
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
        &format!("http://127.0.0.1:{http}/1.0/identifiers/{}", identity.did),
        None,
    );
    assert_eq!(
        answer.json()["didDocumentMetadata"]["versionId"],
        after.version().to_string()
    );
}
