//! A DID's verified operation log, its resolution at any version, and a resolver over logs.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Utc};

use super::operation::{Operation, OperationType, next_key_hash};
use super::{LogError, METHOD};
use crate::did::document::{DID_CONTEXT_V1, DidDocument};
use crate::did::resolve::{DidKeyResolver, DocumentMetadata};
use crate::did::{Did, DidResolver, ResolveError};
use crate::hash::{Multihash, is_multihash};

/// The most operations (equivocation evidence included) one log may hold.
pub const MAX_LOG_OPERATIONS: usize = 65_536;
/// The most conflicting operations kept as evidence against one version. One proves the fork;
/// a few more show its extent. Beyond them an operation adds nothing and is not kept.
pub const MAX_EVIDENCE_PER_VERSION: usize = 4;

/// The operations of one DID, every one verified from the genesis on.
///
/// Invariants: `operations[i].0.version == i + 1`; each operation links to the hash of the one
/// before it, is signed by a key that one committed to, and is not older than it. An operation that
/// conflicts with an accepted one but is just as valid is kept in `equivocations`, never dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DidLog {
    did: Did,
    /// The accepted chain, with each operation's hash.
    operations: Vec<(Operation, Multihash)>,
    /// Valid operations that fork the chain: evidence that the update key's holder equivocated.
    equivocations: Vec<Equivocation>,
    /// The hash of every operation held, accepted or evidence, so that a duplicate is found
    /// without hashing the log again: keeps `apply` linear in the log's length.
    hashes: HashSet<Multihash>,
}

/// Two valid operations with the same predecessor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Equivocation {
    /// The version both claim.
    pub version: u64,
    /// The hash of the operation accepted first.
    pub accepted: Multihash,
    /// The other one.
    pub conflicting: Operation,
    /// The other one's hash.
    pub conflicting_hash: Multihash,
}

/// What [`DidLog::apply`] did with an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// It extends the log.
    Appended,
    /// The log already holds it; nothing changed.
    Duplicate,
    /// It forks the log; it is kept as evidence and the DID no longer resolves.
    Equivocation,
    /// It forks a version that already has [`MAX_EVIDENCE_PER_VERSION`] pieces of evidence: it is
    /// valid, but adds nothing, and is not kept.
    EvidenceFull,
}

impl Applied {
    /// Whether the log changed: something to store and to forward.
    pub fn is_new(self) -> bool {
        matches!(self, Self::Appended | Self::Equivocation)
    }
}

/// Which version of a DID document to resolve
/// ([DID Resolution §4](https://www.w3.org/TR/did-resolution/#did-parameters)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionSelector {
    /// The current version.
    Latest,
    /// `?versionId=N`.
    Id(u64),
    /// `?versionTime=T`: the version in force at `T`.
    Time(DateTime<Utc>),
}

/// A resolved version of a did:vouch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The document; only `id` remains at the deactivating version.
    pub document: DidDocument,
    /// What is known of it.
    pub metadata: DocumentMetadata,
}

impl DidLog {
    /// Starts a log from its genesis operation.
    pub fn new(genesis: Operation) -> Result<Self, LogError> {
        if genesis.kind != OperationType::Create {
            return Err(LogError::NotGenesis);
        }
        genesis.check_shape()?;
        genesis.check_signature()?;
        let did = genesis.genesis_did()?;
        let hash = genesis.hash();
        Ok(Self {
            did,
            hashes: HashSet::from([hash.clone()]),
            operations: vec![(genesis, hash)],
            equivocations: Vec::new(),
        })
    }

    /// Verifies a whole log, genesis first. An operation that appears twice is refused as replayed.
    pub fn verify(operations: impl IntoIterator<Item = Operation>) -> Result<Self, LogError> {
        let mut operations = operations.into_iter();
        let mut log = Self::new(operations.next().ok_or(LogError::NotGenesis)?)?;
        for operation in operations {
            log.apply_once(operation)?;
        }
        Ok(log)
    }

    /// Reads and verifies a log in JSON Lines, one operation per line as [`DidLog::to_jsonl`]
    /// writes it; errors say which line.
    pub fn from_jsonl(text: &str) -> Result<Self, LogError> {
        let mut log: Option<Self> = None;
        for (index, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let at_line = |error| LogError::AtLine {
                line: index + 1,
                error: Box::new(error),
            };
            let operation = Operation::from_json(line.as_bytes()).map_err(at_line)?;
            match &mut log {
                None => log = Some(Self::new(operation).map_err(at_line)?),
                Some(log) => {
                    log.apply_once(operation).map_err(at_line)?;
                }
            }
        }
        log.ok_or(LogError::NotGenesis)
    }

    /// The log in JSON Lines: the accepted operations in order, then any equivocation evidence.
    pub fn to_jsonl(&self) -> String {
        self.operations
            .iter()
            .map(|(operation, _)| operation)
            .chain(self.equivocations.iter().map(|e| &e.conflicting))
            .map(|operation| operation.to_json() + "\n")
            .collect()
    }

    fn apply_once(&mut self, operation: Operation) -> Result<(), LogError> {
        let version = operation.version;
        match self.apply(operation)? {
            Applied::Duplicate => Err(LogError::Replayed { version }),
            Applied::Appended | Applied::Equivocation | Applied::EvidenceFull => Ok(()),
        }
    }

    /// Adds one operation, verified against the state it claims to follow.
    ///
    /// An operation the log already holds is a harmless [`Applied::Duplicate`]. One that skips ahead
    /// is refused as out of order (the caller may hold it until its predecessor arrives). One that
    /// is as valid as an accepted operation of the same version is kept as evidence.
    pub fn apply(&mut self, operation: Operation) -> Result<Applied, LogError> {
        let hash = operation.hash();
        if self.hashes.contains(&hash) {
            return Ok(Applied::Duplicate);
        }
        if self.operations.len() + self.equivocations.len() >= MAX_LOG_OPERATIONS {
            return Err(LogError::TooManyOperations);
        }
        operation.check_shape()?;
        let version = operation.version;
        if operation.kind == OperationType::Create {
            let did = operation.genesis_did()?;
            if did != self.did {
                return Err(LogError::WrongDid(Box::new((self.did.clone(), did))));
            }
        } else {
            self.check_successor(&operation)?;
        }
        operation.check_signature()?;
        if version == self.version() + 1 {
            self.hashes.insert(hash.clone());
            self.operations.push((operation, hash));
            return Ok(Applied::Appended);
        }
        let kept = self
            .equivocations
            .iter()
            .filter(|e| e.version == version)
            .count();
        if kept >= MAX_EVIDENCE_PER_VERSION {
            return Ok(Applied::EvidenceFull);
        }
        let accepted = self.operations[index_of(version)].1.clone();
        self.hashes.insert(hash.clone());
        self.equivocations.push(Equivocation {
            version,
            accepted,
            conflicting: operation,
            conflicting_hash: hash,
        });
        Ok(Applied::Equivocation)
    }

    /// Checks an update or deactivation against the state before it: same DID, known predecessor,
    /// hash link, time order, and an update key the predecessor committed to.
    fn check_successor(&self, operation: &Operation) -> Result<(), LogError> {
        let version = operation.version;
        match &operation.did {
            Some(did) if *did == self.did => {}
            found => {
                let found = found.clone().unwrap_or_else(|| self.did.clone());
                return Err(LogError::WrongDid(Box::new((self.did.clone(), found))));
            }
        }
        let next = self.version() + 1;
        if version > next {
            return Err(LogError::OutOfOrder {
                expected: next,
                found: version,
            });
        }
        let (parent, parent_hash) = &self.operations[index_of(version - 1)];
        if parent.kind == OperationType::Deactivate {
            return Err(LogError::Deactivated);
        }
        if operation.previous.as_ref() != Some(parent_hash) {
            return Err(LogError::BrokenLink { version });
        }
        if operation.created < parent.created {
            return Err(LogError::TimeWentBack { version });
        }
        if !parent
            .next_key_hashes
            .contains(&next_key_hash(&operation.update_key))
        {
            return Err(LogError::UnauthorizedKey { version });
        }
        Ok(())
    }

    /// The DID.
    pub fn did(&self) -> &Did {
        &self.did
    }

    /// The last accepted operation.
    pub fn head(&self) -> &Operation {
        &self
            .operations
            .last()
            .expect("a log always holds its genesis")
            .0
    }

    /// The number of the last accepted version.
    pub fn version(&self) -> u64 {
        self.head().version
    }

    /// The accepted operations, genesis first.
    pub fn operations(&self) -> impl Iterator<Item = &Operation> {
        self.operations.iter().map(|(operation, _)| operation)
    }

    /// Evidence of equivocation, if any.
    pub fn equivocations(&self) -> &[Equivocation] {
        &self.equivocations
    }

    /// Whether the last accepted operation deactivated the DID.
    pub fn is_deactivated(&self) -> bool {
        self.head().kind == OperationType::Deactivate
    }

    /// Resolves the DID at a version. A forked log resolves to an error at every version: which
    /// branch is genuine cannot be known.
    pub fn resolve(&self, at: VersionSelector) -> Result<Resolution, ResolveError> {
        if let Some(fork) = self.equivocations.first() {
            return Err(ResolveError::Equivocation {
                did: self.did.clone(),
                version: fork.version,
            });
        }
        let not_found = || ResolveError::NotFound(self.did.clone());
        let index = match at {
            VersionSelector::Latest => self.operations.len() - 1,
            VersionSelector::Id(version) if (1..=self.version()).contains(&version) => {
                index_of(version)
            }
            VersionSelector::Id(_) => return Err(not_found()),
            VersionSelector::Time(time) => self
                .operations
                .iter()
                .rposition(|(operation, _)| operation.created.time() <= time)
                .ok_or_else(not_found)?,
        };
        let operation = &self.operations[index].0;
        let document = match &operation.document {
            Some(content) => content.to_document(&self.did),
            None => DidDocument {
                context: vec![DID_CONTEXT_V1.into()],
                id: self.did.clone(),
                also_known_as: Vec::new(),
                verification_method: Vec::new(),
                authentication: Vec::new(),
                assertion_method: Vec::new(),
                capability_invocation: Vec::new(),
                capability_delegation: Vec::new(),
                key_agreement: Vec::new(),
                service: Vec::new(),
                agent: None,
            },
        };
        let next = self.operations.get(index + 1).map(|(next, _)| next);
        Ok(Resolution {
            document,
            metadata: DocumentMetadata {
                created: Some(self.operations[0].0.created),
                updated: (index > 0).then_some(operation.created),
                version_id: Some(operation.version.to_string()),
                next_version_id: next.map(|next| next.version.to_string()),
                next_update: next.map(|next| next.created),
                deactivated: self.is_deactivated(),
            },
        })
    }
}

/// The position of a version in `DidLog::operations`. Versions start at 1 and are bounded by the
/// log's length, so the conversion never truncates.
fn index_of(version: u64) -> usize {
    usize::try_from(version - 1).expect("versions are bounded by MAX_LOG_OPERATIONS")
}

/// Checks that a DID is a well-formed did:vouch: the method, then a SHA-256 multihash.
pub fn check_did(did: &Did) -> Result<(), ResolveError> {
    if did.method() != METHOD {
        return Err(ResolveError::MethodNotSupported(did.method().to_owned()));
    }
    if !is_multihash(did.method_specific_id()) {
        return Err(ResolveError::InvalidDid(
            "a did:vouch identifier is a zQm… multihash".into(),
        ));
    }
    Ok(())
}

/// Resolves did:key by computation and did:vouch from the logs it was given.
#[derive(Debug, Clone, Default)]
pub struct LogResolver {
    logs: BTreeMap<Did, DidLog>,
}

impl LogResolver {
    /// A resolver that knows no did:vouch yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the log of a DID. Given two logs of one DID, the longer is kept if the shorter is a
    /// prefix of it: a stale copy must never keep a rotated-away key in force. Two that diverge
    /// are refused, and the DID is kept with the evidence of both, so it resolves to neither.
    pub fn insert(&mut self, log: DidLog) -> Result<(), LogError> {
        let Some(held) = self.logs.get_mut(log.did()) else {
            self.logs.insert(log.did().clone(), log);
            return Ok(());
        };
        let (shorter, longer) = if held.operations.len() <= log.operations.len() {
            (&*held, &log)
        } else {
            (&log, &*held)
        };
        let prefix = shorter
            .operations
            .iter()
            .zip(&longer.operations)
            .all(|((_, a), (_, b))| a == b);
        if !prefix {
            // Keep every operation of the new log that forks or extends what is held, as
            // evidence: the held log no longer resolves.
            for (operation, _) in &log.operations {
                held.apply(operation.clone())?;
            }
            return Err(LogError::Diverged(log.did().clone()));
        }
        // The longer log, with the evidence of both: a fork either one holds must survive.
        let evidence: Vec<Operation> = held
            .equivocations
            .iter()
            .chain(&log.equivocations)
            .map(|e| e.conflicting.clone())
            .collect();
        let mut merged = if held.operations.len() < log.operations.len() {
            log
        } else {
            held.clone()
        };
        for operation in evidence {
            merged.apply(operation)?;
        }
        self.logs.insert(merged.did().clone(), merged);
        Ok(())
    }

    /// The log of a DID, if known.
    pub fn log(&self, did: &Did) -> Option<&DidLog> {
        self.logs.get(did)
    }
}

impl DidResolver for LogResolver {
    fn resolve(&self, did: &Did) -> Result<DidDocument, ResolveError> {
        if did.method() == "key" {
            return DidKeyResolver.resolve(did);
        }
        check_did(did)?;
        let log = self
            .logs
            .get(did)
            .ok_or_else(|| ResolveError::NotFound(did.clone()))?;
        let resolution = log.resolve(VersionSelector::Latest)?;
        if resolution.metadata.deactivated {
            return Err(ResolveError::Deactivated(did.clone()));
        }
        Ok(resolution.document)
    }
}
