//! What clients are told about the cluster: its name and the client URLs of every server
//! in it (`connect_urls`, so a client can fail over), kept by the cluster shard and read by
//! every shard when it writes a client's INFO.

use std::sync::Mutex;

/// The INFO fields about the cluster, rendered once per change.
#[derive(Debug, Default)]
pub struct ClusterView {
    /// `,"cluster":"c1","connect_urls":[...]`, or empty outside a cluster.
    fragment: Mutex<String>,
    /// The cluster's name and the route listener's host and port, for `/varz`.
    listen: Mutex<Option<(String, String, u16)>>,
    /// The leaf node listener's host and port, for `/varz`.
    leaf_listen: Mutex<Option<(String, u16)>>,
}

impl ClusterView {
    /// Sets the fields; returns whether they changed. `urls` is empty until the server's
    /// first route: Go sends no `connect_urls` before then.
    pub fn set(&self, name: &str, urls: &[String]) -> bool {
        let mut s = String::from(",\"cluster\":");
        s.push_str(&serde_json::to_string(name).expect("string serializes"));
        if !urls.is_empty() {
            s.push_str(",\"connect_urls\":");
            s.push_str(&serde_json::to_string(urls).expect("strings serialize"));
        }
        let mut listen = self.listen.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(l) = listen.as_mut() {
            l.0 = name.to_string();
        }
        drop(listen);
        let mut f = self.fragment.lock().unwrap_or_else(|e| e.into_inner());
        if *f == s {
            return false;
        }
        *f = s;
        true
    }

    /// The route listener's address, set once the cluster shard runs.
    pub fn set_listen(&self, name: &str, host: &str, port: u16) {
        *self.listen.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((name.to_string(), host.to_string(), port));
    }

    /// (cluster name, route host, route port), in a cluster.
    pub fn listen(&self) -> Option<(String, String, u16)> {
        self.listen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The leaf node listener's address, set once the cluster shard runs.
    pub fn set_leaf_listen(&self, host: &str, port: u16) {
        *self.leaf_listen.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((host.to_string(), port));
    }

    /// (leaf host, leaf port), when leaf nodes may connect.
    pub fn leaf_listen(&self) -> Option<(String, u16)> {
        self.leaf_listen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn fragment(&self) -> String {
        self.fragment
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
