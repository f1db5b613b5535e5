//! The owner's passkey on the node's pages, in a real browser: Debian's Chromium, headless,
//! with a virtual WebAuthn authenticator (`vouch-browser`). The owner registers a passkey from
//! the link their agent's definition gave, approves and refuses on the approval page, and
//! neither a used approval nor an answer signed for another request decides anything.

use serde_json::json;
use vouch_api::node::NodeClient;
use vouch_api::node::admin::OwnerRequest;
use vouch_api::node::public::{Pending, Standing};
use vouch_browser::Browser;
use vouch_core::key::KeyPair;
use vouch_wallet::daemon::Request;

use crate::common::{TestNode, agent_credential, consortium_of};
use crate::exchange::{add, daemon, handled, verdicts};

/// Ceremonies driven by hand from the page, for what its buttons never do: `start` opens a
/// ceremony, `sign` has the authenticator answer it, `finish` posts an answer to a ceremony.
const HELPERS: &str = r#"window.vouchTest = {
  async post(path, body) {
    const r = await fetch(path, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify(body) });
    return { status: r.status, body: await r.json().catch(() => null) };
  },
  path(id) { return `/1.0/approvals/${encodeURIComponent(id)}/passkey`; },
  async start(id, decision) { return this.post(this.path(id), { decision }); },
  async sign(started) {
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(started.options.publicKey);
    return (await navigator.credentials.get({ publicKey })).toJSON();
  },
  async finish(id, ceremony, answer) {
    return this.post(`${this.path(id)}/${encodeURIComponent(ceremony)}`, answer);
  },
}; true"#;

#[test]
fn an_owner_approves_and_refuses_on_the_nodes_page_with_a_passkey_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let node = TestNode::start(consortium_of(dir.path(), 1).remove(0));
    let agent = KeyPair::generate();
    let credential = agent_credential(
        &node,
        &agent,
        "t-gated",
        json!([{"action": "call:billing_api:refund", "resource": "https://billing.b.example/refunds/**",
                "constraints": {"maxAmount": {"value": 5000, "unit": "EUR"}, "requiresApproval": true}}]),
    );
    // Registering a definition registers its owner and gives the link of their passkey
    // enrolment, on `localhost` (a passkey is bound to a name, never to 127.0.0.1).
    let registered = node
        .admin()
        .register_definition(&crate::common::definition_request("billing"))
        .expect("registered");
    let link = registered.owner_enrolment.expect("an enrolment link").url;
    let port = node.node().http_addr.port();
    assert!(
        link.starts_with(&format!("http://localhost:{port}/owners/enrol#")),
        "{link}"
    );

    let wallet = daemon(dir.path(), "wallet", &agent, &node);
    add(&wallet, &credential);
    let client = NodeClient::new(node.node_url());
    let refund = |amount: u64, order: u64| {
        json!({"action": "call:billing_api:refund",
            "resource": format!("https://billing.b.example/refunds/{order}"),
            "arguments": {"amount": {"value": amount, "unit": "EUR"}}})
    };
    let exchange = |amount: u64, order: u64| {
        let (id, request) =
            crate::common::open(&client, vec![refund(amount, order)]).expect("opened");
        let response = wallet
            .handle(Request::Answer { request })
            .expect("answered");
        client.answer_exchange(&id, &response).expect("decided")
    };
    let ask = |amount: u64, order: u64| -> Pending {
        handled(
            &wallet,
            Request::RequestApproval {
                request: refund(amount, order),
            },
        )
        .expect("asked")
    };
    let text = |browser: &mut Browser, selector: &str| {
        browser
            .eval(&format!(
                "document.querySelector('{selector}')?.textContent ?? null"
            ))
            .expect("evaluated")
    };

    let mut browser = Browser::start().expect("Chromium starts (scripts/test.sh installs it)");
    browser
        .add_authenticator()
        .expect("a virtual authenticator");
    // A request waits; its owner has no passkey yet: the page cannot decide it.
    let early = ask(4900, 665);
    let page = early.page.clone().expect("a page");
    assert!(
        page.starts_with(&format!("http://localhost:{port}/approve/")),
        "{page}"
    );
    browser.open(&page).expect("the page opens");
    browser.click("#approve").expect("a button");
    let (kind, said) = browser.outcome().expect("an outcome");
    assert_eq!(kind, "error");
    assert!(said.contains("no_passkey"), "{said}");

    // The owner registers a passkey from the link; the link is used once.
    browser.open(&link).expect("the enrolment page opens");
    browser.click("#enrol").expect("a button");
    assert_eq!(
        browser.outcome().expect("an outcome"),
        (
            "enrolled".into(),
            "Passkey registered for owner@org.example (1 in all).".into()
        )
    );
    browser.open(&link).expect("the enrolment page opens");
    browser.click("#enrol").expect("a button");
    let (kind, said) = browser.outcome().expect("an outcome");
    assert_eq!(kind, "error");
    assert!(said.contains("not_found"), "{said}");

    // Above what the agent may do alone: `needs_approval`. The agent asks; the page shows its
    // owner exactly that request, and the owner approves it with the passkey.
    assert_eq!(
        verdicts(&exchange(4900, 666)),
        vec![Some("needs_approval".into())]
    );
    let pending = ask(4900, 666);
    let page = pending.page.clone().expect("a page");
    browser.open(&page).expect("the page opens");
    assert_eq!(text(&mut browser, "#action"), "call:billing_api:refund");
    assert_eq!(
        text(&mut browser, "#resource"),
        "https://billing.b.example/refunds/666"
    );
    assert!(
        text(&mut browser, "#arguments")
            .as_str()
            .is_some_and(|a| a.contains("4900")),
    );
    assert_eq!(text(&mut browser, "#hash"), json!(pending.request_hash));
    browser.click("#approve").expect("a button");
    assert_eq!(
        browser.outcome().expect("an outcome"),
        ("approved".into(), "You approved this request.".into())
    );
    let id = pending.id.clone();
    let approved: Pending =
        handled(&wallet, Request::ApprovalStatus { id: id.clone() }).expect("fetched");
    assert_eq!(approved.standing, Standing::Approved);
    assert_eq!(
        approved.approval.expect("the approval")["credentialSubject"]["method"],
        "webauthn"
    );
    // Used once: accepted, then `needs_approval` again.
    assert_eq!(verdicts(&exchange(4900, 666)), vec![None]);
    assert_eq!(
        verdicts(&exchange(4900, 666)),
        vec![Some("needs_approval".into())]
    );

    // A used approval is not decided again: the page has no buttons left, and a ceremony
    // for it is refused.
    browser.open(&page).expect("the page opens");
    assert_eq!(
        browser
            .eval("document.querySelector('#approve') === null")
            .expect("evaluated"),
        true
    );
    browser.eval(HELPERS).expect("helpers");
    let again = browser
        .eval(&format!("vouchTest.start({}, 'approve')", json!(id)))
        .expect("asked");
    assert_eq!(again["status"], 403, "{again}");
    assert_eq!(again["body"]["code"], "replayed", "{again}");

    // The owner refuses another request on its page: no approval.
    let refused = ask(100, 667);
    browser
        .open(refused.page.as_deref().expect("a page"))
        .expect("the page opens");
    browser.click("#refuse").expect("a button");
    assert_eq!(browser.outcome().expect("an outcome").0, "refused");
    let decided = client.approval(&refused.id).expect("read");
    assert_eq!(decided.standing, Standing::Refused);
    assert!(decided.approval.is_none(), "{decided:?}");

    // An answer signed for one request decides no other: C's signature posted to D's ceremony
    // fails its challenge, and a ceremony of D's posted on C's path is refused; C's own
    // answer then decides C, once, and D still waits.
    let (c, d) = (ask(200, 668), ask(300, 669));
    let (c, d) = (json!(c.id), json!(d.id));
    browser.eval(HELPERS).expect("helpers");
    let crossed = browser
        .eval(&format!(
            "(async () => {{
               const c = {c}, d = {d};
               const startedC = (await vouchTest.start(c, 'approve')).body;
               const startedD = (await vouchTest.start(d, 'approve')).body;
               const signedC = await vouchTest.sign(startedC);
               const onD = await vouchTest.finish(d, startedD.ceremony, signedC);
               const otherD = (await vouchTest.start(d, 'approve')).body;
               const onPathC = await vouchTest.finish(c, otherD.ceremony, signedC);
               const own = await vouchTest.finish(c, startedC.ceremony, signedC);
               const replayed = await vouchTest.finish(c, startedC.ceremony, signedC);
               const reopened = await vouchTest.start(c, 'refuse');
               return {{ onD, onPathC, own, replayed, reopened }};
             }})()"
        ))
        .expect("evaluated");
    assert_eq!(crossed["onD"]["status"], 403, "{crossed}");
    assert_eq!(crossed["onD"]["body"]["code"], "invalid_proof", "{crossed}");
    assert_eq!(crossed["onPathC"]["status"], 403, "{crossed}");
    assert_eq!(
        crossed["onPathC"]["body"]["code"], "request_mismatch",
        "{crossed}"
    );
    assert_eq!(crossed["own"]["status"], 200, "{crossed}");
    assert_eq!(crossed["own"]["body"]["standing"], "approved", "{crossed}");
    assert_eq!(crossed["replayed"]["status"], 404, "{crossed}");
    assert_eq!(crossed["reopened"]["body"]["code"], "replayed", "{crossed}");
    let waiting = client.approval(d.as_str().expect("an id")).expect("read");
    assert_eq!(waiting.standing, Standing::Pending, "{waiting:?}");

    // A device lost: the org drops the owner's passkeys; none decides anything after, and
    // the answer gives the owner a new link.
    let dropped = node
        .admin()
        .register_owner(&OwnerRequest {
            id: "owner@org.example".into(),
            key: None,
            drop_passkeys: true,
        })
        .expect("registered anew");
    assert_eq!(dropped.passkeys, 0, "{dropped:?}");
    assert!(dropped.enrol.is_some(), "{dropped:?}");
    let after = browser
        .eval(&format!("vouchTest.start({d}, 'approve')"))
        .expect("asked");
    assert_eq!(after["body"]["code"], "no_passkey", "{after}");

    // The enrolment is in the node's audit log.
    let entries = node.client().audit_entries(0).expect("the entries").entries;
    assert!(
        entries
            .iter()
            .any(|e| e.event == vouch_core::audit::Event::PasskeyRegistered),
        "{entries:?}"
    );
}
