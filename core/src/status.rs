//! The Bitstring Status List codec
//! ([W3C Bitstring Status List v1.0](https://www.w3.org/TR/vc-bitstring-status-list/)): one bit
//! per credential, index 0 the most significant bit of the first byte, GZIP-compressed and
//! multibase base64url-encoded (`u…`) in `encodedList`. The encoding is ssi's
//! (`ssi::status::bitstring_status_list::EncodedList`); this module fixes the sizes, the bit order,
//! and bounds what it decodes.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use ssi::status::bitstring_status_list::EncodedList;

use crate::credential::StatusEntry;
use crate::did::{Did, DidResolver, DidUrl};
use crate::key::KeyPair;
use crate::proof::{self, ProofError};
use crate::verify::{EntryStatus, StatusSource};

/// The fewest entries a list has (§2.2: at least 16 KiB of bits, for herd privacy).
pub const MIN_ENTRIES: usize = 131_072;
/// The most entries a list read from elsewhere may have: 16 Mi entries, 2 MiB of bits.
pub const MAX_ENTRIES: usize = 16 * 1024 * 1024;
/// The longest `encodedList` read.
pub const MAX_ENCODED_LEN: usize = 4 * 1024 * 1024;

/// Why a status list could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusError {
    /// The size asked for is out of bounds or not a whole number of bytes.
    #[error("a status list has {MIN_ENTRIES} to {MAX_ENTRIES} entries, a multiple of 8")]
    BadSize,
    /// The index is beyond the list.
    #[error("index {0} is beyond the list")]
    OutOfRange(usize),
    /// `encodedList` is not base64url multibase GZIP of a list of an allowed size.
    #[error("invalid encodedList: {0}")]
    BadEncoding(&'static str),
    /// The document is not a BitstringStatusListCredential of the form Vouch issues.
    #[error("not a status list credential: {0}")]
    Malformed(&'static str),
    /// The proof does not verify, or is not by a key of the issuer.
    #[error("status list credential proof: {0}")]
    Proof(#[from] ProofError),
    /// The proof's key belongs to another DID than the issuer.
    #[error("the status list is signed by {signer}, not by its issuer")]
    NotIssuer {
        /// The DID whose key signed.
        signer: Did,
    },
}

/// What the bits of a list mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// A set bit revokes for good.
    Revocation,
    /// A set bit suspends until cleared.
    Suspension,
    /// A set bit says the issuer has a newer version of the credential.
    Refresh,
    /// Each value is a message, as the entry's `statusMessage` says.
    Message,
}

impl Purpose {
    /// The `statusPurpose` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Revocation => "revocation",
            Self::Suspension => "suspension",
            Self::Refresh => "refresh",
            Self::Message => "message",
        }
    }
}

/// A `BitstringStatusListCredential` (§2.3): a list, who issues it, for what, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListCredential {
    /// Its URL: what credentials name in `statusListCredential`.
    pub id: String,
    /// The org that issues it.
    pub issuer: Did,
    /// When this version was issued; a newer version has a later one (no rollback).
    pub valid_from: DateTime<Utc>,
    /// Until when this version may be relied on: its issuer signs the next before (a
    /// heartbeat), so that a verifier knows how old its revocation state is. `None`: no end.
    pub valid_until: Option<DateTime<Utc>>,
    /// What the bits mean.
    pub purpose: Purpose,
    /// The bits.
    pub list: StatusList,
}

/// The longest status list credential URL.
const MAX_URL_LEN: usize = 2048;

impl StatusListCredential {
    /// The unsigned credential.
    pub fn to_json(&self) -> Value {
        let mut credential = json!({
            "@context": [vouch_schemas::CREDENTIALS_V2],
            "id": self.id,
            "type": ["VerifiableCredential", "BitstringStatusListCredential"],
            "issuer": self.issuer,
            // Milliseconds: a list may change more than once a second, and each version must be
            // dated strictly later than the one it replaces.
            "validFrom": self.valid_from.to_rfc3339_opts(SecondsFormat::Millis, true),
            "credentialSubject": {
                "id": format!("{}#list", self.id),
                "type": "BitstringStatusList",
                "statusPurpose": self.purpose.as_str(),
                "encodedList": self.list.encode(),
            }
        });
        if let Some(until) = self.valid_until {
            credential["validUntil"] = until.to_rfc3339_opts(SecondsFormat::Millis, true).into();
        }
        credential
    }

    /// Signs the credential with `eddsa-jcs-2022` by `method`, an assertion key of the issuer.
    pub fn sign(&self, key: &KeyPair, method: DidUrl) -> Result<Value, StatusError> {
        Ok(proof::sign_assertion(
            &self.to_json(),
            key,
            method,
            self.valid_from,
        )?)
    }

    /// Verifies a signed status list credential: its form, its list, and a proof by an assertion
    /// key of its issuer.
    pub fn verify(raw: &Value, resolver: &dyn DidResolver) -> Result<Self, StatusError> {
        let credential = Self::parse(raw)?;
        let signer = proof::assertion_signer(raw, resolver)?;
        if signer != credential.issuer {
            return Err(StatusError::NotIssuer { signer });
        }
        Ok(credential)
    }

    /// Reads the form and the list of a status list credential without checking its proof: for
    /// one that was verified before it was stored.
    pub fn parse(raw: &Value) -> Result<Self, StatusError> {
        let malformed = StatusError::Malformed;
        fn text<'a>(value: &'a Value, what: &'static str) -> Result<&'a str, StatusError> {
            value.as_str().ok_or(StatusError::Malformed(what))
        }
        if raw["@context"] != json!([vouch_schemas::CREDENTIALS_V2])
            || raw["type"] != json!(["VerifiableCredential", "BitstringStatusListCredential"])
        {
            return Err(malformed("@context or type"));
        }
        let id = text(&raw["id"], "id")?;
        if id.len() > MAX_URL_LEN || !id.starts_with("https://") && !id.starts_with("http://") {
            return Err(malformed("id must be an http(s) URL"));
        }
        let issuer =
            Did::parse(text(&raw["issuer"], "issuer")?).map_err(|_| malformed("issuer"))?;
        let valid_from = DateTime::parse_from_rfc3339(text(&raw["validFrom"], "validFrom")?)
            .map_err(|_| malformed("validFrom"))?
            .with_timezone(&Utc);
        let valid_until = match raw.get("validUntil") {
            None => None,
            Some(until) => Some(
                DateTime::parse_from_rfc3339(text(until, "validUntil")?)
                    .map_err(|_| malformed("validUntil"))?
                    .with_timezone(&Utc),
            ),
        };
        if valid_until.is_some_and(|until| until <= valid_from) {
            return Err(malformed("validUntil must be after validFrom"));
        }
        let subject = &raw["credentialSubject"];
        if subject["type"] != "BitstringStatusList" {
            return Err(malformed("credentialSubject.type"));
        }
        let purpose = match text(&subject["statusPurpose"], "statusPurpose")? {
            "revocation" => Purpose::Revocation,
            "suspension" => Purpose::Suspension,
            "refresh" => Purpose::Refresh,
            "message" => Purpose::Message,
            _ => return Err(malformed("statusPurpose")),
        };
        let list = StatusList::decode(text(&subject["encodedList"], "encodedList")?)?;
        Ok(Self {
            id: id.to_owned(),
            issuer,
            valid_from,
            valid_until,
            purpose,
            list,
        })
    }

    /// Whether this version may replace `held`: same list, same issuer and purpose, issued
    /// later. An older or equal one is a rollback and is refused.
    pub fn supersedes(&self, held: &Self) -> bool {
        self.id == held.id
            && self.issuer == held.issuer
            && self.purpose == held.purpose
            && self.valid_from > held.valid_from
    }
}

/// The status lists a verifier holds, each verified before it was added, keyed by URL: a
/// [`StatusSource`] for credentials that name them, as of a time. A list past its `validUntil`
/// then, or signed longer ago than the verifier's bound, answers `Stale`: fail closed.
#[derive(Debug, Clone)]
pub struct HeldLists {
    lists: BTreeMap<String, StatusListCredential>,
    now: DateTime<Utc>,
    max_age: Option<chrono::Duration>,
}

impl HeldLists {
    /// No list yet; statuses are read as of `now`.
    pub fn new(now: DateTime<Utc>) -> Self {
        Self {
            lists: BTreeMap::new(),
            now,
            max_age: None,
        }
    }

    /// Refuses lists signed longer than `max_age` ago, whatever their `validUntil`.
    pub fn with_max_age(mut self, max_age: chrono::Duration) -> Self {
        self.max_age = Some(max_age);
        self
    }

    fn age_of(&self, list: &StatusListCredential) -> chrono::Duration {
        self.now - list.valid_from
    }

    /// Whether a list of this URL is held.
    pub fn holds(&self, url: &str) -> bool {
        self.lists.contains_key(url)
    }

    /// Adds a verified list. Of two versions of one list the newer is kept, whichever came first.
    pub fn insert(&mut self, list: StatusListCredential) {
        match self.lists.get(&list.id) {
            Some(held) if !list.supersedes(held) => {}
            _ => {
                self.lists.insert(list.id.clone(), list);
            }
        }
    }
}

/// The most status entries of one credential whose lists are fetched.
pub const MAX_ENTRIES_READ: usize = 8;

/// The status lists a verification of these credentials reads, each once: those of the first
/// [`MAX_CREDENTIALS`](crate::presentation::MAX_CREDENTIALS) credentials, at most
/// [`MAX_ENTRIES_READ`] entries each (`credentialStatus` one object or a list), no more; for fetching them before verifying, when the input is
/// not checked yet.
pub fn list_urls<'a>(credentials: impl IntoIterator<Item = &'a Value>) -> Vec<&'a str> {
    let mut urls: Vec<&str> = credentials
        .into_iter()
        .take(crate::presentation::MAX_CREDENTIALS)
        .flat_map(|credential| match &credential["credentialStatus"] {
            Value::Array(entries) => entries.iter().take(MAX_ENTRIES_READ).collect(),
            Value::Null => Vec::new(),
            // One entry as an object, as Bitstring Status List §2.1 allows.
            one => vec![one],
        })
        .filter_map(|entry| entry["statusListCredential"].as_str())
        .collect();
    urls.sort_unstable();
    urls.dedup();
    urls
}

impl StatusSource for HeldLists {
    fn age(&self, entry: &StatusEntry) -> Option<i64> {
        let list = self.lists.get(&entry.status_list_credential)?;
        Some(self.age_of(list).num_seconds())
    }

    fn status(&self, issuer: &Did, entry: &StatusEntry) -> Result<EntryStatus, String> {
        let url = &entry.status_list_credential;
        let list = self
            .lists
            .get(url)
            .ok_or_else(|| format!("no status list {url} is held"))?;
        if &list.issuer != issuer {
            return Err(format!(
                "the list {url} is issued by {}, not by the credential's issuer {issuer}",
                list.issuer
            ));
        }
        if list.purpose.as_str() != entry.status_purpose {
            return Err(format!(
                "the list {url} is for {}, the entry for {}",
                list.purpose.as_str(),
                entry.status_purpose
            ));
        }
        let age = self.age_of(list);
        if let Some(until) = list.valid_until
            && until <= self.now
        {
            return Ok(EntryStatus::Stale(format!(
                "the list {url} was valid until {}: no newer version is held",
                until.to_rfc3339_opts(SecondsFormat::Secs, true)
            )));
        }
        if let Some(max) = self.max_age
            && age > max
        {
            return Ok(EntryStatus::Stale(format!(
                "the list {url} was signed {} s ago, more than the {} s accepted",
                age.num_seconds(),
                max.num_seconds()
            )));
        }
        let value = list
            .list
            .read(entry.position()?, entry.size())
            .map_err(|e| e.to_string())?;
        Ok(match (entry.size(), value) {
            (1, 0) => EntryStatus::Clear,
            (1, _) => EntryStatus::Set,
            (_, value) => EntryStatus::Value(value),
        })
    }
}

/// A list of one-bit statuses (revoked, suspended).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    /// The bits, index 0 the most significant bit of byte 0.
    bytes: Vec<u8>,
}

/// The byte of an index, and the mask of its bit in it.
fn position(index: usize) -> (usize, u8) {
    (index / 8, 0x80 >> (index % 8))
}

impl StatusList {
    /// A list of `entries` zero bits.
    pub fn new(entries: usize) -> Result<Self, StatusError> {
        if !(MIN_ENTRIES..=MAX_ENTRIES).contains(&entries) || !entries.is_multiple_of(8) {
            return Err(StatusError::BadSize);
        }
        Ok(Self {
            bytes: vec![0; entries / 8],
        })
    }

    /// How many entries the list has.
    pub fn len(&self) -> usize {
        self.bytes.len() * 8
    }

    /// Whether the list has no entries (never, once made).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The bit at `index`.
    pub fn get(&self, index: usize) -> Result<bool, StatusError> {
        let (byte, mask) = position(index);
        self.bytes
            .get(byte)
            .map(|b| b & mask != 0)
            .ok_or(StatusError::OutOfRange(index))
    }

    /// The `size` bits from `index` on, the first the most significant: an entry's value
    /// (Bitstring Status List §3.2: a status of `statusSize` bits at `statusListIndex ×
    /// statusSize`).
    pub fn read(&self, index: usize, size: u32) -> Result<u64, StatusError> {
        (0..size as usize).try_fold(0u64, |value, offset| {
            let bit = index
                .checked_add(offset)
                .ok_or(StatusError::OutOfRange(index))?;
            Ok(value << 1 | u64::from(self.get(bit)?))
        })
    }

    /// Sets the bit at `index`.
    pub fn set(&mut self, index: usize, value: bool) -> Result<(), StatusError> {
        let (byte, mask) = position(index);
        let byte = self
            .bytes
            .get_mut(byte)
            .ok_or(StatusError::OutOfRange(index))?;
        if value {
            *byte |= mask;
        } else {
            *byte &= !mask;
        }
        Ok(())
    }

    /// The `encodedList` of the list.
    pub fn encode(&self) -> String {
        match serde_json::to_value(EncodedList::encode(&self.bytes)) {
            Ok(serde_json::Value::String(encoded)) => encoded,
            _ => unreachable!("an EncodedList serializes as its string"),
        }
    }

    /// Reads an `encodedList`, refusing other bases, undersized and oversized lists, and input
    /// longer than [`MAX_ENCODED_LEN`], before it is inflated past the bound.
    pub fn decode(encoded: &str) -> Result<Self, StatusError> {
        if encoded.len() > MAX_ENCODED_LEN {
            return Err(StatusError::BadEncoding("too long"));
        }
        if !encoded.starts_with('u') {
            return Err(StatusError::BadEncoding("not multibase base64url"));
        }
        let limit = (MAX_ENTRIES / 8) as u64 + 1;
        let bytes = EncodedList::new(encoded.to_owned())
            .decode(Some(limit))
            .map_err(|_| StatusError::BadEncoding("not GZIP of base64url"))?;
        let entries = bytes.len() * 8;
        if !(MIN_ENTRIES..=MAX_ENTRIES).contains(&entries) {
            return Err(StatusError::BadEncoding("the list's size is out of bounds"));
        }
        Ok(Self { bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_list_past_its_end_or_older_than_the_bound_is_stale_and_a_fresh_one_reports_its_age() {
        use crate::credential::StatusEntry;
        use crate::did::key::{did_of, verification_method_of};
        use chrono::SubsecRound as _;
        let org = KeyPair::from_seed(&[6; 32]);
        let issuer = did_of(&org.public());
        let signed_at = Utc::now() - chrono::Duration::seconds(100);
        let list = StatusListCredential {
            id: "https://node.example/1.0/status-lists/x/issued-revocation-1".into(),
            issuer: issuer.clone(),
            valid_from: signed_at,
            valid_until: Some(signed_at + chrono::Duration::seconds(300)),
            purpose: Purpose::Revocation,
            list: StatusList::new(MIN_ENTRIES).unwrap(),
        };
        let entry = StatusEntry::bit(format!("{}#7", list.id), "revocation", 7, &list.id);
        let held = |now: DateTime<Utc>, max_age: i64| {
            let mut held = HeldLists::new(now).with_max_age(chrono::Duration::seconds(max_age));
            held.insert(list.clone());
            held
        };
        let now = Utc::now();
        assert_eq!(
            held(now, 300).status(&issuer, &entry),
            Ok(EntryStatus::Clear)
        );
        assert!((99..=101).contains(&held(now, 300).age(&entry).unwrap()));
        // Older than the verifier accepts, though still within its validUntil.
        assert!(matches!(
            held(now, 60).status(&issuer, &entry),
            Ok(EntryStatus::Stale(_))
        ));
        // Past its validUntil, whatever the bound.
        assert!(matches!(
            held(now + chrono::Duration::seconds(300), 3600).status(&issuer, &entry),
            Ok(EntryStatus::Stale(_))
        ));
        // validUntil is signed and read back; one not after validFrom is refused.
        let signed = list
            .sign(&org, verification_method_of(&org.public()))
            .unwrap();
        assert_eq!(
            StatusListCredential::parse(&signed).unwrap().valid_until,
            list.valid_until.map(|t| t.trunc_subsecs(3))
        );
        let mut backwards = signed.clone();
        backwards["validUntil"] = signed["validFrom"].clone();
        assert!(StatusListCredential::parse(&backwards).is_err());
    }

    #[test]
    fn entries_as_the_specification_has_them_one_object_no_id_several_bits_with_messages() {
        use crate::credential::StatusEntry;
        use crate::did::key::did_of;
        // One entry as an object: its list is fetched too.
        let url = "https://issuer.example/status/3";
        let one = json!({"credentialStatus": {"type": "BitstringStatusListEntry",
            "statusPurpose": "message", "statusListIndex": "5", "statusListCredential": url}});
        assert_eq!(list_urls([&one]), vec![url]);
        // No id, two bits, a message for each of the four values.
        let entry: StatusEntry = serde_json::from_value(json!({
            "type": "BitstringStatusListEntry", "statusPurpose": "message",
            "statusListIndex": "5", "statusListCredential": url, "statusSize": 2,
            "statusMessage": [{"status": "0x0", "message": "pending"}, {"status": "0x1", "message": "accepted"},
                              {"status": "0x2", "message": "rejected"}, {"status": "0x3", "message": "unknown"}],
            "statusReference": "https://issuer.example/status-meanings",
        }))
        .expect("every member of §2.1 is read");
        assert_eq!(entry.id, None);
        entry.check().expect("a valid entry");
        // Entry 5 of 2 bits is bits 10 and 11: "0b10" is 0x2.
        let issuer = did_of(&KeyPair::from_seed(&[9; 32]).public());
        let mut list = StatusList::new(MIN_ENTRIES).unwrap();
        list.set(10, true).unwrap();
        let mut held = HeldLists::new(Utc::now());
        held.insert(StatusListCredential {
            id: url.into(),
            issuer: issuer.clone(),
            valid_from: Utc::now(),
            valid_until: None,
            purpose: Purpose::Message,
            list,
        });
        assert_eq!(held.status(&issuer, &entry), Ok(EntryStatus::Value(2)));
        assert_eq!(entry.message(2), Some("rejected"));
        // What the rules refuse.
        let with = |change: &dyn Fn(&mut Value)| {
            let mut raw = serde_json::to_value(&entry).unwrap();
            change(&mut raw);
            serde_json::from_value::<StatusEntry>(raw)
                .map_err(|e| e.to_string())
                .and_then(|e| e.check())
        };
        assert!(with(&|_| {}).is_ok());
        assert!(with(&|e| e["statusMessage"].as_array_mut().unwrap().truncate(3)).is_err());
        assert!(with(&|e| e["statusMessage"][3]["status"] = "0x0".into()).is_err());
        assert!(with(&|e| e["statusMessage"][3]["status"] = "0x4".into()).is_err());
        assert!(with(&|e| e["statusSize"] = 9.into()).is_err());
        assert!(with(&|e| e["statusSize"] = 0.into()).is_err());
        assert!(with(&|e| e["statusListIndex"] = "-1".into()).is_err());
        assert!(with(&|e| e["statusListIndex"] = "+5".into()).is_err());
        assert!(with(&|e| e["statusListCredential"] = "ftp://x".into()).is_err());
        assert!(with(&|e| e["statusReference"] = json!([])).is_err());
        assert!(with(&|e| e["type"] = "StatusList2021Entry".into()).is_err());
        assert!(with(&|e| e["unknown"] = "x".into()).is_err());
    }

    #[test]
    fn bit_order_and_bounds() {
        let mut list = StatusList::new(MIN_ENTRIES).unwrap();
        list.set(0, true).unwrap();
        list.set(9, true).unwrap();
        let decoded = StatusList::decode(&list.encode()).unwrap();
        assert_eq!(decoded, list);
        // Index 0 is the most significant bit of the first byte (§3.2 "left-most bit").
        assert_eq!(decoded.bytes[..2], [0x80, 0x40]);
        assert!(decoded.get(0).unwrap() && decoded.get(9).unwrap() && !decoded.get(1).unwrap());
        assert_eq!(
            list.get(MIN_ENTRIES),
            Err(StatusError::OutOfRange(MIN_ENTRIES))
        );
        assert_eq!(
            list.set(MIN_ENTRIES, true),
            Err(StatusError::OutOfRange(MIN_ENTRIES))
        );
        for bad in [0, MIN_ENTRIES - 8, MIN_ENTRIES + 1, MAX_ENTRIES + 8] {
            assert_eq!(StatusList::new(bad), Err(StatusError::BadSize), "{bad}");
        }
        // The empty list is 16 KiB of zeros: it compresses to well under 1 KiB.
        assert!(StatusList::new(MIN_ENTRIES).unwrap().encode().len() < 1024);
    }

    #[test]
    fn hostile_encodings_are_refused() {
        let small = {
            let mut list = StatusList::new(MIN_ENTRIES).unwrap();
            list.set(5, true).unwrap();
            list.encode()
        };
        // Another base, garbage, and a list over the bound (a GZIP bomb of zeros).
        let base58 = format!("z{}", &small[1..]);
        assert!(StatusList::decode(&base58).is_err());
        assert!(StatusList::decode("unot-gzip").is_err());
        assert!(StatusList::decode("").is_err());
        let huge =
            serde_json::to_value(EncodedList::encode(&vec![0; MAX_ENTRIES / 8 + 1])).unwrap();
        assert_eq!(
            StatusList::decode(huge.as_str().unwrap()),
            Err(StatusError::BadEncoding("the list's size is out of bounds"))
        );
    }

    #[test]
    fn signed_lists_verify_and_older_ones_do_not_supersede() {
        use crate::did::key::{did_of, verification_method_of};
        use crate::did::resolve::DidKeyResolver;
        use chrono::TimeZone;

        let org = KeyPair::from_seed(&[4; 32]);
        let mut list = StatusList::new(MIN_ENTRIES).unwrap();
        list.set(42, true).unwrap();
        let first = StatusListCredential {
            id: "https://node.acme.example/status/1".into(),
            issuer: did_of(&org.public()),
            valid_from: Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).unwrap(),
            valid_until: None,
            purpose: Purpose::Revocation,
            list,
        };
        let signed = first
            .sign(&org, verification_method_of(&org.public()))
            .unwrap();
        let read = StatusListCredential::verify(&signed, &DidKeyResolver).unwrap();
        assert_eq!(read, first);
        assert!(read.list.get(42).unwrap());

        // A changed bit breaks the proof.
        let mut flipped = first.clone();
        flipped.list.set(42, false).unwrap();
        let mut tampered = signed.clone();
        tampered["credentialSubject"]["encodedList"] = flipped.list.encode().into();
        assert!(matches!(
            StatusListCredential::verify(&tampered, &DidKeyResolver),
            Err(StatusError::Proof(_))
        ));
        // Signed by someone else's key, claiming the org as issuer.
        let other = KeyPair::from_seed(&[5; 32]);
        let forged = first
            .sign(&other, verification_method_of(&other.public()))
            .unwrap();
        assert!(matches!(
            StatusListCredential::verify(&forged, &DidKeyResolver),
            Err(StatusError::NotIssuer { .. })
        ));
        let mut wrong_type = signed.clone();
        wrong_type["credentialSubject"]["type"] = "StatusList2021".into();
        assert!(matches!(
            StatusListCredential::verify(&wrong_type, &DidKeyResolver),
            Err(StatusError::Malformed(_))
        ));

        let later = StatusListCredential {
            valid_from: first.valid_from + chrono::Duration::seconds(1),
            ..flipped
        };
        assert!(later.supersedes(&first));
        assert!(!first.supersedes(&later), "a rollback");
        assert!(!first.supersedes(&first), "a replay");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        #[test]
        fn round_trips(indexes in proptest::collection::vec(0..MIN_ENTRIES, 0..50)) {
            let mut list = StatusList::new(MIN_ENTRIES).unwrap();
            for &i in &indexes {
                list.set(i, true).unwrap();
            }
            let decoded = StatusList::decode(&list.encode()).unwrap();
            for &i in &indexes {
                prop_assert!(decoded.get(i).unwrap());
            }
            prop_assert_eq!(decoded, list);
        }

        #[test]
        fn arbitrary_input_never_panics(s in "u[A-Za-z0-9_-]{0,200}") {
            let _ = StatusList::decode(&s);
        }
    }
}
