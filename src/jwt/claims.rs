//! The claims of nats-io JWT v2 (`github.com/nats-io/jwt/v2`: `claims.go`, `types.go`,
//! `operator_claims.go`, `account_claims.go`, `user_claims.go`, `exports.go`, `imports.go`,
//! `signingkeys.go`, `revocation_list.go`), with the JSON field names of that library.
//!
//! Every field defaults when absent, as Go's `json.Unmarshal` leaves a missing field zero, and
//! fields this server does not use are still decoded so that claims written by `nsc` round
//! trip through the test helpers. Fields skipped on output are Go's `omitempty` ones.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// "Unlimited" in every numeric limit (`NoLimit`).
pub const NO_LIMIT: i64 = -1;
/// The revocation key that revokes every user (`jwt.All`).
pub const REVOKE_ALL: &str = "*";

fn is_zero(n: &i64) -> bool {
    *n == 0
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Fields every claim has (`ClaimsData`); times are Unix seconds, 0 when unset.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClaimsData {
    #[serde(rename = "aud", skip_serializing_if = "String::is_empty")]
    pub audience: String,
    #[serde(rename = "exp", skip_serializing_if = "is_zero")]
    pub expires: i64,
    #[serde(rename = "jti", skip_serializing_if = "String::is_empty")]
    pub id: String,
    #[serde(rename = "iat", skip_serializing_if = "is_zero")]
    pub issued_at: i64,
    #[serde(rename = "iss", skip_serializing_if = "String::is_empty")]
    pub issuer: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(rename = "nbf", skip_serializing_if = "is_zero")]
    pub not_before: i64,
    #[serde(rename = "sub", skip_serializing_if = "String::is_empty")]
    pub subject: String,
}

impl ClaimsData {
    /// The time check of `ClaimsData.Validate` at `now` (Unix seconds): the issue it reports,
    /// if any.
    pub fn time_issue(&self, now: i64) -> Option<&'static str> {
        if self.expires > 0 && now > self.expires {
            Some("claim is expired")
        } else if self.not_before > 0 && self.not_before > now {
            Some("claim is not yet valid")
        } else {
            None
        }
    }
}

/// `tags`, `type` and `version` inside `nats` (`GenericFields`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenericFields {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    pub kind: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub version: i64,
}

/// Allow and deny lists (`Permission`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Permission {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub deny: Vec<String>,
}

/// `resp`: responses allowed to received reply subjects (`ResponsePermission`); `ttl` is a
/// Go `time.Duration`, nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ResponsePermission {
    pub max: i64,
    pub ttl: i64,
}

/// `pub`, `sub` and `resp` (`Permissions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Permissions {
    #[serde(rename = "pub")]
    pub publish: Permission,
    #[serde(rename = "sub")]
    pub subscribe: Permission,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resp: Option<ResponsePermission>,
}

/// A connect time window, `HH:MM:SS` each (`TimeRange`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TimeRange {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub start: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub end: String,
}

/// `src` as Go's `CIDRList.UnmarshalJSON` takes it: an array, or one comma separated string.
fn cidr_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Form {
        List(Vec<String>),
        Joined(String),
    }
    Ok(match Option::<Form>::deserialize(d)? {
        None => Vec::new(),
        Some(Form::List(l)) => l,
        Some(Form::Joined(s)) => s
            .to_lowercase()
            .split(',')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect(),
    })
}

/// Limits of a user (`Limits`: `UserLimits` and `NatsLimits`, inlined).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserLimits {
    #[serde(deserialize_with = "cidr_list", skip_serializing_if = "Vec::is_empty")]
    pub src: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub times: Vec<TimeRange>,
    #[serde(rename = "times_location", skip_serializing_if = "String::is_empty")]
    pub locale: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub subs: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub data: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub payload: i64,
}

impl UserLimits {
    /// What `NewUserClaims` starts with: no subscription, data or payload limit.
    pub fn unlimited() -> UserLimits {
        UserLimits {
            subs: NO_LIMIT,
            data: NO_LIMIT,
            payload: NO_LIMIT,
            ..UserLimits::default()
        }
    }
}

/// Permissions and limits of a user, also the template of a scoped signing key
/// (`UserPermissionLimits`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserPermissionLimits {
    #[serde(flatten)]
    pub permissions: Permissions,
    #[serde(flatten)]
    pub limits: UserLimits,
    #[serde(skip_serializing_if = "is_false")]
    pub bearer_token: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed_connection_types: Vec<String>,
}

impl UserPermissionLimits {
    /// Nothing set: what a user signed by a scoped key must carry (`ValidateScopedSigner`).
    pub fn is_empty(&self) -> bool {
        *self == UserPermissionLimits::default()
    }
}

/// `nats` of a user JWT (`User`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct User {
    #[serde(flatten)]
    pub limits: UserPermissionLimits,
    /// The account, when a signing key of it issued the JWT.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub issuer_account: String,
    #[serde(flatten)]
    pub generic: GenericFields,
}

/// A user JWT (`UserClaims`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserClaims {
    #[serde(flatten)]
    pub claims: ClaimsData,
    pub nats: User,
}

/// `nats` of an operator JWT (`Operator`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Operator {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signing_keys: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account_server_url: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub operator_service_urls: Vec<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub system_account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub assert_server_version: String,
    #[serde(skip_serializing_if = "is_false")]
    pub strict_signing_key_usage: bool,
    #[serde(flatten)]
    pub generic: GenericFields,
}

/// An operator JWT (`OperatorClaims`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OperatorClaims {
    #[serde(flatten)]
    pub claims: ClaimsData,
    pub nats: Operator,
}

/// Limits the operator puts on an account (`OperatorLimits`: `NatsLimits`, `AccountLimits`
/// and `JetStreamLimits` inlined, and `tiered_limits`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct OperatorLimits {
    #[serde(skip_serializing_if = "is_zero")]
    pub subs: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub data: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub payload: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub imports: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub exports: i64,
    #[serde(rename = "wildcards", skip_serializing_if = "is_false")]
    pub wildcard_exports: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub disallow_bearer: bool,
    #[serde(skip_serializing_if = "is_zero")]
    pub conn: i64,
    #[serde(rename = "leaf", skip_serializing_if = "is_zero")]
    pub leaf_node_conn: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub mem_storage: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub disk_storage: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub streams: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub consumer: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max_ack_pending: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub mem_max_stream_bytes: i64,
    #[serde(skip_serializing_if = "is_zero")]
    pub disk_max_stream_bytes: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub max_bytes_required: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tiered_limits: BTreeMap<String, serde_json::Value>,
}

impl OperatorLimits {
    /// What `NewAccountClaims` starts with: everything unlimited, wildcard exports allowed,
    /// JetStream off.
    pub fn unlimited() -> OperatorLimits {
        OperatorLimits {
            subs: NO_LIMIT,
            data: NO_LIMIT,
            payload: NO_LIMIT,
            imports: NO_LIMIT,
            exports: NO_LIMIT,
            wildcard_exports: true,
            conn: NO_LIMIT,
            leaf_node_conn: NO_LIMIT,
            ..OperatorLimits::default()
        }
    }
}

/// `stream` or `service` (`ExportType`); anything else fails decoding, as in Go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportType {
    #[default]
    Stream,
    Service,
}

/// An export (`Export`). `response_threshold` is a Go duration, nanoseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Export {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    #[serde(rename = "type")]
    pub kind: ExportType,
    #[serde(skip_serializing_if = "is_false")]
    pub token_req: bool,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub revocations: BTreeMap<String, i64>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub response_type: String,
    #[serde(skip_serializing_if = "is_zero")]
    pub response_threshold: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_latency: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "is_zero")]
    pub account_token_position: i64,
    #[serde(skip_serializing_if = "is_false")]
    pub advertise: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_trace: bool,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub info_url: String,
}

/// An import (`Import`): `subject` of `account`, seen locally as `local_subject` (or the
/// deprecated `to`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Import {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub subject: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub to: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub local_subject: String,
    #[serde(rename = "type")]
    pub kind: ExportType,
    #[serde(skip_serializing_if = "is_false")]
    pub share: bool,
    #[serde(skip_serializing_if = "is_false")]
    pub allow_trace: bool,
}

/// A scoped signing key's role (`UserScope`, `kind: "user_template"`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct UserScope {
    pub kind: String,
    pub key: String,
    pub role: String,
    pub template: UserPermissionLimits,
}

/// The `kind` of a scoped signing key (`UserScopeType`).
pub const USER_SCOPE_KIND: &str = "user_template";

/// An account's signing keys: plain keys, or scoped ones that impose a template on the users
/// they sign (`SigningKeys`, an array of strings and objects on the wire).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SigningKeys(pub BTreeMap<String, Option<UserScope>>);

impl SigningKeys {
    /// Whether `key` is one of them; with its scope, if it has one (`GetScope`).
    pub fn get(&self, key: &str) -> Option<Option<&UserScope>> {
        self.0.get(key).map(Option::as_ref)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for SigningKeys {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Entry<'a> {
            Plain(&'a str),
            Scoped(&'a UserScope),
        }
        s.collect_seq(self.0.iter().map(|(k, scope)| match scope {
            Some(scope) => Entry::Scoped(scope),
            None => Entry::Plain(k),
        }))
    }
}

impl<'de> Deserialize<'de> for SigningKeys {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let entries = Option::<Vec<serde_json::Value>>::deserialize(d)?.unwrap_or_default();
        let mut keys = BTreeMap::new();
        for entry in entries {
            match entry {
                serde_json::Value::String(k) => {
                    keys.insert(k, None);
                }
                serde_json::Value::Object(ref fields) => {
                    let kind = fields.get("kind").and_then(|k| k.as_str()).unwrap_or("");
                    if kind != USER_SCOPE_KIND {
                        // Go names the missing `type` field here, so its message shows an
                        // empty value whatever the kind.
                        return Err(serde::de::Error::custom(
                            "unknown signing key scope \"%!q(<nil>)\"",
                        ));
                    }
                    let scope = UserScope::deserialize(entry).map_err(serde::de::Error::custom)?;
                    keys.insert(scope.key.clone(), Some(scope));
                }
                // Go's type switch skips other JSON values.
                _ => {}
            }
        }
        Ok(SigningKeys(keys))
    }
}

/// `nats` of an account JWT (`Account`). `revocations` maps user public keys (or `*`) to the
/// Unix time before which their JWTs are revoked.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Account {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub imports: Vec<Import>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub exports: Vec<Export>,
    pub limits: OperatorLimits,
    #[serde(skip_serializing_if = "SigningKeys::is_empty")]
    pub signing_keys: SigningKeys,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub revocations: BTreeMap<String, i64>,
    pub default_permissions: Permissions,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub mappings: BTreeMap<String, serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub cluster_traffic: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub info_url: String,
    #[serde(flatten)]
    pub generic: GenericFields,
}

/// An account JWT (`AccountClaims`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountClaims {
    #[serde(flatten)]
    pub claims: ClaimsData,
    pub nats: Account,
}

impl AccountClaims {
    /// Whether the account revoked JWTs of `user` issued at `issued_at` (`isRevoked`: a
    /// revocation time at or after the issue time, for the key or for everyone).
    pub fn user_revoked(&self, user: &str, issued_at: i64) -> bool {
        [user, REVOKE_ALL].iter().any(|k| {
            self.nats
                .revocations
                .get(*k)
                .is_some_and(|&t| t >= issued_at)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signing_keys_plain_and_scoped() {
        let json = r#"["AKEY1",{"kind":"user_template","key":"AKEY2","role":"r","template":{"pub":{"allow":["a"]},"subs":-1}}]"#;
        let keys: SigningKeys = serde_json::from_str(json).unwrap();
        assert_eq!(keys.get("AKEY1"), Some(None));
        let scope = keys.get("AKEY2").unwrap().unwrap();
        assert_eq!(scope.template.permissions.publish.allow, vec!["a"]);
        assert_eq!(scope.template.limits.subs, NO_LIMIT);
        assert_eq!(keys.get("AKEY3"), None);
        let back: SigningKeys =
            serde_json::from_str(&serde_json::to_string(&keys).unwrap()).unwrap();
        assert_eq!(back, keys);
        let bad = r#"[{"kind":"other","key":"K"}]"#;
        assert!(serde_json::from_str::<SigningKeys>(bad).is_err());
    }

    #[test]
    fn src_as_list_or_joined_string() {
        let l: UserLimits =
            serde_json::from_str(r#"{"src":"10.0.0.0/8, 192.168.1.1/32"}"#).unwrap();
        assert_eq!(l.src, vec!["10.0.0.0/8", "192.168.1.1/32"]);
        let l: UserLimits = serde_json::from_str(r#"{"src":["10.0.0.0/8"]}"#).unwrap();
        assert_eq!(l.src, vec!["10.0.0.0/8"]);
    }

    #[test]
    fn revocations_by_key_or_all() {
        let mut a = AccountClaims::default();
        a.nats.revocations.insert("U1".into(), 100);
        assert!(a.user_revoked("U1", 100));
        assert!(a.user_revoked("U1", 99));
        assert!(!a.user_revoked("U1", 101));
        assert!(!a.user_revoked("U2", 50));
        a.nats.revocations.insert(REVOKE_ALL.into(), 60);
        assert!(a.user_revoked("U2", 50));
        assert!(!a.user_revoked("U2", 61));
    }

    #[test]
    fn time_checks() {
        let c = ClaimsData {
            expires: 100,
            not_before: 50,
            ..ClaimsData::default()
        };
        assert_eq!(c.time_issue(75), None);
        assert_eq!(c.time_issue(100), None);
        assert_eq!(c.time_issue(101), Some("claim is expired"));
        assert_eq!(c.time_issue(49), Some("claim is not yet valid"));
    }
}
