//! The ZooKeeper pack: watch tables (incidents 1 and 3) and the leader's learner queues
//! (incident 2). Class and field names checked against ZooKeeper 3.8.0 (Debian
//! `libzookeeper-java`) and the 3.4 / 3.5 sources (`org.apache.zookeeper.server.WatchManager`
//! with the same `watchTable` / `watch2Paths` fields).

pub mod learner_queue_backlog;
pub mod stale_connection_watch;
pub mod watch_table_bloat;

use crate::view::HeapView;

/// WatchManager classes with `watchTable` (path -> watchers) and `watch2Paths` (watcher ->
/// paths): 3.6+ and 3.4 / 3.5.
pub const WATCH_MANAGERS: [&str; 2] = [
    "org.apache.zookeeper.server.watch.WatchManager",
    "org.apache.zookeeper.server.WatchManager",
];

/// 3.6+'s bit-set WatchManager (`zookeeper.watchManagerName`).
pub const WATCH_MANAGER_OPTIMIZED: &str = "org.apache.zookeeper.server.watch.WatchManagerOptimized";

/// The server-side connection base class (NIOServerCnxn, NettyServerCnxn).
pub const SERVER_CNXN: &str = "org.apache.zookeeper.server.ServerCnxn";

/// A watch manager found in the heap.
pub struct Manager {
    /// Its node.
    pub node: u32,
    /// `dataWatches` / `childWatches` (the DataTree field holding it), or its class.
    pub label: String,
    /// True for WatchManagerOptimized.
    pub optimized: bool,
}

/// Every WatchManager instance (any of the supported classes, and subclasses), labelled
/// by the DataTree field that holds it.
pub fn watch_managers(view: &HeapView<'_>) -> Vec<Manager> {
    let mut labels = std::collections::HashMap::new();
    for dt in view.instances_named("org.apache.zookeeper.server.DataTree", true) {
        for field in ["dataWatches", "childWatches"] {
            if let Some(m) = view.field_ref(dt, field) {
                labels.insert(m, field.to_string());
            }
        }
    }
    let mut out = Vec::new();
    for name in WATCH_MANAGERS {
        for node in view.instances_named(name, true) {
            out.push(Manager {
                node,
                label: labels
                    .get(&node)
                    .cloned()
                    .unwrap_or_else(|| format!("{name}@0x{:x}", view.id(node))),
                optimized: false,
            });
        }
    }
    for node in view.instances_named(WATCH_MANAGER_OPTIMIZED, true) {
        out.push(Manager {
            node,
            label: labels
                .get(&node)
                .cloned()
                .unwrap_or_else(|| format!("{WATCH_MANAGER_OPTIMIZED}@0x{:x}", view.id(node))),
            optimized: true,
        });
    }
    // dataWatches before childWatches, then the others.
    out.sort_by_key(|m| (m.label != "dataWatches", m.label != "childWatches", m.node));
    out
}

/// The watchers a manager knows: `watch2Paths` keys, or WatchManagerOptimized's
/// `watcherBitIdMap.value2Bit` keys.
pub fn watchers(view: &HeapView<'_>, m: &Manager) -> Vec<u32> {
    let map = if m.optimized {
        view.field_ref(m.node, "watcherBitIdMap")
            .and_then(|b| view.field_ref(b, "value2Bit"))
    } else {
        view.field_ref(m.node, "watch2Paths")
    };
    map.and_then(|map| view.map_entries(map))
        .map(|e| e.into_iter().filter_map(|(k, _)| k).collect())
        .unwrap_or_default()
}

/// How to name a watcher: its session id in hex (as ZooKeeper logs it), else its class.
pub fn watcher_name(view: &HeapView<'_>, w: u32) -> String {
    match view.int_field(w, "sessionId") {
        Some(s) => format!("{:x}", s as u64),
        None => format!("{}@0x{:x}", view.class(w).name, view.id(w)),
    }
}
