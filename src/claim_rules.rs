//! Per-route claim rules (`claims = [{ name = "groups", values = [...], match = "any" }]`):
//! what a route may require of any claim besides scopes, roles, kind, client, tenant and
//! auth context — APIM's `required-claims`, express-oauth2-jwt-bearer's `claimIncludes`.
//!
//! Comparison is exact and case-sensitive, and type-exact: a string value matches only a
//! string claim (or an element of an array of strings), a boolean only a boolean, a number
//! only a number of the same value. A claim of any other shape (object, null, an array
//! holding anything but strings) fails closed.
//!
//! Only the claims some route names are kept from a verified token ([`HeldClaims`]), so the
//! feature costs nothing when no route uses it.

use serde_json::{Number, Value};

use crate::policy::Match;
use crate::reason::{Reason, Refusal};

/// A value a rule accepts: a string, a boolean or a number (TOML's scalar types).
#[derive(Clone, Debug, PartialEq)]
pub enum RuleValue {
    String(String),
    Bool(bool),
    Number(Number),
}

impl Eq for RuleValue {}

impl RuleValue {
    /// From a configuration value; `None` for null, arrays and objects.
    pub fn from_json(value: &Value) -> Option<RuleValue> {
        match value {
            Value::String(s) => Some(RuleValue::String(s.clone())),
            Value::Bool(b) => Some(RuleValue::Bool(*b)),
            Value::Number(n) => Some(RuleValue::Number(n.clone())),
            _ => None,
        }
    }

    /// The JSON type's name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            RuleValue::String(_) => "string",
            RuleValue::Bool(_) => "boolean",
            RuleValue::Number(_) => "number",
        }
    }

    fn matches(&self, held: &Value) -> bool {
        match (self, held) {
            (RuleValue::String(want), Value::String(have)) => want == have,
            (RuleValue::Bool(want), Value::Bool(have)) => want == have,
            (RuleValue::Number(want), Value::Number(have)) => same_number(want, have),
            _ => false,
        }
    }
}

/// Integers compare exactly (ids beyond 2^53 stay distinct); otherwise by value, so `1`
/// and `1.0` are the same number — but an integer beyond 2^53 never equals a float, which
/// cannot hold it exactly.
fn same_number(a: &Number, b: &Number) -> bool {
    const EXACT: i128 = 1 << 53;
    let integer = |n: &Number| n.as_i64().map(i128::from).or_else(|| n.as_u64().map(i128::from));
    match (integer(a), integer(b)) {
        (Some(x), Some(y)) => x == y,
        (Some(x), None) => x.abs() <= EXACT && b.as_f64() == Some(x as f64),
        (None, Some(y)) => y.abs() <= EXACT && a.as_f64() == Some(y as f64),
        (None, None) => a.as_f64().zip(b.as_f64()).is_some_and(|(x, y)| x == y),
    }
}

/// One rule: the claim `name` must hold any (or all) of `values`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimRule {
    pub name: String,
    pub values: Vec<RuleValue>,
    pub mode: Match,
}

/// Claims the gateway verifies itself or that have their own route option: a claim rule on
/// them would be either redundant or a way around the dedicated check.
pub const RESERVED_CLAIMS: [(&str, &str); 19] = [
    ("aud", "audiences"),
    ("iss", "tenants (the issuer is checked against the tenant's metadata)"),
    ("tid", "tenants"),
    ("exp", "the token lifetime check"),
    ("nbf", "the token lifetime check"),
    ("iat", "the token lifetime check"),
    ("scp", "scopes"),
    ("roles", "roles"),
    ("azp", "clients"),
    ("appid", "clients"),
    ("acrs", "auth_context"),
    ("ver", "token_versions"),
    ("idtyp", "token_kind"),
    ("nonce", "nothing: only ID tokens carry it, and they are refused"),
    ("at_hash", "nothing: only ID tokens carry it, and they are refused"),
    ("c_hash", "nothing: only ID tokens carry it, and they are refused"),
    ("hasgroups", "a rule on groups (hasgroups marks a groups overage, refused as groups_overage)"),
    ("_claim_names", "nothing: it is how Entra moves claims out of an overlarge token"),
    ("_claim_sources", "nothing: it is how Entra moves claims out of an overlarge token"),
];

/// A JSON object whose keys are unique: a payload with a repeated claim name is not one
/// Entra signs, and two readers could take different copies (the typed claims parser
/// refuses repeats of the claims it models; this refuses repeats of every other).
pub struct UniqueKeys(pub serde_json::Map<String, Value>);

impl<'de> serde::Deserialize<'de> for UniqueKeys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = UniqueKeys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object with unique keys")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some((key, value)) = map.next_entry::<String, Value>()? {
                    if out.contains_key(&key) {
                        return Err(serde::de::Error::custom(format!("duplicate claim {key:?}")));
                    }
                    out.insert(key, value);
                }
                Ok(UniqueKeys(out))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// The claims of a verified token that some route's rules name, plus the names of those
/// claims that Entra moved out of the token (groups overage).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HeldClaims {
    values: Vec<(String, Value)>,
    moved_out: Vec<String>,
}

impl Eq for HeldClaims {}

impl HeldClaims {
    /// Keeps the claims named in `wanted` from a token's claims object.
    ///
    /// A claim is "moved out" when `_claim_names` lists it (Entra's overage indicator, an
    /// object of claim name → source; Microsoft identity platform, "Group overage claim"),
    /// and `groups` is also moved out when `hasgroups` is true (implicit-flow tokens).
    pub fn keep(claims: &serde_json::Map<String, Value>, wanted: &[String]) -> HeldClaims {
        let values = wanted.iter().filter_map(|name| claims.get(name).map(|value| (name.clone(), value.clone()))).collect();
        let listed = claims.get("_claim_names").and_then(Value::as_object);
        let has_groups = claims.get("hasgroups").is_some_and(|v| v == &Value::Bool(true));
        let moved_out = wanted
            .iter()
            .filter(|name| listed.is_some_and(|names| names.contains_key(name.as_str())) || (has_groups && name.as_str() == "groups"))
            .cloned()
            .collect();
        HeldClaims { values, moved_out }
    }

    fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn moved_out(&self, name: &str) -> bool {
        self.moved_out.iter().any(|n| n == name)
    }
}

/// Checks every rule against the held claims (`None`: the token was verified without any
/// claims kept, which cannot satisfy a rule). The refusal names the claim, never its value.
pub fn check(rules: &[ClaimRule], held: Option<&HeldClaims>) -> Result<(), Refusal> {
    for rule in rules {
        let name = rule.name.as_str();
        if held.is_some_and(|h| h.moved_out(name)) {
            return Err(Refusal::new(
                Reason::GroupsOverage,
                format!(
                    "the token does not carry the {name} claim itself (too many values: Entra moved them out of the token), so this route's {name} rule cannot be checked at the edge; app roles avoid this"
                ),
            ));
        }
        let Some(value) = held.and_then(|h| h.get(name)) else {
            return Err(Refusal::new(
                Reason::ClaimRuleFailed,
                format!("this route requires the {name} claim, which the token does not carry"),
            ));
        };
        let elements: Option<Vec<&Value>> = match value {
            Value::Array(items) if items.iter().all(Value::is_string) => Some(items.iter().collect()),
            Value::Array(_) | Value::Object(_) | Value::Null => None,
            scalar => Some(vec![scalar]),
        };
        let Some(elements) = elements else {
            return Err(Refusal::new(
                Reason::ClaimRuleFailed,
                format!("the token's {name} claim is not a string, an array of strings, a boolean or a number"),
            ));
        };
        let has = |want: &RuleValue| elements.iter().any(|held| want.matches(held));
        let satisfied = match rule.mode {
            Match::Any => rule.values.iter().any(has),
            Match::All => rule.values.iter().all(has),
        };
        if !satisfied {
            let which = match (rule.mode, rule.values.len()) {
                (_, 1) => "the configured value".to_string(),
                (Match::Any, n) => format!("one of {n} configured values"),
                (Match::All, n) => format!("all {n} configured values"),
            };
            return Err(Refusal::new(Reason::ClaimRuleFailed, format!("this route requires the {name} claim to hold {which}")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn held(claims: Value, wanted: &[&str]) -> HeldClaims {
        let wanted: Vec<String> = wanted.iter().map(|s| s.to_string()).collect();
        HeldClaims::keep(claims.as_object().unwrap(), &wanted)
    }

    fn rule(name: &str, values: Value, mode: Match) -> ClaimRule {
        let values = values.as_array().unwrap().iter().map(|v| RuleValue::from_json(v).unwrap()).collect();
        ClaimRule { name: name.into(), values, mode }
    }

    fn outcome(rules: &[ClaimRule], claims: Value) -> Option<Reason> {
        let names: Vec<&str> = rules.iter().map(|r| r.name.as_str()).collect();
        check(rules, Some(&held(claims, &names))).err().map(|r| r.reason)
    }

    const ADMINS: &str = "6b2f0c1a-0000-4000-8000-000000000001";
    const AUDITORS: &str = "6b2f0c1a-0000-4000-8000-000000000002";

    #[test]
    fn any_needs_one_of_the_values_in_an_array_claim() {
        let r = [rule("groups", json!([ADMINS, AUDITORS]), Match::Any)];
        assert_eq!(outcome(&r, json!({ "groups": ["x", AUDITORS] })), None);
        assert_eq!(outcome(&r, json!({ "groups": ["x"] })), Some(Reason::ClaimRuleFailed));
    }

    #[test]
    fn all_needs_every_value_in_an_array_claim() {
        let r = [rule("groups", json!([ADMINS, AUDITORS]), Match::All)];
        assert_eq!(outcome(&r, json!({ "groups": [AUDITORS, ADMINS] })), None);
        assert_eq!(outcome(&r, json!({ "groups": [ADMINS] })), Some(Reason::ClaimRuleFailed));
    }

    #[test]
    fn strings_compare_exactly_and_case_sensitively() {
        let r = [rule("department", json!(["Finance"]), Match::Any)];
        assert_eq!(outcome(&r, json!({ "department": "Finance" })), None);
        for other in ["finance", "Finance ", "Fin", "FinanceX"] {
            assert_eq!(outcome(&r, json!({ "department": other })), Some(Reason::ClaimRuleFailed), "{other}");
        }
    }

    #[test]
    fn booleans_match_only_booleans() {
        let r = [rule("email_verified", json!([true]), Match::Any)];
        assert_eq!(outcome(&r, json!({ "email_verified": true })), None);
        assert_eq!(outcome(&r, json!({ "email_verified": false })), Some(Reason::ClaimRuleFailed));
        assert_eq!(outcome(&r, json!({ "email_verified": "true" })), Some(Reason::ClaimRuleFailed));
        assert_eq!(outcome(&r, json!({ "email_verified": 1 })), Some(Reason::ClaimRuleFailed));
    }

    #[test]
    fn numbers_match_by_value_and_only_numbers() {
        let r = [rule("tier", json!([2]), Match::Any)];
        assert_eq!(outcome(&r, json!({ "tier": 2 })), None);
        assert_eq!(outcome(&r, json!({ "tier": 2.0 })), None);
        assert_eq!(outcome(&r, json!({ "tier": "2" })), Some(Reason::ClaimRuleFailed));
        assert_eq!(outcome(&r, json!({ "tier": 3 })), Some(Reason::ClaimRuleFailed));
    }

    #[test]
    fn large_integers_stay_distinct() {
        let r = [rule("n", json!([9_007_199_254_740_993_u64]), Match::Any)];
        assert_eq!(outcome(&r, json!({ "n": 9_007_199_254_740_992_u64 })), Some(Reason::ClaimRuleFailed));
        assert_eq!(outcome(&r, json!({ "n": 9_007_199_254_740_993_u64 })), None);
        let float: Value = serde_json::from_str("9007199254740992.0").unwrap();
        assert_eq!(outcome(&r, json!({ "n": float })), Some(Reason::ClaimRuleFailed), "a float cannot stand for an integer past 2^53");
    }

    #[test]
    fn claims_of_other_shapes_fail_closed() {
        let r = [rule("groups", json!([ADMINS]), Match::Any)];
        for shape in [json!({ "a": ADMINS }), json!(null), json!([ADMINS, 7]), json!([[ADMINS]]), json!([{ "id": ADMINS }])] {
            assert_eq!(outcome(&r, json!({ "groups": shape })), Some(Reason::ClaimRuleFailed), "{shape}");
        }
    }

    #[test]
    fn a_missing_claim_fails() {
        let r = [rule("wids", json!(["62e90394-69f5-4237-9190-012177145e10"]), Match::Any)];
        assert_eq!(outcome(&r, json!({})), Some(Reason::ClaimRuleFailed));
        assert_eq!(check(&r, None).unwrap_err().reason, Reason::ClaimRuleFailed);
    }

    #[test]
    fn every_rule_must_pass() {
        let r = [rule("groups", json!([ADMINS]), Match::Any), rule("department", json!(["Finance"]), Match::Any)];
        assert_eq!(outcome(&r, json!({ "groups": [ADMINS], "department": "Finance" })), None);
        assert_eq!(outcome(&r, json!({ "groups": [ADMINS], "department": "Sales" })), Some(Reason::ClaimRuleFailed));
    }

    #[test]
    fn groups_overage_is_its_own_refusal_never_a_member_or_not() {
        let r = [rule("groups", json!([ADMINS]), Match::Any)];
        let overage = json!({ "_claim_names": { "groups": "src1" }, "_claim_sources": { "src1": { "endpoint": "https://graph.microsoft.com/v1.0/users/x/getMemberObjects" } } });
        assert_eq!(outcome(&r, overage), Some(Reason::GroupsOverage));
        // Even if a groups claim is present too, a token that says groups were moved out
        // is not trusted to list them all.
        assert_eq!(outcome(&r, json!({ "groups": [ADMINS], "_claim_names": { "groups": "src1" } })), Some(Reason::GroupsOverage));
    }

    #[test]
    fn hasgroups_marks_groups_overage() {
        let r = [rule("groups", json!([ADMINS]), Match::Any)];
        assert_eq!(outcome(&r, json!({ "hasgroups": true })), Some(Reason::GroupsOverage));
        assert_eq!(outcome(&r, json!({ "hasgroups": false, "groups": [ADMINS] })), None);
    }

    #[test]
    fn refusals_never_echo_the_claims_value() {
        let r = [rule("department", json!(["Finance"]), Match::Any)];
        let names = ["department"].map(String::from);
        let secret = "Top-Secret-Division";
        let held = HeldClaims::keep(json!({ "department": secret }).as_object().unwrap(), &names);
        let refusal = check(&r, Some(&held)).unwrap_err();
        assert!(!refusal.detail.contains(secret) && !refusal.detail.contains("Finance"), "{}", refusal.detail);
    }

    #[test]
    fn a_claims_object_with_a_repeated_name_is_refused() {
        assert!(serde_json::from_str::<UniqueKeys>(r#"{"hasgroups":true,"hasgroups":false}"#).is_err());
        assert!(serde_json::from_str::<UniqueKeys>(r#"{"_claim_names":{"groups":"s"},"_claim_names":{}}"#).is_err());
        assert!(serde_json::from_str::<UniqueKeys>(r#"{"a":1,"b":2}"#).is_ok());
    }

    #[test]
    fn only_the_named_claims_are_kept() {
        let held = held(json!({ "groups": [ADMINS], "email": "a@b", "name": "A" }), &["groups"]);
        assert!(held.get("groups").is_some());
        assert!(held.get("email").is_none() && held.get("name").is_none());
    }
}
