//! The `vouch` CLI driven as users and outside tools drive it: real binary, temporary folders.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

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

/// The reason codes of a JSON report's failed checks.
fn reasons(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter_map(|c| c["reason"].as_str().map(str::to_owned))
        .collect()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

/// The W3C vectors: `$VOUCH_VECTORS`, or `../shared/vectors` beside the project (cargo runs
/// tests in the package's folder).
fn vectors() -> PathBuf {
    std::env::var_os("VOUCH_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../../shared/vectors"))
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

/// `vouch key generate --out path`: the new key's did:key.
fn generate_key(out: &Path) -> String {
    let generated = vouch(&["key", "generate", "--out", path(out)], b"");
    assert_eq!(
        code(&generated),
        0,
        "{}",
        String::from_utf8_lossy(&generated.stderr)
    );
    stdout(&generated).trim().to_owned()
}

/// Issues an agent credential for reading tickets, with `key`, to `to`; `extra` adds arguments.
fn issue(dir: &Path, key: &Path, to: &str, extra: &[&str]) -> Output {
    let (agent, caps) = (dir.join("agent.json"), dir.join("caps.json"));
    std::fs::write(
        &agent,
        r#"{"name":"bot","version":"1","owner":"o@x.example","model":"m",
        "systemPrompt":"p","tools":[],"configuration":{}}"#,
    )
    .expect("written");
    std::fs::write(
        &caps,
        r#"[{"action":"read:tickets","resource":"https://h.example/t/**",
        "constraints":{"maxRecords":{"value":100,"unit":"records"}}}]"#,
    )
    .expect("written");
    let mut args = vec![
        "credential",
        "issue",
        "--key",
        path(key),
        "--to",
        to,
        "--capabilities",
        path(&caps),
        "--agent",
        path(&agent),
        "--principal",
        "urn:vouch:principal:p1",
        "--task",
        "t1",
        "--purpose",
        "triage",
        "--suite",
        "eddsa-jcs-2022",
    ];
    args.extend_from_slice(extra);
    vouch(&args, b"")
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
        let out = vouch(
            &["credential", "verify", "--danger-proofs-only", "--json"],
            stdout(&out).as_bytes(),
        );
        assert_eq!(code(&out), 1);
        let report: Value = serde_json::from_str(&stdout(&out)).expect("report");
        assert_eq!(report["verified"], false);
        assert_eq!(reasons(&report), ["invalid_proof"]);
    }
}

#[test]
fn sign_refuses_what_the_data_model_forbids_and_says_where() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = vector_key(dir.path());
    let unsigned: Value = serde_json::from_slice(
        &std::fs::read(vectors().join("vc-di-eddsa/unsigned.json")).expect("vector"),
    )
    .expect("json");
    let sign = |credential: &Value| {
        vouch(
            &["credential", "sign", "--key", path(&key)],
            credential.to_string().as_bytes(),
        )
    };
    assert_eq!(code(&sign(&unsigned)), 0);
    for (change, said) in [
        (json!({"issuer": "fake-issuer"}), "issuer"),
        (json!({"credentialSubject": {}}), "credentialSubject[0]"),
        (
            json!({"validFrom": "Sat 25 Feb 2023 07:16:31 PM CST"}),
            "validFrom",
        ),
        (json!({"type": ["AlumniCredential"]}), "type"),
        (json!({"id": "https ://not-a-url/1"}), "id"),
        (
            json!({"credentialStatus": {"id": "urn:x:1"}}),
            "credentialStatus.type",
        ),
        // Under the VC 2.0 context alone (the examples context's @vocab defines anything): a
        // type no context defines.
        (
            json!({"@context": ["https://www.w3.org/ns/credentials/v2"],
                   "type": ["VerifiableCredential", "InvalidType"],
                   "credentialSubject": {"id": "did:example:abcdefgh"}}),
            "@context",
        ),
    ] {
        let mut credential = unsigned.clone();
        for (name, value) in change.as_object().expect("an object") {
            credential[name] = value.clone();
        }
        let out = sign(&credential);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(code(&out), 0, "{change} was signed");
        assert!(
            stderr.contains("not signed") && stderr.contains(said),
            "{change}: {stderr}"
        );
        assert!(stdout(&out).is_empty(), "{change}");
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
    let keygen = |name: &str| generate_key(&file(name));
    let (org, agent, sub) = (keygen("org"), keygen("agent"), keygen("sub"));
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

    let out = issue(dir.path(), &file("org"), &agent, &[]);
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
                "--allow-unregistered",
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

#[test]
fn did_vouch_lifecycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str| dir.path().join(name);
    for name in ["doc", "doc2", "u1", "u2", "u3", "agent"] {
        let out = vouch(&["key", "generate", "--out", path(&file(name))], b"");
        assert_eq!(code(&out), 0);
    }
    let log = file("org.did.jsonl");
    let run = |args: &[&str]| {
        let out = vouch(args, b"");
        (
            code(&out),
            stdout(&out),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (status, out, err) = run(&[
        "did",
        "create",
        "--key",
        path(&file("doc")),
        "--update-key",
        path(&file("u1")),
        "--next-update-key",
        path(&file("u2")),
        "--log",
        path(&log),
        "--created",
        "2026-11-23T09:00:00Z",
        "--json",
    ]);
    assert_eq!(status, 0, "{err}");
    let did = serde_json::from_str::<Value>(&out).expect("json")["did"]
        .as_str()
        .expect("did")
        .to_owned();
    assert!(did.starts_with("did:vouch:zQm"), "{did}");

    let resolve = |extra: &[&str]| {
        let mut args = vec!["did", "resolve", &did, "--log", path(&log)];
        args.extend_from_slice(extra);
        let (status, out, err) = run(&args);
        let json: Value = serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}{err}"));
        (status, json)
    };
    let (status, first) = resolve(&[]);
    assert_eq!(status, 0);
    assert_eq!(first["didDocument"]["id"], did.as_str());
    assert_eq!(first["didDocumentMetadata"]["versionId"], "1");

    // The org issues as its did:vouch; a verifier given the log resolves the issuer from it.
    let agent = run(&["key", "did", "--key", path(&file("agent"))]).1;
    let out = issue(
        dir.path(),
        &file("doc"),
        agent.trim(),
        &["--issuer-log", path(&log)],
    );
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    let vc = stdout(&out);
    let verify_vc = |with_log: bool| {
        let mut args = vec![
            "credential",
            "verify",
            "--trust",
            &did,
            "--allow-unregistered",
        ];
        if with_log {
            args.extend_from_slice(&["--did-log", path(&log)]);
        }
        code(&vouch(&args, vc.as_bytes()))
    };
    assert_eq!(verify_vc(true), 0);
    assert_eq!(verify_vc(false), 1);

    // Pre-rotation: the key that signed the genesis cannot sign the update.
    let update = |update_key: &str, next: &str, created: &str| {
        run(&[
            "did",
            "update",
            "--key",
            path(&file("doc2")),
            "--update-key",
            path(&file(update_key)),
            "--next-update-key",
            path(&file(next)),
            "--log",
            path(&log),
            "--created",
            created,
        ])
    };
    let (status, _, err) = update("u1", "u3", "2026-11-23T10:00:00Z");
    assert_eq!(status, 2);
    assert!(err.contains("did not authorize"), "{err}");
    let stale = file("stale.did.jsonl");
    std::fs::copy(&log, &stale).expect("copied");
    let (status, out, err) = update("u2", "u3", "2026-11-23T10:00:00Z");
    assert_eq!(status, 0, "{err}");
    assert!(out.contains("version 2"), "{out}");

    let (_, latest) = resolve(&[]);
    assert_eq!(latest["didDocumentMetadata"]["versionId"], "2");
    let (_, old) = resolve(&["--version-id", "1"]);
    assert_eq!(old["didDocumentMetadata"]["nextVersionId"], "2");
    assert_eq!(old["didDocument"], first["didDocument"]);
    let (_, at_time) = resolve(&["--version-time", "2026-11-23T09:30:00Z"]);
    assert_eq!(at_time["didDocumentMetadata"]["versionId"], "1");
    let (status, missing) = resolve(&["--version-id", "7"]);
    assert_eq!(status, 1);
    assert_eq!(
        missing["didResolutionMetadata"]["error"]["type"],
        "https://www.w3.org/ns/did#NOT_FOUND"
    );
    // The credential was signed by the key the DID no longer lists.
    assert_eq!(verify_vc(true), 1);
    // A stale copy of the log keeps the old key in force, alone; beside the current log, the
    // longer log is used, in either order.
    let with_logs = |logs: &[&Path]| {
        let mut args = vec![
            "credential",
            "verify",
            "--trust",
            &did,
            "--allow-unregistered",
        ];
        for log in logs {
            args.extend_from_slice(&["--did-log", path(log)]);
        }
        code(&vouch(&args, vc.as_bytes()))
    };
    assert_eq!(with_logs(&[&stale]), 0);
    assert_eq!(with_logs(&[&stale, &log]), 1);
    assert_eq!(with_logs(&[&log, &stale]), 1);

    let (status, _, err) = run(&[
        "did",
        "deactivate",
        "--update-key",
        path(&file("u3")),
        "--log",
        path(&log),
        "--created",
        "2026-11-23T11:00:00Z",
    ]);
    assert_eq!(status, 0, "{err}");
    let (status, ended) = resolve(&[]);
    assert_eq!(status, 0);
    assert_eq!(ended["didDocumentMetadata"]["deactivated"], true);

    // A log changed by hand no longer verifies.
    let text = std::fs::read_to_string(&log).expect("log");
    std::fs::write(
        &log,
        text.replacen("2026-11-23T10:00:00Z", "2026-11-23T10:00:01Z", 1),
    )
    .expect("written");
    let (status, _, err) = run(&["did", "resolve", &did, "--log", path(&log)]);
    assert_eq!(status, 2);
    assert!(err.contains("line 2"), "{err}");
    // A did:vouch cannot be resolved without its log.
    assert_eq!(run(&["did", "resolve", &did]).0, 2);
}

/// Keys, an org's credential with a revocation entry, and status lists for it, made with the
/// library, as a node would make them.
struct Issued {
    org_did: String,
    credential: Vec<u8>,
    definition: String,
    clear: PathBuf,
    revoked: PathBuf,
}

fn issued(dir: &Path) -> Issued {
    use chrono::{Duration, TimeZone, Utc};
    use vouch_core::credential::{AgentDescription, DefinitionHash, Multihash, StatusEntry, Task};
    use vouch_core::delegation::{RootGrant, sign_credential};
    use vouch_core::did::key::{did_of, verification_method_of};
    use vouch_core::key::KeyPair;
    use vouch_core::proof::Cryptosuite;
    use vouch_core::status::{MIN_ENTRIES, Purpose, StatusList, StatusListCredential};

    let (org, agent) = (KeyPair::generate(), KeyPair::generate());
    let org_did = did_of(&org.public());
    let url = format!("http://node.acme.example/1.0/status-lists/{org_did}/revocation-1");
    let now = Utc::now();
    let definition =
        DefinitionHash::compute("m", "p", &serde_json::json!([]), &serde_json::json!({}))
            .expect("hashes");
    let credential = RootGrant {
        issuer: org_did.clone(),
        subject: did_of(&agent.public()),
        agent: AgentDescription {
            name: "bot".into(),
            version: "1".into(),
            definition_hash: definition.clone(),
            owner: "o@acme.example".into(),
        },
        principal: "urn:vouch:principal:p1".into(),
        task: Task {
            id: "t1".into(),
            purpose_hash: Multihash::of(b"triage"),
        },
        capabilities: vec![
            serde_json::json!({"action": "read:tickets", "resource": "https://h.example/t/**"}),
        ],
        audience: Vec::new(),
        valid_from: now,
        lifetime: Duration::minutes(15),
        max_renewals: 0,
        not_after: now + Duration::minutes(15),
        max_depth: 1,
        status: vec![StatusEntry::bit(
            format!("{url}#42"),
            "revocation",
            42,
            &url,
        )],
    }
    .build()
    .expect("builds");
    let vm = verification_method_of(&org.public());
    let signed = sign_credential(
        &credential,
        &org,
        vm.clone(),
        Cryptosuite::EddsaJcs2022,
        now,
    )
    .expect("signs");
    let mut list = StatusListCredential {
        id: url,
        issuer: org_did.clone(),
        valid_until: None,
        valid_from: Utc
            .with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
            .single()
            .expect("a time"),
        purpose: Purpose::Revocation,
        list: StatusList::new(MIN_ENTRIES).expect("a list"),
    };
    let (clear, revoked) = (dir.join("clear.json"), dir.join("revoked.json"));
    let write = |path: &Path, list: &StatusListCredential| {
        let signed = list.sign(&org, vm.clone()).expect("signs");
        std::fs::write(path, signed.to_string()).expect("written");
    };
    write(&clear, &list);
    list.list.set(42, true).expect("in range");
    list.valid_from += Duration::minutes(1);
    write(&revoked, &list);
    Issued {
        org_did: org_did.to_string(),
        credential: signed.to_string().into_bytes(),
        definition: definition.digest.to_string(),
        clear,
        revoked,
    }
}

#[test]
fn verification_fails_closed_and_takes_status_and_definition() {
    let dir = tempfile::tempdir().expect("tempdir");
    let issued = issued(dir.path());
    let verify = |extra: &[&str]| {
        let mut args = vec!["credential", "verify", "--json"];
        args.extend_from_slice(extra);
        let out = vouch(&args, &issued.credential);
        let report: Value = serde_json::from_str(&stdout(&out))
            .unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&out.stderr)));
        (
            code(&out),
            reasons(&report),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let trust = ["--trust", issued.org_did.as_str()];
    let clear = ["--status-list", path(&issued.clear)];
    let revoked = ["--status-list", path(&issued.revoked)];

    // Told nothing: trusts nothing, and cannot know the status.
    let (status, found, _) = verify(&[]);
    assert_eq!(
        (status, found),
        (
            1,
            vec!["untrusted_issuer".to_owned(), "status_unknown".to_owned()]
        )
    );
    let (status, found, _) = verify(&trust);
    assert_eq!((status, found), (1, vec!["status_unknown".to_owned()]));
    // Only the loud option checks proofs alone.
    let (status, found, stderr) = verify(&["--danger-proofs-only"]);
    assert_eq!((status, found.len()), (0, 0));
    assert!(stderr.contains("DANGER"), "{stderr}");

    // Status from a list file, newest version wins whatever the order.
    assert_eq!(verify(&[&trust[..], &clear[..]].concat()).0, 0);
    let (status, found, _) = verify(&[&trust[..], &revoked[..]].concat());
    assert_eq!((status, found), (1, vec!["revoked".to_owned()]));
    assert_eq!(
        verify(&[&trust[..], &clear[..], &revoked[..]].concat()).0,
        1
    );
    assert_eq!(
        verify(&[&trust[..], &revoked[..], &clear[..]].concat()).0,
        1
    );

    // The expected definition.
    let ok = [
        &trust[..],
        &clear[..],
        &["--expect-definition", issued.definition.as_str()],
    ]
    .concat();
    assert_eq!(verify(&ok).0, 0);
    let other = "zQmYtUc4iTCbbfVSDNKvtQqrfyezPPnFvE33wFmutw9PBBk";
    let wrong = [&trust[..], &clear[..], &["--expect-definition", other]].concat();
    let (status, found, _) = verify(&wrong);
    assert_eq!((status, found), (1, vec!["definition_mismatch".to_owned()]));
    assert_eq!(
        code(&vouch(
            &["credential", "verify", "--expect-definition", "nope"],
            &issued.credential
        )),
        2
    );
}

#[test]
fn extreme_arguments_exit_2_with_a_message_not_a_panic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let issued = issued(dir.path());
    let key = dir.path().join("k.key.json");
    assert_eq!(
        code(&vouch(&["key", "generate", "--out", path(&key)], b"")),
        0
    );
    let agent = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK";
    let far = "+262142-12-31T23:59:59Z";
    for args in [
        vec!["credential", "verify", "--now", far],
        vec![
            "presentation",
            "verify",
            "--challenge",
            "c",
            "--domain",
            "d",
            "--now",
            far,
        ],
    ] {
        let out = vouch(&args, &issued.credential);
        assert_eq!(code(&out), 2, "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("RFC 3339"));
    }
    for extra in [
        vec!["--minutes", "1440", "--max-renewals", "2000000000"],
        vec!["--max-renewals", "2147483647"],
        vec![
            "--minutes",
            "1440",
            "--max-renewals",
            "10000",
            "--now",
            "9999-12-31T00:00:00Z",
        ],
    ] {
        let out = issue(dir.path(), &key, agent, &extra);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(code(&out), 2, "{extra:?}: {stderr}");
        assert!(
            stderr.starts_with("vouch: ") || stderr.contains("error:"),
            "{stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn a_closed_pipe_is_not_a_panic() {
    // `vouch … | head`: the reader is gone before anything is written.
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let out = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args([
            "did",
            "resolve",
            "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK",
        ])
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .expect("vouch runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

/// `vouch audit export` of a wallet: its output and the entries.
fn export_wallet_log(wallet: &Path, key: &Path, checkpoint: &Path) -> (Output, Vec<Value>) {
    let export = vouch(
        &[
            "audit",
            "export",
            "--wallet",
            path(wallet),
            "--key",
            path(key),
            "--checkpoint",
            path(checkpoint),
        ],
        b"",
    );
    assert_eq!(
        code(&export),
        0,
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let entries = stdout(&export)
        .lines()
        .map(|l| serde_json::from_str(l).expect("an entry"))
        .collect();
    (export, entries)
}

#[test]
fn a_wallet_logs_its_delegations_and_its_export_verifies_under_the_instance_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str| dir.path().join(name);
    let keygen = |name: &str| generate_key(&file(name));
    // The org's key issues; "x" is another instance's.
    keygen("org");
    keygen("x");
    let (agent, sub) = (keygen("agent"), keygen("sub"));
    std::fs::write(
        file("narrow.json"),
        r#"[{"action":"read:tickets","resource":"https://h.example/t/open/*",
        "constraints":{"maxRecords":{"value":10,"unit":"records"}}}]"#,
    )
    .expect("written");
    let out = issue(dir.path(), &file("org"), &agent, &[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(file("agent.vc"), &out.stdout).expect("written");
    let wallet = file("wallet");
    let delegate = |key: &str, to: &str| {
        vouch(
            &[
                "credential",
                "delegate",
                "--key",
                path(&file(key)),
                "--parent",
                path(&file("agent.vc")),
                "--to",
                to,
                "--capabilities",
                path(&file("narrow.json")),
                "--wallet",
                path(&wallet),
            ],
            b"",
        )
    };
    for _ in 0..3 {
        let out = delegate("agent", &sub);
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    }
    // The wallet is the agent's: another instance's key cannot write to it.
    let refused = vouch(
        &[
            "audit",
            "export",
            "--wallet",
            path(&wallet),
            "--key",
            path(&file("x")),
            "--checkpoint",
            path(&file("x.checkpoint")),
        ],
        b"",
    );
    assert_eq!(code(&refused), 2);
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("belongs to"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let (export, lines) = export_wallet_log(&wallet, &file("agent"), &file("checkpoint"));
    assert_eq!(lines.len(), 3);
    for line in &lines {
        assert_eq!(line["event"], "delegated");
        assert_eq!(line["agent"], sub.as_str());
        assert_eq!(line["writer"], agent.as_str());
        assert_eq!(line["action"], "read:tickets");
        assert_eq!(line["credentials"].as_array().expect("ids").len(), 2);
    }
    std::fs::write(file("entries.jsonl"), &export.stdout).expect("written");
    let log_key = agent.trim_start_matches("did:key:");
    let origin = format!("{agent}/audit");
    let verify = |entries: &str| {
        vouch(
            &[
                "audit",
                "verify",
                "--export",
                path(&file(entries)),
                "--checkpoint",
                path(&file("checkpoint")),
                "--origin",
                &origin,
                "--log-key",
                log_key,
            ],
            b"",
        )
    };
    let out = verify("entries.jsonl");
    assert_eq!(
        code(&out),
        0,
        "{}{}",
        stdout(&out),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout(&out).starts_with("verified: 3 entries"),
        "{}",
        stdout(&out)
    );
    // Two entries swapped in the export: found, exit 1.
    let text = stdout(&export);
    let mut swapped: Vec<&str> = text.lines().collect();
    swapped.swap(0, 1);
    std::fs::write(file("swapped.jsonl"), swapped.join("\n")).expect("written");
    let out = verify("swapped.jsonl");
    assert_eq!(code(&out), 1, "{}", stdout(&out));
    assert!(
        stdout(&out).contains("NOT verified: entry 0"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn the_wallet_daemon_opens_its_sealed_key_and_keeps_what_its_agent_gives_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str| dir.path().join(name);
    let keygen = |name: &str| generate_key(&file(name));
    keygen("org");
    let agent = keygen("agent");
    std::fs::write(file("pass"), "correct horse battery\n").expect("written");
    std::fs::write(file("wrong"), "wrong horse\n").expect("written");
    let sealed = vouch(
        &[
            "wallet",
            "seal",
            "--key",
            path(&file("agent")),
            "--out",
            path(&file("agent.sealed")),
            "--passphrase-file",
            path(&file("pass")),
        ],
        b"",
    );
    assert_eq!(
        code(&sealed),
        0,
        "{}",
        String::from_utf8_lossy(&sealed.stderr)
    );
    assert_eq!(stdout(&sealed).trim(), agent);
    let sealed_text = std::fs::read_to_string(file("agent.sealed")).expect("read");
    assert!(!sealed_text.contains("privateKey"), "{sealed_text}");

    let serve = |secret: &str| {
        Command::new(env!("CARGO_BIN_EXE_vouch"))
            .args([
                "wallet",
                "serve",
                "--wallet",
                path(&file("wallet")),
                "--sealed-key",
                path(&file("agent.sealed")),
                "--passphrase-file",
                path(&file(secret)),
                "--socket",
                path(&file("wallet.sock")),
            ])
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts")
    };
    // A wrong passphrase: a clear error, no daemon.
    let wrong = serve("wrong").wait_with_output().expect("ends");
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("wrong passphrase"),
        "{}",
        String::from_utf8_lossy(&wrong.stderr)
    );

    let mut daemon = serve("pass");
    // Up once it says it listens.
    let mut stderr = std::io::BufReader::new(daemon.stderr.take().expect("piped"));
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stderr, &mut line).expect("a line");
    assert!(line.contains("listening"), "{line}");

    let out = issue(dir.path(), &file("org"), &agent, &[]);
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(file("agent.vc"), &out.stdout).expect("written");
    let add = |credential: &str| {
        vouch(
            &[
                "wallet",
                "add",
                "--socket",
                path(&file("wallet.sock")),
                path(&file(credential)),
            ],
            b"",
        )
    };
    let added = add("agent.vc");
    assert_eq!(
        code(&added),
        0,
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(
        stdout(&added).contains("\"added\":true"),
        "{}",
        stdout(&added)
    );
    // A credential of another instance is refused, with the reason.
    keygen("other");
    let other = vouch(&["key", "did", "--key", path(&file("other"))], b"");
    let out = issue(dir.path(), &file("org"), stdout(&other).trim(), &[]);
    std::fs::write(file("other.vc"), &out.stdout).expect("written");
    let refused = add("other.vc");
    assert_eq!(code(&refused), 2);
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not this wallet's instance"));

    let listed = vouch(
        &[
            "wallet",
            "credentials",
            "--socket",
            path(&file("wallet.sock")),
            "--task",
            "t1",
        ],
        b"",
    );
    assert_eq!(
        code(&listed),
        0,
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let held: Vec<Value> = stdout(&listed)
        .lines()
        .map(|l| serde_json::from_str(l).expect("a credential"))
        .collect();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["credentialSubject"]["id"], agent.as_str());

    // A delegation is registered with the org's node before it is handed out: a daemon that
    // knows no node makes none (node/tests/exchange.rs delegates through one). Beyond the
    // parent, or from a credential not held, it is refused with the reason first.
    let sub = keygen("sub");
    let ask = |request: Value| -> Value {
        use std::io::{BufRead as _, Write as _};
        let mut stream =
            std::os::unix::net::UnixStream::connect(file("wallet.sock")).expect("connects");
        writeln!(stream, "{request}").expect("written");
        let mut line = String::new();
        std::io::BufReader::new(&stream)
            .read_line(&mut line)
            .expect("an answer");
        serde_json::from_str(&line).expect("JSON")
    };
    let parent = held[0]["id"].as_str().expect("an id");
    let narrow = serde_json::json!([{"action": "read:tickets", "resource": "https://h.example/t/open/*",
        "constraints": {"maxRecords": {"value": 10, "unit": "records"}}}]);
    let delegated = ask(serde_json::json!({
        "op": "delegate", "parent": parent, "to": sub, "capabilities": narrow,
    }));
    assert_eq!(delegated["error"]["code"], "refused", "{delegated}");
    assert!(
        delegated["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("registered with the org's node")),
        "{delegated}"
    );
    let wider = ask(serde_json::json!({
        "op": "delegate", "parent": parent, "to": sub,
        "capabilities": [{"action": "read:*", "resource": "https://h.example/**"}],
    }));
    assert_eq!(wider["error"]["code"], "refused", "{wider}");
    let unknown = ask(serde_json::json!({
        "op": "delegate", "parent": "urn:uuid:0", "to": sub, "capabilities": narrow,
    }));
    assert_eq!(unknown["error"]["code"], "refused", "{unknown}");
    let _ = daemon.kill();
    let _ = daemon.wait();

    // No key bytes anywhere the daemon writes, in any common spelling: its log (stderr) and
    // every file of its wallet folder (RocksDB's tables, logs and manifests).
    let mut logged = Vec::new();
    std::io::Read::read_to_end(&mut stderr, &mut logged).expect("the daemon's log");
    let pair = vouch_keyfile::read(&file("agent")).expect("the key");
    let seed = pair.seed();
    let spellings: Vec<Vec<u8>> = {
        use base64::Engine as _;
        vec![
            seed.to_vec(),
            seed.iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes(),
            base64::engine::general_purpose::STANDARD
                .encode(*seed)
                .into_bytes(),
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(*seed)
                .into_bytes(),
            pair.to_json().private_key_multibase.as_bytes().to_vec(),
        ]
    };
    let mut scanned = vec![("the daemon's log".to_owned(), logged)];
    for entry in std::fs::read_dir(file("wallet")).expect("the wallet folder") {
        let entry = entry.expect("an entry");
        scanned.push((
            entry.path().display().to_string(),
            std::fs::read(entry.path()).expect("read"),
        ));
    }
    assert!(scanned.len() > 4, "{} files", scanned.len());
    for (name, bytes) in &scanned {
        for spelling in &spellings {
            assert!(
                !bytes.windows(spelling.len()).any(|w| w == &spelling[..]),
                "{name} holds the instance key"
            );
        }
    }

    // No delegation was made: the wallet's log holds none.
    let (_, entries) = export_wallet_log(&file("wallet"), &file("agent"), &file("checkpoint"));
    assert!(
        entries.iter().all(|e| e["event"] != "delegated"),
        "{entries:?}"
    );
}

#[test]
fn an_ephemeral_daemon_holds_a_fresh_key_in_memory_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let start = |name: &str| {
        let mut daemon = Command::new(env!("CARGO_BIN_EXE_vouch"))
            .args(["wallet", "serve", "--ephemeral", "--wallet"])
            .arg(dir.path().join(name))
            .arg("--socket")
            .arg(dir.path().join(format!("{name}.sock")))
            .stderr(Stdio::piped())
            .spawn()
            .expect("starts");
        let mut stderr = std::io::BufReader::new(daemon.stderr.take().expect("piped"));
        let mut first = String::new();
        let mut second = String::new();
        std::io::BufRead::read_line(&mut stderr, &mut first).expect("a line");
        std::io::BufRead::read_line(&mut stderr, &mut second).expect("a line");
        assert!(second.contains("listening"), "{second}");
        let did = first
            .strip_prefix("ephemeral instance ")
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("{first}"))
            .to_owned();
        (daemon, did)
    };
    let (mut one, did_one) = start("one");
    let identity = vouch(
        &[
            "wallet",
            "identity",
            "--socket",
            path(&dir.path().join("one.sock")),
        ],
        b"",
    );
    let identity: Value = serde_json::from_str(&stdout(&identity))
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&identity.stderr)));
    assert_eq!(identity["did"], did_one.as_str());
    assert!(did_one.starts_with("did:key:z6Mk"), "{did_one}");
    // Another start is another instance: nothing of the key was kept.
    let (mut two, did_two) = start("two");
    assert_ne!(did_one, did_two);
    for daemon in [&mut one, &mut two] {
        let _ = daemon.kill();
        let _ = daemon.wait();
    }
    // No key file anywhere in the folder.
    for entry in walk(dir.path()) {
        let text = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&text).contains("privateKeyMultibase"),
            "{}",
            entry.display()
        );
    }
}

/// Every file below `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// A daemon process, killed (and waited for) when dropped: a failing test leaves none behind.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An ephemeral daemon on `socket` in the wallet folder `wallet`, with its card on a port of its
/// own: the process, and the card's address once it says where it serves it; or what it said
/// when it exited instead.
fn start_daemon(wallet: &Path, socket: &Path) -> Result<(Killed, String), String> {
    let mut daemon = Command::new(env!("CARGO_BIN_EXE_vouch"))
        .args(["wallet", "serve", "--ephemeral", "--wallet"])
        .arg(wallet)
        .arg("--socket")
        .arg(socket)
        .args(["--card-listen", "127.0.0.1:0", "--card-name", "probe"])
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let Some(stderr) = daemon.stderr.take() else {
        let _ = daemon.kill();
        let _ = daemon.wait();
        return Err("no log to read".into());
    };
    let mut stderr = std::io::BufReader::new(stderr);
    let mut said = String::new();
    loop {
        let mut line = String::new();
        if std::io::BufRead::read_line(&mut stderr, &mut line).unwrap_or(0) == 0 {
            let _ = daemon.wait();
            return Err(said);
        }
        said.push_str(&line);
        if let Some(at) = line
            .strip_prefix("agent card at http://")
            .and_then(|rest| rest.split('/').next())
        {
            // The rest of its log is read to its end, so the daemon never blocks on it.
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            return Ok((Killed(daemon), at.to_owned()));
        }
    }
}

/// One request on the daemon's socket, on a connection of its own.
fn ask_socket(socket: &Path, request: &str) -> Value {
    use std::io::{BufRead as _, Write as _};
    let mut stream = std::os::unix::net::UnixStream::connect(socket).expect("connects");
    writeln!(stream, "{request}").expect("written");
    let mut line = String::new();
    std::io::BufReader::new(&stream)
        .read_line(&mut line)
        .expect("an answer");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

#[test]
fn the_daemon_holds_its_socket_and_card_under_abuse_and_recovers_from_a_crash() {
    use std::io::{Read as _, Write as _};
    let dir = tempfile::tempdir().expect("tempdir");
    let socket = dir.path().join("agent.sock");
    let (daemon, card) = start_daemon(&dir.path().join("one"), &socket).expect("a daemon");

    // The protocol is strict: no member an operation does not take, no sub-agent that is not
    // a did:key instance.
    let identity = ask_socket(&socket, r#"{"op":"identity","sign":true,"bytes":"AAAA"}"#);
    assert_eq!(identity["error"]["code"], "malformed", "{identity}");
    for to in ["did:key:zzz", "did:web:example.com", "not a DID"] {
        let delegated = ask_socket(
            &socket,
            &serde_json::json!({"op": "delegate", "parent": "urn:uuid:0", "to": to,
                                "capabilities": []})
            .to_string(),
        );
        assert_eq!(delegated["error"]["code"], "refused", "{delegated}");
        assert!(
            delegated["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("to:")),
            "{delegated}"
        );
    }

    // Connections held open without a word never leave the agent without its wallet: the
    // one waiting longest makes room.
    let idle: Vec<std::os::unix::net::UnixStream> = (0..vouch_wallet::daemon::MAX_CONNECTIONS + 6)
        .map(|_| std::os::unix::net::UnixStream::connect(&socket).expect("connects"))
        .collect();
    let identity = ask_socket(&socket, r#"{"op":"identity"}"#);
    assert!(identity["ok"]["did"].is_string(), "{identity}");
    drop(idle);

    // The card server: one client holds its share, the next of its connections is refused
    // (429), another client and the socket are served.
    let card_addr: std::net::SocketAddr = card.parse().expect("an address");
    let stranger = |from: [u8; 4]| {
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("a socket");
        socket
            .bind(&std::net::SocketAddr::from((from, 0)).into())
            .expect("bound");
        socket.connect(&card_addr.into()).expect("connects");
        let stream: std::net::TcpStream = socket.into();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .expect("timeout");
        stream
    };
    let held: Vec<std::net::TcpStream> = (0..vouch_serve::Limits::CARD.per_client)
        .map(|_| {
            let mut s = stranger([127, 0, 0, 2]);
            s.write_all(b"GET /.well-known/agent-card.json HTTP/1.1\r\nhost")
                .expect("half a head");
            s
        })
        .collect();
    let mut refused = String::new();
    let _ = stranger([127, 0, 0, 2]).read_to_string(&mut refused);
    assert!(refused.starts_with("HTTP/1.1 429"), "{refused}");
    let mut other = stranger([127, 0, 0, 3]);
    other
        .write_all(
            b"GET /.well-known/agent-card.json HTTP/1.1\r\nhost: card\r\nconnection: close\r\n\r\n",
        )
        .expect("a request");
    let mut served = String::new();
    other.read_to_string(&mut served).expect("an answer");
    assert!(served.starts_with("HTTP/1.1 200"), "{served}");
    assert!(ask_socket(&socket, r#"{"op":"identity"}"#)["ok"].is_object());
    drop(held);

    // Killed without a word: its socket file stays behind, and the next daemon takes it.
    drop(daemon);
    assert!(socket.exists(), "a killed daemon leaves its socket file");
    let (second, _) = start_daemon(&dir.path().join("two"), &socket)
        .unwrap_or_else(|said| panic!("a stale socket was not recovered: {said}"));
    assert!(ask_socket(&socket, r#"{"op":"identity"}"#)["ok"].is_object());
    // A live daemon's socket is never taken.
    let said = start_daemon(&dir.path().join("three"), &socket)
        .map(drop)
        .expect_err("a second daemon on a live socket");
    assert!(said.contains("listening on this socket already"), "{said}");
    assert!(ask_socket(&socket, r#"{"op":"identity"}"#)["ok"].is_object());
    drop(second);
}
