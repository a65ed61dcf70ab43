//! `netty.direct-memory-leak`: netty's own off-heap accounting read from the dump
//! (INCIDENTS.md, incident 4: a 256-byte direct buffer leaked per client disconnect, 1 GB
//! over a weekend, `OutOfDirectMemoryError` at the 2 GB limit).
//!
//! Reads the statics of `io.netty.util.internal.PlatformDependent`:
//! `DIRECT_MEMORY_COUNTER` (an `AtomicLong`, null when netty does not count because it
//! uses Cleaner-backed buffers) and `DIRECT_MEMORY_LIMIT` (`long`); then the reachable
//! direct buffers: netty ByteBufs (`io.netty.buffer.AbstractByteBuf` subclasses whose
//! class name says `Direct`, capacity from `capacity` or `length`, `refCnt` > 0),
//! the `java.nio.DirectByteBuffer`s that own Cleaner-backed memory (`capacity`,
//! `cleaner`; not views (`att`)), and netty's pooled arena chunks
//! (`io.netty.buffer.PoolChunk` with `chunkSize`, direct when `memory` is a
//! DirectByteBuffer). Checked on 4.1.48.

use crate::hprof::heap::Value;
use crate::rules::{mb, percent, Finding, Rule, RuleConfig, RuleInfo, Severity, Threshold};
use crate::view::HeapView;

/// The rule.
pub struct DirectMemoryLeak;

const PLATFORM: &str = "io.netty.util.internal.PlatformDependent";

const THRESHOLDS: &[Threshold] = &[
    Threshold {
        name: "min_used_bytes",
        default: 8.0 * 1024.0 * 1024.0,
        help: "direct bytes netty counts as allocated before the rule fires",
    },
    Threshold {
        name: "warning_ratio",
        default: 0.25,
        help: "used / DIRECT_MEMORY_LIMIT for a warning",
    },
    Threshold {
        name: "critical_ratio",
        default: 0.5,
        help: "used / DIRECT_MEMORY_LIMIT for critical",
    },
];

const ADVICE: &str = "netty has allocated this much direct (off-heap) memory without a Cleaner: the JVM's own direct-memory metrics do not see it, and nothing frees it until each ByteBuf is released. When far more is counted than the reachable buffers hold, buffers were dropped without release() (typically an exception between allocation and write, as in socket.io's disconnect path): find the allocation site with -Dio.netty.leakDetection.level=paranoid (netty then logs LEAK: ByteBuf.release() was not called, with the access records), release in a finally block or use ReferenceCountUtil.release / SimpleChannelInboundHandler, and watch PlatformDependent.usedDirectMemory() (or the allocator's metric) in production. io.netty.maxDirectMemory sets the limit; raising it only buys time.";

struct Buffers {
    count: u64,
    capacity: u64,
    nodes: Vec<u32>,
}

fn netty_direct_buffers(view: &HeapView<'_>) -> Buffers {
    let mut b = Buffers {
        count: 0,
        capacity: 0,
        nodes: Vec::new(),
    };
    for v in view.instances_named("io.netty.buffer.AbstractByteBuf", true) {
        if !view.dom.is_reachable(v) || !view.class(v).name.contains("Direct") {
            continue;
        }
        if view.int_field(v, "refCnt").is_some_and(|r| r <= 0) {
            continue;
        }
        let cap = view
            .int_field(v, "capacity")
            .or_else(|| view.int_field(v, "length"))
            .unwrap_or(0)
            .max(0) as u64;
        b.count += 1;
        b.capacity += cap;
        b.nodes.push(v);
    }
    b
}

const INFO: RuleInfo = RuleInfo {
    id: "netty.direct-memory-leak",
    pack: "netty",
    description: "netty's direct memory counter (PlatformDependent.DIRECT_MEMORY_COUNTER) close to its limit, against what reachable direct buffers hold",
    thresholds: THRESHOLDS,
};

impl Rule for DirectMemoryLeak {
    fn info(&self) -> &'static RuleInfo {
        &INFO
    }

    fn check(&self, view: &HeapView<'_>, cfg: &RuleConfig) -> Vec<Finding> {
        if view.classes_named(PLATFORM).is_empty() {
            return Vec::new();
        }
        let Some(counter) = view.static_ref(PLATFORM, "DIRECT_MEMORY_COUNTER") else {
            // netty does not count (Cleaner-backed buffers): the JVM's own metrics apply.
            return Vec::new();
        };
        let Some(used) = view.atomic_value(counter) else {
            return Vec::new();
        };
        let limit = match view.static_value(PLATFORM, "DIRECT_MEMORY_LIMIT") {
            Some(Value::Long(l)) => Some(l),
            _ => None,
        };
        if used < 0 || (used as u64) < cfg.count("min_used_bytes") {
            return Vec::new();
        }
        let used = used as u64;
        let ratio = match limit {
            Some(l) if l > 0 => used as f64 / l as f64,
            _ => 0.0,
        };
        let severity =
            Severity::for_share(ratio, cfg.get("warning_ratio"), cfg.get("critical_ratio"));
        let bufs = netty_direct_buffers(view);
        // JDK direct buffers that own their memory (ByteBuffer.allocateDirect, with a
        // `cleaner`): not wrapped by a netty ByteBuf counted above, not a view of another
        // buffer (`att`); JNI-made and mapped buffers (the jimage) have no cleaner.
        let wrapped: std::collections::HashSet<u32> = bufs
            .nodes
            .iter()
            .filter_map(|&b| view.field_ref(b, "buffer"))
            .collect();
        let nio: Vec<u32> = view
            .instances_named("java.nio.DirectByteBuffer", true)
            .into_iter()
            .filter(|&v| {
                view.dom.is_reachable(v)
                    && !wrapped.contains(&v)
                    && view.field_ref(v, "att").is_none()
                    && view.field_ref(v, "cleaner").is_some()
            })
            .collect();
        let nio_capacity: u64 = nio
            .iter()
            .filter_map(|&v| view.int_field(v, "capacity"))
            .map(|c| c.max(0) as u64)
            .sum();
        let (mut chunks, mut chunk_bytes) = (0u64, 0u64);
        for c in view.instances_named("io.netty.buffer.PoolChunk", true) {
            let direct = view
                .field_ref(c, "memory")
                .is_some_and(|m| view.is_instance_of(m, "java.nio.DirectByteBuffer"));
            if direct && view.dom.is_reachable(c) {
                chunks += 1;
                chunk_bytes += view.int_field(c, "chunkSize").unwrap_or(0).max(0) as u64;
            }
        }
        let unaccounted = used.saturating_sub(bufs.capacity + chunk_bytes);
        let limit_text = limit
            .map(|l| format!("of the {} limit ({})", mb(l.max(0) as u64), percent(ratio)))
            .unwrap_or_else(|| "(no limit recorded)".into());
        let mut f = Finding::new(
            self.id(),
            severity,
            format!(
                "netty counts {} of direct memory in use {limit_text}; reachable direct ByteBufs hold only {} in {} buffers, {} unaccounted for",
                mb(used),
                mb(bufs.capacity),
                bufs.count,
                mb(unaccounted)
            ),
            ADVICE,
        );
        f.metric("used", used);
        if let Some(l) = limit {
            f.metric("limit", l);
        }
        f.metric("share", ratio);
        f.metric("buffers", bufs.count);
        f.metric("buffer_capacity_bytes", bufs.capacity);
        f.metric("pool_chunks", chunks);
        f.metric("pool_chunk_bytes", chunk_bytes);
        f.metric("nio_direct_buffers", nio.len());
        f.metric("nio_direct_capacity_bytes", nio_capacity);
        f.metric("unaccounted_bytes", unaccounted);
        let mut objects = vec![counter];
        objects.extend(bufs.nodes.iter().take(20));
        f.retained = view.retained_together(&bufs.nodes);
        f.objects = objects;
        vec![f]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_absent_no_finding() {
        crate::rules::testing::absent_on_tiny(&DirectMemoryLeak);
    }
}
