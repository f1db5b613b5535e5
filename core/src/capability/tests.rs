//! The capability algebra's properties and the attacks it must refuse.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn cap(value: Value) -> Capability {
    Capability::from_json(&value).expect("test capability parses")
}

fn base_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0)
        .single()
        .expect("valid time")
}

/// Each attack is a parent and a child that tries to exceed it; every one must be refused.
#[test]
fn attacks_are_refused() {
    let parent = json!({
        "action": "read:customer",
        "resource": "https://api.example.com/a/ab",
        "constraints": {
            "maxAmount": {"value": 5000, "unit": "EUR"},
            "validUntil": "2026-11-23T12:00:00Z",
            "hours": {"timeZone": "Europe/Paris", "days": ["mon", "tue"], "start": "09:00", "end": "17:00"},
            "requiresApproval": true,
            "scope": "team_tickets"
        }
    });
    let with = |patch: Value| {
        let mut child = parent.clone();
        for (k, v) in patch.as_object().expect("patch is an object") {
            if k == "constraints" {
                for (ck, cv) in v.as_object().expect("constraints patch is an object") {
                    if cv.is_null() {
                        child["constraints"]
                            .as_object_mut()
                            .expect("object")
                            .remove(ck);
                    } else {
                        child["constraints"][ck] = cv.clone();
                    }
                }
            } else {
                child[k] = v.clone();
            }
        }
        child
    };
    let parent_cap = cap(parent.clone());
    assert_eq!(parent_cap.is_subset_of(&parent_cap), Ok(()));

    let attacks: Vec<(&str, Value)> = vec![
        (
            "string-prefix action",
            with(json!({"action": "read:customer_records"})),
        ),
        ("broader action", with(json!({"action": "read:*"}))),
        (
            "sibling path prefix",
            with(json!({"resource": "https://api.example.com/a/abc"})),
        ),
        (
            "wildcard resource",
            with(json!({"resource": "https://api.example.com/a/*"})),
        ),
        (
            "subtree resource",
            with(json!({"resource": "https://api.example.com/a/ab/**"})),
        ),
        (
            "other host",
            with(json!({"resource": "https://api.example.org/a/ab"})),
        ),
        (
            "raised limit",
            with(json!({"constraints": {"maxAmount": {"value": 5001, "unit": "EUR"}}})),
        ),
        (
            "other currency",
            with(json!({"constraints": {"maxAmount": {"value": 10, "unit": "USD"}}})),
        ),
        (
            "limit dropped",
            with(json!({"constraints": {"maxAmount": null}})),
        ),
        (
            "later validUntil",
            with(json!({"constraints": {"validUntil": "2026-11-23T12:00:01Z"}})),
        ),
        (
            "validUntil dropped",
            with(json!({"constraints": {"validUntil": null}})),
        ),
        (
            "earlier start",
            with(
                json!({"constraints": {"hours": {"timeZone": "Europe/Paris", "days": ["mon"], "start": "08:59", "end": "17:00"}}}),
            ),
        ),
        (
            "later end",
            with(
                json!({"constraints": {"hours": {"timeZone": "Europe/Paris", "days": ["mon"], "start": "09:00", "end": "17:01"}}}),
            ),
        ),
        (
            "extra day",
            with(
                json!({"constraints": {"hours": {"timeZone": "Europe/Paris", "days": ["mon", "sat"], "start": "10:00", "end": "11:00"}}}),
            ),
        ),
        (
            "other time zone",
            with(
                json!({"constraints": {"hours": {"timeZone": "America/New_York", "days": ["mon"], "start": "10:00", "end": "11:00"}}}),
            ),
        ),
        (
            "hours dropped",
            with(json!({"constraints": {"hours": null}})),
        ),
        (
            "requiresApproval dropped",
            with(json!({"constraints": {"requiresApproval": null}})),
        ),
        (
            "requiresApproval false",
            with(json!({"constraints": {"requiresApproval": false}})),
        ),
        (
            "broader scope",
            with(json!({"constraints": {"scope": "all_tickets"}})),
        ),
        (
            "unrelated scope",
            with(json!({"constraints": {"scope": "read_only"}})),
        ),
        (
            "scope dropped",
            with(json!({"constraints": {"scope": null}})),
        ),
        (
            "unknown constraint",
            with(json!({"constraints": {"maxTokens": 5}})),
        ),
        (
            "unknown scope",
            with(json!({"constraints": {"scope": "assigned_or_anything"}})),
        ),
    ];
    for (name, child) in attacks {
        let child = cap(child);
        assert!(
            child.is_subset_of(&parent_cap).is_err(),
            "attack accepted: {name}"
        );
    }

    // A narrower child in every dimension at once is accepted.
    let narrower = cap(with(json!({"constraints": {
        "maxAmount": {"value": 100, "unit": "EUR"},
        "validUntil": "2026-11-23T11:00:00Z",
        "hours": {"timeZone": "Europe/Paris", "days": ["mon"], "start": "10:00", "end": "12:00"},
        "scope": "assigned_tickets_only",
        "minApprovals": {"value": 2, "unit": "approvals"}
    }})));
    assert_eq!(narrower.is_subset_of(&parent_cap), Ok(()));
}

#[test]
fn malformed_resources_never_become_capabilities() {
    for resource in [
        "https://api.example.com/a/../b",
        "https://api.example.com/a/%2e%2e/b",
        "https://api.example.com/a%2Fb",
        "https://api.example.com/a%2fb",
    ] {
        assert!(
            Capability::from_json(&json!({"action": "read", "resource": resource})).is_err(),
            "{resource}"
        );
        assert!(
            Request::from_json(&json!({"action": "read", "resource": resource})).is_err(),
            "{resource}"
        );
    }
}

#[test]
fn unknown_constraint_rejects_only_its_capability() {
    let good = cap(json!({"action": "read:a", "resource": "https://h/x"}));
    let odd =
        cap(json!({"action": "read:b", "resource": "https://h/x", "constraints": {"tokens": 1}}));
    let request = |action: &str| {
        Request::from_json(&json!({"action": action, "resource": "https://h/x"})).expect("request")
    };
    let caps = [good, odd];
    assert_eq!(
        request("read:a").permitted_by(&caps, base_time(), 0),
        Ok(())
    );
    assert!(matches!(
        request("read:b").permitted_by(&caps, base_time(), 0),
        Err(Denial::UnknownConstraint { .. })
    ));
}

#[test]
fn requests_are_checked_against_constraints() {
    let c = cap(json!({
        "action": "call:billing_api:refund",
        "resource": "https://billing.example.com/refunds/**",
        "constraints": {
            "maxAmount": {"value": 5000, "unit": "EUR"},
            "hours": {"timeZone": "Europe/Paris", "days": ["mon"], "start": "09:00", "end": "17:00"},
            "requiresApproval": true,
            "scope": "team_tickets"
        }
    }));
    let caps = [c];
    // 2026-11-23 is a Monday; 10:00 UTC is 11:00 in Paris.
    let now = base_time();
    // `approval`: whether the verifier holds an approval of this request (crate::approval);
    // never something the request itself says.
    let request = |amount: u64, unit: &str, approval: Option<&str>, scope: &str| {
        let arguments = json!({"amount": {"value": amount, "unit": unit}, "scope": scope});
        let mut request = Request::from_json(&json!({
            "action": "call:billing_api:refund",
            "resource": "https://billing.example.com/refunds/r-1",
            "arguments": arguments
        }))
        .expect("request");
        request.approved = approval.is_some();
        request
    };
    assert_eq!(
        request(5000, "EUR", Some("appr-1"), "assigned_tickets_only").permitted_by(&caps, now, 0),
        Ok(())
    );
    // Without an approval: `needs_approval`; an argument claiming one is no approval.
    assert_eq!(
        request(1, "EUR", None, "team_tickets").permitted_by(&caps, now, 0),
        Err(Denial::NeedsApproval { hop: 0 })
    );
    let claimed = Request::from_json(&json!({
        "action": "call:billing_api:refund",
        "resource": "https://billing.example.com/refunds/r-1",
        "arguments": {"amount": {"value": 1, "unit": "EUR"}, "scope": "team_tickets",
                      "approval": "yes"}
    }))
    .expect("request");
    assert!(!claimed.approved);
    assert_eq!(
        claimed.permitted_by(&caps, now, 0),
        Err(Denial::NeedsApproval { hop: 0 })
    );
    for (name, r, at) in [
        (
            "over limit",
            request(5001, "EUR", Some("a"), "team_tickets"),
            now,
        ),
        (
            "other currency",
            request(1, "USD", Some("a"), "team_tickets"),
            now,
        ),
        (
            "broader scope",
            request(1, "EUR", Some("a"), "all_tickets"),
            now,
        ),
        (
            "after hours",
            request(1, "EUR", Some("a"), "team_tickets"),
            now + Duration::hours(7),
        ),
        (
            "on tuesday",
            request(1, "EUR", Some("a"), "team_tickets"),
            now + Duration::days(1),
        ),
    ] {
        assert!(
            matches!(
                r.permitted_by(&caps, at, 0),
                Err(Denial::ConstraintViolated { .. })
            ),
            "{name}"
        );
    }
    let elsewhere = Request::from_json(&json!({
        "action": "call:billing_api:refund",
        "resource": "https://billing.example.com/refundsx/r-1",
    }))
    .expect("request");
    assert_eq!(
        elsewhere.permitted_by(&caps, now, 0),
        Err(Denial::NotGranted { hop: 0 })
    );
}

#[test]
fn every_hop_of_a_chain_must_permit() {
    let root = [cap(json!({"action": "read:*", "resource": "https://h/**",
        "constraints": {"maxRecords": {"value": 100, "unit": "records"}}}))];
    let leaf = [cap(
        json!({"action": "read:customer", "resource": "https://h/c/*",
        "constraints": {"maxRecords": {"value": 10, "unit": "records"}}}),
    )];
    let request = |records: u64| {
        Request::from_json(
            &json!({"action": "read:customer", "resource": "https://h/c/1",
            "arguments": {"records": records}}),
        )
        .expect("request")
    };
    let chain = [&root[..], &leaf[..]];
    assert_eq!(request(10).permitted_by_chain(chain, base_time()), Ok(()));
    assert!(matches!(
        request(11).permitted_by_chain(chain, base_time()),
        Err(Denial::ConstraintViolated { hop: 1, .. })
    ));
    assert!(
        request(1)
            .permitted_by_chain(std::iter::empty(), base_time())
            .is_err()
    );
}

// ---- property tests over a small universe where collisions are likely ----

const ACTIONS: &[&str] = &[
    "read",
    "read:customer",
    "read:customer_records",
    "read:*",
    "read:customer:*",
    "write:customer",
    "*",
];
const RESOURCES: &[&str] = &[
    "https://h/a",
    "https://h/a/ab",
    "https://h/a/abc",
    "https://h/a/*",
    "https://h/a/**",
    "https://h/a/ab/x",
    "https://h/**",
    "https://g/a",
];
const SCOPES: &[&str] = &[
    "all_tickets",
    "team_tickets",
    "assigned_tickets_only",
    "read_only",
];
const ZONES: &[&str] = &["Europe/Paris", "UTC"];
const DAY_NAMES: &[&str] = &["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn arb_capability() -> impl Strategy<Value = Capability> {
    (
        (0..ACTIONS.len(), 0..RESOURCES.len()),
        proptest::option::of((0u64..1000, prop::bool::ANY)),
        proptest::option::of(0u64..4),
        proptest::option::of(0i64..10),
        proptest::option::of((0..ZONES.len(), prop::bits::u8::between(0, 7), 0u32..12, 12u32..24)),
        prop::bool::ANY,
        proptest::option::of(0..SCOPES.len()),
    )
        .prop_filter_map("nonempty days", |((a, r), amount, approvals, until, hours, flag, scope)| {
            let mut constraints = serde_json::Map::new();
            if let Some((value, eur)) = amount {
                constraints.insert("maxAmount".into(), json!({"value": value, "unit": if eur {"EUR"} else {"USD"}}));
            }
            if let Some(n) = approvals {
                constraints.insert("minApprovals".into(), json!({"value": n, "unit": "approvals"}));
            }
            if let Some(h) = until {
                constraints.insert("validUntil".into(), json!((base_time() + Duration::hours(h)).to_rfc3339()));
            }
            if let Some((zone, days, start, end)) = hours {
                let days: Vec<&str> = (0..7).filter(|d| days & (1 << d) != 0).map(|d| DAY_NAMES[d]).collect();
                if days.is_empty() {
                    return None;
                }
                constraints.insert("hours".into(), json!({"timeZone": ZONES[zone], "days": days,
                    "start": format!("{start:02}:00"), "end": format!("{end:02}:00")}));
            }
            if flag {
                constraints.insert("requiresApproval".into(), json!(true));
            }
            if let Some(s) = scope {
                constraints.insert("scope".into(), json!(SCOPES[s]));
            }
            Capability::from_json(&json!({"action": ACTIONS[a], "resource": RESOURCES[r], "constraints": constraints})).ok()
        })
}

const REQUEST_ACTIONS: &[&str] = &[
    "read",
    "read:customer",
    "read:customer_records",
    "read:customer:notes",
    "write:customer",
];
const REQUEST_RESOURCES: &[&str] = &[
    "https://h/a",
    "https://h/a/ab",
    "https://h/a/abc",
    "https://h/a/ab/x",
    "https://g/a",
];

fn arb_request() -> impl Strategy<Value = (Request, DateTime<Utc>)> {
    (
        (0..REQUEST_ACTIONS.len(), 0..REQUEST_RESOURCES.len()),
        (0u64..1200, prop::bool::ANY, 0u64..5),
        (prop::bool::ANY, 0..SCOPES.len()),
        0i64..(24 * 9),
    )
        .prop_map(|((a, r), (amount, eur, approvals), (approved, scope), hours)| {
            let arguments = json!({
                "amount": {"value": amount, "unit": if eur {"EUR"} else {"USD"}},
                "approvals": approvals,
                "scope": SCOPES[scope],
            });
            let mut request = Request::from_json(&json!({"action": REQUEST_ACTIONS[a], "resource": REQUEST_RESOURCES[r], "arguments": arguments}))
                .expect("generated requests are well-formed");
            request.approved = approved;
            (request, base_time() + Duration::hours(hours))
        })
}

/// `reaches_under` says exactly whether some resource a pattern matches lies under a base: checked
/// against every concrete resource of up to four segments over the patterns' own names.
#[test]
fn a_pattern_reaches_under_a_base_exactly_when_one_of_its_resources_lies_under_it() {
    let mut universe = Vec::new();
    for host in ["https://h", "https://g"] {
        let mut paths = vec![String::new()];
        for _ in 0..4 {
            let longer: Vec<String> = paths
                .iter()
                .flat_map(|p| ["a", "ab", "abc", "x"].map(|s| format!("{p}/{s}")))
                .collect();
            universe.extend(longer.iter().map(|p| format!("{host}{p}")));
            paths = longer;
        }
        universe.push(host.to_owned());
    }
    let universe: Vec<ResourcePattern> = universe
        .iter()
        .map(|r| ResourcePattern::parse_concrete(r).expect("concrete"))
        .collect();
    let bases = [
        "https://h",
        "https://h/a",
        "https://h/a/ab",
        "https://h/x",
        "https://g/a",
    ];
    for pattern in RESOURCES {
        let pattern = ResourcePattern::parse(pattern).expect("a pattern");
        for base in bases {
            let base = ResourcePattern::parse_concrete(base).expect("concrete");
            let witnessed = universe
                .iter()
                .any(|r| r.is_subset_of(&pattern) && r.is_under(&base));
            assert_eq!(
                pattern.reaches_under(&base),
                witnessed,
                "{pattern} under {base}"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn subset_is_reflexive(c in arb_capability()) {
        prop_assert_eq!(c.is_subset_of(&c), Ok(()));
    }

    #[test]
    fn subset_is_transitive(a in arb_capability(), b in arb_capability(), c in arb_capability()) {
        if a.is_subset_of(&b).is_ok() && b.is_subset_of(&c).is_ok() {
            prop_assert_eq!(a.is_subset_of(&c), Ok(()));
        }
    }

    #[test]
    fn a_child_never_exceeds_its_parent(child in arb_capability(), parent in arb_capability(), (request, now) in arb_request()) {
        if child.is_subset_of(&parent).is_ok()
            && request.permitted_by(std::slice::from_ref(&child), now, 0).is_ok()
        {
            prop_assert_eq!(request.permitted_by(std::slice::from_ref(&parent), now, 0), Ok(()));
        }
    }

    #[test]
    fn capability_json_never_panics(value in arb_json()) {
        let _ = Capability::from_json(&value);
        let _ = Request::from_json(&value);
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        "[a-z:/*%.]{0,12}".prop_map(Value::from),
        Just(json!("https://h/a/**")),
        Just(json!("read:*")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("action".to_owned()),
                    Just("resource".to_owned()),
                    Just("constraints".to_owned()),
                    Just("maxAmount".to_owned()),
                    Just("hours".to_owned()),
                    Just("value".to_owned()),
                    Just("unit".to_owned()),
                    "[a-z]{1,6}"
                ],
                inner,
                0..5
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
