//! Partitions: members refused on purpose (their connections closed and refused both ways, not
//! the nodes stopped), work published on both sides, then the partition healed. Anti-entropy must
//! bring every node to the same state, and no honest member may be blamed for what was valid
//! when it was made.

use chrono::Utc;
use vouch_api::node::client::STATUS_LISTS;
use vouch_node::fault::Judgement;

use crate::common::{TestNode, consortium_of, eventually, get, version_at, wait_connected};

use crate::common::rotate;

/// Sets bit `index` of the node's list `revocation-1`; returns the list's URL path.
fn revoke(node: &TestNode, index: usize) -> String {
    crate::common::set_bit(node, "revocation-1", index);
    format!("{STATUS_LISTS}{}/revocation-1", node.node().identity.did)
}

/// The list at `path` as `node` serves it, if it does.
fn list_at(node: &TestNode, path: &str) -> Option<serde_json::Value> {
    let answer = get(&node.url(path), None);
    (answer.status == 200).then(|| answer.json())
}

fn counter(node: &TestNode, name: &str) -> u64 {
    let metrics = node.node().registry.metrics();
    match name {
        "peers_disconnected" => metrics.peers_disconnected.get(),
        "gossip_rejected" => metrics.gossip_rejected.get(),
        "sync_bytes_sent" => metrics.sync_bytes_sent.get(),
        _ => panic!("no counter {name}"),
    }
}

fn peer_ids(nodes: &[TestNode], which: &[usize]) -> Vec<String> {
    which
        .iter()
        .map(|&i| nodes[i].node().identity.peer_id.clone())
        .collect()
}

/// Cuts `side` off from the other nodes, or heals the cut: each side refuses (or admits) the
/// other's peers.
fn cut(nodes: &[TestNode], side: &[usize], heal: bool) {
    let rest: Vec<usize> = (0..nodes.len()).filter(|i| !side.contains(i)).collect();
    for (members, others) in [(side, rest.as_slice()), (rest.as_slice(), side)] {
        let peers = peer_ids(nodes, others);
        for &i in members {
            let node = &nodes[i];
            let network = node.node().network.clone().expect("a network");
            node.runtime
                .block_on(async {
                    if heal {
                        network.admit(&peers).await
                    } else {
                        network.refuse(&peers).await
                    }
                })
                .expect("the network takes the command");
        }
    }
}

/// Waits until each node `i` is connected to `counts(i)` members.
fn wait_all_connected(nodes: &[TestNode], counts: impl Fn(usize) -> usize) {
    for (i, node) in nodes.iter().enumerate() {
        wait_connected(node, counts(i));
    }
}

#[test]
fn a_partitioned_network_heals_and_every_node_converges() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes: Vec<TestNode> = consortium_of(dir.path(), 10)
        .into_iter()
        .map(TestNode::start)
        .collect();
    let dids: Vec<String> = nodes
        .iter()
        .map(|n| n.node().identity.did.to_string())
        .collect();
    for node in &nodes {
        for did in &dids {
            eventually(node, "every node to hold every DID", || {
                version_at(node, did).is_some()
            });
        }
    }
    wait_all_connected(&nodes, |_| 9);

    let side = [7, 8, 9];
    cut(&nodes, &side, false);
    wait_all_connected(&nodes, |i| if side.contains(&i) { 2 } else { 6 });

    // Both sides publish: a key rotation and a revocation each.
    rotate(&nodes[0]);
    let list_0 = revoke(&nodes[0], 1);
    rotate(&nodes[9]);
    let list_9 = revoke(&nodes[9], 2);
    for (i, node) in nodes.iter().enumerate() {
        let (ours, theirs) = if side.contains(&i) { (9, 0) } else { (0, 9) };
        let list = if ours == 0 { &list_0 } else { &list_9 };
        eventually(node, "each side to converge on its own", || {
            version_at(node, &dids[ours]).as_deref() == Some("2") && list_at(node, list).is_some()
        });
        // The partition is real: nothing crossed it.
        assert_eq!(
            version_at(node, &dids[theirs]).as_deref(),
            Some("1"),
            "node {i}"
        );
    }

    let bytes_before: u64 = nodes.iter().map(|n| counter(n, "sync_bytes_sent")).sum();
    let healed = std::time::Instant::now();
    cut(&nodes, &side, true);
    let want_0 = list_at(&nodes[0], &list_0).expect("node 0's list");
    let want_9 = list_at(&nodes[9], &list_9).expect("node 9's list");
    for node in &nodes {
        eventually(
            node,
            "every node to converge after the partition heals",
            || {
                version_at(node, &dids[0]).as_deref() == Some("2")
                    && version_at(node, &dids[9]).as_deref() == Some("2")
                    && list_at(node, &list_0).as_ref() == Some(&want_0)
                    && list_at(node, &list_9).as_ref() == Some(&want_9)
            },
        );
    }
    let bytes_after: u64 = nodes.iter().map(|n| counter(n, "sync_bytes_sent")).sum();
    eprintln!(
        "converged {:?} after healing; anti-entropy sent {} payload bytes meanwhile",
        healed.elapsed(),
        bytes_after - bytes_before
    );
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(counter(node, "peers_disconnected"), 0, "node {i}");
        assert_eq!(counter(node, "gossip_rejected"), 0, "node {i}");
    }
}

#[test]
fn a_node_back_from_a_partition_blames_no_honest_member_for_rotated_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let nodes: Vec<TestNode> = consortium_of(dir.path(), 3)
        .into_iter()
        .map(TestNode::start)
        .collect();
    let (a, c) = (&nodes[0], &nodes[2]);
    let did_a = a.node().identity.did.to_string();
    let list = revoke(a, 1);
    eventually(c, "c to hold a's list", || list_at(c, &list).is_some());
    wait_all_connected(&nodes, |_| 2);

    cut(&nodes, &[2], false);
    wait_all_connected(&nodes, |i| if i == 2 { 0 } else { 1 });
    // 20 rotations on a's side, each signing the list anew: every version signed with a key
    // that the next rotation takes away.
    let mut versions = Vec::new();
    for _ in 0..20 {
        rotate(a);
        versions.push(list_at(a, &list).expect("a's list"));
    }
    cut(&nodes, &[2], true);
    let newest = versions.last().cloned().expect("20 versions");
    eventually(c, "c to catch up with the rotations", || {
        version_at(c, &did_a).as_deref() == Some("21")
            && list_at(c, &list).as_ref() == Some(&newest)
    });

    // Every version before the newest, sent to c again: valid when it was signed, stale now,
    // and nobody's fault.
    for version in &versions[..versions.len() - 1] {
        let bytes = serde_json::to_vec(version).expect("JSON");
        assert_eq!(
            c.node().status_lists.receive(&bytes, Utc::now()),
            Judgement::Known
        );
    }
    for (i, node) in nodes.iter().enumerate() {
        assert_eq!(counter(node, "peers_disconnected"), 0, "node {i}");
        assert_eq!(counter(node, "gossip_rejected"), 0, "node {i}");
    }
}
