//! `zookeeper.stale-connection-watch`: server connections that are closed, or no longer
//! registered with the connection factory, but still referenced from a WatchManager
//! (INCIDENTS.md, incident 1: a watch registered for an already-closed connection, fixed
//! in ZooKeeper 3.6.0 by apache/zookeeper pull request 590).
//!
//! Reads the watchers of every WatchManager (`watch2Paths` keys; WatchManagerOptimized:
//! `watcherBitIdMap.value2Bit` keys) that are `org.apache.zookeeper.server.ServerCnxn`s
//! (NIOServerCnxn, NettyServerCnxn). A connection is stale if `ServerCnxn.stale` is true
//! (3.5+), if its `sock` (NIO `SocketChannelImpl`, `closed`) is closed or a
//! NettyServerCnxn's `closingChannel` is set, or if it is not in
//! any `ServerCnxnFactory.cnxns` set (`Collections$SetFromMap` over a ConcurrentHashMap;
//! a `HashSet` in 3.4) while a factory exists. Checked on 3.8.0.

use std::collections::HashSet;

use crate::rules::zookeeper::{watch_managers, watcher_name, watchers, SERVER_CNXN};
use crate::rules::{mb, percent, share, Finding, Rule, RuleConfig, RuleInfo, Severity, Threshold};
use crate::view::HeapView;

/// The rule.
pub struct StaleConnectionWatch;

const THRESHOLDS: &[Threshold] = &[
    Threshold {
        name: "min_connections",
        default: 1.0,
        help: "stale connections in watch tables before the rule fires",
    },
    Threshold {
        name: "warning_connections",
        default: 10.0,
        help: "stale connections for a warning, whatever they retain",
    },
    Threshold {
        name: "warning_share",
        default: 0.01,
        help: "share of the reachable heap retained by stale connections for a warning",
    },
    Threshold {
        name: "critical_share",
        default: 0.20,
        help: "share of the reachable heap for critical",
    },
];

const ADVICE: &str = "Closed client connections are still registered as watchers, so the server keeps each connection and everything it references (its unsent reply buffers, which can exceed jute.maxbuffer = 4 MB) forever, one per client retry. The server registered a watch for a connection that was already closed: fixed in ZooKeeper 3.6.0 (apache/zookeeper pull request 590, the server no longer adds watches for stale connections), so upgrade the servers to 3.6+; restarting a server frees the memory. On the client side, bound the retries (Curator RetryPolicy with a sane maximum) and do not read a child list larger than jute.maxbuffer with a watch: the read fails, the client reconnects and sets the watch again.";

fn cnxn_name(view: &HeapView<'_>, c: u32) -> String {
    watcher_name(view, c)
}

/// True if the connection's socket is known to be closed: NIOServerCnxn's `sock`, or
/// NettyServerCnxn's `closingChannel` (3.5+).
fn socket_closed(view: &HeapView<'_>, c: u32) -> bool {
    if view.bool_field(c, "closingChannel") == Some(true) {
        return true;
    }
    let Some(sock) = view.field_ref(c, "sock") else {
        return false;
    };
    // SocketChannelImpl (AbstractInterruptibleChannel.closed), or java.net.Socket.
    view.bool_field(sock, "closed").unwrap_or(false)
}

const INFO: RuleInfo = RuleInfo {
    id: "zookeeper.stale-connection-watch",
    pack: "zookeeper",
    description: "closed or unregistered ZooKeeper server connections (NIOServerCnxn, NettyServerCnxn) kept alive by a WatchManager",
    thresholds: THRESHOLDS,
};

impl Rule for StaleConnectionWatch {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, view: &HeapView<'_>, cfg: &RuleConfig) -> Vec<Finding> {
        let managers = watch_managers(view);
        if managers.is_empty() {
            return Vec::new();
        }
        let factories = view.instances_named("org.apache.zookeeper.server.ServerCnxnFactory", true);
        let mut live: HashSet<u32> = HashSet::new();
        let mut have_factory_sets = false;
        for f in &factories {
            if let Some(set) = view.field_ref(*f, "cnxns") {
                if let Some(elems) = view.set_elements(set) {
                    have_factory_sets = true;
                    live.extend(elems);
                }
            }
        }
        let mut seen = HashSet::new();
        let mut stale = Vec::new();
        let (mut flagged, mut closed, mut unregistered) = (0u64, 0u64, 0u64);
        let mut holders: Vec<String> = Vec::new();
        for m in &managers {
            let mut here = 0;
            for w in watchers(view, m) {
                if !view.is_instance_of(w, SERVER_CNXN) {
                    continue;
                }
                let is_flagged = view.bool_field(w, "stale").unwrap_or(false);
                let is_closed = socket_closed(view, w);
                let is_unregistered = have_factory_sets && !live.contains(&w);
                if !(is_flagged || is_closed || is_unregistered) {
                    continue;
                }
                here += 1;
                if seen.insert(w) {
                    flagged += is_flagged as u64;
                    closed += is_closed as u64;
                    unregistered += is_unregistered as u64;
                    stale.push(w);
                }
            }
            if here > 0 {
                holders.push(format!("{} {here}", m.label));
            }
        }
        let n = stale.len() as u64;
        if n == 0 || n < cfg.count("min_connections") {
            return Vec::new();
        }
        let retained = view.retained_together(&stale);
        let heap_share = share(view, retained);
        let mut severity = Severity::for_share(
            heap_share,
            cfg.get("warning_share"),
            cfg.get("critical_share"),
        );
        if n >= cfg.count("warning_connections") {
            severity = severity.max(Severity::Warning);
        }
        stale.sort_by_key(|&c| (std::cmp::Reverse(view.retained(c)), c));
        let biggest = stale.first().map(|&c| view.retained(c)).unwrap_or(0);
        let mut f = Finding::new(
            self.id(),
            severity,
            format!(
                "{n} closed ZooKeeper connections are still in the watch tables ({}), retaining {} ({} of the heap, up to {} each)",
                holders.join(", "),
                mb(retained),
                percent(heap_share),
                mb(biggest)
            ),
            ADVICE,
        );
        f.metric("stale_connections", n);
        f.set_retained(retained, heap_share);
        f.metric("stale_flag_set", flagged);
        f.metric("socket_closed", closed);
        f.metric("not_in_factory", unregistered);
        f.metric("live_connections_in_factory", live.len());
        f.metric("largest_retained_bytes", biggest);
        let sessions: Vec<String> = stale.iter().take(10).map(|&c| cnxn_name(view, c)).collect();
        f.metric("sessions", sessions.join(", "));
        f.objects = stale;
        vec![f]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_absent_no_finding() {
        crate::rules::testing::absent_on_tiny(&StaleConnectionWatch);
    }
}
