//! The rule packs and `check` on the real fixtures of fixtures/rules: each incident dump
//! fails the check with the right rule on top and the numbers its generator recorded in
//! NAME.expected.json; each healthy dump passes with nothing above `info`.

mod support;

use serde_json::Value;
use support::{fixtures, run};

fn dump(name: &str) -> String {
    fixtures()
        .join("rules")
        .join(format!("{name}.hprof.gz"))
        .display()
        .to_string()
}

fn expected(name: &str) -> Value {
    let p = fixtures()
        .join("rules")
        .join(format!("{name}.expected.json"));
    serde_json::from_str(&std::fs::read_to_string(&p).expect("expected.json")).expect("json")
}

/// Runs `check --format json` with extra arguments; returns the exit code and the report.
fn check(name: &str, extra: &[&str]) -> (i32, Value) {
    let d = dump(name);
    let mut args = vec!["-q", "check", d.as_str(), "--format", "json"];
    args.extend_from_slice(extra);
    let (code, out, err) = run(&args);
    assert!(code == 0 || code == 1, "{name}: exit {code}: {err}");
    (code, serde_json::from_str(&out).expect("check prints JSON"))
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings")
}

fn of_rule<'a>(report: &'a Value, rule: &str) -> Vec<&'a Value> {
    findings(report)
        .iter()
        .filter(|f| f["rule"] == rule)
        .collect()
}

fn metric(f: &Value, name: &str) -> i64 {
    f["metrics"][name]
        .as_i64()
        .unwrap_or_else(|| panic!("metric {name} in {}", f["metrics"]))
}

fn text(f: &Value, name: &str) -> String {
    f["metrics"][name]
        .as_str()
        .unwrap_or_else(|| panic!("metric {name} in {}", f["metrics"]))
        .to_string()
}

/// Asserts that the incident dump fails the check with `rule` first, and returns that
/// finding.
fn incident(name: &str, rule: &str) -> Value {
    let (code, r) = check(name, &[]);
    assert_eq!(code, 1, "{name} must fail the check");
    assert_eq!(r["failed"], true);
    let first = &findings(&r)[0];
    assert_eq!(
        first["rule"], rule,
        "{name}: first finding {}",
        first["title"]
    );
    assert_ne!(first["severity"], "info");
    assert!(!first["advice"].as_str().unwrap().is_empty());
    assert!(
        !first["path"].as_array().unwrap().is_empty(),
        "{name}: a GC-root path"
    );
    // Generic suspects that the pack rule explains (the objects above or below its
    // objects in the dominator tree) are dropped; the rest stay below warning here.
    for f in findings(&r) {
        if f["rule"].as_str().unwrap().starts_with("suspect.") {
            assert_eq!(f["severity"], "info", "{name}: {}", f["title"]);
        }
    }
    first.clone()
}

/// Asserts that the healthy dump passes with nothing above info and nothing from `rule`.
fn healthy(name: &str, rule: &str) {
    let (code, r) = check(name, &[]);
    assert_eq!(code, 0, "{name} must pass: {r}");
    for f in findings(&r) {
        assert_eq!(f["severity"], "info", "{name}: {}", f["title"]);
        assert_ne!(f["rule"], rule, "{name}: {}", f["title"]);
    }
}

/// `actual` is at least `allocated` and at most `allocated * (1 + tolerance)`: retained
/// sizes include the objects that hold the allocated bytes.
fn within(actual: i64, allocated: i64, tolerance: f64, what: &str) {
    assert!(
        actual >= allocated && (actual as f64) <= allocated as f64 * (1.0 + tolerance),
        "{what}: {actual} is not within +{}% of {allocated}",
        tolerance * 100.0
    );
}

#[test]
fn stale_connections_in_the_watch_table() {
    let e = expected("zk-stale-watch");
    let f = incident("zk-stale-watch", "zookeeper.stale-connection-watch");
    assert_eq!(f["severity"], "critical");
    assert_eq!(metric(&f, "stale_connections"), e["stale_connections"]);
    assert_eq!(
        metric(&f, "live_connections_in_factory"),
        e["live_connections_in_factory"]
    );
    assert_eq!(metric(&f, "stale_flag_set"), e["stale_connections"]);
    assert_eq!(metric(&f, "not_in_factory"), e["stale_connections"]);
    assert_eq!(
        f["objects"].as_array().unwrap().len() as i64,
        e["stale_connections"].as_i64().unwrap()
    );
    // 40 x byte[537,604] allocated; the connections, queues and buffer wrappers add <1%.
    within(
        metric(&f, "retained_bytes"),
        e["stale_outgoing_bytes_total"].as_i64().unwrap(),
        0.02,
        "stale connections' retained bytes",
    );
    assert_eq!(
        f["retained"].as_i64().unwrap(),
        metric(&f, "retained_bytes")
    );
    let stale: Vec<&str> = e["stale_sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for s in text(&f, "sessions").split(", ") {
        assert!(stale.contains(&s), "{s} is not a stale session");
    }
    // The path runs from a GC root through the childWatches WatchManager.
    let path: Vec<&str> = f["path"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["class"].as_str().unwrap())
        .collect();
    assert!(
        path.contains(&"org.apache.zookeeper.server.watch.WatchManager"),
        "{path:?}"
    );
    assert_eq!(
        path.last(),
        Some(&"org.apache.zookeeper.server.NIOServerCnxn")
    );
}

fn assert_watch_tables(name: &str, severity: &str) {
    let e = expected(name);
    let f = incident(name, "zookeeper.watch-table-bloat");
    assert_eq!(f["severity"], severity, "{name}");
    assert_eq!(metric(&f, "relations"), e["relations_total"]);
    for label in ["dataWatches", "childWatches"] {
        let x = &e[label];
        assert_eq!(text(&f, &format!("{label}.class")), x["class"]);
        for m in ["relations", "watchers", "paths"] {
            assert_eq!(
                metric(&f, &format!("{label}.{m}")),
                x[m],
                "{name} {label}.{m}"
            );
        }
        assert_eq!(
            metric(&f, &format!("{label}.heaviest_watcher_paths")),
            x["heaviest_watchers"][0]["paths"],
            "{name} {label}"
        );
        assert_eq!(
            metric(&f, &format!("{label}.heaviest_path_watchers")),
            x["heaviest_paths"][0]["watchers"],
            "{name} {label}"
        );
    }
}

#[test]
fn watch_table_bloat() {
    assert_watch_tables("zk-watch-bloat", "critical");
}

#[test]
fn watch_table_bloat_with_the_optimized_manager() {
    // The bit sets hold the same relations in a twentieth of the bytes: a warning.
    assert_watch_tables("zk-watch-bloat-optimized", "warning");
}

#[test]
fn zookeeper_healthy_is_silent() {
    healthy("zk-healthy", "zookeeper.stale-connection-watch");
    let (_, r) = check("zk-healthy", &[]);
    assert!(of_rule(&r, "zookeeper.watch-table-bloat").is_empty());
}

#[test]
fn dead_observer_learner_queue() {
    let e = expected("zk-learner-backlog");
    let f = incident("zk-learner-backlog", "zookeeper.learner-queue-backlog");
    assert_eq!(f["severity"], "critical");
    assert_eq!(metric(&f, "queued_packets"), e["queued_packets"]);
    assert_eq!(metric(&f, "queued_bytes"), e["queued_bytes"]);
    assert_eq!(metric(&f, "queued_data_bytes"), e["queued_data_bytes"]);
    let h = &e["observer_handler"];
    assert_eq!(metric(&f, "sid"), h["sid"]);
    assert_eq!(text(&f, "learner_type"), h["learner_type"]);
    assert_eq!(text(&f, "socket_closed"), h["socket_closed"].to_string());
    assert_eq!(text(&f, "thread_alive"), h["thread_alive"].to_string());
    assert_eq!(text(&f, "in_learners"), "false");
    assert_eq!(text(&f, "in_observingLearners"), "true");
    assert_eq!(text(&f, "thread_name"), h["thread_name"]);
    // 20,021 packets' data arrays allocated; the packets and queue nodes (64 bytes each)
    // and the handler's own buffers add under 10%.
    within(
        metric(&f, "retained_bytes"),
        e["queued_data_bytes"].as_i64().unwrap(),
        0.10,
        "dead handler's retained bytes",
    );
}

#[test]
fn learner_healthy_is_silent() {
    healthy("zk-learner-healthy", "zookeeper.learner-queue-backlog");
}

#[test]
fn netty_direct_memory_leak() {
    let e = expected("netty-direct-leak");
    let f = incident("netty-direct-leak", "netty.direct-memory-leak");
    assert_eq!(f["severity"], "critical");
    assert_eq!(metric(&f, "used"), e["direct_memory_counter"]);
    assert_eq!(metric(&f, "limit"), e["direct_memory_limit"]);
    let share = f["metrics"]["share"].as_f64().unwrap();
    assert!((share - e["direct_memory_used_ratio"].as_f64().unwrap()).abs() < 1e-9);
    assert_eq!(metric(&f, "buffers"), e["reachable_pending_buffers"]);
    assert_eq!(
        metric(&f, "buffer_capacity_bytes"),
        e["reachable_pending_capacity_bytes"]
    );
    assert_eq!(
        metric(&f, "unaccounted_bytes"),
        e["leaked_unreachable_buffers"].as_i64().unwrap() * e["bytes_per_buffer"].as_i64().unwrap()
    );
}

#[test]
fn netty_healthy_is_silent() {
    healthy("netty-healthy", "netty.direct-memory-leak");
}

#[test]
fn stopped_webapp_loader() {
    let e = expected("tomcat-stopped-loader");
    let f = incident(
        "tomcat-stopped-loader",
        "classloader.stopped-webapp-retained",
    );
    assert_eq!(text(&f, "loader_class"), e["loader_class"]);
    assert_eq!(text(&f, "loader_state"), e["loader_state"]);
    // CLASS DUMP records with this loader: the classes plus the array classes.
    assert_eq!(
        metric(&f, "classes"),
        e["classes_loaded"].as_i64().unwrap()
            + e["array_classes_with_this_loader"].as_i64().unwrap()
    );
    let mut threads: Vec<String> = text(&f, "thread_names")
        .split(", ")
        .map(String::from)
        .collect();
    threads.sort();
    let mut want: Vec<String> = e["holding_threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    want.sort();
    assert_eq!(threads, want);
    assert_eq!(metric(&f, "holding_threads"), want.len() as i64);
    // Classes per package, as the JVM's VM.classloaders counted them.
    let packages: std::collections::BTreeMap<String, i64> = text(&f, "packages")
        .split(", ")
        .map(|p| {
            let (name, n) = p.rsplit_once(" (").unwrap();
            (name.to_string(), n.trim_end_matches(')').parse().unwrap())
        })
        .collect();
    let want: std::collections::BTreeMap<String, i64> = e["classes_loaded_by_package"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_i64().unwrap()))
        .collect();
    assert_eq!(packages, want);
    // The shortest path from a GC root is a client thread's context class loader.
    let path = f["path"].as_array().unwrap();
    assert_eq!(path.last().unwrap()["class"], e["loader_class"]);
}

#[test]
fn tomcat_healthy_is_silent() {
    healthy("tomcat-healthy", "classloader.stopped-webapp-retained");
}

#[test]
fn fail_on_critical_passes_a_warning() {
    let (code, r) = check("tomcat-stopped-loader", &["--fail-on", "critical"]);
    assert_eq!(code, 0);
    assert_eq!(r["failed"], false);
    assert_eq!(r["fail_on"], "critical");
    assert!(!of_rule(&r, "classloader.stopped-webapp-retained").is_empty());
}

fn config_file(name: &str, text: &str) -> String {
    support::temp_file(name, text.as_bytes())
        .display()
        .to_string()
}

#[test]
fn config_disables_a_rule() {
    let c = config_file(
        "disable.toml",
        "[rules.\"netty.direct-memory-leak\"]\nenabled = false\n",
    );
    let (code, r) = check("netty-direct-leak", &["--config", &c]);
    assert!(of_rule(&r, "netty.direct-memory-leak").is_empty());
    assert_eq!(code, 0);
}

#[test]
fn config_threshold_silences() {
    let c = config_file(
        "threshold.toml",
        "[rules.\"netty.direct-memory-leak\"]\nmin_used_bytes = 100000000\n",
    );
    let (code, r) = check("netty-direct-leak", &["--config", &c]);
    assert_eq!(code, 0, "{r}");
    // A lower ratio for critical keeps it critical; a higher one makes it a warning.
    let c = config_file(
        "ratio.toml",
        "[rules.\"netty.direct-memory-leak\"]\ncritical_ratio = 0.9\n",
    );
    let (code, r) = check("netty-direct-leak", &["--config", &c]);
    assert_eq!(code, 1);
    assert_eq!(
        of_rule(&r, "netty.direct-memory-leak")[0]["severity"],
        "warning"
    );
}

#[test]
fn config_budget_fires() {
    let c = config_file(
        "budget.toml",
        "[[budget]]\nclass = \"org.apache.zookeeper.server.DataNode\"\nmax_instances = 100\nseverity = \"critical\"\n",
    );
    let (code, r) = check("zk-healthy", &["--config", &c]);
    assert_eq!(code, 1);
    let b = &findings(&r)[0];
    assert_eq!(b["rule"], "budget");
    assert_eq!(b["severity"], "critical");
    assert!(metric(b, "instances") > 7000, "{b}");
    assert!(metric(b, "retained_bytes") > 0);
    // A budget on a superclass with include_subclasses counts the subclasses' instances.
    let c = config_file(
        "budget-sub.toml",
        "[[budget]]\nclass = \"org.apache.zookeeper.server.ServerCnxn\"\ninclude_subclasses = true\nmax_instances = 10\n",
    );
    let (code, r) = check("zk-stale-watch", &["--config", &c]);
    assert_eq!(code, 1);
    let b = of_rule(&r, "budget");
    assert_eq!(
        metric(b[0], "instances"),
        45,
        "5 live + 40 stale NIOServerCnxn"
    );
    let (code, _) = check("zk-healthy", &["--config", &c]);
    assert_eq!(code, 0, "5 connections are within the budget");
    // A class that is not in the dump is an info note, not a failure.
    let c = config_file(
        "budget-absent.toml",
        "[[budget]]\nclass = \"com.example.Missing\"\nmax_instances = 0\nseverity = \"critical\"\n",
    );
    let (code, r) = check("netty-healthy", &["--config", &c]);
    assert_eq!(code, 0);
    let b = of_rule(&r, "budget");
    assert_eq!(b[0]["severity"], "info");
    assert!(b[0]["title"].as_str().unwrap().contains("not in this dump"));
}

#[test]
fn example_config() {
    let c = fixtures()
        .join("rules")
        .join("check-config.example.toml")
        .display()
        .to_string();
    let (code, r) = check("zk-healthy", &["--config", &c]);
    assert_eq!(code, 0, "{r}");
    assert!(
        of_rule(&r, "suspect.dominant-object").is_empty(),
        "disabled"
    );
    let (code, r) = check("zk-stale-watch", &["--config", &c]);
    assert_eq!(code, 1);
    assert_eq!(findings(&r)[0]["severity"], "critical");
    let b = of_rule(&r, "budget");
    assert_eq!(b.len(), 1, "the connections' budget, not the znodes'");
    assert!(b[0]["title"]
        .as_str()
        .unwrap()
        .contains("ZooKeeper server connections"));
}

#[test]
fn bad_usage_exits_2() {
    let (code, _, err) = run(&["check", "/nonexistent/dump.hprof"]);
    assert_eq!(code, 2, "{err}");
    let bad = config_file("bad.toml", "[rules.\"no.such-rule\"]\nenabled = false\n");
    let d = dump("netty-healthy");
    let (code, _, err) = run(&["check", &d, "--config", &bad]);
    assert_eq!(code, 2);
    assert!(err.contains("no.such-rule"), "{err}");
    let (code, _, _) = run(&["check", &d, "--fail-on", "fatal"]);
    assert_eq!(code, 2);
}

#[test]
fn rules_lists_every_rule() {
    let (code, out, _) = run(&["rules", "--format", "json"]);
    assert_eq!(code, 0);
    let r: Value = serde_json::from_str(&out).unwrap();
    let ids: Vec<&str> = r["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "zookeeper.watch-table-bloat",
            "zookeeper.stale-connection-watch",
            "zookeeper.learner-queue-backlog",
            "netty.direct-memory-leak",
            "classloader.stopped-webapp-retained",
            "suspect.dominant-object",
            "suspect.class-accumulation",
        ]
    );
    for x in r["rules"].as_array().unwrap() {
        assert!(!x["thresholds"].as_array().unwrap().is_empty());
    }
    let (code, out, _) = run(&["rules"]);
    assert_eq!(code, 0);
    assert!(out.contains("zookeeper.learner-queue-backlog") && out.contains("min_packets"));
}

#[test]
fn analyze_opens_with_the_findings() {
    let d = dump("zk-learner-backlog");
    let (code, out, err) = run(&["-q", "analyze", &d]);
    assert_eq!(code, 0, "analyze reports, it does not gate: {err}");
    let findings_at = out
        .find("zookeeper.learner-queue-backlog")
        .expect("finding");
    let summary_at = out.find("Reachable").expect("summary");
    assert!(findings_at < summary_at);
    let (_, out, _) = run(&["-q", "analyze", &d, "--format", "json"]);
    let r: Value = serde_json::from_str(&out).unwrap();
    let keys: Vec<&String> = r.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "schema",
            "dump",
            "findings",
            "summary",
            "top",
            "histogram",
            "warnings"
        ]
    );
    assert_eq!(r["findings"][0]["rule"], "zookeeper.learner-queue-backlog");
    assert!(r["findings"][0]["objects"][0]["id"]
        .as_str()
        .unwrap()
        .starts_with("0x"));
}

#[test]
fn text_check_shows_the_verdict() {
    let d = dump("zk-stale-watch");
    let (code, out, _) = run(&["-q", "check", &d]);
    assert_eq!(code, 1);
    assert!(out.contains("[CRITICAL] zookeeper.stale-connection-watch"));
    assert!(out.contains("check FAILED"));
    assert!(out.contains("pull request 590"));
}

/// The JDK 17 collection walkers of HeapView on the real layouts of the fixtures.
mod walkers {
    use super::support::{fixture_bytes, Analysed};

    #[test]
    fn sets_maps_and_queues_of_a_zookeeper_server() {
        let data = fixture_bytes("rules/zk-stale-watch.hprof.gz");
        let a = Analysed::new(&data);
        let v = a.view();
        // ServerCnxnFactory.cnxns: Collections$SetFromMap over a ConcurrentHashMap.
        let factory = v.instances_named("org.apache.zookeeper.server.ServerCnxnFactory", true);
        assert_eq!(factory.len(), 1);
        let cnxns = v.field_ref(factory[0], "cnxns").unwrap();
        assert_eq!(v.class(cnxns).name, "java.util.Collections$SetFromMap");
        let live = v.set_elements(cnxns).unwrap();
        assert_eq!(live.len(), 5);
        assert_eq!(v.collection_size(cnxns), Some(5));
        assert!(live
            .iter()
            .all(|&c| v.is_instance_of(c, "org.apache.zookeeper.server.ServerCnxn")));
        // DataTree.nodes -> NodeHashMapImpl.nodes: a ConcurrentHashMap of all znodes.
        let dt = v.instances_named("org.apache.zookeeper.server.DataTree", false)[0];
        let nodes = v
            .field_ref(dt, "nodes")
            .and_then(|n| v.field_ref(n, "nodes"))
            .unwrap();
        let entries = v.map_entries(nodes).unwrap();
        assert_eq!(Some(entries.len() as i64), v.collection_size(nodes));
        assert!(entries
            .iter()
            .any(|(k, _)| k.and_then(|k| v.string(k)).as_deref() == Some("/jobs")));
        // WatchManager.watchTable: HashMap<String, HashSet<Watcher>>; /jobs has 40 + 0
        // stale watchers and no live one.
        let wm = v.field_ref(dt, "childWatches").unwrap();
        let table = v
            .map_entries(v.field_ref(wm, "watchTable").unwrap())
            .unwrap();
        let jobs = table
            .iter()
            .find(|(k, _)| k.and_then(|k| v.string(k)).as_deref() == Some("/jobs"))
            .and_then(|(_, s)| *s)
            .unwrap();
        assert_eq!(v.set_elements(jobs).unwrap().len(), 40);
        assert_eq!(v.collection_size(jobs), Some(40));
        // NIOServerCnxn.outgoingBuffers: a LinkedBlockingQueue with its AtomicInteger count.
        let c = v.set_elements(jobs).unwrap()[0];
        let q = v.field_ref(c, "outgoingBuffers").unwrap();
        let items = v.queue_items(q).unwrap();
        assert_eq!(Some(items.len() as i64), v.collection_size(q));
        assert_eq!(v.bool_field(c, "stale"), Some(true));
    }

    #[test]
    fn array_list_and_atomic_long_of_netty() {
        let data = fixture_bytes("rules/netty-direct-leak.hprof.gz");
        let a = Analysed::new(&data);
        let v = a.view();
        let pending = v.static_ref("NettyDirectLeak", "PENDING").unwrap();
        assert_eq!(v.class(pending).name, "java.util.ArrayList");
        assert_eq!(v.list_elements(pending).unwrap().len(), 1000);
        let counter = v
            .static_ref(
                "io.netty.util.internal.PlatformDependent",
                "DIRECT_MEMORY_COUNTER",
            )
            .unwrap();
        assert_eq!(v.atomic_value(counter), Some(51_200_000));
    }
}

/// Rules on a hand-made dump whose classes have the right names but the wrong shapes:
/// fields that point to the wrong kind of object, to themselves, or to nothing.
mod odd_shapes {
    use super::support::{Analysed, Heap, World, OBJECT};
    use heapsleuth::rules::{self, config::CheckConfig, RuleConfig, Severity};

    #[test]
    fn rules_do_not_panic_and_stay_quiet() {
        let mut w = World::new(8, 2);
        let node = w.node;
        let mut h = Heap::new(8);
        let mut next_class = 0x1000u64;
        let mut class =
            |w: &mut World, h: &mut Heap, name: &str, fields: &[&str], statics: &[(&str, u64)]| {
                next_class += 0x10;
                let id = next_class;
                w.w.load_class(id, name);
                let f: Vec<(u64, u8)> = fields.iter().map(|f| (w.w.string(f), OBJECT)).collect();
                let s: Vec<(u64, u64)> = statics.iter().map(|(n, v)| (w.w.string(n), *v)).collect();
                h.class(id, w.object, &f, &s);
                h.root_class(id);
                id
            };
        // A Node instance that refers to itself, and a byte[].
        let (odd, arr) = (0x9000u64, 0x9100u64);
        h.instance(odd, node, &[odd, odd]);
        h.byte_array(arr, &[1, 2, 3]);
        let wm = class(
            &mut w,
            &mut h,
            "org/apache/zookeeper/server/watch/WatchManager",
            &["watchTable", "watch2Paths"],
            &[],
        );
        let wmo = class(
            &mut w,
            &mut h,
            "org/apache/zookeeper/server/watch/WatchManagerOptimized",
            &["pathWatches", "watcherBitIdMap"],
            &[],
        );
        let dt = class(
            &mut w,
            &mut h,
            "org/apache/zookeeper/server/DataTree",
            &["dataWatches", "childWatches"],
            &[],
        );
        let factory = class(
            &mut w,
            &mut h,
            "org/apache/zookeeper/server/ServerCnxnFactory",
            &["cnxns"],
            &[],
        );
        let lh = class(
            &mut w,
            &mut h,
            "org/apache/zookeeper/server/quorum/LearnerHandler",
            &["queuedPackets", "sock", "learnerType", "queuedPacketsSize"],
            &[],
        );
        let leader = class(
            &mut w,
            &mut h,
            "org/apache/zookeeper/server/quorum/Leader",
            &["learners", "observingLearners"],
            &[],
        );
        let queue = class(
            &mut w,
            &mut h,
            "java/util/concurrent/LinkedBlockingQueue",
            &["head", "count"],
            &[],
        );
        let qnode = class(
            &mut w,
            &mut h,
            "java/util/concurrent/LinkedBlockingQueue$Node",
            &["item", "next"],
            &[],
        );
        let _pd = class(
            &mut w,
            &mut h,
            "io/netty/util/internal/PlatformDependent",
            &[],
            &[("DIRECT_MEMORY_COUNTER", odd), ("DIRECT_MEMORY_LIMIT", arr)],
        );
        let loader = class(
            &mut w,
            &mut h,
            "org/apache/catalina/loader/WebappClassLoaderBase",
            &["state", "resources"],
            &[],
        );
        let ids = [
            0xA000u64, 0xA100, 0xA200, 0xA300, 0xA400, 0xA500, 0xA600, 0xA700, 0xA800, 0xA900,
        ];
        h.instance(ids[0], wm, &[odd, arr]);
        h.instance(ids[1], wmo, &[arr, 0]);
        h.instance(ids[2], dt, &[ids[0], ids[1]]);
        h.instance(ids[3], factory, &[odd]);
        // A queue whose nodes form a cycle of two.
        h.instance(ids[6], qnode, &[odd, ids[7]]);
        h.instance(ids[7], qnode, &[odd, ids[6]]);
        h.instance(ids[5], queue, &[ids[6], arr]);
        h.instance(ids[4], lh, &[ids[5], odd, arr, odd]);
        h.instance(ids[8], leader, &[odd, arr]);
        h.instance(ids[9], loader, &[odd, arr]);
        for id in ids {
            h.root(id);
        }
        h.root(odd);
        w.w.segment(&h);
        w.w.end();
        let data = w.w.buf.clone();
        let a = Analysed::new(&data);
        let v = a.view();
        for rule in rules::all() {
            let found = rule.check(&v, &RuleConfig::new(rule.as_ref(), None));
            assert!(
                found
                    .iter()
                    .all(|f| f.severity == Severity::Info || rule.id().starts_with("suspect.")),
                "{}: {found:?}",
                rule.id()
            );
        }
        let cfg = CheckConfig::parse("[[budget]]\nclass = \"Node\"\nmax_instances = 0\n").unwrap();
        let found = rules::run(&v, &cfg);
        assert!(found.iter().any(|f| f.rule == "budget"));
        assert!(
            found.iter().all(|f| !f.title.contains("could not read")),
            "{found:?}"
        );
        // The walkers end on the cycle.
        assert!(v.queue_items(v.node(ids[5]).unwrap()).unwrap().len() <= v.len());
    }
}
