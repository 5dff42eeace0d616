//! `riptide`: parse flags, start the shards, wait for a signal, map errors to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use riptide::cli::{self, Command};
use riptide::config::Config;
use riptide::config_file;
use riptide::control::Control;
use riptide::info::{GO_SERVER_VERSION, RIPTIDE_VERSION};
use riptide::log_at;
use riptide::runtime;
use riptide::signal_command;

// mimalloc: payload buffers are allocated on the publishing shard and freed on whichever
// shard delivers last; its cross-thread free is a single CAS onto the owner's list.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (cfg, config_file, test) = match cli::parse(args.clone()) {
        Ok(Command::Run {
            cfg,
            config_file,
            test,
        }) => (*cfg, config_file, test),
        Ok(Command::Signal { spec, pid_file }) => {
            return match signal_command::send(&spec, pid_file.as_deref()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("riptide: {e}");
                    ExitCode::from(1)
                }
            };
        }
        Ok(Command::Version) => {
            println!("riptide: v{RIPTIDE_VERSION} (nats-server: v{GO_SERVER_VERSION} compatible)");
            return ExitCode::SUCCESS;
        }
        Ok(Command::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{e}");
            eprint!("{}", cli::USAGE);
            return ExitCode::from(1);
        }
    };
    let (cfg, warnings) = match &config_file {
        None => (cfg, Vec::new()),
        Some(path) => match config_file::load_with_flags(path, &args, test) {
            Ok(c) => c,
            Err(msg) => {
                eprintln!("riptide: {msg}");
                return ExitCode::from(1);
            }
        },
    };
    if test {
        if let Some(path) = &config_file {
            println!("riptide: configuration file {} is valid", path.display());
        }
        return ExitCode::SUCCESS;
    }
    // Go checks operator mode when the server starts, not under `-t`.
    if let Err(msg) = config_file::validate_operator_mode(&cfg) {
        eprintln!("riptide: {msg}");
        return ExitCode::from(1);
    }
    for w in &warnings {
        eprintln!("{w}");
    }
    match run(cfg, config_file, args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            log_at!(Fatal, "{msg}");
            ExitCode::from(1)
        }
    }
}

/// Runs the server until it is stopped; `config_file` and `args` are read again on reload.
fn run(cfg: Config, config_file: Option<PathBuf>, args: Vec<String>) -> Result<(), String> {
    riptide::log::configure(&cfg)?;
    runtime::raise_fd_limit();
    let signals = riptide::signals::block()?;

    log_at!(Info, "Starting riptide (nats-server compatible)");
    log_at!(
        Info,
        "  Version:  {RIPTIDE_VERSION} (protocol of nats-server {GO_SERVER_VERSION})"
    );
    if cfg.jetstream {
        let dir = cfg
            .store_dir
            .clone()
            .unwrap_or_else(|| std::env::temp_dir().join("nats"));
        prepare_store_dir(&dir)?;
        log_jetstream_banner(&cfg, &dir);
    }
    let pid_file = cfg.pid_file.clone();
    let running = runtime::start(cfg).map_err(|e| e.to_string())?;
    let server = running.server();
    log_at!(Info, "  Name:     {}", server.name());
    log_at!(Info, "  ID:       {}", server.server_id);
    log_at!(
        Info,
        "  Shards:   {} (io_uring {:?})",
        running.shards,
        running.ring_mode
    );
    if let Some(p) = &pid_file {
        std::fs::write(p, std::process::id().to_string())
            .map_err(|e| format!("Could not write pidfile: {e}"))?;
    }
    let addr = running.addr;
    let shown = if addr.is_ipv6() {
        format!("[{}]:{}", addr.ip(), addr.port())
    } else {
        addr.to_string()
    };
    if let Some(m) = &running.monitor {
        log_at!(Info, "Starting http monitor on {}", m.addr);
    }
    if let Some(ws) = running.ws_addr {
        let scheme = if running
            .server()
            .ws_wrap
            .as_ref()
            .is_some_and(|w| w.tls.is_some())
        {
            "wss"
        } else {
            "ws"
        };
        log_at!(
            Info,
            "Listening for websocket clients on {scheme}://{}:{}",
            ws.ip(),
            ws.port()
        );
        if scheme == "ws" {
            log_at!(
                Warn,
                "Websocket not configured with TLS. DO NOT USE IN PRODUCTION!"
            );
        }
    }
    // Go logs the leaf node port before the client port, and the route port last.
    if let Some(at) = running.leaf_addr {
        log_at!(Info, "Listening for leafnode connections on {at}");
        if let Some((host, port)) = &running.leaf_advertise {
            let told = riptide::cluster::handshake::host_port(host, *port);
            log_at!(Info, "Advertise address for leafnode is set to {told}");
        }
    }
    log_at!(Info, "Listening for client connections on {shown}");
    if let Some(at) = running.route_addr {
        if let Some((name, _, _)) = running.server().cluster_view.listen() {
            log_at!(Info, "Cluster name is {name}");
            if running
                .server()
                .cfg
                .cluster
                .as_ref()
                .is_some_and(|c| c.name.is_none())
            {
                log_at!(
                    Warn,
                    "Cluster name was dynamically generated, consider setting one"
                );
            }
        }
        log_at!(Info, "Listening for route connections on {at}");
    }
    if let Some(w) = &running.server().client_wrap {
        log_at!(Info, "TLS required for client connections");
        if w.tls_first && w.tls_first_fallback.is_none() {
            log_at!(
                Warn,
                "Clients that are not using \"TLS Handshake First\" option will fail to connect"
            );
        }
    }
    log_at!(Info, "Server is ready");

    Control::new(running, signals, config_file, args, pid_file).serve();
    Ok(())
}

/// The lines Go logs when JetStream starts; launchers read `Store Directory`.
fn log_jetstream_banner(cfg: &Config, dir: &std::path::Path) {
    let limit = |n: i64| {
        if n < 0 {
            "unlimited".to_string()
        } else {
            format!("{n} B")
        }
    };
    log_at!(Info, "Starting JetStream");
    log_at!(Info, "---------------- JETSTREAM ----------------");
    log_at!(Info, "  Strict:          {}", cfg.jetstream_opts.strict);
    log_at!(
        Info,
        "  Max Memory:      {}",
        limit(cfg.jetstream_opts.max_memory)
    );
    log_at!(
        Info,
        "  Max Storage:     {}",
        limit(cfg.jetstream_opts.max_store)
    );
    log_at!(
        Info,
        "  Store Directory: \"{}\"",
        dir.join("jetstream").display()
    );
    if !cfg.jetstream_opts.domain.is_empty() {
        log_at!(Info, "  Domain:          {}", cfg.jetstream_opts.domain);
    }
    log_at!(Info, "  API Level:       {}", riptide::jetstream::API_LEVEL);
    log_at!(Info, "-------------------------------------------");
}

/// The store directory is created if missing; a file in its place is an error, with the
/// Go server's wording.
fn prepare_store_dir(dir: &std::path::Path) -> Result<(), String> {
    if dir.exists() && !dir.is_dir() {
        return Err("storage directory is not a directory".into());
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("could not create storage directory - {e}"))
}
