//! Claims in the v1 layout, read as Go reads them (`nats-io/jwt/v2` `decoder_operator.go`,
//! `decoder_account.go`, `decoder_user.go`: `loadOperator` and friends, version 1, and their
//! `migrateV1`).
//!
//! A v1 claim has `type` and `tags` at the top level (a user also its `issuer_account`), and
//! its `nats` object has no `type` or `version` and fewer fields than in v2. Go decodes it into
//! a v1 struct and copies that into a v2 claim with `version` 1. The v1 structs share the v2
//! field names and types, so here `nats` is cut down to the keys the v1 struct has (Go's
//! decoder ignores the others) and decoded as the v2 claim.

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::claims::{
    Account, AccountClaims, ClaimsData, GenericFields, Operator, OperatorClaims, SigningKeys, User,
    UserClaims, NO_LIMIT,
};
use super::JwtError;

/// The `version` Go's migration gives a v1 claim.
const VERSION: i64 = 1;

/// `v1NatsOperator`.
const OPERATOR_KEYS: &[&str] = &[
    "signing_keys",
    "account_server_url",
    "operator_service_urls",
    "system_account",
];

/// `v1NatsAccount`, less `signing_keys`, which is decoded apart (see [`account`]).
const ACCOUNT_KEYS: &[&str] = &["imports", "exports", "limits", "revocations"];

/// The limits of `v1NatsAccount` (`NatsLimits` and `AccountLimits`): no JetStream ones.
const ACCOUNT_LIMIT_KEYS: &[&str] = &[
    "subs",
    "data",
    "payload",
    "imports",
    "exports",
    "wildcards",
    "disallow_bearer",
    "conn",
    "leaf",
];

/// `v1User`: `Permissions`, `Limits` (`UserLimits`, `NatsLimits`) and `bearer_token`. Not its
/// deprecated `max`: older libraries refused a v1 user that set it, the one nats-server 2.15.1
/// is built with ignores it.
const USER_KEYS: &[&str] = &[
    "pub",
    "sub",
    "resp",
    "src",
    "times",
    "times_location",
    "subs",
    "data",
    "payload",
    "bearer_token",
];

/// `loadUser` sets these to `NoLimit` before decoding: a v1 user that does not name them is
/// not limited by them.
const USER_UNLIMITED_UNLESS_SET: &[&str] = &["subs", "data", "payload"];

/// The top-level fields v2 moved into `nats` (`v1ClaimsDataDeletedFields`, and
/// `v1UserClaimsDataDeletedFields` for `issuer_account`).
#[derive(Deserialize, Default)]
#[serde(default)]
struct Moved {
    #[serde(rename = "type")]
    kind: String,
    tags: Vec<String>,
    issuer_account: String,
}

/// A v1 payload taken apart: the common claims, the moved fields and `nats`.
struct Parts {
    claims: ClaimsData,
    moved: Moved,
    nats: Map<String, Value>,
}

fn json<T: DeserializeOwned>(v: Value) -> Result<T, JwtError> {
    serde_json::from_value(v).map_err(|e| JwtError::Json(e.to_string()))
}

/// The entries of `m` named in `keys`, but not the `null` ones: Go's decoder leaves a field
/// alone on `null`, so `null` is as good as absent.
fn only(m: &Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    m.iter()
        .filter(|(k, v)| keys.contains(&k.as_str()) && !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl Parts {
    /// `payload` has already been read once as an `identifier`, so `nats` is an object or
    /// absent.
    fn of(payload: &[u8]) -> Result<Parts, JwtError> {
        let top: Value =
            serde_json::from_slice(payload).map_err(|e| JwtError::Json(e.to_string()))?;
        let nats = top
            .get("nats")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        Ok(Parts {
            claims: json(top.clone())?,
            moved: json(top)?,
            nats,
        })
    }

    /// The type and tags where v2 keeps them, in `nats`.
    fn generic(&self) -> GenericFields {
        GenericFields {
            tags: self.moved.tags.clone(),
            kind: self.moved.kind.clone(),
            version: VERSION,
        }
    }
}

/// A v1 operator JWT's payload as v2 claims (`v1OperatorClaims.migrateV1`).
pub(super) fn operator(payload: &[u8]) -> Result<OperatorClaims, JwtError> {
    let p = Parts::of(payload)?;
    let mut nats: Operator = json(Value::Object(only(&p.nats, OPERATOR_KEYS)))?;
    nats.generic = p.generic();
    Ok(OperatorClaims {
        claims: p.claims,
        nats,
    })
}

/// A v1 account JWT's payload as v2 claims (`v1AccountClaims.migrateV1`). Its signing keys are
/// a list of plain keys (`StringList`): v1 has no scoped ones.
pub(super) fn account(payload: &[u8]) -> Result<AccountClaims, JwtError> {
    let p = Parts::of(payload)?;
    let mut fields = only(&p.nats, ACCOUNT_KEYS);
    if let Some(Value::Object(limits)) = fields.get("limits") {
        let limits = only(limits, ACCOUNT_LIMIT_KEYS);
        fields.insert("limits".into(), Value::Object(limits));
    }
    let mut nats: Account = json(Value::Object(fields))?;
    let keys: Vec<String> = match p.nats.get("signing_keys") {
        None | Some(Value::Null) => Vec::new(),
        Some(list) => json(list.clone())?,
    };
    nats.signing_keys = SigningKeys(keys.into_iter().map(|k| (k, None)).collect());
    nats.generic = p.generic();
    Ok(AccountClaims {
        claims: p.claims,
        nats,
    })
}

/// A v1 user JWT's payload as v2 claims (`loadUser`, `v1UserClaims.migrateV1`).
pub(super) fn user(payload: &[u8]) -> Result<UserClaims, JwtError> {
    let p = Parts::of(payload)?;
    let mut fields = only(&p.nats, USER_KEYS);
    for key in USER_UNLIMITED_UNLESS_SET {
        fields.entry(*key).or_insert(Value::from(NO_LIMIT));
    }
    let mut nats: User = json(Value::Object(fields))?;
    nats.generic = p.generic();
    nats.issuer_account = p.moved.issuer_account;
    Ok(UserClaims {
        claims: p.claims,
        nats,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::creds::{decorated_jwt, Creds};
    use super::super::testkit::{self, encode_v1};
    use super::super::{decode, JwtError};
    use super::*;

    const OPERATOR: &str = include_str!("../../tests/data/jwt-v1/op.jwt");
    const ACCOUNT: &str = include_str!(
        "../../tests/data/jwt-v1/ACZSWBJ4SYILK7QVDELO64VX3EFWB6CXCPMEBUKA36MJJQRPXGEEQ2WJ.jwt"
    );
    const USER_CREDS: &str = include_str!("../../tests/data/jwt-v1/user.creds");

    #[test]
    fn real_v1_jwts_convert_as_go_converts_them() {
        let op: OperatorClaims = decode(decorated_jwt(OPERATOR)).unwrap();
        assert_eq!(op.claims.name, "Synadia Communications Inc.");
        assert_eq!(op.claims.audience, "TESTS");
        assert_eq!(op.claims.expires, 1859121275);
        assert_eq!(op.claims.issuer, op.claims.subject);
        assert_eq!(op.nats.signing_keys.len(), 3);
        assert_eq!(
            (op.nats.generic.kind.as_str(), op.nats.generic.version),
            ("operator", VERSION)
        );
        let acc: AccountClaims = decode(ACCOUNT.trim()).unwrap();
        assert_eq!(acc.claims.issuer, op.claims.subject);
        let l = &acc.nats.limits;
        assert_eq!(
            (l.subs, l.conn, l.payload, l.leaf_node_conn),
            (-1, -1, -1, 0)
        );
        assert!(l.wildcard_exports);
        let creds = Creds::parse(USER_CREDS).unwrap();
        let user: UserClaims = decode(&creds.jwt).unwrap();
        assert_eq!(user.claims.issuer, acc.claims.subject);
        let l = &user.nats.limits.limits;
        // Unlimited, where a v2 user without limits would be limited to nothing.
        assert_eq!((l.subs, l.data, l.payload), (NO_LIMIT, NO_LIMIT, NO_LIMIT));
        assert_eq!(user.nats.generic.kind, "user");
        // A v1 signature covers the payload part alone: another header keeps it valid,
        // another signature does not.
        let v2_header =
            data_encoding::BASE64URL_NOPAD.encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
        let mut parts: Vec<&str> = creds.jwt.split('.').collect();
        parts[0] = &v2_header;
        assert!(decode::<UserClaims>(&parts.join(".")).is_ok());
        parts[2] = ACCOUNT.trim().rsplit('.').next().unwrap();
        assert_eq!(
            decode::<UserClaims>(&parts.join(".")).unwrap_err(),
            JwtError::SignatureV1
        );
    }

    #[test]
    fn only_the_v1_fields_are_read() {
        let op = testkit::Operator::new("op");
        let acc = testkit::Account::new("acc");
        let sk = nkeys::KeyPair::new_account();
        let token = encode_v1(
            &json!({
                "sub": acc.public_key(), "type": "account", "tags": ["t"],
                "nats": {
                    "limits": {"conn": 3, "subs": -1, "disallow_bearer": true, "mem_storage": "x"},
                    "signing_keys": [sk.public_key()],
                    "exports": [{"subject": "s", "type": "service"}],
                    "revocations": {"UX": 5},
                    "default_permissions": {"pub": {"deny": [">"]}},
                    "mappings": 7,
                },
            }),
            op.key_pair(),
        );
        let c: AccountClaims = decode(&token).unwrap();
        assert_eq!((c.nats.limits.conn, c.nats.limits.subs), (3, -1));
        assert!(c.nats.limits.disallow_bearer);
        assert_eq!(c.nats.limits.mem_storage, 0);
        assert_eq!(c.nats.signing_keys.get(&sk.public_key()), Some(None));
        assert_eq!(c.nats.exports[0].subject, "s");
        assert_eq!(c.nats.revocations.get("UX"), Some(&5));
        assert_eq!(c.nats.default_permissions, Default::default());
        assert_eq!(c.nats.generic.tags, ["t"]);
        // v1 signing keys are plain keys: a scoped one does not decode.
        let scoped = encode_v1(
            &json!({"sub": acc.public_key(), "type": "account",
                "nats": {"signing_keys": [{"kind": "user_template", "key": sk.public_key()}]}}),
            op.key_pair(),
        );
        assert!(matches!(
            decode::<AccountClaims>(&scoped),
            Err(JwtError::Json(_))
        ));

        let user = testkit::User::new("u");
        let token = encode_v1(
            &json!({
                "sub": user.public_key(), "type": "user", "issuer_account": acc.public_key(),
                "nats": {
                    "pub": {"allow": ["a"]}, "subs": 4, "src": "10.0.0.0/8, 127.0.0.1/32",
                    "max": 5, "bearer_token": true, "payload": null,
                    "allowed_connection_types": ["WEBSOCKET"], "issuer_account": "AX",
                },
            }),
            &sk,
        );
        let c: UserClaims = decode(&token).unwrap();
        let l = &c.nats.limits;
        assert_eq!(l.permissions.publish.allow, ["a"]);
        assert_eq!(
            (l.limits.subs, l.limits.data, l.limits.payload),
            (4, NO_LIMIT, NO_LIMIT)
        );
        assert_eq!(l.limits.src, ["10.0.0.0/8", "127.0.0.1/32"]);
        assert!(l.bearer_token);
        assert!(l.allowed_connection_types.is_empty());
        assert_eq!(c.nats.issuer_account, acc.public_key());
    }

    #[test]
    fn the_payload_tells_the_layout_and_the_signature_follows_it() {
        let acc = testkit::Account::new("acc");
        let user = testkit::User::new("u");
        let enc = |s: &str| data_encoding::BASE64URL_NOPAD.encode(s.as_bytes());
        let sign = |header: &str, body: serde_json::Value, whole: bool| {
            let signed = format!("{}.{}", enc(header), enc(&body.to_string()));
            let over = if whole {
                signed.as_str()
            } else {
                signed.split('.').nth(1).unwrap()
            };
            let sig = acc.key_pair().sign(over.as_bytes()).unwrap();
            format!("{signed}.{}", data_encoding::BASE64URL_NOPAD.encode(&sig))
        };
        let v1 = json!({"sub": user.public_key(), "iss": acc.public_key(), "type": "user"});
        let v2 = json!({"sub": user.public_key(), "iss": acc.public_key(),
            "nats": {"type": "user", "version": 2}});
        let old = r#"{"typ":"jwt","alg":"ed25519"}"#;
        let new = r#"{"typ":"JWT","alg":"ed25519-nkey"}"#;
        // Either `alg` goes with either layout.
        assert!(decode::<UserClaims>(&sign(new, v1.clone(), false)).is_ok());
        assert!(decode::<UserClaims>(&sign(old, v2.clone(), true)).is_ok());
        assert_eq!(
            decode::<UserClaims>(&sign(old, v1.clone(), true))
                .unwrap_err()
                .to_string(),
            "claim failed V1 signature verification"
        );
        assert_eq!(
            decode::<UserClaims>(&sign(new, v2, false)).unwrap_err(),
            JwtError::Signature
        );
        // `nats.version` 1 without a top-level `type` is read as v1 too; below that, nothing.
        let nats_v1 = json!({"sub": user.public_key(), "iss": acc.public_key(),
            "nats": {"type": "user", "version": 1}});
        let c: UserClaims = decode(&sign(new, nats_v1, false)).unwrap();
        assert_eq!(c.nats.limits.limits.subs, NO_LIMIT);
        let nats_v0 = json!({"sub": user.public_key(), "iss": acc.public_key(),
            "nats": {"type": "user"}});
        assert_eq!(
            decode::<UserClaims>(&sign(new, nats_v0, true))
                .unwrap_err()
                .to_string(),
            "library supports version 2 or less - received 0"
        );
    }
}
