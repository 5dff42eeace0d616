//! Accounts: isolated subject namespaces, and the streams and services they share through
//! exports and imports (`accounts.go`). Every client belongs to one account; clients of the
//! default configuration are all in the global account `$G`.
//!
//! Accounts are numbered once per configuration; a reload keeps the number of every account
//! it still has, so subscriptions and connections stay where they are.

pub mod operator;
mod replies;
pub(crate) mod transform;

use std::collections::HashMap;

use crate::permissions::go_quote;
use crate::subject::{is_subset_match, matches_literal};

pub(crate) use replies::random_token;
pub use replies::{request_info_header, ServiceReplies, REPLY_PREFIX};
pub use transform::Transform;

/// An account's number, the same on every shard.
pub type AccountId = u16;

/// The account of clients that name none (`globalAccountName`).
pub const GLOBAL_ACCOUNT: &str = "$G";
/// Its number.
pub const GLOBAL: AccountId = 0;

/// Whether an export shares messages (stream) or answers requests (service).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportKind {
    Stream,
    Service,
}

impl ExportKind {
    fn word(self) -> &'static str {
        match self {
            ExportKind::Stream => "stream",
            ExportKind::Service => "service",
        }
    }
}

/// How many replies a service request may get (`response_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResponseType {
    /// One reply; the reply subject is forgotten after it.
    #[default]
    Singleton,
    /// Any number of replies until the reply subject expires.
    Stream,
    Chunked,
}

/// `exports: [{stream|service: subject, accounts: [...], response_type}]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportConfig {
    pub kind: ExportKind,
    pub subject: String,
    /// The accounts allowed to import it; `None` is every account.
    pub accounts: Option<Vec<String>>,
    pub response: ResponseType,
}

/// `imports: [{stream|service: {account, subject}, to}]`; a stream's `prefix` is already
/// folded into `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportConfig {
    pub kind: ExportKind,
    pub account: String,
    pub subject: String,
    /// The subject in the importing account; `None` is the exporter's subject.
    pub to: Option<String>,
}

/// One `accounts { NAME { ... } }` entry, less its users (they join the user list).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountConfig {
    pub name: String,
    pub exports: Vec<ExportConfig>,
    pub imports: Vec<ImportConfig>,
    /// `jetstream: enabled` or a map of limits: the account may use JetStream.
    pub jetstream: Option<crate::jetstream::AccountLimits>,
}

/// A stream import seen from the exporting account: what of its publishes another account
/// receives, and under which subject.
#[derive(Debug)]
pub struct StreamImport {
    pub importer: AccountId,
    /// The imported subjects, in the exporter's namespace.
    pub subject: Vec<u8>,
    pub transform: Option<Transform>,
}

impl StreamImport {
    pub fn applies(&self, subject: &[u8]) -> bool {
        matches_literal(&self.subject, subject)
    }

    /// The subject the importer sees.
    pub fn map(&self, subject: &[u8]) -> Vec<u8> {
        self.transform
            .as_ref()
            .map_or_else(|| subject.to_vec(), |t| t.apply(subject))
    }
}

/// A service import seen from the importing account: its publishes on `local` are requests
/// to the exporter.
#[derive(Debug)]
pub struct ServiceImport {
    pub exporter: AccountId,
    /// The subjects requests are published on, in the importer's namespace.
    pub local: Vec<u8>,
    pub transform: Option<Transform>,
    pub response: ResponseType,
}

impl ServiceImport {
    pub fn applies(&self, subject: &[u8]) -> bool {
        matches_literal(&self.local, subject)
    }

    /// The subject the exporter receives the request on.
    pub fn map(&self, subject: &[u8]) -> Vec<u8> {
        self.transform
            .as_ref()
            .map_or_else(|| subject.to_vec(), |t| t.apply(subject))
    }
}

/// One account as the shards route for it.
#[derive(Debug, Default)]
pub struct Account {
    pub name: String,
    /// Other accounts' imports of this account's streams.
    pub stream_imports: Vec<StreamImport>,
    /// This account's imports of other accounts' services.
    pub service_imports: Vec<ServiceImport>,
    /// Whether another account imports a service of this one, so its publishes on reply
    /// subjects may be answers to route back.
    pub answers_imports: bool,
}

impl Account {
    /// Whether a publish in this account may concern another account.
    pub fn shares(&self) -> bool {
        !self.stream_imports.is_empty() || !self.service_imports.is_empty() || self.answers_imports
    }
}

/// All accounts, numbered.
#[derive(Debug)]
pub struct Accounts {
    list: Vec<Account>,
    by_name: HashMap<String, AccountId>,
    /// The account of the server's own events and services, when there is one.
    system: Option<AccountId>,
}

impl Default for Accounts {
    fn default() -> Self {
        Accounts::new(&[], None).expect("the global account alone is valid")
    }
}

impl Accounts {
    /// The accounts of a configuration, numbered after `previous` (the running ones) so a
    /// reload keeps every account's number. Errors are worded as the Go server's.
    pub fn new(cfgs: &[AccountConfig], previous: Option<&Accounts>) -> Result<Accounts, String> {
        Accounts::build(cfgs, previous, Err)
    }

    /// The same, for accounts from JWTs: an import that cannot be made is left out and
    /// logged, as Go does for account claims, instead of failing.
    pub fn new_lenient(
        cfgs: &[AccountConfig],
        previous: Option<&Accounts>,
    ) -> Result<Accounts, String> {
        Accounts::build(cfgs, previous, |e| {
            crate::log_at!(Warn, "{e}");
            Ok(())
        })
    }

    fn build(
        cfgs: &[AccountConfig],
        previous: Option<&Accounts>,
        on_bad_import: impl Fn(String) -> Result<(), String>,
    ) -> Result<Accounts, String> {
        let mut names: Vec<String> = match previous {
            Some(p) => p.list.iter().map(|a| a.name.clone()).collect(),
            None => vec![GLOBAL_ACCOUNT.to_string()],
        };
        for c in cfgs {
            if !names.contains(&c.name) {
                names.push(c.name.clone());
            }
        }
        if names.len() > usize::from(AccountId::MAX) {
            return Err(format!("too many accounts: {}", names.len()));
        }
        let by_name: HashMap<String, AccountId> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as AccountId))
            .collect();
        let mut accounts = Accounts {
            list: names
                .into_iter()
                .map(|name| Account {
                    name,
                    ..Account::default()
                })
                .collect(),
            by_name,
            system: None,
        };
        let configs: HashMap<&str, &AccountConfig> =
            cfgs.iter().map(|c| (c.name.as_str(), c)).collect();
        for c in cfgs {
            for im in &c.imports {
                if let Err(e) = accounts.add_import(&configs, &c.name, im) {
                    on_bad_import(e)?;
                }
            }
        }
        Ok(accounts)
    }

    /// Records `importer`'s import `im`, where routing needs it.
    fn add_import(
        &mut self,
        configs: &HashMap<&str, &AccountConfig>,
        importer_name: &str,
        im: &ImportConfig,
    ) -> Result<(), String> {
        let importer = self.by_name[importer_name];
        let word = im.kind.word();
        let (Some(&exporter), Some(exporter_cfg)) = (
            self.by_name.get(&im.account),
            configs.get(im.account.as_str()),
        ) else {
            return Err(format!(
                "{} account not defined for {word} import",
                go_quote(im.account.as_bytes())
            ));
        };
        let quoted = go_quote(im.subject.as_bytes());
        if !authorized(exporter_cfg, im, importer_name) {
            return Err(format!(
                "Error adding {word} import {quoted}: {word} import not authorized"
            ));
        }
        match im.kind {
            ExportKind::Stream => {
                let transform = match &im.to {
                    Some(to) if *to != im.subject => {
                        Some(Transform::new(&im.subject, to, true).map_err(|e| {
                            format!(
                                "Error adding stream import {quoted}: failed to create mapping transform for stream import subject from {quoted} to {}: {e}",
                                go_quote(to.as_bytes())
                            )
                        })?)
                    }
                    _ => None,
                };
                self.list[usize::from(exporter)]
                    .stream_imports
                    .push(StreamImport {
                        importer,
                        subject: im.subject.clone().into_bytes(),
                        transform,
                    });
            }
            ExportKind::Service => {
                let local = im.to.clone().unwrap_or_else(|| im.subject.clone());
                let transform = if local == im.subject {
                    None
                } else {
                    Some(Transform::new(&local, &im.subject, false).map_err(|e| {
                        format!(
                            "Error adding service import {quoted}: failed to create mapping transform for service import subject from {} to {quoted}: {e}",
                            go_quote(local.as_bytes())
                        )
                    })?)
                };
                let response = exporter_cfg
                    .exports
                    .iter()
                    .find(|e| {
                        e.kind == ExportKind::Service
                            && is_subset_match(im.subject.as_bytes(), e.subject.as_bytes())
                    })
                    .map_or(ResponseType::Singleton, |e| e.response);
                self.list[usize::from(importer)]
                    .service_imports
                    .push(ServiceImport {
                        exporter,
                        local: local.into_bytes(),
                        transform,
                        response,
                    });
                self.list[usize::from(exporter)].answers_imports = true;
            }
        }
        Ok(())
    }

    /// Makes `name` the system account, adding it when it is the default `$SYS` that no
    /// configuration defines (`SetDefaultSystemAccount`); `None` leaves the server without
    /// one (`no_system_account`).
    pub fn with_system(mut self, name: Option<&str>) -> Result<Accounts, String> {
        let Some(name) = name else {
            return Ok(self);
        };
        let id = match self.by_name.get(name) {
            Some(&id) => id,
            None if name == crate::system::SYSTEM_ACCOUNT => {
                let id = AccountId::try_from(self.list.len())
                    .map_err(|_| format!("too many accounts: {}", self.list.len() + 1))?;
                self.list.push(Account {
                    name: name.to_string(),
                    ..Account::default()
                });
                self.by_name.insert(name.to_string(), id);
                id
            }
            None => return Err("error resolving system account: account missing".into()),
        };
        self.system = Some(id);
        Ok(self)
    }

    /// The system account's number, when there is one.
    pub fn system(&self) -> Option<AccountId> {
        self.system
    }

    pub fn id(&self, name: &str) -> Option<AccountId> {
        self.by_name.get(name).copied()
    }

    pub fn get(&self, id: AccountId) -> &Account {
        &self.list[usize::from(id)]
    }

    pub fn name(&self, id: AccountId) -> &str {
        &self.get(id).name
    }

    pub fn len(&self) -> usize {
        self.list.len()
    }

    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Every account, with its number.
    pub fn iter(&self) -> impl Iterator<Item = (AccountId, &Account)> {
        self.list
            .iter()
            .enumerate()
            .map(|(i, a)| (i as AccountId, a))
    }
}

/// Whether `exporter` lets `importer` import `im`: an export of the same kind whose subject
/// covers the imported one, open to everyone or naming the importer
/// (`checkStreamImportAuthorized`, `checkServiceImportAuthorized`).
fn authorized(exporter: &AccountConfig, im: &ImportConfig, importer: &str) -> bool {
    exporter.exports.iter().any(|e| {
        e.kind == im.kind
            && (e.subject == im.subject
                || is_subset_match(im.subject.as_bytes(), e.subject.as_bytes()))
            && e.accounts
                .as_ref()
                .is_none_or(|a| a.iter().any(|n| n == importer))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn export(kind: ExportKind, subject: &str, accounts: Option<&[&str]>) -> ExportConfig {
        ExportConfig {
            kind,
            subject: subject.into(),
            accounts: accounts.map(|a| a.iter().map(|s| s.to_string()).collect()),
            response: ResponseType::Singleton,
        }
    }

    fn import(kind: ExportKind, account: &str, subject: &str, to: Option<&str>) -> ImportConfig {
        ImportConfig {
            kind,
            account: account.into(),
            subject: subject.into(),
            to: to.map(Into::into),
        }
    }

    fn two(exports: Vec<ExportConfig>, imports: Vec<ImportConfig>) -> Result<Accounts, String> {
        Accounts::new(
            &[
                AccountConfig {
                    name: "A".into(),
                    exports,
                    imports: vec![],
                    jetstream: None,
                },
                AccountConfig {
                    name: "B".into(),
                    exports: vec![],
                    imports,
                    jetstream: None,
                },
            ],
            None,
        )
    }

    use ExportKind::{Service, Stream};

    #[test]
    fn imports_are_checked_against_exports_with_go_texts() {
        let e = two(vec![], vec![import(Stream, "Z", "x", None)]).unwrap_err();
        assert_eq!(e, "\"Z\" account not defined for stream import");
        let e = two(vec![], vec![import(Stream, "A", "x", None)]).unwrap_err();
        assert_eq!(
            e,
            "Error adding stream import \"x\": stream import not authorized"
        );
        let only_c = vec![export(Stream, "x", Some(&["C"]))];
        assert!(two(only_c, vec![import(Stream, "A", "x", None)]).is_err());
        let service = vec![export(Service, "x", None)];
        let e = two(service, vec![import(Stream, "A", "x", None)]).unwrap_err();
        assert!(e.ends_with("stream import not authorized"), "{e}");
        let stream = vec![export(Stream, "x", None)];
        let e = two(stream, vec![import(Service, "A", "x", None)]).unwrap_err();
        assert_eq!(
            e,
            "Error adding service import \"x\": service import not authorized"
        );
        let e = two(
            vec![export(Stream, "x.>", None)],
            vec![import(Stream, "A", "x.*", Some("y.$2"))],
        )
        .unwrap_err();
        assert_eq!(e, "Error adding stream import \"x.*\": failed to create mapping transform for stream import subject from \"x.*\" to \"y.$2\": invalid mapping destination: wildcard index out of range in $2: [2]");
    }

    #[test]
    fn routes_are_recorded_on_the_side_that_publishes() {
        let a = two(
            vec![
                export(Stream, "foo.>", None),
                export(Service, "req.*", None),
            ],
            vec![
                import(Stream, "A", "foo.>", Some("fromA.foo.>")),
                import(Service, "A", "req.*", Some("ask.*")),
            ],
        )
        .unwrap();
        let (ga, gb) = (a.id("A").unwrap(), a.id("B").unwrap());
        assert_eq!((a.id(GLOBAL_ACCOUNT), a.len()), (Some(GLOBAL), 3));
        let s = &a.get(ga).stream_imports[0];
        assert_eq!((s.importer, s.applies(b"foo.x")), (gb, true));
        assert_eq!(s.map(b"foo.x"), b"fromA.foo.x");
        let si = &a.get(gb).service_imports[0];
        assert!(si.applies(b"ask.1") && !si.applies(b"req.1"));
        assert_eq!((si.exporter, si.map(b"ask.1")), (ga, b"req.1".to_vec()));
        assert!(a.get(ga).answers_imports && a.get(ga).shares());
        assert!(!a.get(GLOBAL).shares());
        // A reload that drops A and adds C keeps B's number.
        let c = Accounts::new(
            &[
                AccountConfig {
                    name: "C".into(),
                    ..AccountConfig::default()
                },
                AccountConfig {
                    name: "B".into(),
                    ..AccountConfig::default()
                },
            ],
            Some(&a),
        )
        .unwrap();
        assert_eq!((c.id("B"), c.id("C")), (Some(gb), Some(3)));
    }
}
