//! Capabilities and attenuation (DESIGN §5).
//!
//! A capability is `{action, resource, constraints}`. [`Capability::is_subset_of`] decides whether a
//! delegated or renewed capability stays inside its parent; [`Request`] evaluation decides whether a
//! concrete call is allowed by a whole delegation chain, where every hop's constraints must hold.
//! Everything fails closed: what cannot be compared is not a subset, what cannot be read is not
//! permitted.

pub mod action;
pub mod constraints;
pub mod resource;

pub use action::Action;
pub use constraints::Constraints;
pub use resource::ResourcePattern;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Why a capability, action, resource or constraint could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilityError {
    /// The capability is not an object of `action`, `resource` and `constraints`.
    #[error("malformed capability: {0}")]
    Malformed(&'static str),
    /// The action is malformed.
    #[error("invalid action: {0}")]
    BadAction(&'static str),
    /// The resource is malformed or not normalizable.
    #[error("invalid resource: {0}")]
    BadResource(&'static str),
    /// A known constraint has a malformed value.
    #[error("invalid constraint {0}")]
    BadConstraint(String),
}

/// Why a capability is not a subset of another.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttenuationError {
    /// The child's action is not covered by the parent's.
    #[error("action {child} is not covered by {parent}")]
    ActionNotCovered {
        /// The child's action.
        child: String,
        /// The parent's action.
        parent: String,
    },
    /// The child's resource is not covered by the parent's.
    #[error("resource {child} is not covered by {parent}")]
    ResourceNotCovered {
        /// The child's resource.
        child: String,
        /// The parent's resource.
        parent: String,
    },
    /// A constraint of the parent is missing from the child.
    #[error("constraint {0} of the parent is missing")]
    ConstraintDropped(String),
    /// A numeric limit moved against its direction.
    #[error("limit {0} is wider than the parent's")]
    LimitWidened(String),
    /// A numeric limit is in another unit or currency than the parent's.
    #[error("limit {0} is in another unit or currency than the parent's")]
    UnitMismatch(String),
    /// A time window grew.
    #[error("time window {0} is wider than the parent's")]
    WindowWidened(String),
    /// Operating hours are in another time zone than the parent's.
    #[error("operating hours are in another time zone than the parent's")]
    TimeZoneMismatch,
    /// A flag moved toward less strict.
    #[error("flag {0} is less strict than the parent's")]
    FlagLoosened(String),
    /// The named scope is broader than, or not comparable with, the parent's.
    #[error("scope is broader than the parent's")]
    ScopeBroadened,
    /// A constraint is unknown, so nothing can be concluded.
    #[error("unknown constraint {0}")]
    UnknownConstraint(String),
    /// No capability of the parent covers this one.
    #[error("no capability of the parent covers {0}")]
    NotCovered(String),
}

/// One capability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capability {
    /// What may be done.
    pub action: Action,
    /// On what.
    pub resource: ResourcePattern,
    /// Under which limits.
    pub constraints: Constraints,
}

impl Capability {
    /// Reads a capability from its JSON form.
    pub fn from_json(value: &Value) -> Result<Self, CapabilityError> {
        let object = value
            .as_object()
            .ok_or(CapabilityError::Malformed("expected an object"))?;
        if object
            .keys()
            .any(|k| !["action", "resource", "constraints"].contains(&k.as_str()))
        {
            return Err(CapabilityError::Malformed(
                "only action, resource and constraints are allowed",
            ));
        }
        let field = |name: &'static str| {
            object
                .get(name)
                .and_then(Value::as_str)
                .ok_or(CapabilityError::Malformed(name))
        };
        let constraints = match object.get("constraints") {
            None => Constraints::default(),
            Some(Value::Object(map)) => Constraints::parse(map)?,
            Some(_) => return Err(CapabilityError::Malformed("constraints")),
        };
        Ok(Self {
            action: Action::parse(field("action")?)?,
            resource: ResourcePattern::parse(field("resource")?)?,
            constraints,
        })
    }

    /// Whether this capability (the child's) allows nothing that `parent` does not, by all seven
    /// rules of DESIGN §5.
    pub fn is_subset_of(&self, parent: &Capability) -> Result<(), AttenuationError> {
        if !self.action.is_subset_of(&parent.action) {
            return Err(AttenuationError::ActionNotCovered {
                child: self.action.to_string(),
                parent: parent.action.to_string(),
            });
        }
        if !self.resource.is_subset_of(&parent.resource) {
            return Err(AttenuationError::ResourceNotCovered {
                child: self.resource.to_string(),
                parent: parent.resource.to_string(),
            });
        }
        self.constraints.is_within(&parent.constraints)
    }

    /// Whether a set of parent capabilities covers this one: some parent must contain it. When
    /// none does, the error is the most specific one found.
    pub fn is_covered_by<'a>(
        &self,
        parents: impl IntoIterator<Item = &'a Capability>,
    ) -> Result<(), AttenuationError> {
        let mut best = None;
        for parent in parents {
            match self.is_subset_of(parent) {
                Ok(()) => return Ok(()),
                // An action or resource mismatch says only that this parent is another
                // capability; a constraint error says this is the parent, exceeded.
                Err(
                    AttenuationError::ActionNotCovered { .. }
                    | AttenuationError::ResourceNotCovered { .. },
                ) => {}
                Err(e) => best = Some(e),
            }
        }
        Err(best.unwrap_or_else(|| {
            AttenuationError::NotCovered(format!("{} on {}", self.action, self.resource))
        }))
    }
}

/// A concrete request: one action on one resource, with arguments.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The action, without wildcard.
    pub action: Action,
    /// The resource, without wildcard.
    pub resource: ResourcePattern,
    /// The arguments the constraints are checked against.
    pub arguments: Map<String, Value>,
    /// Whether the verifier holds a valid, unused approval of this exact request by the chain's
    /// org (`crate::approval`): what a capability with `requiresApproval` needs. Never read
    /// from the request itself.
    pub approved: bool,
}

/// Why a request is not permitted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denial {
    /// No capability at this hop names the action on the resource.
    #[error("hop {hop}: no capability covers the action on the resource")]
    NotGranted {
        /// Index in the chain, 0 for the root.
        hop: usize,
    },
    /// A capability matches but its constraints do not hold.
    #[error("hop {hop}: {reason}")]
    ConstraintViolated {
        /// Index in the chain.
        hop: usize,
        /// Which constraint and why.
        reason: String,
    },
    /// A credential at this hop is pinned to resource servers that do not include the resource.
    #[error("hop {hop}: the credential is not pinned to this resource")]
    ResourceNotPinned {
        /// Index in the chain.
        hop: usize,
    },
    /// A capability permits it, but only with an approval of its owner, and none was shown.
    #[error("hop {hop}: needs its owner's approval")]
    NeedsApproval {
        /// Index in the chain.
        hop: usize,
    },
    /// The matching capability has an unknown constraint.
    #[error("hop {hop}: unknown constraint {name}")]
    UnknownConstraint {
        /// Index in the chain.
        hop: usize,
        /// The constraint.
        name: String,
    },
}

impl Denial {
    /// The reason code a decision gives for it.
    pub fn reason(&self) -> crate::report::Reason {
        use crate::report::Reason;
        match self {
            Self::NotGranted { .. } => Reason::NotGranted,
            Self::ConstraintViolated { .. } => Reason::ConstraintViolated,
            Self::ResourceNotPinned { .. } => Reason::AudienceMismatch,
            Self::UnknownConstraint { .. } => Reason::UnknownConstraint,
            Self::NeedsApproval { .. } => Reason::NeedsApproval,
        }
    }
}

impl Request {
    /// Reads a request `{action, resource, arguments}`.
    pub fn from_json(value: &Value) -> Result<Self, CapabilityError> {
        let object = value
            .as_object()
            .ok_or(CapabilityError::Malformed("a request is an object"))?;
        let field = |name: &'static str| {
            object
                .get(name)
                .and_then(Value::as_str)
                .ok_or(CapabilityError::Malformed(name))
        };
        Ok(Self {
            action: Action::parse_concrete(field("action")?)?,
            resource: ResourcePattern::parse_concrete(field("resource")?)?,
            arguments: match object.get("arguments") {
                None => Map::new(),
                Some(Value::Object(map)) => map.clone(),
                Some(_) => return Err(CapabilityError::Malformed("arguments")),
            },
            approved: false,
        })
    }

    /// Whether `capability` names this request: its action and resource are within the
    /// capability's, whatever its constraints say.
    pub fn names(&self, capability: &Capability) -> bool {
        self.action.is_subset_of(&capability.action)
            && self.resource.is_subset_of(&capability.resource)
    }

    /// Evaluates the request against one hop: some capability must name it and permit it.
    pub fn permitted_by(
        &self,
        capabilities: &[Capability],
        now: DateTime<Utc>,
        hop: usize,
    ) -> Result<(), Denial> {
        let mut denial = Denial::NotGranted { hop };
        // A capability that would permit but for an approval says so, whatever the others say.
        let mut needs_approval = false;
        for capability in capabilities.iter().filter(|c| self.names(c)) {
            if let Some(name) = capability.constraints.unknown.first() {
                denial = Denial::UnknownConstraint {
                    hop,
                    name: name.clone(),
                };
                continue;
            }
            match capability.constraints.permit(&self.arguments, now) {
                Ok(()) if capability.constraints.requires_approval && !self.approved => {
                    needs_approval = true;
                }
                Ok(()) => return Ok(()),
                Err(reason) => denial = Denial::ConstraintViolated { hop, reason },
            }
        }
        Err(if needs_approval {
            Denial::NeedsApproval { hop }
        } else {
            denial
        })
    }

    /// Evaluates the request against a delegation chain, root first: every hop must permit it.
    pub fn permitted_by_chain<'a>(
        &self,
        chain: impl IntoIterator<Item = &'a [Capability]>,
        now: DateTime<Utc>,
    ) -> Result<(), Denial> {
        let mut hops = 0;
        for (hop, capabilities) in chain.into_iter().enumerate() {
            self.permitted_by(capabilities, now, hop)?;
            hops += 1;
        }
        if hops == 0 {
            return Err(Denial::NotGranted { hop: 0 });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
