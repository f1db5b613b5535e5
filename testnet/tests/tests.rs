//! `vouch-testnet` driven as a user drives it: up, measure, down, on real node processes.

use std::process::Command;

fn testnet(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_vouch-testnet"))
        .arg("--dir")
        .arg(dir)
        .args(args)
        .output()
        .expect("vouch-testnet runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn up_measure_down() {
    let dir = tempfile::tempdir().expect("tempdir");
    let net = dir.path().join("net");
    let (ok, out) = testnet(&net, &["up", "--nodes", "3"]);
    assert!(ok, "{out}");
    assert!(out.contains("3 nodes meshed"), "{out}");
    assert_eq!(out.lines().filter(|l| l.starts_with("node-")).count(), 3);
    // A second `up` on a running testnet is refused.
    let (ok, out2) = testnet(&net, &["up", "--nodes", "3"]);
    assert!(!ok && out2.contains("already up"), "{out2}");

    let (ok, measured) = testnet(&net, &["measure", "--updates", "5"]);
    let (down_ok, down) = testnet(&net, &["down"]);
    assert!(ok, "{measured}");
    assert!(measured.contains("5 DID updates"), "{measured}");
    assert!(measured.contains("5 revocations"), "{measured}");
    // Updates, revocations, then each of the five levels, refused by every node's service,
    // and an access token inactive at every node's introspection once its task is revoked.
    assert_eq!(measured.matches("(15 arrivals)").count(), 8, "{measured}");
    assert!(
        measured.contains("access token inactive at the introspection of all 3 nodes"),
        "{measured}"
    );
    assert!(
        measured.contains("30 signed revocation events held by all 3 nodes"),
        "{measured}"
    );
    for level in ["credential", "agent", "task", "chain", "owner"] {
        assert!(
            measured.contains(&format!("5 `{level}` revocations")),
            "{measured}"
        );
    }
    assert!(down_ok && down.contains("3 nodes stopped"), "{down}");
    let (ok, out) = testnet(&net, &["measure", "--updates", "1"]);
    assert!(!ok && out.contains("not every node is running"), "{out}");
}
