//! The `vouch` CLI driven as users and outside tools drive it: real binary, temporary folders.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn vouch(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vouch starts");
    // A command that exits before reading its input (bad arguments) closes the pipe early.
    match child.stdin.take().expect("stdin").write_all(stdin) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => panic!("writing stdin: {e}"),
        _ => {}
    }
    child.wait_with_output().expect("vouch runs")
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

fn vectors() -> PathBuf {
    std::env::var_os("VOUCH_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors"))
}

fn vector_key(dir: &Path) -> PathBuf {
    let path = dir.join("vector.key.json");
    std::fs::copy(vectors().join("vc-di-eddsa/keyPair.json"), &path).expect("copied");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    path
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

#[test]
fn key_generate_and_did() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = dir.path().join("a.key.json");
    let out = vouch(&["key", "generate", "--out", path(&key)], b"");
    assert_eq!(code(&out), 0);
    let did = stdout(&out).trim().to_owned();
    assert!(did.starts_with("did:key:z6Mk"), "{did}");
    let mode = std::fs::metadata(&key).expect("file").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let out = vouch(&["key", "did", "--key", path(&key), "--json"], b"");
    let json: Value = serde_json::from_str(&stdout(&out)).expect("json");
    assert_eq!(json["did"], did);
    // Never overwrites.
    assert_eq!(
        code(&vouch(&["key", "generate", "--out", path(&key)], b"")),
        2
    );
}

#[test]
fn sign_reproduces_the_w3c_vectors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = vector_key(dir.path());
    let unsigned = std::fs::read(vectors().join("vc-di-eddsa/unsigned.json")).expect("vector");
    for (suite, sig) in [
        (
            "eddsa-rdfc-2022",
            "vc-di-eddsa/eddsa-rdfc-2022/sigBTC58DataInt.txt",
        ),
        (
            "eddsa-jcs-2022",
            "vc-di-eddsa/eddsa-jcs-2022/sigBTC58JCS.txt",
        ),
    ] {
        let out = vouch(
            &[
                "credential",
                "sign",
                "--key",
                path(&key),
                "--suite",
                suite,
                "--created",
                "2023-02-24T23:36:38Z",
            ],
            &unsigned,
        );
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
        let signed: Value = serde_json::from_str(&stdout(&out)).expect("json");
        let expected = std::fs::read_to_string(vectors().join(sig)).expect("vector");
        assert_eq!(signed["proof"]["proofValue"], expected.trim(), "{suite}");
        // The vector's issuer is not its signer: the proof is valid, the credential is not.
        let out = vouch(&["credential", "verify", "--json"], stdout(&out).as_bytes());
        assert_eq!(code(&out), 1);
        let report: Value = serde_json::from_str(&stdout(&out)).expect("report");
        assert_eq!(report["verified"], false);
        assert_eq!(report["checks"][0]["reason"], "invalid_proof");
    }
}

#[test]
fn unusable_input_exits_2() {
    assert_eq!(code(&vouch(&["credential", "verify"], b"not json")), 2);
    assert_eq!(
        code(&vouch(
            &["credential", "verify", "--now", "yesterday"],
            b"{}"
        )),
        2
    );
    let huge = vec![b' '; 200 * 1024];
    assert_eq!(code(&vouch(&["credential", "verify"], &huge)), 2);
    assert_eq!(code(&vouch(&["did", "resolve", "did:key:nope"], b"")), 2);
    assert_eq!(code(&vouch(&["no-such-command"], b"")), 2);
}

#[test]
fn issue_delegate_present_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str| dir.path().join(name);
    let keygen = |name: &str| {
        let out = vouch(&["key", "generate", "--out", path(&file(name))], b"");
        stdout(&out).trim().to_owned()
    };
    let (org, agent, sub) = (keygen("org"), keygen("agent"), keygen("sub"));
    std::fs::write(
        file("agent.json"),
        r#"{"name":"bot","version":"1","owner":"o@x.example","model":"m",
        "systemPrompt":"p","tools":[],"configuration":{}}"#,
    )
    .expect("written");
    std::fs::write(
        file("caps.json"),
        r#"[{"action":"read:tickets","resource":"https://h.example/t/**",
        "constraints":{"maxRecords":{"value":100,"unit":"records"}}}]"#,
    )
    .expect("written");
    std::fs::write(
        file("narrow.json"),
        r#"[{"action":"read:tickets","resource":"https://h.example/t/open/*",
        "constraints":{"maxRecords":{"value":10,"unit":"records"}}}]"#,
    )
    .expect("written");
    std::fs::write(
        file("wide.json"),
        r#"[{"action":"read:*","resource":"https://h.example/t/**"}]"#,
    )
    .expect("written");

    let out = vouch(
        &[
            "credential",
            "issue",
            "--key",
            path(&file("org")),
            "--to",
            &agent,
            "--capabilities",
            path(&file("caps.json")),
            "--agent",
            path(&file("agent.json")),
            "--principal",
            "urn:vouch:principal:p1",
            "--task",
            "t1",
            "--purpose",
            "triage",
            "--suite",
            "eddsa-jcs-2022",
        ],
        b"",
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(file("agent.vc"), &out.stdout).expect("written");

    let delegate = |caps: &str| {
        vouch(
            &[
                "credential",
                "delegate",
                "--key",
                path(&file("agent")),
                "--parent",
                path(&file("agent.vc")),
                "--to",
                &sub,
                "--capabilities",
                path(&file(caps)),
            ],
            b"",
        )
    };
    let out = delegate("narrow.json");
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(file("sub.vc"), &out.stdout).expect("written");
    let refused = delegate("wide.json");
    assert_eq!(code(&refused), 2);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("exceeds the parent"));

    let out = vouch(
        &[
            "presentation",
            "create",
            "--key",
            path(&file("sub")),
            "--challenge",
            "c1",
            "--domain",
            "d.example",
            path(&file("agent.vc")),
            path(&file("sub.vc")),
        ],
        b"",
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let vp = out.stdout;
    let verify = |challenge: &str, trust: &str| {
        vouch(
            &[
                "presentation",
                "verify",
                "--challenge",
                challenge,
                "--domain",
                "d.example",
                "--trust",
                trust,
                "--json",
            ],
            &vp,
        )
    };
    let ok = verify("c1", &org);
    assert_eq!(code(&ok), 0, "{}", stdout(&ok));
    let replayed: Value = serde_json::from_str(&stdout(&verify("c2", &org))).expect("report");
    assert_eq!(replayed["verified"], false);
    assert!(
        replayed["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .any(|c| c["reason"] == "replayed")
    );
    let untrusted = verify("c1", &sub);
    assert_eq!(code(&untrusted), 1);
    assert!(stdout(&untrusted).contains("untrusted_issuer"));
}
