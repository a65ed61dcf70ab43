//! `zookeeper.learner-queue-backlog`: a leader's LearnerHandler whose `queuedPackets`
//! backlog has no consumer (INCIDENTS.md, incident 2: `Leader.removeLearnerHandler` left a
//! dead observer's handler in `observingLearners`; ZooKeeper 3.3.x, fixed in 3.4).
//!
//! Reads `org.apache.zookeeper.server.quorum.LearnerHandler{queuedPackets:
//! LinkedBlockingQueue<QuorumPacket{data: byte[]}>, queuedPacketsSize: AtomicLong, sid,
//! learnerType, sock: java.net.Socket{closed}}` and the `learners` / `observingLearners`
//! HashSets of every `org.apache.zookeeper.server.quorum.Leader`. A handler is dead if its
//! socket is closed, if its thread is not alive (a terminated Thread is no GC root), or if
//! it is in `observingLearners` but not in `learners`. Checked on 3.8.0.

use std::collections::HashSet;

use crate::rules::{mb, percent, share, Finding, Rule, RuleConfig, RuleInfo, Severity, Threshold};
use crate::view::HeapView;

/// The rule.
pub struct LearnerQueueBacklog;

const THRESHOLDS: &[Threshold] = &[
    Threshold {
        name: "min_packets",
        default: 1000.0,
        help: "queued packets of one handler before the rule fires",
    },
    Threshold {
        name: "warning_share",
        default: 0.05,
        help: "share of the reachable heap retained by a handler for a warning (dead handlers warn at any share)",
    },
    Threshold {
        name: "critical_share",
        default: 0.25,
        help: "share of the reachable heap for critical",
    },
];

const ADVICE_DEAD: &str = "The leader keeps queueing proposals and commits for a learner whose connection is gone: nothing drains its queuedPackets, so it grows with every write until the leader runs out of heap. In ZooKeeper 3.3.x Leader.removeLearnerHandler removed a disconnected observer's handler from learners and forwardingFollowers but not from observingLearners (fixed in 3.4.0): upgrade the ensemble to 3.4+ (3.8 recommended). Until then, restart the leader after an observer's link drops, and keep observers over flaky links from reconnecting in a loop.";

const ADVICE_LIVE: &str = "A learner is far behind the leader: its queue of packets grows faster than the connection drains it. Check the network to that learner (sid in the metrics) and its disk and GC; ZooKeeper drops a learner that falls syncLimit ticks behind, so consider lowering syncLimit, and spread observers over their own leader-facing links.";

fn in_set(view: &HeapView<'_>, leaders: &[u32], field: &str) -> HashSet<u32> {
    leaders
        .iter()
        .filter_map(|&l| view.field_ref(l, field))
        .filter_map(|s| view.set_elements(s))
        .flatten()
        .collect()
}

const INFO: RuleInfo = RuleInfo {
    id: "zookeeper.learner-queue-backlog",
    pack: "zookeeper",
    description: "a ZooKeeper leader's LearnerHandler with a large queuedPackets backlog, above all a dead one (socket closed, or in observingLearners but not in learners)",
    thresholds: THRESHOLDS,
};

impl Rule for LearnerQueueBacklog {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, view: &HeapView<'_>, cfg: &RuleConfig) -> Vec<Finding> {
        let handlers =
            view.instances_named("org.apache.zookeeper.server.quorum.LearnerHandler", true);
        if handlers.is_empty() {
            return Vec::new();
        }
        let leaders = view.instances_named("org.apache.zookeeper.server.quorum.Leader", true);
        let learners = in_set(view, &leaders, "learners");
        let observing = in_set(view, &leaders, "observingLearners");
        let mut out = Vec::new();
        for h in handlers {
            if !view.dom.is_reachable(h) {
                continue;
            }
            let Some(queue) = view.field_ref(h, "queuedPackets") else {
                continue;
            };
            let packets = view.collection_size(queue).unwrap_or(0).max(0) as u64;
            if packets == 0 || packets < cfg.count("min_packets") {
                continue;
            }
            let items = view.queue_items(queue).unwrap_or_default();
            let data_bytes: u64 = items
                .iter()
                .filter_map(|&p| view.field_ref(p, "data"))
                .filter_map(|d| view.array_len(d))
                .sum();
            let queued_bytes = view
                .field_ref(h, "queuedPacketsSize")
                .and_then(|a| view.atomic_value(a));
            let sid = view.int_field(h, "sid");
            let learner_type = view
                .field_ref(h, "learnerType")
                .and_then(|t| view.enum_name(t));
            let sock_closed = view
                .field_ref(h, "sock")
                .and_then(|s| view.bool_field(s, "closed"));
            let alive = view.is_gc_root(h);
            let in_learners = learners.contains(&h);
            let in_observing = observing.contains(&h);
            let orphaned = in_observing && !in_learners;
            let dead = sock_closed == Some(true) || !alive || orphaned;
            let retained = view.retained(h);
            let heap_share = share(view, retained);
            let mut severity = Severity::for_share(
                heap_share,
                cfg.get("warning_share"),
                cfg.get("critical_share"),
            );
            if dead {
                severity = severity.max(Severity::Warning);
            }
            let who = format!(
                "{} sid {}",
                learner_type.as_deref().unwrap_or("learner"),
                sid.map(|s| s.to_string()).unwrap_or_else(|| "?".into())
            );
            let state = if dead {
                let mut why = Vec::new();
                if sock_closed == Some(true) {
                    why.push("socket closed");
                }
                if !alive {
                    why.push("thread ended");
                }
                if orphaned {
                    why.push("in observingLearners but not in learners");
                }
                format!("dead ({})", why.join(", "))
            } else {
                "connected".to_string()
            };
            let mut f = Finding::new(
                self.id(),
                severity,
                format!(
                    "LearnerHandler of {who}, {state}, has {packets} queued packets retaining {} ({} of the heap)",
                    mb(retained),
                    percent(heap_share)
                ),
                if dead { ADVICE_DEAD } else { ADVICE_LIVE },
            );
            f.metric("queued_packets", packets);
            if let Some(b) = queued_bytes {
                f.metric("queued_bytes", b);
            }
            f.metric("queued_data_bytes", data_bytes);
            f.set_retained(retained, heap_share);
            if let Some(s) = sid {
                f.metric("sid", s);
            }
            if let Some(t) = &learner_type {
                f.metric("learner_type", t.as_str());
            }
            if let Some(c) = sock_closed {
                f.metric("socket_closed", c.to_string());
            }
            f.metric("thread_alive", alive.to_string());
            f.metric("in_learners", in_learners.to_string());
            f.metric("in_observingLearners", in_observing.to_string());
            if let Some(name) = view.string_field(h, "name") {
                f.metric("thread_name", name);
            }
            f.objects = vec![h, queue];
            out.push(f);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_absent_no_finding() {
        crate::rules::testing::absent_on_tiny(&LearnerQueueBacklog);
    }
}
