//! Leaf node connections, on the cluster shard next to the routes (see
//! [`crate::cluster::leaf`]): the hub's side (a leaf connects to the leaf node port) and the
//! spoke's (this server connects to a configured remote's hub), the account each is bound
//! to, the interest each is told (`LS+`/`LS-` on edges, queue weights on every change, as
//! Go's `updateSmap`), loop detection through `$LDS.`, and messages both ways
//! (`LMSG`/`HMSG`).
//!
//! What goes where follows Go: a leaf node that connected here hears of everything (this
//! server's clients, the routes, the other leaf connections) and what it says reaches all
//! of them; a hub hears only of this server's clients and leaf nodes, and what it says
//! reaches only those, since the hub reaches the other servers of this one's cluster itself.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;

use super::interest::Key;
use super::routes::{interest_line, LinkRole, Naming};
use super::{ConnId, ConnSnapshot, Shard};
use crate::accounts::{AccountId, GLOBAL_ACCOUNT};
use crate::cluster::compression::{Compression, Mode};
use crate::cluster::dialer::RedialHandle;
use crate::cluster::handshake::host_port;
use crate::cluster::leaf::{
    loop_detected, LeafConnect, LeafInfo, LeafSettings, LEAF_INFO_WAIT, LEAF_LOOP_DELAY,
    LEAF_MIN_VERSION_DELAY, LEAF_PROTO, LEAF_RECONNECT_DELAY, LEAF_SAME_CLUSTER_DELAY,
    LOOP_DETECTION_PREFIX, MIN_VERSION_REFUSAL, SAME_CLUSTER_NAME,
};
use crate::cluster::parser::{RemoteSub, RoutedMsg};
use crate::cluster::settings::RouteUrl;
use crate::conn::{CloseReason, Closing};
use crate::fanout::PeerId;
use crate::info::GO_SERVER_VERSION;
use crate::jwt::trust::ConnectionType;
use crate::log_at;
use crate::proto::Stop;
use crate::subject::{is_subset_match, matches_literal};
use crate::transport::{setup_failure, Dialing, Transport, WsLeafRequest};

/// The cluster shard's leaf node side: settings, the port leaf nodes connect to, and each
/// account's loop detection subject.
#[derive(Debug)]
pub struct LeafHost {
    settings: LeafSettings,
    /// The leaf node port's `compression`, and each remote's, checked at start.
    pub(super) compression: Compression,
    pub(super) remote_compression: Vec<Compression>,
    /// The leaf node port bound, and the host it was bound on; 0 when none is.
    host: String,
    port: u16,
    /// Where leaf nodes are told the port is instead (`advertise`).
    advertise: Option<(String, u16)>,
    /// `$LDS.<random>` per account, made when its first leaf connection comes.
    lds: HashMap<AccountId, String>,
    /// The `leafnode_urls` leaf nodes were last told of.
    told_urls: Vec<String>,
}

impl LeafHost {
    pub fn new(
        settings: LeafSettings,
        listen: Option<(String, u16)>,
        advertise: Option<(String, u16)>,
    ) -> LeafHost {
        let (host, port) = listen.unwrap_or_default();
        let checked = "compression is checked at start";
        LeafHost {
            compression: settings.compression().expect(checked),
            remote_compression: (settings.remotes.iter())
                .map(|r| r.compression().expect(checked))
                .collect(),
            settings,
            host,
            port,
            advertise,
            lds: HashMap::new(),
            told_urls: Vec::new(),
        }
    }

    /// The leaf node port bound, when there is one.
    pub(super) fn listen(&self) -> Option<(&str, u16)> {
        (self.port != 0).then_some((self.host.as_str(), self.port))
    }

    /// Where leaf nodes are told this server's leaf node port is: `advertise`, or the
    /// port bound; none without one.
    fn told_address(&self) -> Option<(&str, u16)> {
        let bound = self.listen()?;
        Some(
            self.advertise
                .as_ref()
                .map_or(bound, |(h, p)| (h.as_str(), *p)),
        )
    }
}

/// A leaf connection's own state, on its route link.
#[derive(Debug, Default)]
pub struct LeafLink {
    /// The remote server's name (its CONNECT's `name`, its INFO's `server_name`).
    name: String,
    /// Registered: the handshake is done and interest flows.
    up: bool,
    /// A spoke sent its CONNECT.
    connect_sent: bool,
    /// What it was told, per key.
    told: HashMap<Key, u32>,
    /// A spoke's `deny_imports` and `deny_exports`.
    deny_imports: Vec<Bytes>,
    deny_exports: Vec<Bytes>,
    /// The hub found a loop or refused the spoke: it waits this long, not its `reconnect`,
    /// before it dials again.
    redial_delay: Option<Duration>,
    /// How a spoke logs in beyond its URL's user and password.
    login: Option<LeafLogin>,
    /// The nonce a hub's INFO gave the leaf to sign.
    nonce: String,
    /// The leaf URLs of the hub's cluster its INFOs named, for the dialer to try too.
    learned: Vec<RouteUrl>,
    /// A spoke's remote, by index in `leafnodes { remotes }`.
    pub(super) remote: usize,
}

impl LeafLink {
    /// Keeps the hub cluster's leaf URLs (`host:port`) not known yet, with the scheme and
    /// credentials of `dialed`, the URL this connection was dialed at: its leaf node URLs,
    /// or for a WebSocket remote its WebSocket ones (Go's `updateLeafNodeURLs`).
    fn learn(&mut self, dialed: &RouteUrl, info: &LeafInfo) {
        let (scheme, urls) = match (dialed.is_ws(), dialed.is_tls()) {
            (true, true) => ("wss", &info.ws_connect_urls),
            (true, false) => ("ws", &info.ws_connect_urls),
            (false, true) => ("tls", &info.leafnode_urls),
            (false, false) => ("nats-leaf", &info.leafnode_urls),
        };
        let auth = match (&dialed.user, &dialed.pass) {
            (Some(u), Some(p)) => format!("{u}:{p}@"),
            _ => String::new(),
        };
        for hp in urls {
            let Ok(u) = RouteUrl::parse(&format!("{scheme}://{auth}{hp}")) else {
                continue;
            };
            let known = |k: &RouteUrl| (&k.host, k.port) == (&u.host, u.port);
            if !known(dialed) && !self.learned.iter().any(known) {
                self.learned.push(u);
            }
        }
    }

    /// A message on `subject` is not to be sent on this connection (`deny_exports`).
    pub(super) fn exports_denied(&self, subject: &[u8]) -> bool {
        self.deny_exports
            .iter()
            .any(|d| matches_literal(d, subject))
    }

    /// Interest in `subject` is not to be asked for on this connection (`deny_imports`).
    fn imports_denied(&self, subject: &[u8]) -> bool {
        !subject.starts_with(LOOP_DETECTION_PREFIX.as_bytes())
            && self
                .deny_imports
                .iter()
                .any(|d| is_subset_match(subject, d))
    }
}

/// A leaf connection's figures, for `/leafz`.
#[derive(Debug, Clone)]
pub struct LeafSnapshot {
    pub conn: ConnSnapshot,
    pub name: String,
    pub is_spoke: bool,
    pub account: String,
    /// The interest it told us, as `subject [queue]`.
    pub subs: Vec<String>,
    /// The compression mode this side writes with; none when the leaf never said.
    pub compression: Option<&'static str>,
}

impl Shard {
    /// The account's loop detection subject, made on first use.
    fn lds(&mut self, account: AccountId) -> String {
        let host = self
            .routes
            .as_mut()
            .and_then(|r| r.leaf.as_mut())
            .expect("leaf host");
        host.lds
            .entry(account)
            .or_insert_with(|| format!("{LOOP_DETECTION_PREFIX}{}", crate::auth::new_nonce()))
            .clone()
    }

    fn leaf_host(&self) -> &LeafHost {
        self.routes
            .as_ref()
            .and_then(|r| r.leaf.as_ref())
            .expect("leaf host")
    }

    /// This server's leaf node URL, unless it has no leaf port or does not advertise it.
    pub(super) fn own_leaf_url(&self) -> Option<String> {
        let host = self.routes.as_ref()?.leaf.as_ref()?;
        let (h, port) = host
            .told_address()
            .filter(|_| !host.settings.no_advertise)?;
        Some(host_port(h, port))
    }

    /// The leaf node URLs leaf nodes are told of: this server's, then the cluster's other
    /// servers', so that a leaf can fail over within the cluster (Go's `leafnode_urls`).
    fn leaf_urls(&self) -> Vec<String> {
        let Some(own) = self.own_leaf_url() else {
            return Vec::new();
        };
        let mut urls = vec![own];
        for u in self.cluster_leaf_urls() {
            if !urls.contains(&u) {
                urls.push(u);
            }
        }
        urls
    }

    /// The cluster's leaf node URLs changed: the leaf nodes connected here get an async
    /// INFO with them, as Go's `sendAsyncLeafNodeInfo` sends.
    pub(super) fn refresh_leaf_urls(&mut self) {
        if self.routes.as_ref().is_none_or(|r| r.leaf.is_none()) {
            return;
        }
        let urls = self.leaf_urls();
        let host = self
            .routes
            .as_mut()
            .and_then(|r| r.leaf.as_mut())
            .expect("leaf host");
        if host.told_urls == urls {
            return;
        }
        host.told_urls = urls;
        let hubbed: Vec<ConnId> = (self.routes.as_ref().expect("cluster shard").peers.values())
            .copied()
            .filter(|&id| {
                let link = self.clients.conns[id].route.as_ref();
                link.is_some_and(|l| matches!(l.role, LinkRole::Leaf(_)))
            })
            .collect();
        for id in hubbed {
            let info = self.hub_info(id).line();
            self.clients.conns[id].out.push(&info);
            self.mark_dirty(id);
        }
    }

    fn leaf_link(&mut self, id: ConnId) -> &mut LeafLink {
        self.clients.conns[id]
            .route
            .as_mut()
            .and_then(|l| l.leaf.as_deref_mut())
            .expect("leaf link")
    }

    /// Our INFO as the hub of the leaf connection `id`.
    fn hub_info(&self, id: ConnId) -> LeafInfo {
        let host = self.leaf_host();
        let (h, port) = host.told_address().unwrap_or((&host.host, host.port));
        let mut info = LeafInfo::ours(&self.server.server_id, self.server.name(), h, port);
        info.max_payload = self.server.cfg.max_payload;
        info.ip = host_port(h, port);
        info.client_id = self.clients.conns[id].cid;
        info.cluster = self.cluster_name().unwrap_or_default().to_string();
        if let Some(t) = &host.settings.tls {
            info.tls_required = true;
            info.tls_verify = t.verifies_clients();
        }
        info.leafnode_urls = self.leaf_urls();
        info.compression = host.compression.info_name().to_string();
        info
    }

    /// A connection on the leaf node port: it gets our INFO at once and must CONNECT.
    pub fn accept_leaf(&mut self, peer: SocketAddr) -> ConnId {
        let id = self.leaf_conn(peer);
        let tls = (self.server.links.leaf.as_ref()).map(|w| Transport::new(w, self.now));
        if let Some(t) = tls {
            self.attach(id, t);
        }
        id
    }

    /// A leaf node from the WebSocket port, handed over by the shard that accepted it: its
    /// upgrade is answered now, and our INFO follows, inside the WebSocket's TLS (the leaf
    /// port's is not used, as in Go).
    pub fn adopt_ws_leaf(&mut self, peer: SocketAddr, request: WsLeafRequest) -> ConnId {
        let id = self.leaf_conn(peer);
        let mut app = Vec::new();
        let t = match &self.server.ws_wrap {
            Some(w) => Transport::ws_leaf(w, request, &mut app, self.now),
            None => Err(setup_failure("the WebSocket port is gone")),
        };
        self.attach(id, t);
        if !app.is_empty() {
            self.on_read(id, &app);
        }
        id
    }

    /// A leaf node's connection on our side as its hub, with our INFO queued.
    fn leaf_conn(&mut self, peer: SocketAddr) -> ConnId {
        let id = self.new_link_conn(peer, false, LinkRole::Leaf(crate::accounts::GLOBAL));
        let mut info = self.hub_info(id);
        info.nonce = crate::auth::new_nonce();
        // A hub that does not negotiate writes plainly whatever the leaf says.
        let own = self.leaf_host().compression.mode;
        let c = &mut self.clients.conns[id];
        let link = c.route.as_mut().expect("link");
        link.leaf = Some(Box::new(LeafLink {
            nonce: info.nonce.clone(),
            ..LeafLink::default()
        }));
        link.compression = (!own.negotiates()).then_some(own);
        c.out.push(&info.line());
        self.mark_dirty(id);
        id
    }

    /// A remote's hub the dialer connected to: its INFO comes first.
    pub fn adopt_leaf(
        &mut self,
        peer: SocketAddr,
        url: RouteUrl,
        redial: Option<RedialHandle>,
        remote: usize,
    ) -> ConnId {
        let r = &self.leaf_host().settings.remotes[remote];
        let name = r.account.as_deref().unwrap_or(GLOBAL_ACCOUNT);
        let account = self
            .server
            .accounts
            .id(name)
            .unwrap_or(crate::accounts::GLOBAL);
        let bytes = |v: &[String]| -> Vec<Bytes> {
            v.iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect()
        };
        let leaf = LeafLink {
            deny_imports: bytes(&r.deny_imports),
            deny_exports: bytes(&r.deny_exports),
            login: match (&r.credentials, &r.nkey_seed) {
                (Some(path), _) => Some(LeafLogin::Creds(path.clone())),
                (None, Some(seed)) => Some(LeafLogin::Nkey(seed.clone())),
                (None, None) => None,
            },
            remote,
            ..LeafLink::default()
        };
        let no_masking = r.ws_no_masking;
        let id = self.new_link_conn(peer, true, LinkRole::Hub(account));
        // Over WebSocket, TLS (`wss`) comes first and the upgrade inside it; otherwise TLS
        // waits for the hub's INFO.
        let ws = url.is_ws();
        let now = self.now;
        let tls = (self.server.links.remotes.get(remote).cloned().flatten())
            .map(|d| Transport::dialed(&d, &url.host, !ws, now));
        let mut transport = match tls {
            None if ws => Some(Ok(Transport::plain(now))),
            t => t,
        };
        if let (true, Some(Ok(t))) = (ws, transport.as_mut()) {
            let host_port = host_port(&url.host, url.port);
            t.dial_websocket(&host_port, no_masking, LEAF_INFO_WAIT, now);
        }
        let link = self.clients.conns[id].route.as_mut().expect("link");
        link.url = Some(url);
        link.redial = redial;
        link.leaf = Some(Box::new(leaf));
        if let Some(t) = transport {
            self.attach(id, t);
        }
        id
    }

    /// An INFO on a leaf connection: a hub's, which a spoke answers with its CONNECT (after
    /// compression is settled, when both ask for it), and the one that says the hub took
    /// it; on a hub, a leaf's, which only negotiates compression. True when the bytes after
    /// it are compressed.
    pub(super) fn leaf_info_received(&mut self, id: ConnId, json: &[u8]) -> Result<bool, Stop> {
        let info: LeafInfo = self.link_json(id, json)?;
        let link = self.clients.conns[id].route.as_ref().expect("link");
        if !link.solicited {
            let answer = |s: &Shard, mode: &str| {
                let mut ours = s.hub_info(id);
                ours.nonce = (s.clients.conns[id].route.as_ref())
                    .and_then(|l| l.leaf.as_ref())
                    .map(|l| l.nonce.clone())
                    .unwrap_or_default();
                ours.compression = mode.to_string();
                ours.line()
            };
            return self.negotiate_compression(id, &info.compression, answer);
        }
        let (url, role) = (link.url.clone(), link.role);
        let leaf = self.leaf_link(id);
        if let Some(u) = &url {
            leaf.learn(u, &info);
        }
        if leaf.up {
            return Ok(false);
        }
        if !leaf.connect_sent {
            let host = url.as_ref().map_or("", |u| u.host.as_str());
            // Over WebSocket, any TLS started before the upgrade.
            if !url.as_ref().is_some_and(RouteUrl::is_ws) {
                self.leaf_start_tls(id, info.tls_required, host)?;
            }
            let cid = self.clients.conns[id].cid;
            // Go's spoke answers with its own leaf INFO, of which the hub reads only this.
            let answer = |_: &Shard, mode: &str| {
                LeafInfo {
                    client_id: cid,
                    compression: mode.to_string(),
                    ..LeafInfo::default()
                }
                .line()
            };
            if self.negotiate_compression(id, &info.compression, answer)? {
                return Ok(true);
            }
            let compress_mode = (self.clients.conns[id].route.as_ref())
                .and_then(|l| l.compression)
                .map(|m| m.name().to_string())
                .unwrap_or_default();
            let leaf = self.leaf_link(id);
            leaf.connect_sent = true;
            leaf.name = if info.server_name.is_empty() {
                info.server_id.clone()
            } else {
                info.server_name.clone()
            };
            let login = leaf.login.clone();
            let account = role.account().unwrap_or(crate::accounts::GLOBAL);
            let signed = match login.map(|l| l.sign(&info.nonce)).transpose() {
                Ok(s) => s.unwrap_or_default(),
                Err(e) => {
                    log_at!(Error, "{} - {e}", self.clients.conns[id].log_prefix());
                    self.begin_close(id, CloseReason::ProtocolViolation, Closing::Now, false);
                    return Err(Stop);
                }
            };
            let connect = LeafConnect {
                jwt: signed.jwt,
                nkey: signed.nkey,
                sig: signed.sig,
                version: GO_SERVER_VERSION.to_string(),
                user: url.as_ref().and_then(|u| u.user.clone()),
                pass: url.as_ref().and_then(|u| u.pass.clone()),
                server_id: self.server.server_id.clone(),
                name: self.server.name().to_string(),
                cluster: self.cluster_name().unwrap_or_default().to_string(),
                headers: true,
                remote_account: self.server.accounts.name(account).to_string(),
                protocol: LEAF_PROTO,
                compress_mode,
                ..LeafConnect::default()
            };
            self.clients.conns[id].out.push(&connect.line());
            self.mark_dirty(id);
            if info.info_on_connect {
                return Ok(false);
            }
        } else if !info.connect_info {
            return Ok(false);
        }
        let account = self.server.accounts.name(role.account().unwrap_or(0));
        log_at!(
            Info,
            "{} - Leafnode connection created for account: {account} ",
            self.clients.conns[id].log_prefix()
        );
        self.register_leaf(id);
        Ok(false)
    }

    /// A spoke's TLS starts after the hub's INFO, before its CONNECT: when the remote asks
    /// for TLS, or when the hub does (then with Go's defaults if the remote set none), as
    /// Go's `leafClientHandshakeIfNeeded` decides.
    fn leaf_start_tls(&mut self, id: ConnId, hub_requires: bool, host: &str) -> Result<(), Stop> {
        if self.clients.conns[id].transport.is_none() {
            if !hub_requires {
                return Ok(());
            }
            let t = Dialing::standard()
                .map_err(setup_failure)
                .and_then(|d| Transport::dialed(&d, host, true, self.now));
            self.attach(id, t);
            if self.clients.conns[id].closing.is_some() {
                return Err(Stop);
            }
        }
        self.start_tls(id);
        Ok(())
    }

    /// A leaf node's CONNECT, on the hub: it binds the connection to the account its
    /// credentials name (`processLeafNodeConnect`).
    pub(super) fn leaf_connect(&mut self, id: ConnId, json: &[u8]) -> Result<(), Stop> {
        let connect: LeafConnect = self.link_json(id, json)?;
        if connect.lang.is_some() {
            return Err(self.wrong_port(id, "leaf node"));
        }
        if let Some(gw) = &connect.gateway {
            let text = format!("Rejecting connection from gateway {gw:?} on the leafnode port");
            self.route_refuse(id, &text, CloseReason::WrongGateway);
            return Err(Stop);
        }
        let link = self.clients.conns[id].route.as_mut().expect("link");
        if link.solicited || link.leaf.as_ref().is_some_and(|l| l.up) {
            return Ok(());
        }
        // A leaf that connects without an INFO of its own takes no part in compression.
        if link.compression.is_none() {
            link.compression = Some(Mode::NotSupported);
        }
        if !connect.cluster.is_empty() && self.cluster_name() == Some(connect.cluster.as_str()) {
            self.route_refuse(id, SAME_CLUSTER_NAME, CloseReason::ClusterNamesIdentical);
            return Err(Stop);
        }
        let server = self.server.clone();
        let auth = server.auth_for(false);
        let bound = if auth.operator_mode() {
            // In operator mode a leaf node logs in as a client does, with a user JWT and
            // the nonce signed; it is bound to that user's account.
            let m = crate::conn::ConnectMsg {
                jwt: connect.jwt.clone(),
                sig: connect.sig.clone(),
                ..Default::default()
            };
            let nonce = self.leaf_link(id).nonce.clone();
            let peer = self.clients.conns[id].peer.ip();
            match auth.check_jwt(&m, Some(&nonce), peer, ConnectionType::Leafnode) {
                crate::auth::Login::User { account, .. } => Some(account),
                _ => None,
            }
        } else if self.leaf_host().settings.has_users() || !auth.required() {
            self.leaf_host()
                .settings
                .authenticate(connect.user.as_deref(), connect.pass.as_deref())
                .and_then(|name| self.server.accounts.id(name))
        } else {
            // No leaf users of its own: the server's users, nkeys or token decide, and a
            // user binds the leaf to its account.
            let m = crate::conn::ConnectMsg {
                user: connect.user.clone(),
                pass: connect.pass.clone(),
                auth_token: connect.auth_token.clone(),
                nkey: connect.nkey.clone(),
                sig: connect.sig.clone(),
                ..Default::default()
            };
            let nonce = self.leaf_link(id).nonce.clone();
            match auth.check(&m, Some(&nonce)) {
                crate::auth::Login::User { account, .. } => Some(account),
                crate::auth::Login::Refused => None,
            }
        };
        let Some(account) = bound else {
            let presented = connect
                .user
                .as_ref()
                .map(|u| format!(" - User {u:?}"))
                .unwrap_or_default();
            log_at!(
                Error,
                "{} - authentication error{presented}",
                self.clients.conns[id].log_prefix()
            );
            self.route_refuse(
                id,
                "Authorization Violation",
                CloseReason::AuthenticationViolation,
            );
            return Err(Stop);
        };
        let mut info = self.hub_info(id);
        info.connect_info = true;
        info.remote_account = self.server.accounts.name(account).to_string();
        let c = &mut self.clients.conns[id];
        let link = c.route.as_mut().expect("link");
        link.role = LinkRole::Leaf(account);
        c.out.push(&info.line());
        let settings = &self.leaf_host().settings;
        if settings.too_old(&connect.version) {
            // Go sends the INFO that binds the account first, then refuses.
            let min = settings.min_version.as_deref().unwrap_or_default();
            let text = format!("{MIN_VERSION_REFUSAL} {min:?}");
            let user = connect
                .user
                .as_ref()
                .map(|u| format!(" - user:{u}"))
                .unwrap_or_default();
            log_at!(
                Error,
                "{} - {text} - Account:{}{user}",
                self.clients.conns[id].log_prefix(),
                self.server.accounts.name(account)
            );
            self.route_refuse(id, &text, CloseReason::MinimumVersionRequired);
            return Err(Stop);
        }
        // Named once taken: Go's log lines name the remote server from then on.
        self.leaf_link(id).name = if connect.name.is_empty() {
            connect.server_id.clone()
        } else {
            connect.name.clone()
        };
        let c = &self.clients.conns[id];
        log_at!(Info, "{} - Leafnode connection created ", c.log_prefix());
        self.register_leaf(id);
        Ok(())
    }

    /// The handshake is done: the link gets a peer id, and is told every interest of its
    /// account it hears of, and this server's loop detection subject.
    fn register_leaf(&mut self, id: ConnId) {
        let peer = self.allocate_peer();
        let r = self.routes.as_mut().expect("cluster shard");
        r.peers.insert(peer, id);
        let link = self.clients.conns[id].route.as_mut().expect("link");
        link.peer = peer;
        let role = link.role;
        let account = role.account().expect("leaf account");
        self.leaf_link(id).up = true;
        let mut out = Vec::new();
        for key in self.interest.keys_in(account) {
            let count = self.link_count(role, Some(peer), &key);
            let leaf = self.leaf_link(id);
            if count > 0 && !leaf.imports_denied(&key.1) {
                leaf.told.insert(key.clone(), count);
                interest_line(&mut out, Naming::Leaf, &key, count);
            }
        }
        let lds = self.lds(account);
        out.extend_from_slice(b"LS+ ");
        out.extend_from_slice(lds.as_bytes());
        out.extend_from_slice(b"\r\n");
        self.clients.conns[id].out.push(&out);
        self.mark_dirty(id);
    }

    /// The count on `key` changed for the links that hear of it, perhaps: each leaf
    /// connection of its account is told of edges of plain interest and of every queue
    /// weight. `except` is the link whose interest it was.
    pub(super) fn tell_leafs(&mut self, key: &Key, except: Option<PeerId>) {
        let Some(r) = self.routes.as_ref().filter(|r| r.leaf.is_some()) else {
            return;
        };
        let links: Vec<(PeerId, ConnId, LinkRole)> = r
            .peers
            .iter()
            .filter(|&(&p, _)| Some(p) != except)
            .filter_map(|(&p, &id)| {
                let link = self.clients.conns.get(id)?.route.as_ref()?;
                (link.role.account() == Some(key.0)).then_some((p, id, link.role))
            })
            .collect();
        for (peer, id, role) in links {
            let count = self.link_count(role, Some(peer), key);
            let leaf = self.leaf_link(id);
            let told = leaf.told.get(key).copied().unwrap_or(0);
            let send = if key.2.is_some() {
                count != told
            } else {
                (count > 0) != (told > 0)
            };
            if !send || leaf.imports_denied(&key.1) {
                continue;
            }
            if count == 0 {
                leaf.told.remove(key);
            } else {
                leaf.told.insert(key.clone(), count);
            }
            let mut line = Vec::new();
            interest_line(&mut line, Naming::Leaf, key, count);
            self.clients.conns[id].out.push(&line);
            self.mark_dirty(id);
        }
    }

    /// Interest a leaf connection told us; our own loop detection subject coming back
    /// means a loop.
    pub(super) fn leaf_interest(&mut self, id: ConnId, sub: RemoteSub<'_>, on: bool) {
        let link = self.clients.conns[id].route.as_ref().expect("link");
        let Some(account) = link.role.account() else {
            return;
        };
        if !link.leaf.as_ref().is_some_and(|l| l.up) {
            return;
        }
        if on
            && sub.subject.starts_with(LOOP_DETECTION_PREFIX.as_bytes())
            && sub.subject == self.lds(account).as_bytes()
        {
            return self.leaf_loop(id, true);
        }
        self.link_interest(id, account, sub, on);
    }

    /// A message from a leaf connection, in its account.
    pub(super) fn leaf_message(&mut self, id: ConnId, m: RoutedMsg<'_>) {
        let link = self.clients.conns[id].route.as_ref().expect("link");
        let Some(account) = link
            .role
            .account()
            .filter(|_| link.leaf.as_ref().is_some_and(|l| l.up))
        else {
            return;
        };
        self.link_message(id, account, m);
    }

    /// A loop: this server's own loop detection subject came back. The other side is
    /// told (`send_err`) and the connection closes; a spoke waits before dialing again.
    fn leaf_loop(&mut self, id: ConnId, send_err: bool) {
        let link = self.clients.conns[id].route.as_ref().expect("link");
        let account = link.role.account().unwrap_or(crate::accounts::GLOBAL);
        let text = loop_detected(self.server.accounts.name(account), LEAF_LOOP_DELAY);
        self.leaf_link(id).redial_delay = Some(LEAF_LOOP_DELAY);
        log_at!(Error, "{} - {text}", self.clients.conns[id].log_prefix());
        if send_err {
            return self.route_refuse(id, &text, CloseReason::ProtocolViolation);
        }
        self.begin_close(id, CloseReason::ProtocolViolation, Closing::Now, false);
    }

    /// `-ERR` from the other side of a leaf connection (`processErr`, `leafProcessErr`).
    pub(super) fn leaf_error(&mut self, id: ConnId, text: &[u8]) {
        let text = String::from_utf8_lossy(text);
        log_at!(
            Error,
            "{} - Leafnode Error {text}",
            self.clients.conns[id].log_prefix()
        );
        if text.contains("Loop detected") {
            return self.leaf_loop(id, false);
        }
        // Go's `leafProcessErr`: a spoke the hub refused waits longer before dialing again.
        let refused = if text.contains(SAME_CLUSTER_NAME) {
            ("with same cluster name error", LEAF_SAME_CLUSTER_DELAY)
        } else if text.contains(MIN_VERSION_REFUSAL) {
            ("due to minimum version requirement", LEAF_MIN_VERSION_DELAY)
        } else {
            return;
        };
        let c = &self.clients.conns[id];
        if c.route.as_ref().is_some_and(|l| l.solicited) {
            let (why, delay) = refused;
            log_at!(
                Error,
                "{} - Leafnode connection dropped {why}. Delaying attempt to reconnect for {delay:?}",
                c.log_prefix()
            );
            self.leaf_link(id).redial_delay = Some(delay);
        }
    }

    /// A leaf connection is closing: its interest goes, a spoke dials its hub again.
    pub(super) fn leaf_closed(&mut self, id: ConnId, reason: CloseReason) {
        let c = &mut self.clients.conns[id];
        let prefix = c.log_prefix();
        let Some(link) = c.route.as_mut() else {
            return;
        };
        let keys = std::mem::take(&mut link.keys);
        let (peer, role, redial) = (link.peer, link.role, link.redial.take());
        let leaf = link.leaf.take().unwrap_or_default();
        if leaf.name.is_empty() {
            log_at!(
                Info,
                "{prefix} - Leafnode connection closed: {}",
                reason.as_str()
            );
        } else {
            log_at!(
                Info,
                "{prefix} - Leafnode connection closed: {} - Remote: {}",
                reason.as_str(),
                leaf.name
            );
        }
        if leaf.up {
            self.forget_link(peer, role, keys);
        }
        if let Some(h) = redial {
            let delay = leaf.redial_delay.unwrap_or_else(|| {
                self.leaf_host()
                    .settings
                    .reconnect
                    .unwrap_or(LEAF_RECONNECT_DELAY)
            });
            h.redial_learning(delay, leaf.learned);
        }
    }

    /// The registered leaf connections, for `/leafz`; `conn` makes each one's figures.
    pub(super) fn leaf_snapshots(
        &self,
        conn: impl Fn(&crate::conn::Conn) -> ConnSnapshot,
    ) -> Vec<LeafSnapshot> {
        let Some(r) = self.routes.as_ref().filter(|r| r.leaf.is_some()) else {
            return Vec::new();
        };
        let mut out: Vec<LeafSnapshot> = r
            .peers
            .values()
            .filter_map(|&id| {
                let c = self.clients.conns.get(id)?;
                let link = c.route.as_ref()?;
                let leaf = link.leaf.as_ref().filter(|l| l.up)?;
                let account = link.role.account()?;
                let mut snap = conn(c);
                snap.num_subs = link.keys.len();
                let mut subs: Vec<String> = link
                    .keys
                    .keys()
                    .map(|(_, s, q)| {
                        let mut t = String::from_utf8_lossy(s).into_owned();
                        if let Some(q) = q {
                            t.push(' ');
                            t.push_str(&String::from_utf8_lossy(q));
                        }
                        t
                    })
                    .collect();
                subs.sort();
                Some(LeafSnapshot {
                    conn: snap,
                    name: leaf.name.clone(),
                    is_spoke: link.solicited,
                    account: self.server.accounts.name(account).to_string(),
                    subs,
                    compression: link.compression.map(Mode::name),
                })
            })
            .collect();
        out.sort_by_key(|s| s.conn.cid);
        out
    }
}

/// How a spoke proves who it is to its hub, besides a user and password in its URL.
#[derive(Debug, Clone)]
enum LeafLogin {
    /// A `.creds` file, read at each connection (it may have been rotated since).
    Creds(std::path::PathBuf),
    /// A user nkey's seed.
    Nkey(String),
}

/// What a spoke's CONNECT carries to log in.
#[derive(Debug, Default)]
struct Signed {
    jwt: Option<String>,
    nkey: Option<String>,
    sig: Option<String>,
}

impl LeafLogin {
    /// The hub's `nonce` signed, with the JWT or public key that goes with it. The error is
    /// Go's text for an unreadable `.creds` file.
    fn sign(&self, nonce: &str) -> Result<Signed, String> {
        match self {
            LeafLogin::Creds(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    format!(
                        "open {}: {}",
                        path.display(),
                        crate::runtime::error_text(&e)
                    )
                })?;
                let creds = crate::jwt::creds::Creds::parse(&text).map_err(|e| e.to_string())?;
                Ok(Signed {
                    sig: Some(creds.sign_nonce(nonce)),
                    jwt: Some(creds.jwt),
                    nkey: None,
                })
            }
            LeafLogin::Nkey(seed) => {
                let key = nkeys::KeyPair::from_seed(seed).map_err(|e| e.to_string())?;
                Ok(Signed {
                    sig: Some(crate::jwt::creds::sign_nonce(&key, nonce)),
                    nkey: Some(key.public_key()),
                    jwt: None,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denied_subjects() {
        let leaf = LeafLink {
            deny_imports: vec![Bytes::from_static(b"secret.>")],
            deny_exports: vec![Bytes::from_static(b"private.*")],
            ..LeafLink::default()
        };
        assert!(leaf.imports_denied(b"secret.x"));
        assert!(leaf.imports_denied(b"secret.>"));
        assert!(!leaf.imports_denied(b">"));
        assert!(!leaf.imports_denied(b"$LDS.abc"));
        assert!(leaf.exports_denied(b"private.a"));
        assert!(!leaf.exports_denied(b"private.a.b"));
    }
}
