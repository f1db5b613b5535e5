//! Witnessing on loopback: members cosign each other's audit log checkpoints when the log's
//! consistency proof holds, and a node that rewrites its log is caught, with the evidence kept,
//! while an honest node never is.

use serde_json::{Value, json};

use crate::common::{TestNode, consortium_of, eventually, get, wait_connected};

/// Appends `n` entries to the node's audit log: credentials issued to an agent of its org, each
/// issuance recorded. (Refusals of anonymous callers would not do: those of one caller in a
/// minute are counted in one entry.)
fn append(node: &TestNode, n: usize) {
    let key = vouch_core::key::KeyPair::generate();
    let capabilities =
        json!([{"action": "call:billing:refund", "resource": "https://billing.example/refunds/*"}]);
    crate::common::agent_credential(node, &key, "witnessed", capabilities.clone());
    for _ in 1..n {
        crate::common::issue_to(node, &key, "witnessed", capabilities.clone());
    }
}

fn origin(node: &TestNode) -> String {
    format!("{}/audit", node.node().identity.did)
}

fn witness_name(node: &TestNode) -> String {
    format!("{}/witness", node.node().identity.did)
}

/// The checkpoint `node` holds of the log of `of`.
fn held(node: &TestNode, of: &TestNode) -> Option<Value> {
    let held =
        serde_json::to_value(node.client().witnessed().expect("the checkpoints")).expect("JSON");
    held["checkpoints"]
        .as_array()
        .expect("a list")
        .iter()
        .find(|c| c["origin"] == origin(of).as_str())
        .cloned()
}

fn size_held(node: &TestNode, of: &TestNode) -> Option<u64> {
    held(node, of).and_then(|c| c["size"].as_u64())
}

fn cosigned_by(node: &TestNode, of: &TestNode, witness: &TestNode) -> bool {
    held(node, of).is_some_and(|c| {
        c["cosigners"]
            .as_array()
            .expect("a list")
            .iter()
            .any(|w| w == witness_name(witness).as_str())
    })
}

fn evidence(node: &TestNode) -> Vec<Value> {
    let held = node.client().evidence().expect("the evidence").evidence;
    held.iter()
        .map(|e| serde_json::to_value(e).expect("JSON"))
        .collect()
}

fn evidence_against(node: &TestNode, of: &TestNode, reason: &str) -> bool {
    evidence(node).iter().any(|e| {
        e["origin"] == origin(of).as_str()
            && e["reason"].as_str().expect("a reason").contains(reason)
    })
}

fn counter(node: &TestNode, name: &str) -> u64 {
    let text = get(&node.url("/metrics"), None).body;
    text.lines()
        .find_map(|line| line.strip_prefix(&format!("{name} ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in the metrics"))
}

/// Sets the node's audit log back to `size` entries in its database, as an operator with access
/// to it could: the entries after are no longer part of the log and the next ones overwrite
/// them.
fn truncate_audit_log(node: TestNode, size: u64) -> TestNode {
    let config = node.config.clone();
    drop(node);
    let path = config.data_dir.join(vouch_node::datadir::DB);
    {
        let families = rocksdb::DB::list_cf(&rocksdb::Options::default(), &path).expect("families");
        let db = rocksdb::DB::open_cf(&rocksdb::Options::default(), &path, families).expect("open");
        let meta = db.cf_handle("meta").expect("the meta family");
        db.put_cf(meta, b"audit/size", size.to_be_bytes())
            .expect("written");
    }
    TestNode::start(config)
}

#[test]
fn a_node_that_rewrites_its_audit_log_is_caught_by_its_witnesses_and_an_honest_one_never_is() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut configs = consortium_of(dir.path(), 3);
    for config in &mut configs {
        config.audit.checkpoint_interval_secs = 1;
    }
    let a = TestNode::start(configs[0].clone());
    let b = TestNode::start(configs[1].clone());
    let c = TestNode::start(configs[2].clone());
    for node in [&a, &b, &c] {
        wait_connected(node, 2);
    }

    // Both witnesses cosign a's first checkpoint, and a gathers their cosignatures.
    append(&a, 4);
    append(&b, 2);
    for witness in [&b, &c] {
        eventually(witness, "a's log to be witnessed", || {
            size_held(witness, &a) == Some(4) && cosigned_by(witness, &a, witness)
        });
    }
    eventually(&a, "a to gather its witnesses' cosignatures", || {
        cosigned_by(&a, &a, &b) && cosigned_by(&a, &a, &c)
    });

    // An auditor checks a's log against the checkpoint its witnesses cosigned, with their keys
    // from the consortium genesis: a quorum of 2 holds, of 3 does not (a does not witness
    // itself).
    {
        use vouch_wallet::audit::{
            Finding, check, check_cosigned, fetch, fetch_witnessed, members,
        };
        let genesis = std::fs::read_to_string(configs[0].data_dir.join("consortium.json"))
            .expect("the genesis");
        let members = members(&genesis, "").expect("members");
        let did_a = a.node().identity.did.to_string();
        let key_a = members
            .iter()
            .find(|(did, _)| *did == did_a)
            .map(|(_, key)| *key)
            .expect("a is a member");
        let witnesses: Vec<_> = members
            .iter()
            .filter(|(did, _)| *did != did_a)
            .map(|(did, key)| (format!("{did}/witness"), *key))
            .collect();
        let note = fetch_witnessed(&a.url(""), &origin(&a)).expect("held");
        let cosigned =
            check_cosigned(&note, &origin(&a), &key_a, &witnesses, 2).expect("a quorum of 2");
        assert_eq!((cosigned.size, cosigned.cosigners.len()), (4, 2));
        assert!(check_cosigned(&note, &origin(&a), &key_a, &witnesses, 3).is_err());
        let (_, entries) = fetch(&a.url("")).expect("the log");
        assert!(matches!(
            check(&entries, &cosigned.note, &origin(&a), &key_a).expect("checked"),
            Finding::Verified { size: 4, .. }
        ));
    }

    // b's log grows: its witnesses check the proof that 5 entries extend 2, and cosign.
    eventually(&c, "b's log to be witnessed", || {
        size_held(&c, &b) == Some(2)
    });
    append(&b, 3);
    for witness in [&a, &c] {
        eventually(witness, "b's growth to be witnessed", || {
            size_held(witness, &b) == Some(5) && cosigned_by(witness, &b, witness)
        });
    }

    // a drops the last three entries of its log: the checkpoint it signs next (1 entry, then 2
    // once it appends) has no consistency with the 4 it signed — it no longer has that tree.
    let a = truncate_audit_log(a, 1);
    wait_connected(&a, 2);
    append(&a, 1);
    for witness in [&b, &c] {
        eventually(witness, "the rollback to be caught", || {
            evidence_against(witness, &a, "fewer than the 4 it signed")
        });
    }
    // It appends until its log has 4 entries again, all different: two checkpoints of 4.
    append(&a, 2);
    for witness in [&b, &c] {
        eventually(witness, "the rewrite to be caught", || {
            evidence_against(witness, &a, "different roots")
        });
    }
    // And grows past it: its proof that 5 entries extend the 4 it signed first cannot hold.
    append(&a, 1);
    for witness in [&b, &c] {
        eventually(witness, "the failed proof to be caught", || {
            evidence_against(witness, &a, "does not verify")
        });
    }

    for witness in [&b, &c] {
        // The witnesses still hold the checkpoint they cosigned, not the rewritten log's.
        assert_eq!(size_held(witness, &a), Some(4));
        let kept = evidence(witness);
        for piece in &kept {
            assert_eq!(piece["origin"], origin(&a).as_str(), "{piece}");
            assert!(piece["held"].as_str().expect("a note").contains("\n4\n"));
        }
        assert_eq!(
            counter(witness, "vouch_audit_forks_total"),
            kept.len() as u64
        );
    }
    // The honest nodes are never reported: a holds no evidence against b or c.
    assert!(evidence(&a).is_empty(), "{:?}", evidence(&a));
    assert_eq!(counter(&a, "vouch_audit_forks_total"), 0);
    assert_eq!(size_held(&a, &b), Some(5));
}
