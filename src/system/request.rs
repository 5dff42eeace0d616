//! What a `$SYS.REQ` subject asks for: the subjects the Go server's `initEventTracking`
//! subscribes to in the system account, and the imports `addSystemAccountExports` gives
//! every other account. Sans-IO, so the table is tested on its own.

/// A server-wide endpoint (`$SYS.REQ.SERVER.PING.<Z>` and `$SYS.REQ.SERVER.<id>.<Z>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Statsz,
    Idz,
    Varz,
    Connz,
    Subsz,
    Routez,
    Gatewayz,
    Leafz,
    Accountz,
    Jsz,
    Healthz,
}

impl Endpoint {
    fn from_token(t: &[u8]) -> Option<Endpoint> {
        Some(match t {
            b"STATSZ" => Endpoint::Statsz,
            b"IDZ" => Endpoint::Idz,
            b"VARZ" => Endpoint::Varz,
            b"CONNZ" => Endpoint::Connz,
            b"SUBSZ" => Endpoint::Subsz,
            b"ROUTEZ" => Endpoint::Routez,
            b"GATEWAYZ" => Endpoint::Gatewayz,
            b"LEAFZ" => Endpoint::Leafz,
            b"ACCOUNTZ" => Endpoint::Accountz,
            b"JSZ" => Endpoint::Jsz,
            b"HEALTHZ" => Endpoint::Healthz,
            _ => return None,
        })
    }
}

/// An endpoint about one account (`$SYS.REQ.ACCOUNT.<acc>.<Z>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AccountEndpoint {
    Connz,
    Subsz,
    Leafz,
    Statz,
    /// The `account_connections` event, answered only while the account has clients.
    Conns,
}

/// What a request asks of the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ask {
    Server(Endpoint),
    Account(String, AccountEndpoint),
    /// `$SYS.REQ.ACCOUNT.PING.STATZ`: every account in use.
    AccountsStatz,
    /// `$SYS.REQ.USER.INFO`: the requester's own user, account and permissions.
    UserInfo,
}

/// The request a publish in the system account makes, if any. `server_id` is this server's;
/// other servers' direct subjects are not ours to answer.
pub(crate) fn in_system(subject: &[u8], server_id: &str) -> Option<Ask> {
    let t: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
    match t[..] {
        [b"$SYS", b"REQ", b"SERVER", b"PING"] => Some(Ask::Server(Endpoint::Statsz)),
        [b"$SYS", b"REQ", b"SERVER", who, z] if who == b"PING" || who == server_id.as_bytes() => {
            Endpoint::from_token(z).map(Ask::Server)
        }
        [b"$SYS", b"REQ", b"ACCOUNT", b"PING", b"STATZ"] => Some(Ask::AccountsStatz),
        [b"$SYS", b"REQ", b"ACCOUNT", acc, z] => {
            let e = match z {
                b"CONNZ" => AccountEndpoint::Connz,
                b"SUBSZ" => AccountEndpoint::Subsz,
                b"LEAFZ" => AccountEndpoint::Leafz,
                b"STATZ" => AccountEndpoint::Statz,
                b"CONNS" => AccountEndpoint::Conns,
                _ => return None,
            };
            Some(Ask::Account(String::from_utf8_lossy(acc).into_owned(), e))
        }
        [b"$SYS", b"REQ", b"USER", b"INFO"] => Some(Ask::UserInfo),
        _ => None,
    }
}

/// What the system services subscribe to, in the system account (`in_system` answers
/// them) or in any other account (`imported` answers them). Each shard holds these
/// subscriptions itself, so a request is answered where it was published.
pub(crate) fn subscriptions(in_system_account: bool, server_id: &str) -> Vec<String> {
    if in_system_account {
        vec![
            "$SYS.REQ.SERVER.PING".into(),
            "$SYS.REQ.SERVER.PING.*".into(),
            format!("$SYS.REQ.SERVER.{server_id}.*"),
            "$SYS.REQ.ACCOUNT.*.*".into(),
            "$SYS.REQ.USER.INFO".into(),
        ]
    } else {
        [
            "$SYS.REQ.SERVER.PING.CONNZ",
            "$SYS.REQ.ACCOUNT.PING.CONNZ",
            "$SYS.REQ.ACCOUNT.PING.STATZ",
            "$SYS.REQ.USER.INFO",
        ]
        .map(String::from)
        .to_vec()
    }
}

/// The request a publish in another account makes through the system imports every
/// account has: its own connections, its own statistics, its own user.
pub(crate) fn imported(subject: &[u8], account: &str) -> Option<Ask> {
    let own = |e| Some(Ask::Account(account.to_string(), e));
    match subject {
        b"$SYS.REQ.SERVER.PING.CONNZ" | b"$SYS.REQ.ACCOUNT.PING.CONNZ" => {
            own(AccountEndpoint::Connz)
        }
        b"$SYS.REQ.ACCOUNT.PING.STATZ" => own(AccountEndpoint::Statz),
        b"$SYS.REQ.USER.INFO" => Some(Ask::UserInfo),
        _ => None,
    }
}

/// The imports of the system services every other account has, as `/accountz` lists them:
/// (the subject in the system account with `{acc}` for the account, the importer's subject,
/// whether the requester's details are shared).
pub(crate) const IMPORTS: &[(&str, &str, bool)] = &[
    (
        "$SYS.REQ.ACCOUNT.{acc}.CONNZ",
        "$SYS.REQ.SERVER.PING.CONNZ",
        false,
    ),
    (
        "$SYS.REQ.ACCOUNT.{acc}.STATZ",
        "$SYS.REQ.ACCOUNT.PING.STATZ",
        false,
    ),
    ("$SYS.REQ.USER.{acc}.INFO", "$SYS.REQ.USER.INFO", true),
    (
        "$SYS.REQ.ACCOUNT.{acc}.CONNZ",
        "$SYS.REQ.ACCOUNT.PING.CONNZ",
        false,
    ),
];

/// The services the system account exports, as `/accountz` lists them: (subject, Go's
/// response type name).
pub(crate) const EXPORTS: &[(&str, &str)] = &[
    ("$SYS.DEBUG.SUBSCRIBERS", "Singleton"),
    ("$SYS.REQ.USER.*.INFO", "Singleton"),
    ("$SYS.REQ.ACCOUNT.*.CONNZ", "Streamed"),
    ("$SYS.REQ.ACCOUNT.*.STATZ", "Streamed"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_subjects() {
        let id = "NABC";
        let ask = |s: &str| in_system(s.as_bytes(), id);
        assert_eq!(
            ask("$SYS.REQ.SERVER.PING"),
            Some(Ask::Server(Endpoint::Statsz))
        );
        assert_eq!(
            ask("$SYS.REQ.SERVER.PING.VARZ"),
            Some(Ask::Server(Endpoint::Varz))
        );
        assert_eq!(
            ask("$SYS.REQ.SERVER.NABC.CONNZ"),
            Some(Ask::Server(Endpoint::Connz))
        );
        assert_eq!(ask("$SYS.REQ.SERVER.NOTUS.CONNZ"), None);
        assert_eq!(ask("$SYS.REQ.SERVER.PING.PROFILEZ"), None);
        assert_eq!(ask("$SYS.REQ.ACCOUNT.PING.STATZ"), Some(Ask::AccountsStatz));
        assert_eq!(
            ask("$SYS.REQ.ACCOUNT.A.SUBSZ"),
            Some(Ask::Account("A".into(), AccountEndpoint::Subsz))
        );
        assert_eq!(ask("$SYS.REQ.ACCOUNT.A.INFO"), None);
        assert_eq!(ask("$SYS.REQ.USER.INFO"), Some(Ask::UserInfo));
        assert_eq!(ask("$SYS.REQ.SERVER.PING.VARZ.X"), None);
        assert_eq!(ask("foo"), None);
    }

    #[test]
    fn imported_subjects_are_the_accounts_own() {
        for s in ["$SYS.REQ.SERVER.PING.CONNZ", "$SYS.REQ.ACCOUNT.PING.CONNZ"] {
            assert_eq!(
                imported(s.as_bytes(), "A"),
                Some(Ask::Account("A".into(), AccountEndpoint::Connz))
            );
        }
        assert_eq!(
            imported(b"$SYS.REQ.ACCOUNT.PING.STATZ", "A"),
            Some(Ask::Account("A".into(), AccountEndpoint::Statz))
        );
        assert_eq!(imported(b"$SYS.REQ.USER.INFO", "A"), Some(Ask::UserInfo));
        assert_eq!(imported(b"$SYS.REQ.SERVER.PING.VARZ", "A"), None);
        assert_eq!(imported(b"$SYS.REQ.ACCOUNT.B.CONNZ", "A"), None);
    }

    /// Every subject a service answers is one it subscribes to, so subscriptions lose no
    /// request; what they let through and the service does not know goes unanswered.
    #[test]
    fn subscriptions_cover_what_is_answered() {
        use crate::subject::Sublist;
        let id = "NABC";
        let trie = |system: bool| {
            let mut t: Sublist<()> = Sublist::new();
            for s in subscriptions(system, id) {
                t.insert(s.as_bytes(), None, ()).unwrap();
            }
            t
        };
        let (system, other) = (trie(true), trie(false));
        let samples = [
            "$SYS.REQ.SERVER.PING",
            "$SYS.REQ.SERVER.PING.VARZ",
            "$SYS.REQ.SERVER.PING.CONNZ",
            "$SYS.REQ.SERVER.NABC.CONNZ",
            "$SYS.REQ.SERVER.NOTUS.CONNZ",
            "$SYS.REQ.ACCOUNT.PING.STATZ",
            "$SYS.REQ.ACCOUNT.PING.CONNZ",
            "$SYS.REQ.ACCOUNT.A.SUBSZ",
            "$SYS.REQ.ACCOUNT.A.CONNS",
            "$SYS.REQ.USER.INFO",
            "$SYS.REQ.SERVER.PING.VARZ.X",
        ];
        for s in samples {
            let b = s.as_bytes();
            if in_system(b, id).is_some() {
                assert!(!system.matches(b).is_empty(), "{s} in the system account");
            }
            if imported(b, "A").is_some() {
                assert!(!other.matches(b).is_empty(), "{s} imported");
            }
        }
        assert!(system.matches(b"$SYS.REQ.SERVER.NOTUS.CONNZ").is_empty());
        assert!(other.matches(b"$SYS.REQ.SERVER.PING.VARZ").is_empty());
    }
}
