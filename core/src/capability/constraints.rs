//! Capability constraints (DESIGN §5 rules 3–7) and their declarations.
//!
//! Which numeric limits exist, the direction each may move in, and the lattice of named scopes are
//! declared in the capability JSON Schema (`x-vouch-limits`, `x-vouch-scopes` in `vouch-schemas`);
//! this module reads them from there, so the schema and the rules cannot drift apart.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use chrono::{DateTime, Datelike, NaiveTime, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};

use super::{AttenuationError, CapabilityError};

/// Largest integer a limit may hold: the largest integer JSON carries exactly (2^53 − 1).
pub const MAX_LIMIT_VALUE: u64 = (1 << 53) - 1;

/// Which way a limit may move when delegated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// An upper bound: a delegation may only lower it.
    Max,
    /// A lower bound: a delegation may only raise it.
    Min,
}

/// The declaration of a numeric limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSpec {
    /// Which way it may move.
    pub direction: Direction,
    /// The request argument it bounds.
    pub argument: String,
    /// `None` for an amount of money (the unit is an ISO 4217 code), else the fixed unit name.
    pub unit: Option<String>,
}

/// The declarations of the capability schema.
#[derive(Debug)]
pub struct Declarations {
    /// Numeric limits by constraint name.
    pub limits: BTreeMap<String, LimitSpec>,
    /// For each named scope, the scopes directly broader than it.
    pub scopes: BTreeMap<String, Vec<String>>,
}

/// The declarations, read once from the bundled schema.
pub fn declarations() -> &'static Declarations {
    static DECLARATIONS: OnceLock<Declarations> = OnceLock::new();
    DECLARATIONS.get_or_init(|| {
        let schema: Value = serde_json::from_str(vouch_schemas::AGENT_CAPABILITY_CREDENTIAL_SCHEMA)
            .expect("the bundled capability schema is valid JSON (checked by a unit test)");
        parse_declarations(&schema).expect(
            "the bundled capability schema's declarations are well-formed (checked by a unit test)",
        )
    })
}

fn parse_declarations(schema: &Value) -> Result<Declarations, String> {
    let mut limits = BTreeMap::new();
    let declared = schema["x-vouch-limits"]
        .as_object()
        .ok_or("no x-vouch-limits")?;
    for (name, spec) in declared.iter().filter(|(name, _)| *name != "description") {
        let direction = match spec["direction"].as_str() {
            Some("max") => Direction::Max,
            Some("min") => Direction::Min,
            _ => return Err(format!("limit {name}: direction must be max or min")),
        };
        let argument = spec["argument"]
            .as_str()
            .ok_or(format!("limit {name}: no argument"))?;
        let unit = match spec["unit"].as_str() {
            Some("currency") => None,
            Some(unit) => Some(unit.to_owned()),
            None => return Err(format!("limit {name}: no unit")),
        };
        limits.insert(
            name.clone(),
            LimitSpec {
                direction,
                argument: argument.to_owned(),
                unit,
            },
        );
    }
    let mut scopes = BTreeMap::new();
    let declared = schema["x-vouch-scopes"]
        .as_object()
        .ok_or("no x-vouch-scopes")?;
    for (name, broader) in declared.iter().filter(|(name, _)| *name != "description") {
        let broader = broader
            .as_array()
            .ok_or(format!("scope {name}: expected a list"))?
            .iter()
            .map(|b| {
                b.as_str()
                    .map(str::to_owned)
                    .ok_or(format!("scope {name}: not a name"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        scopes.insert(name.clone(), broader);
    }
    for (name, broader) in &scopes {
        if let Some(unknown) = broader.iter().find(|b| !scopes.contains_key(*b)) {
            return Err(format!("scope {name}: unknown broader scope {unknown}"));
        }
    }
    Ok(Declarations { limits, scopes })
}

impl Declarations {
    /// Whether scope `narrow` is `broad` or below it in the lattice.
    pub fn scope_within(&self, narrow: &str, broad: &str) -> bool {
        let mut stack = vec![narrow];
        let mut seen = BTreeSet::new();
        while let Some(scope) = stack.pop() {
            if scope == broad {
                return true;
            }
            if seen.insert(scope) {
                stack.extend(
                    self.scopes
                        .get(scope)
                        .into_iter()
                        .flatten()
                        .map(String::as_str),
                );
            }
        }
        false
    }
}

/// A numeric limit: an integer in minor units of `unit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limit {
    /// The bound.
    pub value: u64,
    /// A currency code or a unit name.
    pub unit: String,
}

/// Days of the week, as the schema names them.
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Operating hours: days of the week and a daily window `[start, end)` in one IANA time zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hours {
    /// The zone the window is in.
    pub time_zone: Tz,
    /// The days, Monday = 0.
    pub days: BTreeSet<u8>,
    /// Minutes after midnight the window opens.
    pub start: u16,
    /// Minutes after midnight the window closes (exclusive; up to 24:00).
    pub end: u16,
}

/// The constraints of one capability, parsed. An unknown constraint is kept by name: it makes the
/// capability unusable, without failing the credential's other capabilities.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Constraints {
    /// Numeric limits by name.
    pub limits: BTreeMap<String, Limit>,
    /// An absolute end, before the credential's own.
    pub valid_until: Option<DateTime<Utc>>,
    /// Operating hours.
    pub hours: Option<Hours>,
    /// Whether every use needs a human approval.
    pub requires_approval: bool,
    /// A named scope.
    pub scope: Option<String>,
    /// Names of constraints Vouch does not know.
    pub unknown: Vec<String>,
}

fn bad(name: &str, why: &str) -> CapabilityError {
    CapabilityError::BadConstraint(format!("{name}: {why}"))
}

fn parse_limit(name: &str, spec: &LimitSpec, value: &Value) -> Result<Limit, CapabilityError> {
    let object = value
        .as_object()
        .ok_or_else(|| bad(name, "expected {value, unit}"))?;
    if object.keys().any(|k| k != "value" && k != "unit") {
        return Err(bad(name, "only value and unit are allowed"));
    }
    let limit = Limit {
        value: object
            .get("value")
            .and_then(Value::as_u64)
            .filter(|v| *v <= MAX_LIMIT_VALUE)
            .ok_or_else(|| bad(name, "value must be an integer from 0 to 2^53-1"))?,
        unit: object
            .get("unit")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(name, "missing unit"))?
            .to_owned(),
    };
    let unit_ok = match &spec.unit {
        None => limit.unit.len() == 3 && limit.unit.bytes().all(|b| b.is_ascii_uppercase()),
        Some(unit) => &limit.unit == unit,
    };
    if !unit_ok {
        return Err(bad(name, "wrong unit"));
    }
    Ok(limit)
}

fn parse_time_of_day(name: &str, s: &str) -> Result<u16, CapabilityError> {
    if s == "24:00" {
        return Ok(24 * 60);
    }
    let time = NaiveTime::parse_from_str(s, "%H:%M").map_err(|_| bad(name, "expected HH:MM"))?;
    Ok((time.hour() * 60 + time.minute()) as u16)
}

fn parse_hours(value: &Value) -> Result<Hours, CapabilityError> {
    let name = "hours";
    let object = value
        .as_object()
        .ok_or_else(|| bad(name, "expected an object"))?;
    if object
        .keys()
        .any(|k| !["timeZone", "days", "start", "end"].contains(&k.as_str()))
    {
        return Err(bad(name, "only timeZone, days, start and end are allowed"));
    }
    let field = |key: &str| {
        object
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(name, &format!("missing {key}")))
    };
    let time_zone: Tz = field("timeZone")?
        .parse()
        .map_err(|_| bad(name, "unknown IANA time zone"))?;
    let mut days = BTreeSet::new();
    for day in object
        .get("days")
        .and_then(Value::as_array)
        .ok_or_else(|| bad(name, "missing days"))?
    {
        let index = DAYS
            .iter()
            .position(|d| Some(*d) == day.as_str())
            .ok_or_else(|| bad(name, "days are mon..sun"))?;
        if !days.insert(index as u8) {
            return Err(bad(name, "a day is listed twice"));
        }
    }
    let (start, end) = (
        parse_time_of_day(name, field("start")?)?,
        parse_time_of_day(name, field("end")?)?,
    );
    if days.is_empty() || start >= end {
        return Err(bad(
            name,
            "the window is empty (windows do not cross midnight)",
        ));
    }
    Ok(Hours {
        time_zone,
        days,
        start,
        end,
    })
}

impl Constraints {
    /// Parses a `constraints` object. A malformed known constraint is an error; an unknown one is
    /// recorded in [`Constraints::unknown`].
    pub fn parse(object: &Map<String, Value>) -> Result<Self, CapabilityError> {
        let declarations = declarations();
        let mut constraints = Constraints::default();
        for (name, value) in object {
            if let Some(spec) = declarations.limits.get(name) {
                constraints
                    .limits
                    .insert(name.clone(), parse_limit(name, spec, value)?);
                continue;
            }
            match name.as_str() {
                "validUntil" => {
                    let text = value
                        .as_str()
                        .ok_or_else(|| bad(name, "expected a date-time"))?;
                    let time = DateTime::parse_from_rfc3339(text)
                        .map_err(|_| bad(name, "expected an RFC 3339 date-time"))?;
                    constraints.valid_until = Some(time.with_timezone(&Utc));
                }
                "hours" => constraints.hours = Some(parse_hours(value)?),
                "requiresApproval" => {
                    constraints.requires_approval = value
                        .as_bool()
                        .ok_or_else(|| bad(name, "expected a boolean"))?;
                }
                "scope" => {
                    let scope = value.as_str().ok_or_else(|| bad(name, "expected a name"))?;
                    if !declarations.scopes.contains_key(scope) {
                        // A scope the lattice does not know cannot be compared: treat it as an
                        // unknown constraint, which rejects this capability only.
                        constraints.unknown.push(format!("scope={scope}"));
                    }
                    constraints.scope = Some(scope.to_owned());
                }
                _ => constraints.unknown.push(name.clone()),
            }
        }
        Ok(constraints)
    }

    /// Checks that these constraints (the child's) are at least as strict as `parent`'s.
    pub fn is_within(&self, parent: &Constraints) -> Result<(), AttenuationError> {
        if let Some(name) = self.unknown.first().or(parent.unknown.first()) {
            return Err(AttenuationError::UnknownConstraint(name.clone()));
        }
        let declarations = declarations();
        for (name, p) in &parent.limits {
            let c = self
                .limits
                .get(name)
                .ok_or_else(|| AttenuationError::ConstraintDropped(name.clone()))?;
            if c.unit != p.unit {
                return Err(AttenuationError::UnitMismatch(name.clone()));
            }
            let widened = match declarations.limits.get(name).map(|s| s.direction) {
                Some(Direction::Max) => c.value > p.value,
                Some(Direction::Min) => c.value < p.value,
                None => true,
            };
            if widened {
                return Err(AttenuationError::LimitWidened(name.clone()));
            }
        }
        if let Some(p) = parent.valid_until {
            match self.valid_until {
                Some(c) if c <= p => {}
                _ => return Err(AttenuationError::WindowWidened("validUntil".into())),
            }
        }
        if let Some(p) = &parent.hours {
            let c = self
                .hours
                .as_ref()
                .ok_or_else(|| AttenuationError::ConstraintDropped("hours".into()))?;
            if c.time_zone != p.time_zone {
                return Err(AttenuationError::TimeZoneMismatch);
            }
            if !c.days.is_subset(&p.days) || c.start < p.start || c.end > p.end {
                return Err(AttenuationError::WindowWidened("hours".into()));
            }
        }
        if parent.requires_approval && !self.requires_approval {
            return Err(AttenuationError::FlagLoosened("requiresApproval".into()));
        }
        if let Some(p) = &parent.scope {
            match &self.scope {
                Some(c) if declarations.scope_within(c, p) => {}
                _ => return Err(AttenuationError::ScopeBroadened),
            }
        }
        Ok(())
    }

    /// Checks a concrete request's arguments and time against these constraints.
    pub fn permit(&self, arguments: &Map<String, Value>, now: DateTime<Utc>) -> Result<(), String> {
        if let Some(name) = self.unknown.first() {
            return Err(format!("unknown constraint {name}"));
        }
        let declarations = declarations();
        for (name, limit) in &self.limits {
            let spec = declarations
                .limits
                .get(name)
                .ok_or_else(|| format!("undeclared limit {name}"))?;
            let (value, unit) = request_quantity(arguments, spec)?;
            if unit != limit.unit {
                return Err(format!(
                    "{} is in {unit}, the limit in {}",
                    spec.argument, limit.unit
                ));
            }
            let ok = match spec.direction {
                Direction::Max => value <= limit.value,
                Direction::Min => value >= limit.value,
            };
            if !ok {
                return Err(format!(
                    "{} {value} is outside {name} {}",
                    spec.argument, limit.value
                ));
            }
        }
        if self.valid_until.is_some_and(|until| now >= until) {
            return Err("past the capability's validUntil".into());
        }
        if let Some(hours) = &self.hours {
            let local = now.with_timezone(&hours.time_zone);
            let day = local.weekday().num_days_from_monday() as u8;
            let minute = (local.hour() * 60 + local.minute()) as u16;
            if !hours.days.contains(&day) || minute < hours.start || minute >= hours.end {
                return Err("outside operating hours".into());
            }
        }
        if let Some(granted) = &self.scope {
            let asked = arguments
                .get("scope")
                .and_then(Value::as_str)
                .ok_or("the request names no scope")?;
            if !declarations.scope_within(asked, granted) {
                return Err(format!("scope {asked} is outside {granted}"));
            }
        }
        Ok(())
    }
}

/// The quantity a request asks for: `{value, unit}` for money, a bare integer for fixed units.
fn request_quantity(
    arguments: &Map<String, Value>,
    spec: &LimitSpec,
) -> Result<(u64, String), String> {
    let argument = arguments
        .get(&spec.argument)
        .ok_or_else(|| format!("the request has no {}", spec.argument))?;
    let malformed = || format!("{} is malformed", spec.argument);
    match &spec.unit {
        Some(unit) => Ok((argument.as_u64().ok_or_else(malformed)?, unit.clone())),
        None => {
            let value = argument
                .get("value")
                .and_then(Value::as_u64)
                .ok_or_else(malformed)?;
            let unit = argument
                .get("unit")
                .and_then(Value::as_str)
                .ok_or_else(malformed)?;
            Ok((value, unit.to_owned()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_declarations_parse() {
        let d = declarations();
        assert_eq!(d.limits["maxAmount"].direction, Direction::Max);
        assert_eq!(d.limits["minApprovals"].direction, Direction::Min);
        assert!(d.scope_within("assigned_tickets_only", "all_tickets"));
        assert!(d.scope_within("team_tickets", "team_tickets"));
        assert!(!d.scope_within("all_tickets", "team_tickets"));
        assert!(!d.scope_within("read_only", "all_tickets"));
    }

    #[test]
    fn broken_declarations_are_reported() {
        let schema = serde_json::json!({
            "x-vouch-limits": {"x": {"direction": "sideways", "argument": "a", "unit": "u"}},
            "x-vouch-scopes": {}
        });
        assert!(parse_declarations(&schema).is_err());
        let schema = serde_json::json!({
            "x-vouch-limits": {},
            "x-vouch-scopes": {"a": ["missing"]}
        });
        assert!(parse_declarations(&schema).is_err());
    }
}
