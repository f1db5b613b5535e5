//! Every route of the node's HTTP API as a value: its method, its path, the status of its
//! answer and, in its type, what it takes and what it answers. The clients call through these
//! values, and `docs/openapi.yaml` is generated from them (with the prose of
//! `api/src/node/openapi.prose.yaml`), so the document, the clients and the types cannot say
//! different things: a route's body changed here changes the document, or the test that
//! compares it fails.
//!
//! The node's routes that carry no message of this crate — DID resolution (W3C DID Resolution's
//! result), status lists (W3C credentials), operation logs (JSON Lines), the owner's pages and
//! their assets, metrics — are described in the prose alone; [`UNTYPED`] names them, each with
//! its reason.

use std::marker::PhantomData;

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::admin::*;
use super::oauth::*;
use super::public::*;
use crate::Problem;

/// An HTTP method the node's API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
}

impl Method {
    /// As HTTP spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Get => "GET",
            Self::Post => "POST",
        }
    }
}

/// What a request or an answer carries: its media type and its schema.
pub trait Content {
    /// The media type, `None` for no body.
    const MEDIA: Option<&'static str>;
    /// The schema of the body, in `generator`'s definitions.
    fn schema(generator: &mut SchemaGenerator) -> Option<Schema>;
}

/// A JSON body of type `T`.
pub struct Json<T: ?Sized>(PhantomData<T>);

impl<T: JsonSchema + ?Sized> Content for Json<T> {
    const MEDIA: Option<&'static str> = Some("application/json");
    fn schema(generator: &mut SchemaGenerator) -> Option<Schema> {
        Some(generator.subschema_for::<T>())
    }
}

/// An HTML form (`application/x-www-form-urlencoded`) of `T`'s fields, as OAuth's requests are.
pub struct Form<T: ?Sized>(PhantomData<T>);

impl<T: JsonSchema + ?Sized> Content for Form<T> {
    const MEDIA: Option<&'static str> = Some("application/x-www-form-urlencoded");
    fn schema(generator: &mut SchemaGenerator) -> Option<Schema> {
        Some(generator.subschema_for::<T>())
    }
}

/// No body.
pub struct Nothing;

impl Content for Nothing {
    const MEDIA: Option<&'static str> = None;
    fn schema(_: &mut SchemaGenerator) -> Option<Schema> {
        None
    }
}

/// A C2SP signed note (a checkpoint), as text.
pub struct Note;

impl Content for Note {
    const MEDIA: Option<&'static str> = Some("text/plain");
    fn schema(_: &mut SchemaGenerator) -> Option<Schema> {
        Some(json_schema!({"type": "string", "description": "A C2SP signed note."}))
    }
}

/// A JSON document whose schema the prose holds (`#/components/schemas/{NAME}`): a type core
/// owns and reads with its own parser, or a W3C or WebAuthn document the node hands to the
/// library that reads it.
pub struct Prose<T>(PhantomData<T>);

/// A name among the prose's schemas.
pub trait ProseSchema {
    /// The schema's name in `components.schemas`.
    const NAME: &'static str;
}

impl<T: ProseSchema> Content for Prose<T> {
    const MEDIA: Option<&'static str> = Some("application/json");
    fn schema(_: &mut SchemaGenerator) -> Option<Schema> {
        Some(json_schema!({"$ref": format!("#/components/schemas/{}", T::NAME)}))
    }
}

/// The schemas the prose holds.
pub mod prose {
    macro_rules! named {
        ($($(#[$doc:meta])* $name:ident,)*) => {$(
            $(#[$doc])*
            pub enum $name {}
            impl super::ProseSchema for $name {
                const NAME: &'static str = stringify!($name);
            }
        )*};
    }

    named! {
        /// The consortium's genesis and amendments.
        Published,
        /// A change of membership.
        Change,
        /// An amendment with its signatures.
        Amendment,
        /// A signed did:vouch operation.
        Operation,
        /// A DID document's content.
        DocumentContent,
        /// An instance's signed binding statement.
        Binding,
        /// A holder's response to an exchange (the VC API's `{verifiablePresentation}`).
        ExchangeResponse,
        /// A WebAuthn registration answer.
        Registration,
        /// A WebAuthn authentication answer.
        Authentication,
    }
}

/// What a path segment may not hold as it is (the URL standard's path percent-encode set, and
/// `/` and `%`): a DID keeps its colons, and no id changes the route it is put in.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%')
    .add(b'&')
    .add(b'+')
    .add(b'=');

/// A path segment or query value, percent-encoded.
pub fn segment(text: &str) -> String {
    utf8_percent_encode(text, SEGMENT).to_string()
}

/// One route: `Q` the request's body, `A` the answer's, each a [`Content`].
pub struct Route<Q, A> {
    /// Its method.
    pub method: Method,
    /// Its path, with `{name}` for each segment the caller fills.
    pub path: &'static str,
    /// The status of its answer.
    pub ok: u16,
    types: PhantomData<fn(Q) -> A>,
}

impl<Q, A> Route<Q, A> {
    const fn new(method: Method, path: &'static str, ok: u16) -> Self {
        Self {
            method,
            path,
            ok,
            types: PhantomData,
        }
    }

    /// The path with its segments filled in order, each percent-encoded.
    pub fn at(&self, segments: &[&str]) -> String {
        let mut path = String::with_capacity(self.path.len() + 64);
        let mut filled = segments.iter();
        for (n, part) in self.path.split('/').enumerate() {
            if n > 0 {
                path.push('/');
            }
            if part.starts_with('{') {
                path.push_str(&segment(filled.next().copied().unwrap_or("")));
            } else {
                path.push_str(part);
            }
        }
        debug_assert!(
            filled.next().is_none(),
            "{} takes fewer segments",
            self.path
        );
        path
    }
}

/// A body as the document describes it: its media type (`None` for none) and its schema.
#[derive(Debug, Clone, Copy)]
pub struct Body {
    /// The media type.
    pub media: Option<&'static str>,
    /// Its schema, in the generator's definitions.
    pub schema: fn(&mut SchemaGenerator) -> Option<Schema>,
}

/// A route as the document describes it, its types read out.
#[derive(Debug, Clone, Copy)]
pub struct Description {
    /// Its method.
    pub method: Method,
    /// Its path template.
    pub path: &'static str,
    /// The status of its answer.
    pub ok: u16,
    /// The request's body.
    pub request: Body,
    /// The answer's.
    pub answer: Body,
}

impl<Q: Content, A: Content> Route<Q, A> {
    /// What the document says of it.
    pub fn description(&self) -> Description {
        Description {
            method: self.method,
            path: self.path,
            ok: self.ok,
            request: Body {
                media: Q::MEDIA,
                schema: Q::schema,
            },
            answer: Body {
                media: A::MEDIA,
                schema: A::schema,
            },
        }
    }
}

use Method::{Get, Post};

/// `GET /health`.
pub const HEALTH: Route<Nothing, Json<Health>> = Route::new(Get, "/health", 200);
/// `POST /1.0/challenges`.
pub const CHALLENGES: Route<Nothing, Json<Challenge>> = Route::new(Post, "/1.0/challenges", 201);
/// `POST /1.0/delegations`.
pub const DELEGATIONS: Route<Json<DelegationRequest>, Json<Issuance>> =
    Route::new(Post, "/1.0/delegations", 201);
/// `POST /1.0/renewals`.
pub const RENEWALS: Route<Json<RenewalRequest>, Json<Issuance>> =
    Route::new(Post, "/1.0/renewals", 201);
/// `POST /1.0/approvals`.
pub const APPROVALS: Route<Json<ApprovalAsk>, Json<Pending>> =
    Route::new(Post, "/1.0/approvals", 201);
/// `GET /1.0/approvals/{id}`.
pub const APPROVAL: Route<Nothing, Json<Pending>> = Route::new(Get, "/1.0/approvals/{id}", 200);
/// `POST /1.0/approvals/{id}/decision`.
pub const APPROVAL_DECISION: Route<Json<OwnerDecision>, Json<Pending>> =
    Route::new(Post, "/1.0/approvals/{id}/decision", 200);
/// `POST /1.0/approvals/{id}/passkey`.
pub const PASSKEY_DECISION: Route<Json<PasskeyDecision>, Json<DecisionCeremony>> =
    Route::new(Post, "/1.0/approvals/{id}/passkey", 200);
/// `POST /1.0/approvals/{id}/passkey/{ceremony}`.
pub const PASSKEY_SIGNATURE: Route<Prose<prose::Authentication>, Json<Pending>> =
    Route::new(Post, "/1.0/approvals/{id}/passkey/{ceremony}", 200);
/// `POST /1.0/passkeys/enrolments`.
pub const ENROLMENTS: Route<Json<Enrolment>, Json<EnrolmentCeremony>> =
    Route::new(Post, "/1.0/passkeys/enrolments", 200);
/// `POST /1.0/passkeys/enrolments/{ceremony}`.
pub const ENROLMENT: Route<Prose<prose::Registration>, Json<Enrolled>> =
    Route::new(Post, "/1.0/passkeys/enrolments/{ceremony}", 201);
/// `POST /1.0/exchanges`.
pub const EXCHANGES: Route<Json<OpenExchange>, Json<ExchangeOpened>> =
    Route::new(Post, "/1.0/exchanges", 201);
/// `POST /1.0/exchanges/{id}`.
pub const EXCHANGE_ANSWER: Route<Prose<prose::ExchangeResponse>, Json<ExchangeDecided>> =
    Route::new(Post, "/1.0/exchanges/{id}", 200);
/// `GET /1.0/exchanges/{id}`.
pub const EXCHANGE: Route<Nothing, Json<ExchangeStanding>> =
    Route::new(Get, "/1.0/exchanges/{id}", 200);
/// `POST /1.0/credentials/verify`.
pub const VERIFY_CREDENTIAL: Route<Json<VerifyCredential>, Json<Verified>> =
    Route::new(Post, "/1.0/credentials/verify", 200);
/// `POST /credentials/verify` (the VC API's path).
pub const VC_VERIFY_CREDENTIAL: Route<Json<VerifyCredential>, Json<Verified>> =
    Route::new(Post, "/credentials/verify", 200);
/// `POST /1.0/presentations/verify`.
pub const VERIFY_PRESENTATION: Route<Json<VerifyPresentation>, Json<Verified>> =
    Route::new(Post, "/1.0/presentations/verify", 200);
/// `POST /presentations/verify` (the VC API's path).
pub const VC_VERIFY_PRESENTATION: Route<Json<VerifyPresentation>, Json<Verified>> =
    Route::new(Post, "/presentations/verify", 200);
/// `POST /1.0/requests/verify`.
pub const VERIFY_REQUEST: Route<Json<CheckRequest>, Json<RequestPermitted>> =
    Route::new(Post, "/1.0/requests/verify", 200);
/// `GET /.well-known/oauth-authorization-server` (RFC 8414).
pub const OAUTH_METADATA: Route<Nothing, Json<AuthorizationServerMetadata>> =
    Route::new(Get, "/.well-known/oauth-authorization-server", 200);
/// `GET /1.0/oauth/jwks`.
pub const OAUTH_JWKS: Route<Nothing, Json<Jwks>> = Route::new(Get, "/1.0/oauth/jwks", 200);
/// `POST /1.0/oauth/token` (RFC 8693 token exchange, with DPoP).
pub const OAUTH_TOKEN: Route<Form<TokenRequest>, Json<TokenIssued>> =
    Route::new(Post, "/1.0/oauth/token", 200);
/// `POST /1.0/oauth/introspect` (RFC 7662).
pub const OAUTH_INTROSPECT: Route<Form<Introspect>, Json<Introspection>> =
    Route::new(Post, "/1.0/oauth/introspect", 200);
/// `POST /1.0/oauth/events` (RFC 8936 poll of Security Event Tokens).
pub const OAUTH_EVENTS: Route<Json<SetPoll>, Json<SetPollAnswer>> =
    Route::new(Post, "/1.0/oauth/events", 200);
/// `GET /1.0/trust`.
pub const TRUST: Route<Nothing, Json<Trust>> = Route::new(Get, "/1.0/trust", 200);
/// `GET /1.0/consortium`.
pub const CONSORTIUM: Route<Nothing, Prose<prose::Published>> =
    Route::new(Get, "/1.0/consortium", 200);
/// `GET /1.0/revocations[?issuer=]`.
pub const REVOCATIONS: Route<Nothing, Json<RevocationEvents>> =
    Route::new(Get, "/1.0/revocations", 200);
/// `GET /1.0/audit/checkpoint`.
pub const AUDIT_CHECKPOINT: Route<Nothing, Note> = Route::new(Get, "/1.0/audit/checkpoint", 200);
/// `GET /1.0/audit/entries?from=`.
pub const AUDIT_ENTRIES: Route<Nothing, Json<AuditEntries>> =
    Route::new(Get, "/1.0/audit/entries", 200);
/// `GET /1.0/audit/proof/inclusion?index=&size=`.
pub const INCLUSION_PROOF: Route<Nothing, Json<InclusionProof>> =
    Route::new(Get, "/1.0/audit/proof/inclusion", 200);
/// `GET /1.0/audit/proof/consistency?old=&new=`.
pub const CONSISTENCY_PROOF: Route<Nothing, Json<ConsistencyProof>> =
    Route::new(Get, "/1.0/audit/proof/consistency", 200);
/// `GET /1.0/audit/witnessed`.
pub const WITNESSED: Route<Nothing, Json<Witnessed>> = Route::new(Get, "/1.0/audit/witnessed", 200);
/// `GET /1.0/audit/evidence`.
pub const EVIDENCE: Route<Nothing, Json<EvidenceHeld>> =
    Route::new(Get, "/1.0/audit/evidence", 200);

/// `GET /admin/agents[?orphaned=true]`.
pub const DEFINITIONS: Route<Nothing, Json<Definitions>> = Route::new(Get, "/admin/agents", 200);
/// `POST /admin/agents`.
pub const REGISTER_DEFINITION: Route<Json<DefinitionRequest>, Json<Registered>> =
    Route::new(Post, "/admin/agents", 201);
/// `POST /admin/agents/{definition}/instances`.
pub const INSTANCES: Route<Prose<prose::Binding>, Json<Instance>> =
    Route::new(Post, "/admin/agents/{definition}/instances", 201);
/// `POST /admin/credentials`.
pub const ISSUE: Route<Json<IssueRequest>, Json<Issuance>> =
    Route::new(Post, "/admin/credentials", 201);
/// `GET /admin/credentials/{id}`.
pub const ISSUED: Route<Nothing, Json<Issued>> = Route::new(Get, "/admin/credentials/{id}", 200);
/// `POST /credentials/issue` (the VC API's issuer).
pub const W3C_ISSUE: Route<Json<W3cIssueRequest>, Json<W3cIssued>> =
    Route::new(Post, "/credentials/issue", 201);
/// `POST /admin/revocations`.
pub const REVOKE: Route<Json<RevocationRequest>, Json<Revocation>> =
    Route::new(Post, "/admin/revocations", 200);
/// `POST /admin/suspensions`.
pub const SUSPEND: Route<Json<RevocationRequest>, Json<Revocation>> =
    Route::new(Post, "/admin/suspensions", 200);
/// `POST /admin/suspensions/{id}/lift`.
pub const LIFT: Route<Json<Lift>, Json<Revocation>> =
    Route::new(Post, "/admin/suspensions/{id}/lift", 200);
/// `POST /admin/owners`.
pub const OWNERS: Route<Json<OwnerRequest>, Json<OwnerRegistered>> =
    Route::new(Post, "/admin/owners", 201);
/// `POST /admin/did/operations`.
pub const DID_OPERATIONS: Route<Prose<prose::Operation>, Json<OperationAccepted>> =
    Route::new(Post, "/admin/did/operations", 200);
/// `POST /admin/did/update`.
pub const DID_UPDATE: Route<Prose<prose::DocumentContent>, Json<OperationAccepted>> =
    Route::new(Post, "/admin/did/update", 200);
/// `POST /admin/did/rotate`.
pub const DID_ROTATE: Route<Nothing, Json<OperationAccepted>> =
    Route::new(Post, "/admin/did/rotate", 200);
/// `POST /admin/did/deactivate`.
pub const DID_DEACTIVATE: Route<Json<Confirm>, Json<OperationAccepted>> =
    Route::new(Post, "/admin/did/deactivate", 200);
/// `POST /admin/audit/checkpoint`.
pub const SIGN_CHECKPOINT: Route<Nothing, Note> = Route::new(Post, "/admin/audit/checkpoint", 200);
/// `POST /admin/peers/{action}` (`admit` or `refuse`).
pub const PEERS: Route<Json<Peers>, Json<PeersChanged>> =
    Route::new(Post, "/admin/peers/{action}", 200);
/// `GET /admin/consortium`.
pub const MEMBERSHIP: Route<Nothing, Json<Membership>> = Route::new(Get, "/admin/consortium", 200);
/// `POST /admin/consortium/proposals`.
pub const PROPOSALS: Route<Prose<prose::Change>, Json<Signed>> =
    Route::new(Post, "/admin/consortium/proposals", 200);
/// `POST /admin/consortium/signatures`.
pub const SIGNATURES: Route<Prose<prose::Amendment>, Json<Signed>> =
    Route::new(Post, "/admin/consortium/signatures", 200);
/// `POST /admin/status-lists/{name}`.
pub const STATUS_LIST_CHANGE: Route<Json<StatusChange>, Json<StatusChanged>> =
    Route::new(Post, "/admin/status-lists/{name}", 200);

/// Every route with a message of this crate, as the document describes it.
pub fn all() -> Vec<Description> {
    vec![
        HEALTH.description(),
        CHALLENGES.description(),
        DELEGATIONS.description(),
        RENEWALS.description(),
        APPROVALS.description(),
        APPROVAL.description(),
        APPROVAL_DECISION.description(),
        PASSKEY_DECISION.description(),
        PASSKEY_SIGNATURE.description(),
        ENROLMENTS.description(),
        ENROLMENT.description(),
        EXCHANGES.description(),
        EXCHANGE_ANSWER.description(),
        EXCHANGE.description(),
        VERIFY_CREDENTIAL.description(),
        VC_VERIFY_CREDENTIAL.description(),
        VERIFY_PRESENTATION.description(),
        VC_VERIFY_PRESENTATION.description(),
        VERIFY_REQUEST.description(),
        OAUTH_METADATA.description(),
        OAUTH_JWKS.description(),
        OAUTH_TOKEN.description(),
        OAUTH_INTROSPECT.description(),
        OAUTH_EVENTS.description(),
        TRUST.description(),
        CONSORTIUM.description(),
        REVOCATIONS.description(),
        AUDIT_CHECKPOINT.description(),
        AUDIT_ENTRIES.description(),
        INCLUSION_PROOF.description(),
        CONSISTENCY_PROOF.description(),
        WITNESSED.description(),
        EVIDENCE.description(),
        DEFINITIONS.description(),
        REGISTER_DEFINITION.description(),
        INSTANCES.description(),
        ISSUE.description(),
        ISSUED.description(),
        W3C_ISSUE.description(),
        REVOKE.description(),
        SUSPEND.description(),
        LIFT.description(),
        OWNERS.description(),
        DID_OPERATIONS.description(),
        DID_UPDATE.description(),
        DID_ROTATE.description(),
        DID_DEACTIVATE.description(),
        SIGN_CHECKPOINT.description(),
        PEERS.description(),
        MEMBERSHIP.description(),
        PROPOSALS.description(),
        SIGNATURES.description(),
        STATUS_LIST_CHANGE.description(),
    ]
}

/// The path below which a node resolves DIDs (`GET /1.0/identifiers/{did}`).
pub const IDENTIFIERS: &str = "/1.0/identifiers/";
/// The path below which a node serves did:vouch operation logs (`GET /1.0/logs/{did}`).
pub const LOGS: &str = "/1.0/logs/";

/// The routes the prose alone describes, each with why no type of this crate is its message.
pub const UNTYPED: [(Method, &str, &str); 8] = [
    (
        Get,
        "/1.0/identifiers/{did}",
        "W3C DID Resolution's result, negotiated among four media types",
    ),
    (
        Get,
        "/1.0/status-lists/{did}/{name}",
        "a W3C status list credential, signed by the org",
    ),
    (Get, "/1.0/logs/{did}", "JSON Lines of signed operations"),
    (Get, "/approve/{id}", "the owner's approval page (HTML)"),
    (Get, "/owners/enrol", "the owner's enrolment page (HTML)"),
    (Get, "/assets/passkey.js", "the pages' script"),
    (Get, "/assets/vouch.css", "the pages' style"),
    (Get, "/metrics", "Prometheus' text format"),
];

/// OAuth's error object, what the OAuth routes refuse with, in the document's components.
pub fn oauth_refusal(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<OAuthRefusal>()
}

/// The RFC 9457 problem every refusal is, in the document's components.
pub fn problem(generator: &mut SchemaGenerator) -> Schema {
    generator.subschema_for::<Problem>()
}
