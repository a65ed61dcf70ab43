//! Walkers over the JDK's collections as they sit in the heap: `HashMap` and
//! `LinkedHashMap` (tree bins included), `HashSet`, `ConcurrentHashMap`,
//! `LinkedBlockingQueue`, `ArrayList`, `LinkedList`, and their own size bookkeeping.
//! Every walk is bounded by the number of objects, so a cycle in a damaged dump ends.

use crate::hprof::heap::Value;

use super::{HeapView, MAX_ELEMENTS};

impl HeapView<'_> {
    /// The most steps a walk of linked nodes takes: a collection cannot hold more distinct
    /// nodes than the heap has objects, so a longer walk is a cycle in a damaged dump.
    fn max_walk(&self) -> usize {
        self.len().min(MAX_ELEMENTS)
    }

    /// Follows a reference field; `None` for a missing field, null or a non-reference.
    fn follow(&self, v: u32, name: &str) -> Option<u32> {
        self.field_ref(v, name)
    }

    /// The (key, value) pairs of a `java.util.HashMap` (or LinkedHashMap, or a subclass)
    /// or a `java.util.concurrent.ConcurrentHashMap`, from its table: each bin's `next`
    /// chain (treeified HashMap bins keep it too; ConcurrentHashMap `TreeBin`s are read
    /// through `first`). `None` if `map` has no `table` array. Null keys or values are
    /// `None`.
    pub fn map_entries(&self, map: u32) -> Option<Vec<(Option<u32>, Option<u32>)>> {
        let table_id = match self.field(map, "table")? {
            Value::Object(id) => id,
            _ => return None,
        };
        if table_id == 0 {
            return Some(Vec::new());
        }
        let table = self.node(table_id)?;
        let slots = self.array_refs(table)?;
        let mut out = Vec::new();
        for id in slots {
            if id == 0 {
                continue;
            }
            let Some(mut node) = self.node(id) else {
                continue;
            };
            // ConcurrentHashMap: a TreeBin holds its nodes under `first`; a
            // ForwardingNode (mid-resize) points at the new table, whose nodes are copies.
            if self.class(node).name.ends_with("ConcurrentHashMap$TreeBin") {
                match self.follow(node, "first") {
                    Some(f) => node = f,
                    None => continue,
                }
            } else if self
                .class(node)
                .name
                .ends_with("ConcurrentHashMap$ForwardingNode")
            {
                continue;
            }
            let mut cur = Some(node);
            let mut steps = 0usize;
            while let Some(n) = cur {
                steps += 1;
                if steps > self.max_walk() || out.len() > self.max_walk() {
                    return Some(out);
                }
                let key = self.follow(n, "key");
                let value = self.follow(n, "value").or_else(|| self.follow(n, "val"));
                out.push((key, value));
                cur = self.follow(n, "next");
            }
        }
        Some(out)
    }

    /// The elements of a set: `java.util.HashSet` / `LinkedHashSet` (`map`),
    /// `Collections$SetFromMap` (`m`), `ConcurrentHashMap$KeySetView` (`map`), or a map's
    /// keys if given a map. `None` for other shapes.
    pub fn set_elements(&self, set: u32) -> Option<Vec<u32>> {
        let backing = if self.class(set).field("table").is_some() {
            set
        } else {
            self.follow(set, "map").or_else(|| self.follow(set, "m"))?
        };
        let entries = self.map_entries(backing)?;
        Some(entries.into_iter().filter_map(|(k, _)| k).collect())
    }

    /// The items of a `java.util.concurrent.LinkedBlockingQueue` (or another queue linked
    /// through `head` -> `next` with `item`s; the head is a dummy), in queue order.
    pub fn queue_items(&self, queue: u32) -> Option<Vec<u32>> {
        let head = self.follow(queue, "head")?;
        let mut out = Vec::new();
        let mut cur = self.follow(head, "next");
        let mut prev = head;
        let mut steps = 0usize;
        while let Some(n) = cur {
            steps += 1;
            if n == prev || steps > self.max_walk() {
                break;
            }
            if let Some(item) = self.follow(n, "item") {
                out.push(item);
            }
            prev = n;
            cur = self.follow(n, "next");
        }
        Some(out)
    }

    /// The elements of a `java.util.ArrayList` (`elementData` up to `size`), a
    /// `java.util.LinkedList` (`first` -> `next`, `item`), or an object array. Null
    /// elements are skipped.
    pub fn list_elements(&self, list: u32) -> Option<Vec<u32>> {
        if let Some(ids) = self.array_refs(list) {
            return Some(ids.into_iter().filter_map(|id| self.node(id)).collect());
        }
        if let Some(data) = self.follow(list, "elementData") {
            let size = self.int_field(list, "size")?.max(0) as usize;
            let ids = self.array_refs(data)?;
            return Some(
                ids.into_iter()
                    .take(size)
                    .filter_map(|id| self.node(id))
                    .collect(),
            );
        }
        if self.class(list).field("first").is_some() {
            let mut out = Vec::new();
            let mut cur = self.follow(list, "first");
            let mut steps = 0usize;
            while let Some(n) = cur {
                steps += 1;
                if steps > self.max_walk() {
                    break;
                }
                if let Some(item) = self.follow(n, "item") {
                    out.push(item);
                }
                cur = self.follow(n, "next");
            }
            return Some(out);
        }
        None
    }

    /// The number of elements of a collection, from its own bookkeeping: `size` (HashMap,
    /// ArrayList, LinkedList), `map`/`m` (HashSet, `Collections$SetFromMap`), `baseCount` +
    /// `counterCells` (ConcurrentHashMap), `count` (LinkedBlockingQueue's AtomicInteger),
    /// `elementCount` (ZooKeeper's BitHashSet). `None` for other shapes.
    pub fn collection_size(&self, v: u32) -> Option<i64> {
        let class = self.class(v);
        if class.field("baseCount").is_some() {
            let mut n = self.int_field(v, "baseCount")?;
            if let Some(cells) = self.field_ref(v, "counterCells") {
                for id in self.array_refs(cells).unwrap_or_default() {
                    if let Some(c) = self.node(id) {
                        n += self.int_field(c, "value").unwrap_or(0);
                    }
                }
            }
            return Some(n);
        }
        if class.field("size").is_some() {
            return self.int_field(v, "size");
        }
        if class.field("elementCount").is_some() {
            return self.int_field(v, "elementCount");
        }
        if class.field("count").is_some() {
            return match self.field(v, "count")? {
                Value::Object(_) => self.atomic_value(self.field_ref(v, "count")?),
                _ => self.int_field(v, "count"),
            };
        }
        let inner = self
            .field_ref(v, "map")
            .or_else(|| self.field_ref(v, "m"))?;
        if inner == v {
            return None;
        }
        self.collection_size(inner)
    }
}
