//! The capability exchange between the wallet daemons of two organizations, over libp2p on
//! loopback, each verifying with its own org's node: a real consortium of two nodes, real
//! RocksDB wallets, real Noise.

use std::sync::Arc;
use std::time::Duration;
use vouch_api::node::client::STATUS_LISTS;

use serde_json::{Value, json};
use vouch_core::audit::{Decision, Event};
use vouch_core::key::KeyPair;
use vouch_wallet::daemon::{Daemon, ExchangeAsk};
use vouch_wallet::knowledge::Freshness;

use vouch_api::node::admin::OwnerRequest;
use vouch_api::node::public::{
    OwnerVerdict, Pending, PresentationOptions, Standing, VerifyPresentation,
};
use vouch_core::revocation::Level;

use crate::common::{
    TestNode, agent_credential, consortium_of, eventually, revocation_request, wait_connected,
};

fn refund(amount: u64) -> Value {
    json!({"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/42",
           "arguments": {"amount": {"value": amount, "unit": "EUR"}}})
}

/// A wallet daemon for `key` that verifies with `node`, status lists fetched for every exchange.
pub(crate) fn daemon(
    dir: &std::path::Path,
    name: &str,
    key: &KeyPair,
    node: &TestNode,
) -> Arc<Daemon> {
    let freshness = Freshness {
        lists: Duration::ZERO,
        ..Freshness::default()
    };
    Arc::new(
        Daemon::open(&dir.join(name), key.clone(), 0)
            .expect("opens")
            .with_node(node.node_url(), node.genesis(), freshness),
    )
}

/// The daemon's answer to `request`, as the operation's type.
pub(crate) fn handled<A: serde::de::DeserializeOwned>(
    daemon: &Daemon,
    request: vouch_wallet::daemon::Request,
) -> Result<A, vouch_api::daemon::Refusal> {
    daemon
        .handle(request)
        .map(|ok| serde_json::from_value(ok).expect("the operation's answer"))
}

pub(crate) fn add(daemon: &Daemon, credential: &Value) {
    daemon
        .handle(vouch_wallet::daemon::Request::AddCredential {
            credential: credential.clone(),
            chain: Vec::new(),
        })
        .expect("kept");
}

pub(crate) fn verdicts(answer: &impl serde::Serialize) -> Vec<Option<String>> {
    let answer = serde_json::to_value(answer).expect("an answer serializes");
    answer["decisions"]
        .as_array()
        .expect("decisions")
        .iter()
        .map(|d| d["reason"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn two_orgs_agents_authenticate_each_other_decide_each_capability_and_record_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let configs = consortium_of(dir.path(), 2);
    let org_a = TestNode::start(configs[0].clone());
    let org_b = TestNode::start(configs[1].clone());
    wait_connected(&org_a, 1);

    // A's agent may refund up to 50 EUR; B's agent runs billing.
    let (agent_a, agent_b) = (KeyPair::generate(), KeyPair::generate());
    let credential_a = agent_credential(
        &org_a,
        &agent_a,
        "t-refund",
        json!([{"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**",
                "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}}}]),
    );
    let credential_b = agent_credential(
        &org_b,
        &agent_b,
        "billing",
        json!([{"action": "verify:exchange", "resource": "https://billing.b.example/**"}]),
    );
    // B's node knows A's org (and the other way round) once the DIDs have synced.
    let did_a = org_a.node().identity.did.to_string();
    let did_b = org_b.node().identity.did.to_string();
    eventually(&org_b, "A's DID at B", || {
        crate::common::version_at(&org_b, &did_a).is_some()
    });
    eventually(&org_a, "B's DID at A", || {
        crate::common::version_at(&org_a, &did_b).is_some()
    });

    let wallets = dir.path().join("wallets");
    let prover = daemon(&wallets, "a", &agent_a, &org_a);
    let verifier = daemon(&wallets, "b", &agent_b, &org_b);
    add(&prover, &credential_a);
    add(&verifier, &credential_b);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let listen: Vec<libp2p::Multiaddr> = vec!["/ip4/127.0.0.1/tcp/0".parse().expect("an address")];
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stopping = || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|s| *s).await;
        }
    };
    let address_a = runtime
        .block_on(prover.join(&listen, stopping()))
        .expect("joins")
        .remove(0);
    runtime
        .block_on(verifier.join(&listen, stopping()))
        .expect("joins");

    let exchange = |capabilities: Vec<Value>| {
        runtime.block_on(verifier.clone().exchange(ExchangeAsk {
            peer: address_a.to_string(),
            capabilities,
            query: None,
            domain: None,
            present: None,
        }))
    };

    // B asks A's agent to prove two refunds: one within its limit, one beyond it.
    let answer = exchange(vec![refund(1200), refund(9000)]).expect("exchanged");
    assert_eq!(
        verdicts(&answer),
        vec![None, Some("constraint_violated".into())],
        "{answer}"
    );
    assert_eq!(answer["acknowledged"], true, "{answer}");
    assert_eq!(answer["prover"], agent_a_did(&agent_a));

    // Both sides recorded it: B each decision, A the request it answered and the decisions.
    let b_log = verifier.log().entries(0).expect("entries");
    assert_eq!(
        b_log
            .iter()
            .map(|e| (e.event, e.decision))
            .collect::<Vec<_>>(),
        vec![
            (Event::Decided, Some(Decision::Accepted)),
            (Event::Decided, Some(Decision::Rejected)),
        ]
    );
    assert_eq!(b_log[1].reason.as_deref(), Some("constraint_violated"));
    assert_eq!(b_log[0].task.as_deref(), Some("t-refund"));
    let a_log = prover.log().entries(0).expect("entries");
    assert_eq!(
        a_log.iter().map(|e| e.event).collect::<Vec<_>>(),
        vec![Event::ExchangeRequested, Event::Decided, Event::Decided]
    );
    // Metadata and hashes only: no resource in either log.
    for entry in b_log.iter().chain(&a_log) {
        let bytes = String::from_utf8(entry.to_bytes()).expect("UTF-8");
        assert!(!bytes.contains("billing.b.example/refunds"), "{bytes}");
    }

    // Org A revokes the task: once B's node has the list, B's next decision is `revoked`.
    org_a
        .admin()
        .revoke(&revocation_request(Level::Task, "t-refund", false))
        .expect("revoked");
    let url = credential_a["credentialStatus"][0]["statusListCredential"]
        .as_str()
        .expect("a list")
        .to_owned();
    let index: usize = credential_a["credentialStatus"][0]["statusListIndex"]
        .as_str()
        .and_then(|i| i.parse().ok())
        .expect("an index");
    let path = &url[url.find(STATUS_LISTS).expect("a list URL")..];
    eventually(&org_b, "the revocation at B", || {
        let list = crate::common::get(&org_b.url(path), None).json();
        vouch_core::status::StatusListCredential::parse(&list)
            .ok()
            .and_then(|l| l.list.get(index).ok())
            == Some(true)
    });
    let answer = exchange(vec![refund(1200)]).expect("exchanged");
    assert_eq!(verdicts(&answer), vec![Some("revoked".into())], "{answer}");

    let _ = stop.send(true);
}

fn agent_a_did(key: &KeyPair) -> String {
    vouch_core::did::key::did_of(&key.public()).to_string()
}

#[test]
fn a_partner_without_libp2p_proves_to_the_node_over_http_and_the_node_decides_once() {
    use vouch_wallet::daemon::Request;
    use vouch_wallet::node::{NodeClient, NodeError};
    let dir = tempfile::tempdir().expect("tempdir");
    // A consortium of one: the daemon trusts its org's node as a member of it.
    let node = TestNode::start(consortium_of(dir.path(), 1).remove(0));
    let agent = KeyPair::generate();
    let credential = agent_credential(
        &node,
        &agent,
        "t-http",
        json!([{"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**",
                "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}}}]),
    );
    let wallet = daemon(dir.path(), "wallet", &agent, &node);
    add(&wallet, &credential);

    let client = NodeClient::new(node.node_url());
    let (id, request) =
        crate::common::open(&client, vec![refund(1200), refund(9000)]).expect("opened");
    // The node presents as its own did:key, under a credential of its org.
    let holder = request["verifierPresentation"]["holder"]
        .as_str()
        .expect("a holder");
    assert!(holder.starts_with("did:key:z6Mk"), "{request}");
    let response = wallet
        .handle(Request::Answer {
            request: request.clone(),
        })
        .expect("the wallet answers a node it authenticates");
    let decided = client.answer_exchange(&id, &response).expect("decided");
    assert_eq!(
        verdicts(&decided),
        vec![None, Some("constraint_violated".into())],
        "{decided:?}"
    );
    // The wallet checks the decision before it believes it, once.
    let checked = wallet
        .handle(Request::Accept {
            decision: decided.decision.clone(),
        })
        .expect("accepted");
    assert_eq!(checked["decisions"], json!(decided.decisions));
    let again = wallet
        .handle(Request::Accept {
            decision: decided.decision.clone(),
        })
        .expect_err("a decision is taken once");
    assert_eq!(again.reason, Some(vouch_core::report::Reason::Replayed));
    // The same response again: the exchange was answered.
    match client.answer_exchange(&id, &response) {
        Err(NodeError::Refused { status, code, .. }) => {
            assert_eq!((status, code.as_str()), (403, "replayed"));
        }
        other => panic!("a replayed response was taken: {other:?}"),
    }
    // The same request again: the wallet answered it already.
    let replayed = wallet
        .handle(Request::Answer { request })
        .expect_err("refused");
    assert_eq!(replayed.reason, Some(vouch_core::report::Reason::Replayed));
    // The decision is the node's to show, and in its audit log.
    let shown = client.exchange(&id).expect("decided");
    assert_eq!(shown.decision, decided.decision);
    let entries = client.audit_entries(0).expect("the entries").entries;
    let decisions: Vec<(Value, Value)> = entries
        .iter()
        .map(|e| serde_json::to_value(e).expect("JSON"))
        .filter(|e| e["event"] == "decided")
        .map(|e| (e["decision"].clone(), e["reason"].clone()))
        .collect();
    assert_eq!(
        decisions,
        vec![
            (json!("accepted"), Value::Null),
            (json!("rejected"), json!("constraint_violated"))
        ]
    );
}

/// A codec that writes whatever bytes it is given: a peer that does not follow the protocol.
#[derive(Clone, Default)]
struct Raw;

impl libp2p::request_response::Codec for Raw {
    type Protocol = libp2p::StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T: libp2p::futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
    ) -> std::io::Result<Vec<u8>> {
        use libp2p::futures::AsyncReadExt as _;
        let mut bytes = Vec::new();
        io.take(1 << 20).read_to_end(&mut bytes).await?;
        Ok(bytes)
    }

    async fn read_response<T: libp2p::futures::AsyncRead + Unpin + Send>(
        &mut self,
        protocol: &Self::Protocol,
        io: &mut T,
    ) -> std::io::Result<Vec<u8>> {
        self.read_request(protocol, io).await
    }

    async fn write_request<T: libp2p::futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        bytes: Vec<u8>,
    ) -> std::io::Result<()> {
        use libp2p::futures::AsyncWriteExt as _;
        io.write_all(&bytes).await?;
        io.close().await
    }

    async fn write_response<T: libp2p::futures::AsyncWrite + Unpin + Send>(
        &mut self,
        protocol: &Self::Protocol,
        io: &mut T,
        bytes: Vec<u8>,
    ) -> std::io::Result<()> {
        self.write_request(protocol, io, bytes).await
    }
}

#[test]
fn a_peer_that_sends_what_is_no_exchange_message_is_disconnected() {
    use libp2p::futures::StreamExt as _;
    use libp2p::request_response::{self, ProtocolSupport};
    use libp2p::swarm::SwarmEvent;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(&dir.path().join("node"));
    let wallet = daemon(dir.path(), "wallet", &KeyPair::generate(), &node);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let address = runtime
        .block_on(wallet.join(
            &["/ip4/127.0.0.1/tcp/0".parse().expect("an address")],
            std::future::pending(),
        ))
        .expect("joins")
        .remove(0);
    let target = match address.iter().last() {
        Some(libp2p::multiaddr::Protocol::P2p(peer)) => peer,
        _ => panic!("an address with its peer id: {address}"),
    };

    let too_large = vec![b' '; vouch_core::exchange::wire::MAX_MESSAGE_BYTES + 1];
    for (what, bytes) in [
        ("no JSON", b"not json".to_vec()),
        (
            "an unknown message",
            br#"{"type":"sign","bytes":"AA"}"#.to_vec(),
        ),
        (
            "a request of no form",
            br#"{"type":"request","request":{}}"#.to_vec(),
        ),
        ("a message too large", too_large),
    ] {
        let closed = runtime.block_on(async {
            let mut attacker = crate::common::member_swarm(&KeyPair::generate(), |_| {
                request_response::Behaviour::with_codec(
                    Raw,
                    [(
                        libp2p::StreamProtocol::new(vouch_core::exchange::wire::PROTOCOL),
                        ProtocolSupport::Full,
                    )],
                    request_response::Config::default(),
                )
            });
            attacker.dial(address.clone()).expect("dials");
            attacker
                .behaviour_mut()
                .send_request(&target, bytes.clone());
            // Whatever the attacker hears back, the daemon ends the connection.
            tokio::time::timeout(Duration::from_secs(30), async {
                loop {
                    if let SwarmEvent::ConnectionClosed { peer_id, .. } =
                        attacker.select_next_some().await
                        && peer_id == target
                    {
                        return true;
                    }
                }
            })
            .await
            .unwrap_or(false)
        });
        assert!(closed, "{what}: the daemon kept the connection");
    }
    // An honest peer still gets answers: the daemon stayed up.
    let identity: vouch_api::daemon::Identity =
        handled(&wallet, vouch_wallet::daemon::Request::Identity {}).expect("answers");
    assert_eq!(identity.addresses[0], address.to_string());
}

#[test]
fn an_instance_whose_key_lives_only_in_its_daemon_is_bound_on_the_daemons_proof() {
    use vouch_wallet::daemon::Request;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::init(&dir.path().join("node"));
    let admin = node.admin();
    let registered = admin
        .register_definition(&crate::common::definition_request("ephemeral"))
        .expect("registered");
    let definition = registered.definition.did.to_string();
    // The key is made in the daemon's memory; only its proof leaves.
    let wallet = daemon(dir.path(), "wallet", &KeyPair::generate(), &node);
    let proof = wallet
        .handle(Request::BindingProof {
            definition: definition.clone(),
        })
        .expect("a proof");
    let bound = admin
        .bind(&registered.definition.did, &proof)
        .expect("bound");
    assert_eq!(bound.did, *wallet.instance());
    // The proof answers one challenge: used again, refused.
    let again = admin.bind(&registered.definition.did, &proof);
    assert!(
        matches!(again, Err(vouch_api::node::NodeError::Refused { .. })),
        "{again:?}"
    );
}

/// A TLS front for `node` on a loopback port, under a fresh self-signed certificate for
/// `localhost`, as a deployment's reverse proxy would be: the port, and the certificate (PEM).
fn tls_front(node: &TestNode) -> (u16, String) {
    let certified =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).expect("a certificate");
    let key = rustls::pki_types::PrivatePkcs8KeyDer::from(certified.key_pair.serialize_der());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("TLS versions")
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key.into())
    .expect("a server configuration");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let backend = node.node().http_addr;
    let listener = node
        .runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("a port");
    let port = listener.local_addr().expect("an address").port();
    node.runtime.spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut up) = tokio::net::TcpStream::connect(backend).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut up).await;
            });
        }
    });
    (port, certified.cert.pem())
}

#[test]
fn a_daemon_trusts_the_consortium_it_was_given_not_its_nodes_word_and_reaches_it_over_https() {
    use vouch_wallet::daemon::Request;
    use vouch_wallet::node::{NodeClient, NodeError};
    use vouch_wallet::sources::Reach;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(consortium_of(&dir.path().join("ours"), 1).remove(0));
    // Another consortium, well formed and signed: its genesis is not ours.
    let other = {
        let config = consortium_of(&dir.path().join("theirs"), 1).remove(0);
        vouch_node::consortium::read_genesis(&config.in_data_dir(&config.p2p.consortium))
            .expect("a genesis")
            .hash()
    };
    let agent = KeyPair::generate();
    let credential = agent_credential(
        &node,
        &agent,
        "t-https",
        json!([{"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**"}]),
    );
    let (port, pem) = tls_front(&node);
    let https = format!("https://localhost:{port}");
    let reach = Reach::new().with_roots_pem(pem.as_bytes()).expect("a root");

    // Under Mozilla's roots the node's self-signed certificate chains to nothing: refused.
    let unknown = NodeClient::new(Reach::new().node(&https).expect("an https URL")).challenge();
    assert!(
        matches!(&unknown, Err(NodeError::Unreachable { reason, .. }) if reason.contains("certificate") || reason.contains("Certificate") || reason.contains("issuer")),
        "{unknown:?}"
    );

    let fresh = Freshness {
        lists: Duration::ZERO,
        ..Freshness::default()
    };
    let answer_with = |name: &str, genesis: Option<String>| {
        let wallet = Daemon::open(&dir.path().join(name), agent.clone(), 0)
            .expect("opens")
            .with_node(reach.node(&https).expect("an https URL"), genesis, fresh);
        add(&wallet, &credential);
        let client = NodeClient::new(reach.node(&https).expect("an https URL"));
        let (id, request) =
            crate::common::open(&client, vec![refund(1200)]).expect("opened over https");
        let answered = wallet.handle(Request::Answer { request });
        (client, id, answered)
    };
    // Given another consortium's genesis, or none: the node's own org is no trusted issuer,
    // whatever the node answers; the daemon does not present to a verifier it cannot trust.
    for genesis in [Some(other), None] {
        let (_, _, answered) = answer_with(&format!("w-{}", genesis.is_some()), genesis);
        let refused = answered.expect_err("a verifier under an untrusted issuer");
        assert_eq!(
            refused.reason,
            Some(vouch_core::report::Reason::UntrustedIssuer),
            "{}",
            refused.message
        );
    }
    // Given ours: the members it checked itself, over https, the org among them.
    let (client, id, answered) = answer_with("w-ours", node.genesis());
    let response = answered.expect("the daemon answers a node of its consortium");
    let decided = client.answer_exchange(&id, &response).expect("decided");
    assert_eq!(verdicts(&decided), vec![None], "{decided:?}");
}

#[test]
fn a_relay_cannot_change_what_the_prover_agrees_to_and_the_prover_presents_the_least_that_answers()
{
    use vouch_wallet::daemon::Request;
    use vouch_wallet::node::NodeClient;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(consortium_of(dir.path(), 1).remove(0));
    let agent = KeyPair::generate();
    let refunds = agent_credential(
        &node,
        &agent,
        "t-refunds",
        json!([{"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**",
                "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}}}]),
    );
    let tickets = crate::common::issue_to(
        &node,
        &agent,
        "t-tickets",
        json!([{"action": "read:tickets", "resource": "https://h.example/t/**"}]),
    );
    let wallet = daemon(dir.path(), "wallet", &agent, &node);
    add(&wallet, &refunds);
    add(&wallet, &tickets);
    let client = NodeClient::new(node.node_url());
    let at = |order: u64, amount: u64| {
        json!({"action": "call:billing_api:refund",
               "resource": format!("https://billing.b.example/refunds/{order}"),
               "arguments": {"amount": {"value": amount, "unit": "EUR"}}})
    };

    // A relay opens an exchange for 4,900 EUR on order 666 and shows the prover 10 EUR on
    // order 42: the node's presentation does not sign the copy; the daemon refuses it.
    let (big, request) = crate::common::open(&client, vec![at(666, 4900)]).expect("opened");
    // The node asks in the name of the relying party whose resources it asks for.
    assert_eq!(
        request["verifiablePresentationRequest"]["domain"],
        "https://billing.b.example"
    );
    let mut shown = request.clone();
    shown["capabilities"] = json!([at(42, 10)]);
    let refused = wallet
        .handle(Request::Answer { request: shown })
        .expect_err("a changed request");
    assert_eq!(
        refused.reason,
        Some(vouch_core::report::Reason::RequestMismatch),
        "{}",
        refused.message
    );
    // The relay has the prover answer a genuine 10 EUR request, and gives that answer to the
    // 4,900 EUR exchange: it signs another request; the node rejects it.
    let (small, genuine) = crate::common::open(&client, vec![at(42, 10)]).expect("opened");
    let response = wallet
        .handle(Request::Answer { request: genuine })
        .expect("answered");
    // Only the credential that answers: the refund one, not the tickets one.
    let presented = response["verifiablePresentation"]["verifiableCredential"]
        .as_array()
        .expect("credentials");
    assert_eq!(presented, &vec![refunds.clone()]);
    let decided = client.answer_exchange(&big, &response).expect("decided");
    assert_eq!(
        verdicts(&decided),
        vec![Some("request_mismatch".into())],
        "{decided:?}"
    );
    // The big exchange is spent; the small one still takes its own answer... which was given
    // away: it is decided on what it asked.
    let decided = client.answer_exchange(&small, &response).expect("decided");
    assert_eq!(verdicts(&decided), vec![None], "{decided:?}");
}

#[test]
fn a_delegation_made_in_the_daemon_is_registered_and_every_level_reaches_it() {
    use vouch_core::proof::Cryptosuite;
    use vouch_wallet::daemon::Request;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(consortium_of(dir.path(), 1).remove(0));
    let agent = KeyPair::generate();
    let parent = agent_credential(
        &node,
        &agent,
        "t-delegating",
        json!([{"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**",
                "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}}}]),
    );
    let wallet = daemon(dir.path(), "wallet", &agent, &node);
    add(&wallet, &parent);
    let sub = KeyPair::generate();
    let sub_did = agent_a_did(&sub);
    let narrow = json!([{"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**",
                         "constraints": {"maxAmount": {"value": 100, "unit": "EUR"}}}]);
    let delegated: vouch_api::daemon::Delegated = handled(
        &wallet,
        Request::Delegate {
            parent: parent["id"].as_str().expect("an id").to_owned(),
            to: sub_did.clone(),
            capabilities: narrow.as_array().expect("caps").clone(),
            valid_until: None,
        },
    )
    .expect("delegated through the node");
    let child = delegated.credential.clone();
    assert!(
        child["credentialStatus"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "registered: status entries of the org's lists: {child}"
    );
    // The sub-agent presents it with its chain, to the node's verification service.
    let verify = |credentials: Vec<Value>| {
        let vp = vouch_core::presentation::create(
            &sub,
            credentials,
            "c-1",
            "partner.example",
            Cryptosuite::EddsaJcs2022,
            chrono::Utc::now(),
        )
        .expect("presents");
        let answer = node
            .client()
            .verify_presentation(&VerifyPresentation {
                verifiable_presentation: vp,
                options: PresentationOptions {
                    challenge: "c-1".into(),
                    domain: "partner.example".into(),
                    checks: None,
                },
            })
            .expect("a report");
        let reasons: Vec<String> = answer
            .errors
            .iter()
            .filter_map(|e| e.reason.map(|r| r.as_str().to_owned()))
            .collect();
        (answer.verified, reasons)
    };
    assert_eq!(verify(vec![parent.clone(), child.clone()]), (true, vec![]));

    // A child made by hand with the agent's key, never registered: it carries no status entry,
    // and fails closed.
    let typed =
        vouch_core::credential::AgentCapabilityCredential::from_json(&parent).expect("reads");
    let by_hand = vouch_core::delegation::delegate(
        &typed,
        vouch_core::did::Did::parse(&sub_did).expect("a DID"),
        narrow.as_array().expect("caps").clone(),
        typed.valid_until,
        chrono::Utc::now(),
    )
    .expect("delegates");
    let by_hand = vouch_core::delegation::sign_credential(
        &by_hand,
        &agent,
        vouch_core::did::key::verification_method_of(&agent.public()),
        Cryptosuite::EddsaJcs2022,
        chrono::Utc::now(),
    )
    .expect("signs");
    assert_eq!(
        verify(vec![parent.clone(), by_hand]),
        (false, vec!["status_missing".to_owned()])
    );

    // Revoking the sub-agent (the agent level, its did:key) reaches the registered child.
    node.admin()
        .revoke(&revocation_request(
            Level::Agent,
            &sub_did.to_string(),
            false,
        ))
        .expect("revoked");
    let (verified, reasons) = verify(vec![parent.clone(), child.clone()]);
    assert!(
        !verified && reasons.contains(&"revoked".to_owned()),
        "{reasons:?}"
    );
    // A revocation that reaches nothing is no success: a did:key this org never saw, a task it
    // never issued for.
    for (level, subject) in [
        (Level::Agent, agent_a_did(&KeyPair::generate()).to_string()),
        (Level::Task, "t-never".to_owned()),
    ] {
        match node
            .admin()
            .revoke(&revocation_request(level, &subject, false))
        {
            Err(vouch_api::node::NodeError::Refused {
                status, message, ..
            }) => {
                assert_eq!(status, 404, "{level:?}: {message}");
                assert!(message.contains("nothing to revoke"), "{message}");
            }
            other => panic!("{level:?}: {other:?}"),
        }
    }
}

#[test]
fn a_request_above_what_an_agent_may_do_alone_goes_through_once_its_owner_approved_it() {
    use vouch_wallet::daemon::Request;
    use vouch_wallet::node::NodeClient;
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(consortium_of(dir.path(), 1).remove(0));
    // The owner the definitions name, with an owner key of their own.
    let owner_key = KeyPair::generate();
    node.admin()
        .register_owner(&OwnerRequest {
            id: "owner@org.example".into(),
            key: Some(agent_a_did(&owner_key).to_string()),
            drop_passkeys: false,
        })
        .expect("registered");
    let agent = KeyPair::generate();
    let credential = agent_credential(
        &node,
        &agent,
        "t-gated",
        json!([{"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**",
                "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}, "requiresApproval": true}}]),
    );
    let wallet = daemon(dir.path(), "wallet", &agent, &node);
    add(&wallet, &credential);
    let client = NodeClient::new(node.node_url());
    let exchange = |amount: u64, order: u64| {
        let asked = json!({"action": "call:billing_api:refund",
            "resource": format!("https://billing.b.example/refunds/{order}"),
            "arguments": {"amount": {"value": amount, "unit": "EUR"}}});
        let (id, request) = crate::common::open(&client, vec![asked]).expect("opened");
        let response = wallet
            .handle(Request::Answer { request })
            .expect("answered");
        client.answer_exchange(&id, &response).expect("decided")
    };
    // Without an approval: `needs_approval`, with the hash of what to approve.
    let decided = exchange(4900, 666);
    assert_eq!(
        verdicts(&decided),
        vec![Some("needs_approval".into())],
        "{decided:?}"
    );
    let to_approve = json!(decided.decisions[0].approval_request);
    assert!(to_approve.is_string(), "{decided:?}");

    // The agent's daemon asks its org's node, presenting the credential that names the
    // request over a node challenge.
    let ask = |amount: u64, order: u64| -> Pending {
        handled(
            &wallet,
            Request::RequestApproval {
                request: json!({"action": "call:billing_api:refund",
                    "resource": format!("https://billing.b.example/refunds/{order}"),
                    "arguments": {"amount": {"value": amount, "unit": "EUR"}}}),
            },
        )
        .expect("asked")
    };
    let pending = ask(4900, 666);
    assert_eq!(pending.standing, Standing::Pending);
    assert_eq!(json!(pending.request_hash), to_approve);
    // The owner decides with their key, over exactly what is pending (`vouch agent approve`).
    let org = vouch_wallet::node::OrgNode::new(node.node_url());
    let decide = |pending: &Pending, verdict: OwnerVerdict, key: &KeyPair| {
        org.decide_approval(key, pending, verdict)
    };
    let status_of = |refused: Result<Pending, vouch_wallet::node::NodeError>| match refused {
        Err(vouch_wallet::node::NodeError::Refused { status, code, .. }) => {
            (status, code.as_str().to_owned())
        }
        other => panic!("not refused: {other:?}"),
    };
    // Signed by anyone but the owner: refused.
    assert_eq!(
        status_of(decide(
            &pending,
            OwnerVerdict::Approve,
            &KeyPair::generate()
        )),
        (403, "invalid_proof".to_owned())
    );
    let approved = decide(&pending, OwnerVerdict::Approve, &owner_key).expect("approved");
    assert_eq!(approved.standing, Standing::Approved);
    let approval = approved.approval.clone().expect("the approval");
    assert!(vouch_core::approval::is_approval(&approval), "{approval}");
    // Decided once.
    assert_eq!(
        status_of(decide(&pending, OwnerVerdict::Refuse, &owner_key)),
        (403, "replayed".to_owned())
    );

    // The agent's daemon fetches it, holds it and presents it with the request it approves:
    // accepted...
    let fetched: Pending = handled(
        &wallet,
        Request::ApprovalStatus {
            id: pending.id.clone(),
        },
    )
    .expect("fetched");
    assert_eq!(fetched.approval, Some(approval));
    // ...not for another request (another order) it does not approve...
    let other = exchange(4900, 667);
    assert_eq!(
        verdicts(&other),
        vec![Some("needs_approval".into())],
        "{other:?}"
    );
    let decided = exchange(4900, 666);
    assert_eq!(verdicts(&decided), vec![None], "{decided:?}");
    // ...and once only.
    let again = exchange(4900, 666);
    assert_eq!(
        verdicts(&again),
        vec![Some("needs_approval".into())],
        "{again:?}"
    );

    // A refusal gives nothing.
    let pending = ask(100, 668);
    let refused = decide(&pending, OwnerVerdict::Refuse, &owner_key).expect("refused");
    assert_eq!(refused.standing, Standing::Refused);
    assert!(refused.approval.is_none());
    // At most 16 wait per agent; a decided one makes room.
    let waiting: Vec<Pending> = (0..16).map(|i| ask(100, 700 + i)).collect();
    let refused = wallet
        .handle(Request::RequestApproval {
            request: json!({"action": "call:billing_api:refund",
                "resource": "https://billing.b.example/refunds/799",
                "arguments": {"amount": {"value": 100, "unit": "EUR"}}}),
        })
        .expect_err("a 17th");
    // The node's code passes through the daemon.
    assert_eq!(
        refused.code,
        vouch_api::ErrorCode::TooMany,
        "{}",
        refused.message
    );
    decide(&waiting[0], OwnerVerdict::Refuse, &owner_key).expect("refused");
    ask(100, 799);
    // Every step is in the node's audit log, with no argument in it.
    let entries = serde_json::to_string(&client.audit_entries(0).expect("the entries").entries)
        .expect("JSON");
    for event in ["approval_asked", "approved", "approval_refused"] {
        assert!(entries.contains(event), "{event}: {entries}");
    }
    // 4900 as a number of its own (a hash in hex may hold the digits).
    let standalone = entries.match_indices("4900").any(|(at, _)| {
        let alone = |c: Option<char>| !c.is_some_and(|c| c.is_ascii_alphanumeric());
        alone(entries[..at].chars().next_back()) && alone(entries[at + 4..].chars().next())
    });
    assert!(!standalone, "an argument in the audit log: {entries}");
    // The credential it was asked under revoked before the owner decides: nothing is given.
    decide(&waiting[1], OwnerVerdict::Refuse, &owner_key).expect("refused");
    let late = ask(100, 801);
    node.admin()
        .revoke(&revocation_request(
            Level::Credential,
            credential["id"].as_str().expect("an id"),
            false,
        ))
        .expect("revoked");
    assert_eq!(
        status_of(decide(&late, OwnerVerdict::Approve, &owner_key)),
        (409, "revoked".to_owned())
    );
}

/// A node, and an agent of its org whose daemon holds a credential to refund up to 100 EUR at
/// billing.b.example: the node, the agent's key, its daemon, the credential's id.
pub(crate) fn refund_agent(dir: &std::path::Path) -> (TestNode, KeyPair, Arc<Daemon>, String) {
    let node = TestNode::start(consortium_of(dir, 1).remove(0));
    let agent = KeyPair::generate();
    let credential = agent_credential(
        &node,
        &agent,
        "t-refund",
        json!([{"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**",
                "constraints": {"maxAmount": {"value": 100, "unit": "EUR"}}}]),
    );
    let wallet = daemon(dir, "wallet", &agent, &node);
    add(&wallet, &credential);
    let id = credential["id"].as_str().expect("an id").to_owned();
    (node, agent, wallet, id)
}

/// The refund's arguments as the billing service reads them.
pub(crate) fn refund_of(amount: u64) -> serde_json::Map<String, Value> {
    json!({"amount": {"value": amount, "unit": "EUR"}})
        .as_object()
        .expect("an object")
        .clone()
}

/// A refund of 50 EUR at `https://billing.b.example/refunds/42`, signed by `wallet` under
/// `credential` (presenting it or not, in the Web Bot Auth profile with `signature_agent`), as
/// the billing service asks its node about it.
pub(crate) fn signed_refund(
    wallet: &Daemon,
    credential: &str,
    present: bool,
    signature_agent: Option<String>,
) -> vouch_api::node::public::CheckRequest {
    use base64::Engine as _;
    use vouch_api::daemon::{HeaderField, SignAsk, SignedRequest};
    let url = "https://billing.b.example/refunds/42";
    let body = base64::engine::general_purpose::STANDARD.encode(br#"{"amount": 50}"#);
    let content_type = HeaderField {
        name: "content-type".into(),
        value: "application/json".into(),
    };
    let signed: SignedRequest = handled(
        wallet,
        vouch_wallet::daemon::Request::SignRequest(SignAsk {
            method: "POST".into(),
            url: url.into(),
            headers: vec![content_type.clone()],
            body: Some(body.clone()),
            credential: credential.into(),
            action: "call:billing_api:refund".into(),
            arguments: refund_of(50),
            present,
            signature_agent,
        }),
    )
    .expect("signed");
    let mut headers = vec![content_type];
    headers.extend(signed.headers);
    vouch_api::node::public::CheckRequest {
        method: "POST".into(),
        url: url.into(),
        headers,
        body: Some(body),
        arguments: refund_of(50),
    }
}

/// The daemon signs an HTTP request (RFC 9421) only under a capability that permits it, over a
/// base it builds itself; the signature verifies under the instance's did:key; the audit log
/// holds the action, the credential and a hash, never the URL.
#[test]
fn the_daemon_signs_a_request_its_capability_permits_and_nothing_else() {
    use base64::Engine as _;
    use vouch_api::daemon::{HeaderField, SignAsk, SignedRequest};
    use vouch_core::http_signature::{self, CAPABILITY_FIELD, Component, LABEL, Policy, TAG};
    use vouch_wallet::daemon::Request;

    let dir = tempfile::tempdir().expect("tempdir");
    let (_node, agent, wallet, id) = refund_agent(dir.path());
    let body = br#"{"order": 42, "amount": 50}"#;
    let ask = |amount: u64, action: &str| SignAsk {
        method: "POST".into(),
        url: "https://billing.b.example/refunds/42?notify=1".into(),
        headers: vec![HeaderField {
            name: "Content-Type".into(),
            value: "application/json".into(),
        }],
        body: Some(base64::engine::general_purpose::STANDARD.encode(body)),
        credential: id.clone(),
        action: action.into(),
        arguments: json!({"amount": {"value": amount, "unit": "EUR"}})
            .as_object()
            .expect("an object")
            .clone(),
        present: false,
        signature_agent: None,
    };
    let signed: SignedRequest = handled(
        &wallet,
        Request::SignRequest(ask(50, "call:billing_api:refund")),
    )
    .expect("signed");

    // As the service receives it: its own header, and the daemon's.
    let mut headers = vec![("Content-Type".to_owned(), "application/json".to_owned())];
    headers.extend(
        signed
            .headers
            .iter()
            .map(|h| (h.name.clone(), h.value.clone())),
    );
    let target = url::Url::parse("https://billing.b.example/refunds/42?notify=1").expect("a URL");
    let request = http_signature::Request {
        method: "POST",
        target: &target,
        headers: &headers,
        body: Some(body),
    };
    let policy = Policy {
        required: &[
            Component::Method,
            Component::TargetUri,
            Component::Field(CAPABILITY_FIELD.into()),
        ],
        tags: &[TAG],
        lifetime: http_signature::MAX_LIFETIME_SECS,
        fresh: true,
    };
    let keys = |keyid: &str| {
        let did = vouch_core::did::Did::parse(keyid.split('#').next()?).ok()?;
        vouch_core::did::key::key_of(&did).ok()
    };
    let now = chrono::Utc::now().timestamp();
    let verified = http_signature::verify(&request, LABEL, &policy, keys, now, |_, _| true)
        .expect("verified under the instance's did:key");
    assert!(verified.keyid.starts_with(&agent_a_did(&agent).to_string()));
    assert!(
        verified
            .covered
            .contains(&Component::Field("content-type".into()))
    );
    assert!(
        verified
            .covered
            .contains(&Component::Field("content-digest".into()))
    );
    let capability = headers
        .iter()
        .find(|(n, _)| n == CAPABILITY_FIELD)
        .map(|(_, v)| v.clone())
        .expect("the capability field");
    assert_eq!(
        capability,
        format!("credential=\"{id}\", action=\"call:billing_api:refund\"")
    );
    let lifetime = verified.parameters.expires.expect("expires")
        - verified.parameters.created.expect("created");
    assert!(lifetime <= 60, "{lifetime}");

    // Beyond the capability: not signed, with the reason.
    let refused = handled::<SignedRequest>(
        &wallet,
        Request::SignRequest(ask(500, "call:billing_api:refund")),
    )
    .expect_err("beyond maxAmount");
    assert_eq!(
        refused.reason,
        Some(vouch_core::report::Reason::ConstraintViolated),
        "{}",
        refused.message
    );
    let refused = handled::<SignedRequest>(
        &wallet,
        Request::SignRequest(ask(50, "call:billing_api:delete")),
    )
    .expect_err("another action");
    assert_eq!(refused.reason, Some(vouch_core::report::Reason::NotGranted));
    // The fields the daemon sets are the daemon's: the agent cannot give its own.
    let mut forged = ask(50, "call:billing_api:refund");
    forged.headers.push(HeaderField {
        name: "Signature".into(),
        value: "vouch=:AAAA:".into(),
    });
    assert!(handled::<SignedRequest>(&wallet, Request::SignRequest(forged)).is_err());
    // A credential it does not hold.
    let mut stranger = ask(50, "call:billing_api:refund");
    stranger.credential = "urn:uuid:00000000-0000-4000-8000-000000000000".into();
    assert!(handled::<SignedRequest>(&wallet, Request::SignRequest(stranger)).is_err());

    // One entry per signature given, with no URL and no body in it.
    let entries = wallet.log().entries(0).expect("entries");
    let signed: Vec<_> = entries
        .iter()
        .filter(|e| e.event == Event::RequestSigned)
        .collect();
    assert_eq!(signed.len(), 1, "{entries:?}");
    assert_eq!(signed[0].credentials, vec![id.clone()]);
    assert_eq!(signed[0].action.as_deref(), Some("call:billing_api:refund"));
    let text = serde_json::to_string(&entries).expect("JSON");
    assert!(
        !text.contains("billing.b.example") && !text.contains("notify"),
        "{text}"
    );
}

/// A service that would rather ask: the node checks a request the agent's daemon signed with
/// its presentation — the signature, then the capability — and refuses a replay, a call beyond
/// the capability, and a request whose credential was revoked.
#[test]
fn a_signed_request_is_checked_by_the_node_signature_then_capability() {
    use base64::Engine as _;

    use vouch_api::node::NodeError;

    let dir = tempfile::tempdir().expect("tempdir");
    let (node, agent, wallet, id) = refund_agent(dir.path());
    let arguments = refund_of;
    let sign = |present: bool| signed_refund(&wallet, &id, present, None);
    let client = node.client();
    let code = |result: Result<_, NodeError>| match result {
        Err(NodeError::Refused { code, .. }) => code.as_str().to_owned(),
        other => panic!("not refused: {other:?}"),
    };

    // Without a presentation, and none shown before: the signer must present.
    assert_eq!(code(client.verify_request(&sign(false))), "not_holder");
    let asked = sign(true);
    let permitted = client.verify_request(&asked).expect("permitted");
    assert_eq!(permitted.signer.to_string(), agent_a_did(&agent));
    assert_eq!(permitted.credential, id);
    assert_eq!(permitted.action, "call:billing_api:refund");
    // The same signed request again: replayed.
    assert_eq!(code(client.verify_request(&asked)), "replayed");
    // A call beyond the capability under a fresh signature: the service's arguments count.
    let mut beyond = sign(true);
    beyond.arguments = arguments(500);
    assert_eq!(code(client.verify_request(&beyond)), "constraint_violated");
    // A refused request uses up no nonce: the same signature for a call it permits passes.
    beyond.arguments = arguments(50);
    client
        .verify_request(&beyond)
        .expect("its nonce was not taken");
    // Another body under the signature: its digest no longer matches.
    let mut changed = sign(true);
    changed.body = Some(base64::engine::general_purpose::STANDARD.encode(br#"{"amount": 99}"#));
    assert_eq!(code(client.verify_request(&changed)), "invalid_proof");
    // The session's later requests carry only the reference: the chain shown first is kept,
    // and holds them to the same capability.
    let later = sign(false);
    assert!(
        !later.headers.iter().any(|h| h.name == "vouch-presentation"),
        "a later request carries no presentation"
    );
    let again = client
        .verify_request(&later)
        .expect("permitted by the chain kept");
    assert_eq!(
        (again.credential, again.action),
        (id.clone(), "call:billing_api:refund".into())
    );
    let mut beyond = sign(false);
    beyond.arguments = arguments(500);
    assert_eq!(code(client.verify_request(&beyond)), "constraint_violated");
    // Revoked at the node: the next request is refused, with or without its presentation —
    // the kept chain's status is read again at each request.
    node.admin()
        .revoke(&revocation_request(Level::Credential, &id, false))
        .expect("revoked");
    assert_eq!(code(client.verify_request(&sign(false))), "revoked");
    assert_eq!(code(client.verify_request(&sign(true))), "revoked");

    // Each decision is in the node's audit log: each permitted one with its action and
    // credential, a party's refusals as the first of the minute (the rest counted, written when
    // the minute is over: `ApiState::record_refusal`) — the signer's `not_holder`, and one of no
    // known signer (its signature did not verify); never the URL or the arguments.
    let entries = client.audit_entries(0).expect("the entries").entries;
    let decided: Vec<(Value, Value, Value)> = entries
        .iter()
        .map(|e| serde_json::to_value(e).expect("JSON"))
        .filter(|e| {
            ["decided", "verification_refused"].contains(&e["event"].as_str().unwrap_or(""))
        })
        .map(|e| {
            (
                e["decision"].clone(),
                e["reason"].clone(),
                e["action"].clone(),
            )
        })
        .collect();
    let accepted = (
        json!("accepted"),
        Value::Null,
        json!("call:billing_api:refund"),
    );
    let refused = |reason: &str| (json!("rejected"), json!(reason), Value::Null);
    assert_eq!(
        decided,
        vec![
            refused("not_holder"),
            accepted.clone(),
            accepted.clone(),
            refused("invalid_proof"),
            accepted,
        ]
    );
    assert!(
        entries
            .iter()
            .filter(|e| e.decision == Some(Decision::Accepted))
            .all(|e| e.agent.as_deref() == Some(agent_a_did(&agent).as_str())
                && e.credentials == [id.clone()])
    );
    let written = serde_json::to_string(&entries).expect("JSON");
    assert!(
        !written.contains("billing.b.example") && !written.contains("EUR"),
        "{written}"
    );
}
