//! The Go server's command line (Go `flag` syntax): `-x` and `--x` are the same flag,
//! values as `-x v` or `-x=v`, booleans take no value unless given as `-x=false`.

use std::path::PathBuf;

use crate::cluster::settings::RouteUrl;
use crate::cluster::ClusterSettings;
use crate::config::{Config, DEFAULT_HTTP_PORT};

/// What `riptide ARGS` asks for.
#[derive(Debug)]
pub enum Command {
    /// Run a server; with `test` only check the configuration file and exit.
    Run {
        cfg: Box<Config>,
        config_file: Option<PathBuf>,
        test: bool,
    },
    /// Send a signal to a running server (`--signal reload[=<pid or pid file>]`); `pid_file`
    /// is `-P`, used when the signal names no process.
    Signal {
        spec: String,
        pid_file: Option<PathBuf>,
    },
    Version,
    Help,
}

#[derive(Debug, PartialEq, Eq)]
pub struct CliError(pub String);

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub const USAGE: &str = "\
Usage: riptide [options]

Server Options:
    -a, --addr, --net <host>         Bind to host address (default: 0.0.0.0)
    -p, --port <port>                Use port for clients (default: 4222, -1 for a random port)
    -n, --name
        --server_name <server_name>  Server name (default: auto)
    -P, --pid <file>                 File to store PID
    -m, --http_port <port>           Use port for http monitoring
    -c, --config <file>              Configuration file
    -t                               Test configuration and exit
    -sl,--signal <signal>[=<pid>]    Send signal to riptide process (ldm, stop, quit, term, reopen, reload)
                                     <pid> can be either a PID (e.g. 1) or the path to a PID file (e.g. /var/run/riptide.pid)
        --shards <n>                 Shards, one pinned thread each (default: cores available)

Logging Options:
    -l, --log <file>                 File to redirect log output
    -T, --logtime                    Timestamp log entries (default: true)
        --log_size_limit <limit>     Logfile size limit in bytes (default: no limit)
    -D, --debug                      Enable debugging output
    -V, --trace                      Trace the raw protocol
    -VV                              Verbose trace
    -DV                              Debug and trace
    -DVV                             Debug and verbose trace

TLS Options:
        --tls                        Enable TLS, do not verify clients (default: false)
        --tlscert <file>             Server certificate file
        --tlskey <file>              Private key for server certificate
        --tlsverify                  Enable TLS, verify client certificates
        --tlscacert <file>           Client certificate CA for verification

Authorization Options:
        --user <user>                User required for connections
        --pass <password>            Password required for connections
        --auth <token>               Authorization token required for connections

JetStream Options:
    -js, --jetstream                 Enable JetStream functionality
    -sd, --store_dir <dir>           Set the storage directory

Common Options:
    -h, --help                       Show this message
    -v, --version                    Show version
";

#[derive(Clone, Copy)]
enum Kind {
    Bool,
    Value,
}

/// Flag names (without dashes), their kind and the canonical name they set.
const FLAGS: &[(&str, Kind, &str)] = &[
    ("a", Kind::Value, "addr"),
    ("addr", Kind::Value, "addr"),
    ("net", Kind::Value, "addr"),
    ("p", Kind::Value, "port"),
    ("port", Kind::Value, "port"),
    ("n", Kind::Value, "name"),
    ("name", Kind::Value, "name"),
    ("server_name", Kind::Value, "name"),
    ("P", Kind::Value, "pid"),
    ("pid", Kind::Value, "pid"),
    ("m", Kind::Value, "http_port"),
    ("http_port", Kind::Value, "http_port"),
    ("l", Kind::Value, "log"),
    ("log", Kind::Value, "log"),
    ("T", Kind::Bool, "logtime"),
    ("logtime", Kind::Bool, "logtime"),
    ("log_size_limit", Kind::Value, "log_size_limit"),
    ("sl", Kind::Value, "signal"),
    ("signal", Kind::Value, "signal"),
    ("D", Kind::Bool, "debug"),
    ("debug", Kind::Bool, "debug"),
    ("V", Kind::Bool, "trace"),
    ("trace", Kind::Bool, "trace"),
    ("VV", Kind::Bool, "trace"),
    ("DV", Kind::Bool, "debug_trace"),
    ("DVV", Kind::Bool, "debug_trace"),
    ("js", Kind::Bool, "jetstream"),
    ("jetstream", Kind::Bool, "jetstream"),
    ("sd", Kind::Value, "store_dir"),
    ("store_dir", Kind::Value, "store_dir"),
    ("shards", Kind::Value, "shards"),
    ("user", Kind::Value, "user"),
    ("pass", Kind::Value, "pass"),
    ("auth", Kind::Value, "auth"),
    ("tls", Kind::Bool, "tls"),
    ("tlscert", Kind::Value, "tlscert"),
    ("tlskey", Kind::Value, "tlskey"),
    ("tlscacert", Kind::Value, "tlscacert"),
    ("tlsverify", Kind::Bool, "tlsverify"),
    ("cluster", Kind::Value, "cluster"),
    ("cluster_listen", Kind::Value, "cluster"),
    ("cluster_name", Kind::Value, "cluster_name"),
    ("routes", Kind::Value, "routes"),
    ("no_advertise", Kind::Bool, "no_advertise"),
    ("connect_retries", Kind::Value, "connect_retries"),
    ("cluster_advertise", Kind::Value, "cluster_advertise"),
    ("c", Kind::Value, "config"),
    ("config", Kind::Value, "config"),
    ("t", Kind::Bool, "test"),
    ("h", Kind::Bool, "help"),
    ("help", Kind::Bool, "help"),
    ("v", Kind::Bool, "version"),
    ("version", Kind::Bool, "version"),
];

/// Flags of the Go server that later Riptide releases implement; refused clearly for now.
const NOT_YET: &[&str] = &["ms", "https_port", "s", "syslog", "r", "remote_syslog"];

fn parse_bool(name: &str, v: &str) -> Result<bool, CliError> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(CliError(format!("invalid boolean value {v:?} for -{name}"))),
    }
}

fn parse_num<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, CliError> {
    v.parse()
        .map_err(|_| CliError(format!("invalid value {v:?} for flag -{name}: parse error")))
}

pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Command, CliError> {
    parse_onto(args, Config::default())
}

/// Applies the flags over `cfg` (a configuration file's settings): flags win, as in the Go
/// server, which parses flags, applies the file, then parses the flags again.
pub fn parse_onto<I: IntoIterator<Item = String>>(
    args: I,
    mut cfg: Config,
) -> Result<Command, CliError> {
    let mut config_file = None;
    let mut test = false;
    let mut tls = TlsFlags::default();
    let mut signal = None;
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "--" {
            break;
        }
        let Some(stripped) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            // Positional `version` / `help`, as the Go server accepts them.
            return match arg.as_str() {
                "version" => Ok(Command::Version),
                "help" => Ok(Command::Help),
                _ => Err(CliError(format!("unrecognized argument: {arg}"))),
            };
        };
        let (name, inline) = match stripped.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (stripped, None),
        };
        let Some(&(_, kind, canon)) = FLAGS.iter().find(|(n, _, _)| *n == name) else {
            if NOT_YET.contains(&name) {
                return Err(CliError(format!(
                    "flag -{name} is not supported by this version of riptide yet"
                )));
            }
            return Err(CliError(format!("flag provided but not defined: -{name}")));
        };
        let value = match kind {
            Kind::Bool => inline
                .map_or(Ok(true), |v| parse_bool(name, &v))
                .map(|b| b.to_string())?,
            Kind::Value => match inline {
                Some(v) => v,
                None => args
                    .next()
                    .ok_or_else(|| CliError(format!("flag needs an argument: -{name}")))?,
            },
        };
        let on = value == "true";
        match canon {
            "addr" => cfg.host = value,
            "port" => cfg.port = parse_num(name, &value)?,
            "name" => cfg.server_name = Some(value),
            "pid" => cfg.pid_file = Some(PathBuf::from(value)),
            "http_port" => {
                let p: i32 = parse_num(name, &value)?;
                cfg.http_port = Some(if p == 0 {
                    i32::from(DEFAULT_HTTP_PORT)
                } else {
                    p
                });
            }
            "log" => cfg.log_file = Some(PathBuf::from(value)),
            "logtime" => cfg.logtime = on,
            // Zero or less means no limit, as in the Go server.
            "log_size_limit" => {
                cfg.log_size_limit = u64::try_from(parse_num::<i64>(name, &value)?).unwrap_or(0)
            }
            "signal" => signal = Some(value),
            "debug" => cfg.debug = on,
            "trace" => cfg.trace = on,
            "debug_trace" => {
                cfg.debug = on;
                cfg.trace = on;
            }
            "jetstream" => cfg.jetstream = on,
            "store_dir" => cfg.store_dir = Some(PathBuf::from(value)),
            "shards" => {
                cfg.shards = parse_num(name, &value)?;
                if cfg.shards == 0 {
                    return Err(CliError("--shards must be at least 1".into()));
                }
            }
            "config" => config_file = Some(PathBuf::from(value)),
            // --user/--pass replace the configured users with one, as the Go server does.
            "user" => set_single_user(&mut cfg, Some(value), None),
            "pass" => set_single_user(&mut cfg, None, Some(value)),
            "auth" => cfg.auth.token = Some(value),
            "tls" => tls.tls = Some(on),
            "tlscert" => tls.cert = Some(PathBuf::from(value)),
            "tlskey" => tls.key = Some(PathBuf::from(value)),
            "tlscacert" => tls.ca = Some(PathBuf::from(value)),
            "tlsverify" => tls.verify = Some(on),
            "test" => test = on,
            "cluster" => cluster_listen(&mut cfg, &value)?,
            "cluster_name" => cluster_of(&mut cfg).name = Some(value),
            // Go's `RoutesFromStr`: comma-separated URLs, each trimmed.
            "routes" => {
                cluster_of(&mut cfg).routes = value
                    .split(',')
                    .map(RouteUrl::parse)
                    .collect::<Result<_, _>>()
                    .map_err(CliError)?
            }
            "no_advertise" => cluster_of(&mut cfg).no_advertise = on,
            "connect_retries" => cluster_of(&mut cfg).connect_retries = parse_num(name, &value)?,
            "cluster_advertise" => cluster_of(&mut cfg).advertise = Some(value),
            "help" if on => return Ok(Command::Help),
            "version" if on => return Ok(Command::Version),
            _ => {}
        }
    }
    tls.apply(&mut cfg)?;
    // A signal is sent instead of running a server, whatever else is on the command line.
    if let Some(spec) = signal {
        return Ok(Command::Signal {
            spec,
            pid_file: cfg.pid_file,
        });
    }
    if cfg.port < -1 || cfg.port > i32::from(u16::MAX) {
        return Err(CliError(format!("invalid port {}", cfg.port)));
    }
    if cfg.port == -1 {
        cfg.port = 0;
    }
    Ok(Command::Run {
        cfg: Box::new(cfg),
        config_file,
        test,
    })
}

/// The cluster settings, made on first use.
fn cluster_of(cfg: &mut Config) -> &mut ClusterSettings {
    cfg.cluster.get_or_insert_with(ClusterSettings::default)
}

/// `--cluster nats://[user:pass@]host:port`: the route listener, and the credentials
/// routes must present (Go's `overrideCluster`).
fn cluster_listen(cfg: &mut Config, value: &str) -> Result<(), CliError> {
    // Port -1 asks for a random one, as for the client port.
    let random = value.trim_end_matches('/').ends_with(":-1");
    let fixed = if random {
        format!("{}:0", value.trim_end_matches('/').trim_end_matches(":-1"))
    } else {
        value.to_string()
    };
    let url = RouteUrl::parse(&fixed).map_err(CliError)?;
    let c = cluster_of(cfg);
    c.host = Some(url.host);
    c.port = if random { -1 } else { i32::from(url.port) };
    if url.user.is_some() {
        c.user = url.user;
        c.pass = url.pass;
    }
    Ok(())
}

/// The `--tls*` flags, which replace the configuration file's `tls` block when any is given.
#[derive(Default)]
struct TlsFlags {
    tls: Option<bool>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
    ca: Option<PathBuf>,
    verify: Option<bool>,
}

impl TlsFlags {
    /// Go's `overrideTLS`: `--tls=false` alone turns TLS off; otherwise the certificate and
    /// key must both be given.
    fn apply(self, cfg: &mut Config) -> Result<(), CliError> {
        let given = self.cert.is_some() || self.key.is_some() || self.ca.is_some();
        if self.tls.is_none() && self.verify.is_none() && !given {
            return Ok(());
        }
        if self.tls == Some(false) && self.verify != Some(true) && !given {
            cfg.tls = None;
            return Ok(());
        }
        let cert = self
            .cert
            .ok_or_else(|| CliError("TLS Server certificate must be present and valid".into()))?;
        let key = self
            .key
            .ok_or_else(|| CliError("TLS Server private key must be present and valid".into()))?;
        let mut t = crate::transport::tls::TlsSettings::new(cert, key);
        t.ca_file = self.ca;
        t.verify = self.verify == Some(true);
        cfg.tls = Some(t);
        Ok(())
    }
}

fn set_single_user(cfg: &mut Config, user: Option<String>, pass: Option<String>) {
    let mut u = cfg.auth.users.pop().unwrap_or_default();
    if let Some(user) = user {
        u.user = user;
    }
    if let Some(pass) = pass {
        u.password = pass;
    }
    cfg.auth.users = vec![u];
    cfg.auth.single_user = true;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::UserConfig;

    fn run(args: &[&str]) -> Config {
        match parse(args.iter().map(|s| s.to_string())).unwrap() {
            Command::Run { cfg, .. } => *cfg,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn go_flag_syntax() {
        let c = run(&[
            "-p",
            "5222",
            "--addr=127.0.0.1",
            "-DV",
            "-n",
            "x",
            "--shards=3",
        ]);
        assert_eq!(
            (c.port, c.host.as_str(), c.debug, c.trace),
            (5222, "127.0.0.1", true, true)
        );
        assert_eq!((c.server_name.as_deref(), c.shards), (Some("x"), 3));
        assert_eq!(run(&["-p", "-1"]).port, 0);
        assert_eq!(run(&["--port=-1"]).port, 0);
        let c = run(&["-js", "-sd", "/tmp/x", "-m", "8222", "-D=false"]);
        assert!(c.jetstream && !c.debug);
        assert_eq!(c.http_port, Some(8222));
    }

    #[test]
    fn errors_and_commands() {
        let p = |a: &[&str]| parse(a.iter().map(|s| s.to_string()));
        assert_eq!(
            p(&["--bogus"]).unwrap_err(),
            CliError("flag provided but not defined: -bogus".into())
        );
        assert!(p(&["-p"]).is_err());
        assert!(p(&["-p", "x"]).is_err());
        assert!(p(&["-p", "70000"]).is_err());
        assert_eq!(
            p(&["--tls"]).unwrap_err().0,
            "TLS Server certificate must be present and valid"
        );
        let c = run(&["--tlscert", "c.pem", "--tlskey", "k.pem", "--tlsverify"]);
        assert!(c
            .tls
            .is_some_and(|t| t.verify && t.cert_file.is_some_and(|c| c.ends_with("c.pem"))));
        assert!(matches!(
            p(&["-c", "x.conf", "-t"]),
            Ok(Command::Run {
                config_file: Some(_),
                test: true,
                ..
            })
        ));
        let Ok(Command::Run { cfg, .. }) = p(&["--user", "u", "--pass", "p", "--auth", "t"]) else {
            panic!()
        };
        assert_eq!(
            cfg.auth.users,
            vec![UserConfig {
                user: "u".into(),
                password: "p".into(),
                ..UserConfig::default()
            }]
        );
        assert_eq!(cfg.auth.token.as_deref(), Some("t"));
        assert!(matches!(p(&["-v"]), Ok(Command::Version)));
        assert!(matches!(p(&["--help"]), Ok(Command::Help)));
        assert!(matches!(p(&["version"]), Ok(Command::Version)));
        let Ok(Command::Signal { spec, pid_file }) = p(&["-P", "r.pid", "-sl", "ldm=7"]) else {
            panic!()
        };
        assert_eq!(
            (spec.as_str(), pid_file),
            ("ldm=7", Some(PathBuf::from("r.pid")))
        );
        let Ok(Command::Run { cfg, .. }) = p(&["-T=false", "--log_size_limit", "1000"]) else {
            panic!()
        };
        assert_eq!((cfg.logtime, cfg.log_size_limit), (false, 1000));
        assert!(p(&["--log_size_limit", "1KB"]).is_err());
    }
}
