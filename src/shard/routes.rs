//! Route connections, on the cluster shard (see [`crate::cluster`]): the handshake, the
//! server-wide interest routes are told (`RS+`/`RS-` on edges, queue weights on every
//! change), the interest they tell us (kept per route, and replicated to the other shards
//! as `PeerId::ROUTES`), and messages both ways (`RMSG`/`HMSG`). Leaf node connections
//! (`leafs.rs`) are links of the same kind here, told and telling through the same tables.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;

use super::delivery::{Msg, Scope};
use super::interest::Key;
use super::{ConnId, ConnSnapshot, RouteSnapshot, Shard, Timer};
use crate::accounts::AccountId;
use crate::cluster::compression::{Compression, Mode};
use crate::cluster::dialer::{DialTarget, Dialer, RedialHandle};
use crate::cluster::handshake::{client_urls, host_port, PermissionJson, RouteConnect, RouteInfo};
use crate::cluster::parser::{AfterInfo, Dialect, RemoteSub, RouteHandler, RouteParser, RoutedMsg};
use crate::cluster::settings::{pool_index, RouteSlot, RouteUrl};
use crate::cluster::ClusterSettings;
use crate::conn::outbound::FLATTEN_THRESHOLD;
use crate::conn::{CloseReason, Closing, Conn};
use crate::fanout::{PeerId, ShardMsg};
use crate::log_at;
use crate::proto::{encode, Stop};
use crate::transport::Transport;

/// The cluster shard's routes and leaf node connections, and what they were told.
pub struct Routes {
    /// Whether this server is in a cluster; without one, only leaf connections are here.
    clustered: bool,
    settings: ClusterSettings,
    /// The routes' `compression`, checked at start.
    pub(super) compression: Compression,
    /// The cluster's name; made up when not configured, then the remotes' (dynamic).
    name: String,
    dynamic: bool,
    /// The route port bound, and the host it was bound on.
    host: String,
    port: u16,
    /// Where other servers are told the route port is instead (`advertise`).
    advertise: Option<(String, u16)>,
    dialer: Arc<Dialer>,
    /// Leaf node connections' settings and state, when `leafnodes {}` is configured.
    pub(super) leaf: Option<super::leafs::LeafHost>,
    /// Connections per remote server with pooling on (`pool_size`), and the accounts
    /// pinned to connections of their own.
    pool: Option<u32>,
    pinned: Vec<AccountId>,
    /// Registered route connections by remote server id and slot (`RouteSlot::key`).
    by_server: HashMap<(String, RouteSlot), ConnId>,
    /// Whether a route was ever registered: from then on clients' `connect_urls` name this
    /// server even while it has no route left, as Go's keep naming their own.
    advertised: bool,
    /// Route and leaf connections by peer id.
    pub(super) peers: HashMap<PeerId, ConnId>,
    next_peer: u16,
    free_peers: Vec<u16>,
    /// The server-wide client interest the routes were told, per key.
    told: HashMap<Key, u32>,
    /// The routes' combined interest the other shards were told: for plain interest the
    /// number of routes with it, for a queue group its total weight.
    totals: HashMap<Key, u32>,
    /// The system services' subjects in the system account: the routes are told of them as
    /// of a subscriber's, so that other servers' clients reach this server's services.
    services: Vec<Key>,
}

/// What the far end of a link is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkRole {
    /// Another server of the cluster.
    Route,
    /// A leaf node that connected here: this server is its hub, in that account.
    Leaf(AccountId),
    /// The hub of a remote this server connected to, in that account (Go's "spoke" side).
    Hub(AccountId),
}

impl LinkRole {
    /// Whether interest and messages from a link of role `from` go on to this one: a route
    /// or a hub hears only of this server's leaf nodes (one hop; a hub reaches the other
    /// servers of its leaf's cluster itself), a leaf node of everything (`updateSmap`,
    /// `processMsgResults`).
    pub(super) fn hears(self, from: LinkRole) -> bool {
        match self {
            LinkRole::Leaf(_) => true,
            LinkRole::Route | LinkRole::Hub(_) => matches!(from, LinkRole::Leaf(_)),
        }
    }

    /// The account a leaf connection is bound to.
    pub(super) fn account(self) -> Option<AccountId> {
        match self {
            LinkRole::Route => None,
            LinkRole::Leaf(a) | LinkRole::Hub(a) => Some(a),
        }
    }
}

/// A route or leaf connection's own state, on its `Conn`.
#[derive(Debug)]
pub struct RouteLink {
    parser: RouteParser,
    pub(super) role: LinkRole,
    pub(super) solicited: bool,
    pub(super) url: Option<RouteUrl>,
    pub(super) redial: Option<RedialHandle>,
    /// A leaf connection's own state.
    pub(super) leaf: Option<Box<super::leafs::LeafLink>>,
    /// The remote's INFO, once the route is registered.
    remote: Option<RouteInfo>,
    pub(super) peer: PeerId,
    /// What it told us, per key: 1 for plain interest, the weight for a queue group.
    pub(super) keys: HashMap<Key, u32>,
    /// Its dialer must not dial again: closed as a second connection in the same slot, or
    /// a pinned account's that the remote cannot take.
    duplicate: bool,
    /// Which accounts a route connection carries; set from the dial, or from the remote's
    /// INFO on an accepted one.
    pub(super) slot: RouteSlot,
    /// The pool connection to dial once this one's first PONG proves the remote took it
    /// (Go's `startNewRoute`).
    next_pool: Option<u32>,
    /// Messages to this route are checked against the export deny list: it took wildcard
    /// interest that covers a denied subject (`RoutePermissions::needs_deny_filter`).
    deny_filter: bool,
    /// The mode this side writes with, once the first INFO negotiated it.
    pub(super) compression: Option<Mode>,
}

impl RouteLink {
    pub(super) fn new(max_control_line: usize, solicited: bool, role: LinkRole) -> RouteLink {
        let dialect = match role {
            LinkRole::Route => Dialect::Route,
            LinkRole::Leaf(_) | LinkRole::Hub(_) => Dialect::Leaf,
        };
        RouteLink {
            parser: RouteParser::new(max_control_line, dialect),
            role,
            solicited,
            url: None,
            redial: None,
            leaf: None,
            remote: None,
            peer: PeerId::ROUTES,
            keys: HashMap::new(),
            duplicate: false,
            slot: RouteSlot::Pool(0),
            next_pool: None,
            deny_filter: false,
            compression: None,
        }
    }

    /// The remote server's id, once registered.
    pub fn remote_id(&self) -> Option<&str> {
        self.remote.as_ref().map(|r| r.server_id.as_str())
    }

    /// A leaf node connection rather than a route.
    pub fn is_leaf(&self) -> bool {
        self.role != LinkRole::Route
    }
}

impl Routes {
    /// The cluster shard's links; `cluster` is the route port bound (host and port), when
    /// the server is in a cluster; `pinned`, the accounts with connections of their own.
    pub fn new(
        settings: ClusterSettings,
        cluster: Option<(String, u16)>,
        advertise: Option<(String, u16)>,
        dialer: Arc<Dialer>,
        pinned: Vec<AccountId>,
    ) -> Routes {
        let clustered = cluster.is_some();
        let (host, port) = cluster.unwrap_or_default();
        let (name, dynamic) = match &settings.name {
            Some(n) => (n.clone(), false),
            None => (crate::auth::new_nonce(), true),
        };
        Routes {
            clustered,
            compression: settings
                .compression()
                .expect("compression is checked at start"),
            pool: settings.pool(),
            pinned,
            settings,
            name,
            dynamic,
            host,
            port,
            advertise,
            dialer,
            leaf: None,
            by_server: HashMap::new(),
            advertised: false,
            peers: HashMap::new(),
            next_peer: 0,
            free_peers: Vec::new(),
            told: HashMap::new(),
            totals: HashMap::new(),
            services: Vec::new(),
        }
    }

    /// The routes may be told of this server's interest in `subject` (`import`).
    fn imports(&self, subject: &[u8]) -> bool {
        (self.settings.permissions.as_ref()).is_none_or(|p| p.can_import(subject))
    }

    /// Whether a route connection in `slot` carries `account`'s interest and messages.
    fn carries(&self, slot: RouteSlot, account: AccountId, name: &str) -> bool {
        match slot {
            RouteSlot::Whole => true,
            RouteSlot::Pinned(a) => a == account,
            RouteSlot::Pool(i) => {
                !self.pinned.contains(&account) && pool_index(name, self.pool.unwrap_or(1)) == i
            }
        }
    }

    /// Leaf node connections come here too.
    pub fn host_leafnodes(&mut self, leaf: super::leafs::LeafHost) {
        self.leaf = Some(leaf);
    }
}

impl Shard {
    /// Makes this shard the cluster shard.
    pub fn host_routes(&mut self, routes: Routes) {
        let clustered = routes.clustered;
        if clustered {
            self.server
                .cluster_view
                .set_listen(&routes.name, &routes.host, routes.port);
        }
        if let Some((host, port)) = routes.leaf.as_ref().and_then(|l| l.listen()) {
            self.server.cluster_view.set_leaf_listen(host, port);
        }
        self.routes = Some(Box::new(routes));
        if clustered {
            if let Some(system) = self.server.accounts.system() {
                let services: Vec<Key> =
                    crate::system::request::subscriptions(true, &self.server.server_id)
                        .into_iter()
                        .map(|s| (system, Bytes::from(s), None))
                        .collect();
                let r = self.routes.as_mut().expect("just hosted");
                let told: Vec<Key> = (services.iter())
                    .filter(|k| r.imports(&k.1))
                    .cloned()
                    .collect();
                for key in told {
                    r.told.insert(key, 1);
                }
                r.services = services;
            }
            self.refresh_cluster_view();
        }
    }

    /// The name of this server's cluster, when it is in one.
    pub(super) fn cluster_name(&self) -> Option<&str> {
        self.routes
            .as_ref()
            .filter(|r| r.clustered)
            .map(|r| r.name.as_str())
    }

    /// The next free link peer id.
    pub(super) fn allocate_peer(&mut self) -> PeerId {
        let r = self.routes.as_mut().expect("cluster shard");
        let n = r.free_peers.pop().unwrap_or_else(|| {
            r.next_peer += 1;
            r.next_peer - 1
        });
        PeerId::route(n)
    }

    /// The role of the link that is `peer`.
    pub(super) fn link_role(&self, peer: PeerId) -> Option<LinkRole> {
        let id = *self.routes.as_ref()?.peers.get(&peer)?;
        Some(self.clients.conns.get(id)?.route.as_ref()?.role)
    }

    /// Sets what clients are told about the cluster: its name, and every server's client
    /// URLs (ours first); when that changed, clients that take async INFOs are told.
    fn refresh_cluster_view(&mut self) {
        let Some(r) = self.routes.as_mut().filter(|r| r.clustered) else {
            return;
        };
        r.advertised |= !r.by_server.is_empty();
        let r = &*r;
        let mut urls = if r.advertised {
            client_urls(&self.server.cfg.host, self.server.port)
        } else {
            Vec::new()
        };
        let remote = |id: ConnId| {
            let link = self.clients.conns[id].route.as_ref().expect("route");
            link.remote.as_ref()
        };
        // A server in lame duck mode is no place for clients to go (Go's
        // `removeConnectURLs`), whichever of its connections said so.
        let leaving: Vec<&str> = r
            .by_server
            .values()
            .filter_map(|&id| remote(id).filter(|i| i.ldm))
            .map(|i| i.server_id.as_str())
            .collect();
        for &id in r.by_server.values() {
            let Some(info) = remote(id).filter(|i| !leaving.contains(&i.server_id.as_str())) else {
                continue;
            };
            for u in &info.connect_urls {
                if !urls.contains(u) {
                    urls.push(u.clone());
                }
            }
        }
        if self.server.cluster_view.set(&r.name, &urls) {
            self.send_async_info();
            for dst in (0..self.shards()).filter(|&d| d != self.id) {
                self.peers.stage(dst, ShardMsg::ClusterChanged);
            }
        }
        self.refresh_leaf_urls();
    }

    /// The leaf node URLs of the cluster's other servers, from their route INFOs; those in
    /// lame duck mode left out.
    pub(super) fn cluster_leaf_urls(&self) -> Vec<String> {
        let mut urls: Vec<String> = Vec::new();
        let Some(r) = self.routes.as_ref() else {
            return urls;
        };
        let infos = (r.by_server.values())
            .filter_map(|&id| self.clients.conns[id].route.as_ref()?.remote.as_ref())
            .filter(|i| !i.ldm);
        for info in infos {
            for u in &info.leafnode_urls {
                if !urls.contains(u) {
                    urls.push(u.clone());
                }
            }
        }
        urls
    }

    /// This server's route INFO.
    fn route_info(&self) -> RouteInfo {
        let r = self.routes.as_ref().expect("cluster shard");
        let cfg = &self.server.cfg;
        let urls = if r.settings.no_advertise {
            Vec::new()
        } else {
            client_urls(&cfg.host, self.server.port)
        };
        let (host, port) = r
            .advertise
            .as_ref()
            .map_or((&r.host, r.port), |(h, p)| (h, *p));
        let mut info = RouteInfo::ours(
            &self.server.server_id,
            self.server.name(),
            host,
            port,
            cfg.max_payload,
            (&r.name, r.dynamic),
            urls,
        );
        if r.advertise.is_some() {
            // Go's `setRouteInfoHostPortAndIP`: the other servers gossip this URL.
            info.ip = format!("nats-route://{}/", host_port(host, port));
        }
        info.route_pool_size = r.pool.map(|n| n as i32);
        info.leafnode_urls = self.own_leaf_url().into_iter().collect();
        if let Some(p) = &r.settings.permissions {
            info.import = p.import.as_ref().map(PermissionJson::from);
            info.export = p.export.as_ref().map(PermissionJson::from);
        }
        info.compression = r.compression.info_name().to_string();
        // Go asks the other server's certificate whenever routes use TLS.
        info.tls_required = self.server.links.route.is_some();
        info.tls_verify = info.tls_required;
        info
    }

    fn new_route_conn(&mut self, peer: SocketAddr, solicited: bool) -> ConnId {
        let id = self.new_link_conn(peer, solicited, LinkRole::Route);
        log_at!(
            Info,
            "{} - Route connection created",
            self.clients.conns[id].log_prefix()
        );
        id
    }

    /// A route or leaf connection, its first PING scheduled.
    pub(super) fn new_link_conn(
        &mut self,
        peer: SocketAddr,
        solicited: bool,
        role: LinkRole,
    ) -> ConnId {
        let cid = self.next_cid();
        let mut conn = Conn::new(cid, peer, self.server.cfg.max_control_line, self.now, false);
        conn.route = Some(Box::new(RouteLink::new(
            self.server.cfg.max_control_line,
            solicited,
            role,
        )));
        let id = self.clients.conns.insert(conn);
        let first_ping = self.now + self.clients.conns[id].ping_interval(&self.server.cfg);
        self.clients.timers.insert(first_ping, Timer::Ping(id, cid));
        id
    }

    /// A connection on the route port: it gets our INFO at once and must CONNECT.
    pub fn accept_route(&mut self, peer: SocketAddr) -> ConnId {
        let id = self.new_route_conn(peer, false);
        let info = self.route_info().line();
        self.clients.conns[id].out.push(&info);
        self.mark_dirty(id);
        let tls = (self.server.links.route.as_ref()).map(|(w, _)| Transport::new(w, self.now));
        if let Some(t) = tls {
            self.attach(id, t);
        }
        id
    }

    /// A route connection the dialer made for `slot`: CONNECT goes first, and our INFO
    /// once the remote's tells whether it pools (Go delays it the same way).
    pub fn adopt_route(
        &mut self,
        peer: SocketAddr,
        url: RouteUrl,
        redial: Option<RedialHandle>,
        slot: RouteSlot,
    ) -> ConnId {
        let id = self.new_route_conn(peer, true);
        let tls = (self.server.links.route.as_ref())
            .map(|(_, d)| Transport::dialed(d, &url.host, false, self.now));
        let tls_required = tls.is_some();
        if let Some(t) = tls {
            self.attach(id, t);
        }
        let r = self.routes.as_ref().expect("cluster shard");
        let connect = RouteConnect {
            echo: true,
            user: url.user.clone(),
            pass: url.pass.clone(),
            tls_required,
            headers: true,
            name: self.server.server_id.clone(),
            cluster: r.name.clone(),
            cluster_dynamic: r.dynamic,
            ..RouteConnect::default()
        };
        let c = &mut self.clients.conns[id];
        c.out.push(&connect.line());
        let link = c.route.as_mut().expect("route");
        link.url = Some(url);
        link.redial = redial;
        link.slot = slot;
        self.mark_dirty(id);
        id
    }

    /// The registered routes, for `/routez`; `conn` makes each one's connection figures.
    pub(super) fn route_snapshots(
        &self,
        conn: impl Fn(&Conn) -> ConnSnapshot,
    ) -> Vec<RouteSnapshot> {
        let Some(r) = self.routes.as_ref() else {
            return Vec::new();
        };
        let mut out: Vec<RouteSnapshot> = r
            .by_server
            .values()
            .filter_map(|&id| {
                let c = self.clients.conns.get(id)?;
                let link = c.route.as_ref()?;
                let info = link.remote.as_ref()?;
                let mut snap = conn(c);
                snap.num_subs = link.keys.len();
                let mut subs: Vec<String> = link
                    .keys
                    .keys()
                    .map(|(a, s, q)| {
                        let mut t = format!(
                            "{} {}",
                            self.server.accounts.name(*a),
                            String::from_utf8_lossy(s)
                        );
                        if let Some(q) = q {
                            t.push(' ');
                            t.push_str(&String::from_utf8_lossy(q));
                        }
                        t
                    })
                    .collect();
                subs.sort();
                Some(RouteSnapshot {
                    conn: snap,
                    remote_id: info.server_id.clone(),
                    remote_name: info.server_name.clone(),
                    did_solicit: link.solicited,
                    is_configured: link.redial.is_some(),
                    account: match link.slot {
                        RouteSlot::Pinned(a) => Some(self.server.accounts.name(a).to_string()),
                        _ => None,
                    },
                    import: info.import.clone(),
                    export: info.export.clone(),
                    subs,
                    compression: link.compression.map(Mode::name),
                })
            })
            .collect();
        out.sort_by_key(|s| s.conn.cid);
        out
    }

    /// Lame duck mode: the other servers hear it in an INFO with `"ldm":true`, and stop
    /// sending clients here (Go's `lameDuckMode` sends it to routes too).
    pub(super) fn routes_lame_duck(&mut self) {
        let Some(r) = self.routes.as_ref() else {
            return;
        };
        let conns: Vec<ConnId> = r.by_server.values().copied().collect();
        let mut info = self.route_info();
        info.ldm = true;
        let line = info.line();
        for id in conns {
            self.clients.conns[id].out.push(&line);
            self.mark_dirty(id);
        }
    }

    /// Bytes from a route.
    pub(super) fn route_read(&mut self, id: ConnId, data: &[u8]) {
        self.clients.conns[id].pings.last_in = self.now;
        let Some(link) = self.clients.conns[id].route.as_mut() else {
            return;
        };
        let mut parser = std::mem::replace(&mut link.parser, RouteParser::new(0, Dialect::Route));
        let res = parser.parse(data, &mut RouteCtx { shard: self, id });
        let compressed = parser.take_compressed();
        if let Some(link) = self
            .clients
            .conns
            .get_mut(id)
            .and_then(|c| c.route.as_mut())
        {
            link.parser = parser;
        }
        if let Some(bytes) = compressed.filter(|b| !b.is_empty()) {
            self.inflate(id, &bytes);
        }
        if let Err(e) = res {
            if self
                .clients
                .conns
                .get(id)
                .is_some_and(|c| c.closing.is_none())
            {
                log_at!(
                    Error,
                    "{} - Route Error: {:?}",
                    self.clients.conns[id].log_prefix(),
                    e
                );
                self.begin_close(
                    id,
                    CloseReason::ProtocolViolation,
                    Closing::AfterFlush,
                    false,
                );
            }
        }
    }

    fn route_connect(&mut self, id: ConnId, json: &[u8]) -> Result<(), Stop> {
        let connect: RouteConnect = self.link_json(id, json)?;
        if connect.lang.is_some() {
            return Err(self.wrong_port(id, "route"));
        }
        let r = self.routes.as_ref().expect("cluster shard");
        if let Some(user) = &r.settings.user {
            let ok = connect.user.as_deref() == Some(user.as_str())
                && connect.pass.as_deref() == r.settings.pass.as_deref();
            if !ok {
                self.route_refuse(
                    id,
                    "Authorization Violation",
                    CloseReason::AuthenticationViolation,
                );
                return Err(Stop);
            }
        }
        self.check_cluster_name(id, &connect.cluster, connect.cluster_dynamic)
    }

    /// Go's cluster name rule: a dynamic side takes the other's name; two fixed names must
    /// match (`route.go` `processRouteConnect`).
    fn check_cluster_name(
        &mut self,
        id: ConnId,
        theirs: &str,
        their_dynamic: bool,
    ) -> Result<(), Stop> {
        let r = self.routes.as_mut().expect("cluster shard");
        if theirs.is_empty() || theirs == r.name {
            return Ok(());
        }
        if r.dynamic && (!their_dynamic || theirs < r.name.as_str()) {
            r.name = theirs.to_string();
            return Ok(());
        }
        if their_dynamic {
            return Ok(());
        }
        let ours = r.name.clone();
        log_at!(
            Error,
            "{} - Rejecting connection, cluster name {:?} does not match {:?}",
            self.clients.conns[id].log_prefix(),
            theirs,
            ours
        );
        self.route_refuse(id, "Cluster Name Conflict", CloseReason::ProtocolViolation);
        Err(Stop)
    }

    pub(super) fn route_refuse(&mut self, id: ConnId, text: &str, reason: CloseReason) {
        encode::err(&mut self.clients.conns[id].out.tail(), text);
        self.mark_dirty(id);
        self.begin_close(id, reason, Closing::AfterFlush, false);
    }

    fn route_info_received(&mut self, id: ConnId, json: &[u8]) -> Result<AfterInfo, Stop> {
        let mut info: RouteInfo = self.link_json(id, json)?;
        let link = self.clients.conns[id].route.as_ref().expect("route");
        let Some(registered) = link.remote_id().map(str::to_string) else {
            // A dialed pinned connection's answer names its account, as its INFO will.
            let pinned = match link.slot {
                RouteSlot::Pinned(a) if link.solicited => {
                    Some(self.server.accounts.name(a).to_string())
                }
                _ => None,
            };
            self.check_cluster_name(id, &info.cluster, info.cluster_dynamic)?;
            let answer = |s: &Shard, mode: &str| {
                let mut ours = s.route_info();
                ours.compression = mode.to_string();
                ours.route_account = pinned.unwrap_or_default();
                ours.line()
            };
            if self.negotiate_compression(id, &info.compression, answer)? {
                return Ok(AfterInfo {
                    dialect: None,
                    compressed: true,
                });
            }
            // The host a server listens on for all addresses says nothing to others: its
            // route URL is then the address it connected from, as Go records it.
            let unspecified = info.host.is_empty()
                || info
                    .host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_unspecified());
            if unspecified {
                info.host = self.clients.conns[id].peer.ip().to_string();
            }
            let slot = self.route_slot(id, &info)?;
            self.register_route(id, info, slot)?;
            return Ok(AfterInfo {
                dialect: matches!(slot, RouteSlot::Pinned(_)).then_some(Dialect::PinnedRoute),
                compressed: false,
            });
        };
        if info.server_id != registered {
            // Gossip: a server this one just met, for the pool or for one pinned account.
            // Dial it unless already routed to it so.
            let r = self.routes.as_ref().expect("cluster shard");
            let slot = match self.server.accounts.id(&info.route_account) {
                _ if info.route_account.is_empty() => RouteSlot::Pool(0),
                Some(a) if r.pool.is_some() && r.pinned.contains(&a) => RouteSlot::Pinned(a),
                _ => return Ok(AfterInfo::default()),
            };
            let key = (info.server_id.clone(), slot);
            if info.server_id != self.server.server_id && !r.by_server.contains_key(&key) {
                if let Ok(url) = RouteUrl::parse(&info.route_url()) {
                    let attempts = r.settings.connect_retries + 1;
                    r.dialer.implicit(url, slot, attempts);
                }
            }
            return Ok(AfterInfo::default());
        }
        // Lame duck mode is said once: it stays with the connection that heard it.
        if let Some(link) = self.clients.conns[id].route.as_mut() {
            info.ldm |= link.remote.as_ref().is_some_and(|r| r.ldm);
            link.remote = Some(info);
        }
        self.refresh_cluster_view();
        Ok(AfterInfo::default())
    }

    /// The slot of a route connection whose remote's first INFO is `info`: the one it was
    /// dialed for, or on an accepted connection the one the INFO names (Go's `addRoute`).
    /// A connection the remote cannot take in that slot is refused with Go's error.
    fn route_slot(&mut self, id: ConnId, info: &RouteInfo) -> Result<RouteSlot, Stop> {
        let r = self.routes.as_ref().expect("cluster shard");
        let link = self.clients.conns[id].route.as_ref().expect("route");
        let pooled = r.pool.is_some() && info.route_pool_size.is_some_and(|n| n > 0);
        let size = r
            .pool
            .unwrap_or(0)
            .max(info.route_pool_size.unwrap_or(0).max(0) as u32);
        let pinned = if link.solicited {
            match link.slot {
                RouteSlot::Pinned(a) => Some(self.server.accounts.name(a).to_string()),
                RouteSlot::Pool(0) if !pooled => return Ok(RouteSlot::Whole),
                slot => return Ok(slot),
            }
        } else {
            (!info.route_account.is_empty()).then(|| info.route_account.clone())
        };
        let refusal = match pinned {
            Some(name) if !pooled => format!(
                "Not possible to have a dedicated route for account {name:?} between those servers"
            ),
            Some(name) => match self.server.accounts.id(&name) {
                Some(a) if r.pinned.contains(&a) => return Ok(RouteSlot::Pinned(a)),
                _ => format!("No route for account {name:?}"),
            },
            None if !pooled => return Ok(RouteSlot::Whole),
            None if info.route_pool_idx < size => return Ok(RouteSlot::Pool(info.route_pool_idx)),
            None => format!(
                "Invalid route pool index: {} - pool size is {}",
                info.route_pool_idx,
                info.route_pool_size.unwrap_or(0)
            ),
        };
        log_at!(Error, "{} - {refusal}", self.clients.conns[id].log_prefix());
        // A remote without pooling never will have it: that connection is not dialed again.
        if let Some(link) = self.clients.conns[id].route.as_mut() {
            link.duplicate |= !pooled;
        }
        self.route_refuse(id, &refusal, CloseReason::ProtocolViolation);
        Err(Stop)
    }

    fn register_route(&mut self, id: ConnId, info: RouteInfo, slot: RouteSlot) -> Result<(), Stop> {
        let prefix = self.clients.conns[id].log_prefix();
        if info.server_id == self.server.server_id {
            log_at!(Debug, "{prefix} - Detected route to self, ignoring");
            self.begin_close(id, CloseReason::ProtocolViolation, Closing::Now, false);
            return Err(Stop);
        }
        let key = (info.server_id.clone(), slot.key());
        let r = self.routes.as_mut().expect("cluster shard");
        if let Some(&existing) = r.by_server.get(&key) {
            log_at!(
                Debug,
                "{prefix} - Detected duplicate remote route {:?}",
                info.server_id
            );
            let link = self.clients.conns[id].route.as_mut().expect("route");
            link.duplicate = true;
            let (redial, url) = (link.redial.take(), link.url.take());
            // The route kept takes over the dialer, which dials again when it is gone.
            if let Some(kept) = self.clients.conns[existing].route.as_mut() {
                if kept.redial.is_none() {
                    kept.redial = redial;
                    kept.url = url;
                }
            }
            self.begin_close(id, CloseReason::DuplicateRoute, Closing::Now, false);
            return Err(Stop);
        }
        let peer = self.allocate_peer();
        let r = self.routes.as_mut().expect("cluster shard");
        r.by_server.insert(key, id);
        r.peers.insert(peer, id);
        let pinned = match slot {
            RouteSlot::Pinned(a) => Some(self.server.accounts.name(a).to_string()),
            _ => None,
        };
        match &pinned {
            Some(a) => log_at!(
                Debug,
                "{prefix} - Registering remote route {:?} for account {a:?}",
                info.server_id
            ),
            None => log_at!(
                Debug,
                "{prefix} - Registering remote route {:?}",
                info.server_id
            ),
        }
        let link = self.clients.conns[id].route.as_mut().expect("route");
        link.slot = slot;
        let solicited = link.solicited;
        let mut out = Vec::new();
        if solicited {
            // Our INFO names the slot this connection is for; while the pool is not full,
            // a PING follows, and its PONG is the cue to dial the next one.
            let mut ours = self.route_info();
            match slot {
                RouteSlot::Pool(i) => ours.route_pool_idx = i,
                RouteSlot::Pinned(_) => ours.route_account = pinned.clone().unwrap_or_default(),
                RouteSlot::Whole => {}
            }
            out.extend_from_slice(&ours.line());
            let r = self.routes.as_ref().expect("cluster shard");
            let size = r
                .pool
                .unwrap_or(0)
                .max(info.route_pool_size.unwrap_or(0).max(0) as u32);
            if let RouteSlot::Pool(i) = slot {
                let link = self.clients.conns[id].route.as_mut().expect("route");
                link.next_pool = (i + 1 < size).then_some(i + 1);
            }
        }
        // Gossip about a server that dialed us goes to the other servers' connection in the
        // same slot: pool connection 0, or the same pinned account's.
        let first = !matches!(slot, RouteSlot::Pool(i) if i > 0);
        let gossip = (!solicited && first).then(|| {
            let mut g = info.clone();
            g.ip = format!("nats-route://{}/", host_port(&info.host, info.port));
            g.gossip_mode = Some(1);
            g.route_account = pinned.clone().unwrap_or_default();
            g.route_pool_idx = 0;
            g.line()
        });
        let link = self.clients.conns[id].route.as_mut().expect("route");
        link.peer = peer;
        link.remote = Some(info);
        // Everything this server is interested in that this connection carries, as Go
        // sends its subscriptions.
        let r = self.routes.as_ref().expect("cluster shard");
        for (key, &count) in &r.told {
            let name = self.server.accounts.name(key.0);
            if r.carries(slot, key.0, name) {
                let naming = match pinned {
                    Some(_) => Naming::Pinned,
                    None => Naming::Route(name),
                };
                interest_line(&mut out, naming, key, count);
            }
        }
        out.extend_from_slice(encode::PING);
        let others: Vec<ConnId> = r
            .by_server
            .iter()
            .filter(|((_, s), &o)| *s == slot.key() && o != id)
            .map(|(_, &o)| o)
            .collect();
        self.clients.conns[id].out.push(&out);
        self.mark_dirty(id);
        if let Some(line) = gossip {
            for o in others {
                self.clients.conns[o].out.push(&line);
                self.mark_dirty(o);
            }
        }
        self.refresh_cluster_view();
        Ok(())
    }

    /// The account a route line names, or on a pinned connection the connection's.
    fn route_account(&self, id: ConnId, named: &[u8]) -> Option<AccountId> {
        let link = self.clients.conns[id].route.as_ref()?;
        match link.slot {
            RouteSlot::Pinned(a) => Some(a),
            _ => std::str::from_utf8(named)
                .ok()
                .and_then(|a| self.server.accounts.id(a)),
        }
    }

    /// Interest a route told us.
    fn route_interest(&mut self, id: ConnId, sub: RemoteSub<'_>, on: bool) {
        let Some(account) = self.route_account(id, sub.account) else {
            return;
        };
        let Some(link) = self.clients.conns[id].route.as_ref() else {
            return;
        };
        if link.remote.is_none() {
            return;
        }
        if let Some(p) = self
            .routes
            .as_ref()
            .and_then(|r| r.settings.permissions.as_ref())
        {
            if !p.can_export(sub.subject) {
                if on {
                    log_at!(
                        Debug,
                        "{} - Can not export {}, ignoring remote subscription request",
                        self.clients.conns[id].log_prefix(),
                        crate::permissions::go_quote(sub.subject)
                    );
                }
                return;
            }
            if on && p.needs_deny_filter(sub.subject) {
                self.clients.conns[id]
                    .route
                    .as_mut()
                    .expect("route")
                    .deny_filter = true;
            }
        }
        self.link_interest(id, account, sub, on);
    }

    /// Interest a registered link told us in `account`: kept per link, replicated to the
    /// other shards, and told to the links that hear of this one.
    pub(super) fn link_interest(
        &mut self,
        id: ConnId,
        account: AccountId,
        sub: RemoteSub<'_>,
        on: bool,
    ) {
        let key: Key = (
            account,
            Bytes::copy_from_slice(sub.subject),
            sub.queue.map(Bytes::copy_from_slice),
        );
        let count = match (on, key.2.is_some()) {
            (false, _) => 0,
            (true, true) => sub.weight.max(1),
            (true, false) => 1,
        };
        let link = self.clients.conns[id].route.as_mut().expect("link");
        let old = if count == 0 {
            link.keys.remove(&key).unwrap_or(0)
        } else {
            link.keys.insert(key.clone(), count).unwrap_or(0)
        };
        let (peer, role) = (link.peer, link.role);
        self.apply_remote_interest(peer, key.clone(), count);
        self.route_totals(key.clone(), old, count);
        // Only a leaf node's interest changes what the routes are told.
        if LinkRole::Route.hears(role) {
            self.tell_routes(&key);
        }
        self.tell_leafs(&key, Some(peer));
    }

    /// One route's count on `key` went from `old` to `new`: the other shards learn the
    /// routes' combined interest when it matters to them (edges, or a queue weight).
    pub(super) fn route_totals(&mut self, key: Key, old: u32, new: u32) {
        let r = self.routes.as_mut().expect("cluster shard");
        let queue = key.2.is_some();
        let unit = |c: u32| if queue { c } else { u32::from(c > 0) };
        let before = r.totals.get(&key).copied().unwrap_or(0);
        let after = (before + unit(new)).saturating_sub(unit(old));
        if after == 0 {
            r.totals.remove(&key);
        } else {
            r.totals.insert(key.clone(), after);
        }
        let changed = if queue {
            before != after
        } else {
            (before > 0) != (after > 0)
        };
        if changed {
            let count = if queue { after } else { u32::from(after > 0) };
            self.stage_interest(key, count, true);
        }
    }

    /// The server-wide client count on `key` changed, perhaps: the routes and leaf node
    /// connections hear of it.
    pub(super) fn tell_links(&mut self, key: &Key) {
        self.tell_routes(key);
        self.tell_leafs(key, None);
    }

    /// The count on `key` a link of `role` is told: this server's clients', and what
    /// the other links it hears from told us (`except` is the link itself).
    pub(super) fn link_count(&self, role: LinkRole, except: Option<PeerId>, key: &Key) -> u32 {
        let mut count = self.server_count(key);
        let Some(r) = self.routes.as_ref() else {
            return count;
        };
        if role == LinkRole::Route && r.services.contains(key) {
            count = count.saturating_add(1);
        }
        for (&p, &id) in &r.peers {
            if Some(p) == except {
                continue;
            }
            let Some(link) = self.clients.conns.get(id).and_then(|c| c.route.as_ref()) else {
                continue;
            };
            if role.hears(link.role) {
                count = count.saturating_add(link.keys.get(key).copied().unwrap_or(0));
            }
        }
        count
    }

    /// The server-wide count on `key` changed, perhaps: the routes hear of edges of plain
    /// interest and of every queue weight, as from a Go server.
    pub(super) fn tell_routes(&mut self, key: &Key) {
        if !(self.routes.as_ref()).is_some_and(|r| r.clustered && r.imports(&key.1)) {
            return;
        }
        let count = self.link_count(LinkRole::Route, None, key);
        let r = self.routes.as_mut().expect("cluster shard");
        let told = r.told.get(key).copied().unwrap_or(0);
        let send = if key.2.is_some() {
            count != told
        } else {
            (count > 0) != (told > 0)
        };
        if !send {
            return;
        }
        if count == 0 {
            r.told.remove(key);
        } else {
            r.told.insert(key.clone(), count);
        }
        // One line per form: the account named, or not on its pinned connections.
        let name = self.server.accounts.name(key.0);
        let mut named = Vec::new();
        interest_line(&mut named, Naming::Route(name), key, count);
        let mut unnamed = Vec::new();
        interest_line(&mut unnamed, Naming::Pinned, key, count);
        let r = self.routes.as_ref().expect("cluster shard");
        let conns: Vec<(ConnId, bool)> = r
            .by_server
            .values()
            .filter_map(|&id| {
                let slot = self.clients.conns[id].route.as_ref()?.slot;
                r.carries(slot, key.0, name)
                    .then_some((id, matches!(slot, RouteSlot::Pinned(_))))
            })
            .collect();
        for (id, pinned) in conns {
            let line = if pinned { &unnamed } else { &named };
            self.clients.conns[id].out.push(line);
            self.mark_dirty(id);
        }
    }

    /// A message from a route: to our plain subscribers and the queue groups it names.
    fn route_message(&mut self, id: ConnId, m: RoutedMsg<'_>) {
        let Some(account) = self.route_account(id, m.account) else {
            return;
        };
        self.link_message(id, account, m);
    }

    /// A message from a registered link, in `account`: to this server's subscribers, the
    /// links that hear of this one, and the queue groups it names.
    pub(super) fn link_message(&mut self, id: ConnId, account: AccountId, m: RoutedMsg<'_>) {
        let c = &mut self.clients.conns[id];
        c.in_msgs += 1;
        c.in_bytes += m.data.len() as u64;
        let link = c.route.as_ref().expect("link");
        let (origin, role) = (link.peer, link.role);
        self.stats.in_msgs += 1;
        self.stats.in_bytes += m.data.len() as u64;
        self.clear_gate();
        let mut msg = Msg::local(m.subject, m.reply, m.header_len, m.data);
        // Another server's client asking this server's services, as Go's answer requests
        // that come over a route.
        if role == LinkRole::Route && self.server.accounts.system() == Some(account) {
            self.system_request(account, None, &msg);
        }
        let scope = Scope::FromLink {
            queues: &m.queues,
            origin,
            role,
        };
        self.publish_scoped(account, None, &mut msg, scope);
    }

    /// The JSON of a link's INFO or CONNECT; one that does not parse is a protocol
    /// violation, and the link closes.
    pub(super) fn link_json<T: serde::de::DeserializeOwned>(
        &mut self,
        id: ConnId,
        json: &[u8],
    ) -> Result<T, Stop> {
        serde_json::from_slice(json).map_err(|_| {
            self.route_refuse(id, "Protocol Violation", CloseReason::ProtocolViolation);
            Stop
        })
    }

    /// A client's CONNECT (it names its `lang`) on a route or leaf node port.
    pub(super) fn wrong_port(&mut self, id: ConnId, port: &str) -> Stop {
        self.route_refuse(
            id,
            &format!("attempted to connect to {port} port"),
            CloseReason::WrongPort,
        );
        Stop
    }

    /// Queues an RMSG/HMSG (LMSG/HMSG for a leaf connection) for the link that is `peer`,
    /// naming the queue groups it was picked for.
    pub(super) fn send_routed(
        &mut self,
        peer: PeerId,
        account: AccountId,
        msg: &mut Msg<'_>,
        queues: &[Bytes],
    ) {
        let Some(&id) = self.routes.as_ref().and_then(|r| r.peers.get(&peer)) else {
            return;
        };
        let name = self.server.accounts.name(account);
        let c = &mut self.clients.conns[id];
        if c.closing.is_some() {
            return;
        }
        let link = c.route.as_ref().expect("link");
        if link
            .leaf
            .as_ref()
            .is_some_and(|l| l.exports_denied(msg.subject))
        {
            return;
        }
        if link.deny_filter
            && (self.routes.as_ref())
                .and_then(|r| r.settings.permissions.as_ref())
                .is_some_and(|p| p.export_denied(msg.subject))
        {
            return;
        }
        let naming = match (link.is_leaf(), link.slot) {
            (true, _) => Naming::Leaf,
            (false, RouteSlot::Pinned(_)) => Naming::Pinned,
            (false, _) => Naming::Route(name),
        };
        {
            let mut t = c.out.tail();
            rmsg_line(
                &mut t,
                naming,
                msg.subject,
                msg.reply,
                queues,
                msg.header_len,
                msg.data.len(),
            );
            if msg.data.len() < FLATTEN_THRESHOLD {
                t.extend_from_slice(msg.data);
                t.extend_from_slice(b"\r\n");
            }
        }
        if msg.data.len() >= FLATTEN_THRESHOLD {
            let shared = msg.shared().clone();
            let c = &mut self.clients.conns[id];
            c.out.push_shared(shared);
            c.out.push(b"\r\n");
        }
        let c = &mut self.clients.conns[id];
        c.out_msgs += 1;
        c.out_bytes += msg.data.len() as u64;
        let queued = c.pending_bytes();
        self.mark_dirty(id);
        // A link is never cut off for being slow (Go's policy for routes and leaf nodes):
        // its publishers are paced instead, as a client consumer's are, so that what waits
        // for a slower link stays near the stall gate rather than growing with the backlog.
        self.check_stall_gate(id, queued);
    }

    /// The remote took pool connection `next - 1` (`id`): pool connection `next` is dialed,
    /// for as long as the server runs if this route is configured, unless it is up.
    fn dial_next_pool(&mut self, id: ConnId, next: u32) {
        let Some(link) = self.clients.conns[id].route.as_ref() else {
            return;
        };
        let (Some(url), Some(remote)) = (link.url.clone(), link.remote.as_ref()) else {
            return;
        };
        let configured = link.redial.is_some();
        let r = self.routes.as_ref().expect("cluster shard");
        let slot = RouteSlot::Pool(next);
        if r.by_server.contains_key(&(remote.server_id.clone(), slot)) {
            return;
        }
        if configured {
            r.dialer.configured(vec![url], DialTarget::Route(slot));
        } else {
            r.dialer.implicit(url, slot, r.settings.connect_retries + 1);
        }
    }

    /// A route or leaf connection is closing: its interest goes, its dialer may dial again.
    pub(super) fn route_closed(&mut self, id: ConnId, reason: CloseReason) {
        if self.clients.conns[id]
            .route
            .as_ref()
            .is_some_and(|l| l.is_leaf())
        {
            return self.leaf_closed(id, reason);
        }
        let c = &mut self.clients.conns[id];
        let prefix = c.log_prefix();
        let Some(link) = c.route.as_mut() else {
            return;
        };
        let keys = std::mem::take(&mut link.keys);
        let (peer, link_slot) = (link.peer, link.slot);
        let remote = link.remote.take();
        let redial = (!link.duplicate).then(|| link.redial.take()).flatten();
        match &remote {
            Some(info) if !info.server_name.is_empty() => log_at!(
                Info,
                "{prefix} - Router connection closed: {} - Remote: {}",
                reason.as_str(),
                info.server_name
            ),
            _ => log_at!(
                Info,
                "{prefix} - Router connection closed: {}",
                reason.as_str()
            ),
        }
        if let Some(info) = remote {
            if let Some(r) = self.routes.as_mut() {
                let key = (info.server_id.clone(), link_slot.key());
                if r.by_server.get(&key) == Some(&id) {
                    r.by_server.remove(&key);
                }
            }
            self.forget_link(peer, LinkRole::Route, keys);
            self.refresh_cluster_view();
        }
        if let Some(h) = redial {
            h.redial(crate::cluster::settings::ROUTE_CONNECT_DELAY);
        }
    }
}

impl Shard {
    /// A registered link of `role` is gone: what it told us goes, and those told of it
    /// hear so.
    pub(super) fn forget_link(&mut self, peer: PeerId, role: LinkRole, keys: HashMap<Key, u32>) {
        if let Some(r) = self.routes.as_mut() {
            if r.peers.remove(&peer).is_some() && !peer.is_shard() && peer != PeerId::ROUTES {
                r.free_peers.push(peer.route_number());
            }
        }
        for (key, old) in keys {
            self.apply_remote_interest(peer, key.clone(), 0);
            self.route_totals(key.clone(), old, 0);
            if LinkRole::Route.hears(role) {
                self.tell_routes(&key);
            }
            self.tell_leafs(&key, None);
        }
    }
}

/// How a link's protocol lines name the account.
#[derive(Debug, Clone, Copy)]
pub(super) enum Naming<'a> {
    /// A route's `RS+`/`RMSG`, naming it.
    Route(&'a str),
    /// A pinned account's route connection: `RS+`/`RMSG`, naming none.
    Pinned,
    /// A leaf connection's `LS+`/`LMSG`, bound to one account, naming none.
    Leaf,
}

/// `RS+ <account> <subject>[ <queue> <weight>]` or, with no interest left,
/// `RS- <account> <subject>[ <queue>]`; `LS+`/`LS-` for a leaf connection.
pub(super) fn interest_line(out: &mut Vec<u8>, naming: Naming<'_>, key: &Key, count: u32) {
    let (_, subject, queue) = key;
    let leaf = matches!(naming, Naming::Leaf);
    out.extend_from_slice(match (count > 0, leaf) {
        (true, false) => b"RS+ ",
        (false, false) => b"RS- ",
        (true, true) => b"LS+ ",
        (false, true) => b"LS- ",
    });
    if let Naming::Route(a) = naming {
        out.extend_from_slice(a.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(subject);
    if let Some(q) = queue {
        out.push(b' ');
        out.extend_from_slice(q);
        if count > 0 {
            out.push(b' ');
            encode::push_usize(out, count as usize);
        }
    }
    out.extend_from_slice(b"\r\n");
}

/// `RMSG <account> <subject> [reply | + <reply> <queues> | \| <queues>] <size>`, or HMSG
/// with the header size before the total (`route.go` `msgHeader`); on a leaf connection
/// `LMSG` (`leafnode.go` `msgHeader` for LEAF).
fn rmsg_line(
    out: &mut Vec<u8>,
    naming: Naming<'_>,
    subject: &[u8],
    reply: Option<&[u8]>,
    queues: &[Bytes],
    header_len: Option<usize>,
    total: usize,
) {
    out.extend_from_slice(match (header_len, naming) {
        (Some(_), _) => b"HMSG ",
        (None, Naming::Leaf) => b"LMSG ",
        (None, _) => b"RMSG ",
    });
    if let Naming::Route(a) = naming {
        out.extend_from_slice(a.as_bytes());
        out.push(b' ');
    }
    out.extend_from_slice(subject);
    out.push(b' ');
    match (reply, queues.is_empty()) {
        (Some(r), true) => {
            out.extend_from_slice(r);
            out.push(b' ');
        }
        (None, true) => {}
        (r, false) => {
            match r {
                Some(r) => {
                    out.extend_from_slice(b"+ ");
                    out.extend_from_slice(r);
                }
                None => out.push(b'|'),
            }
            for q in queues {
                out.push(b' ');
                out.extend_from_slice(q);
            }
            out.push(b' ');
        }
    }
    if let Some(h) = header_len {
        encode::push_usize(out, h);
        out.push(b' ');
    }
    encode::push_usize(out, total);
    out.extend_from_slice(b"\r\n");
}

/// The route parser's callbacks for one connection.
struct RouteCtx<'a> {
    shard: &'a mut Shard,
    id: ConnId,
}

impl RouteCtx<'_> {
    fn leaf(&self) -> bool {
        self.shard.clients.conns[self.id]
            .route
            .as_ref()
            .is_some_and(|l| l.is_leaf())
    }
}

impl RouteHandler for RouteCtx<'_> {
    fn info(&mut self, json: &[u8]) -> Result<AfterInfo, Stop> {
        if self.leaf() {
            let compressed = self.shard.leaf_info_received(self.id, json)?;
            return Ok(AfterInfo {
                dialect: None,
                compressed,
            });
        }
        self.shard.route_info_received(self.id, json)
    }
    fn connect(&mut self, json: &[u8]) -> Result<(), Stop> {
        if self.leaf() {
            return self.shard.leaf_connect(self.id, json);
        }
        self.shard.route_connect(self.id, json)
    }
    fn ping(&mut self) {
        self.shard.clients.conns[self.id].out.push(encode::PONG);
        self.shard.mark_dirty(self.id);
    }
    fn pong(&mut self) {
        let now = self.shard.now;
        let c = &mut self.shard.clients.conns[self.id];
        c.pings.outstanding = 0;
        let rtt = c
            .pings
            .sent
            .take()
            .map(|sent| now.saturating_duration_since(sent));
        c.pings.rtt = rtt.or(c.pings.rtt);
        let next = c.route.as_mut().and_then(|l| l.next_pool.take());
        if let Some(rtt) = rtt {
            self.shard.repick_compression(self.id, rtt);
        }
        if let Some(next) = next {
            self.shard.dial_next_pool(self.id, next);
        }
    }
    fn err(&mut self, text: &[u8]) {
        if self.leaf() {
            return self.shard.leaf_error(self.id, text);
        }
        log_at!(
            Error,
            "{} - Router Error: {}",
            self.shard.clients.conns[self.id].log_prefix(),
            String::from_utf8_lossy(text)
        );
    }
    fn interest(&mut self, sub: RemoteSub<'_>, on: bool) {
        if self.leaf() {
            return self.shard.leaf_interest(self.id, sub, on);
        }
        self.shard.route_interest(self.id, sub, on);
    }
    fn message(&mut self, msg: RoutedMsg<'_>) {
        if self.leaf() {
            return self.shard.leaf_message(self.id, msg);
        }
        self.shard.route_message(self.id, msg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interest_lines_as_go_sends_them() {
        let key = |q: Option<&'static [u8]>| -> Key {
            (0, Bytes::from_static(b"q.*"), q.map(Bytes::from_static))
        };
        let line = |naming: Naming<'_>, k: &Key, n: u32| {
            let mut out = Vec::new();
            interest_line(&mut out, naming, k, n);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(line(Naming::Leaf, &key(None), 1), "LS+ q.*\r\n");
        assert_eq!(
            line(Naming::Leaf, &key(Some(b"grp")), 2),
            "LS+ q.* grp 2\r\n"
        );
        assert_eq!(line(Naming::Leaf, &key(Some(b"grp")), 0), "LS- q.* grp\r\n");
        assert_eq!(line(Naming::Route("$G"), &key(None), 0), "RS- $G q.*\r\n");
        assert_eq!(
            line(Naming::Route("A"), &key(Some(b"g")), 3),
            "RS+ A q.* g 3\r\n"
        );
        // A pinned account's connection, as a Go 2.15.1 server sends on it.
        assert_eq!(line(Naming::Pinned, &key(Some(b"g")), 1), "RS+ q.* g 1\r\n");
        assert_eq!(line(Naming::Pinned, &key(None), 0), "RS- q.*\r\n");
    }

    #[test]
    fn rmsg_lines_as_go_sends_them() {
        let line = |reply: Option<&[u8]>, queues: &[&str], hdr: Option<usize>| {
            let q: Vec<Bytes> = queues
                .iter()
                .map(|s| Bytes::copy_from_slice(s.as_bytes()))
                .collect();
            let mut out = Vec::new();
            rmsg_line(&mut out, Naming::Route("$G"), b"rq", reply, &q, hdr, 14);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(line(None, &[], None), "RMSG $G rq 14\r\n");
        assert_eq!(line(Some(b"r"), &[], None), "RMSG $G rq r 14\r\n");
        assert_eq!(line(None, &["grp"], None), "RMSG $G rq | grp 14\r\n");
        assert_eq!(
            line(Some(b"rr"), &["grp", "g2"], None),
            "RMSG $G rq + rr grp g2 14\r\n"
        );
        assert_eq!(line(None, &[], Some(12)), "HMSG $G rq 12 14\r\n");
        let mut out = Vec::new();
        rmsg_line(
            &mut out,
            Naming::Leaf,
            b"q.1",
            Some(b"r"),
            &[Bytes::from_static(b"grp")],
            None,
            2,
        );
        assert_eq!(out, b"LMSG q.1 + r grp 2\r\n");
        out.clear();
        rmsg_line(&mut out, Naming::Leaf, b"foo", None, &[], Some(12), 14);
        assert_eq!(out, b"HMSG foo 12 14\r\n");
        out.clear();
        rmsg_line(
            &mut out,
            Naming::Pinned,
            b"foo",
            Some(b"rep.1"),
            &[],
            None,
            5,
        );
        assert_eq!(out, b"RMSG foo rep.1 5\r\n");
    }
}
