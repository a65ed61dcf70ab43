//! The class table: names, hierarchy, flattened fields and shallow-size layouts.

use std::collections::HashMap;

use foldhash::fast::FixedState;

use crate::hprof::format::{BasicType, IdSize};
use crate::hprof::heap::{ClassDump, StaticField};
use crate::index::layout::{mirror_size, FieldLayout, OwnFields, VmModel};

/// An instance field with its place in the dump's instance data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Field {
    /// Field name.
    pub name: String,
    /// Field type.
    pub ty: BasicType,
    /// Byte offset of its value within an INSTANCE_DUMP's data.
    pub dump_offset: u32,
    /// Index of the class that declares it.
    pub declared_by: u32,
}

/// One class of the dump.
#[derive(Clone, Debug)]
pub struct ClassInfo {
    /// The class object id.
    pub id: u64,
    /// Java-style name: `java.lang.String`, `byte[]`, `java.lang.Object[][]`.
    pub name: String,
    /// The superclass, as an index into the class table.
    pub super_class: Option<u32>,
    /// The CLASS_DUMP as read (statics, constant pool references, own fields, loader).
    pub dump: ClassDump,
    /// Names of the static fields, parallel to `dump.statics`.
    pub static_names: Vec<String>,
    /// Every instance field, in dump order: this class's own first, then each super's.
    pub fields: Vec<Field>,
    /// Dump offsets of reference fields, for edge extraction.
    pub ref_offsets: Vec<u32>,
    /// Bytes of field data an INSTANCE_DUMP of this class carries.
    pub dump_size: u32,
    /// Shallow size of an instance in the JVM.
    pub instance_size: u32,
    /// Shallow size of the class's own mirror (its java.lang.Class object).
    pub mirror_size: u32,
    /// Element type, for array classes.
    pub elem: Option<BasicType>,
    /// File offset of the CLASS_DUMP sub-record (0 for classes the dump never defined).
    pub offset: u64,
    layout: FieldLayout,
}

impl ClassInfo {
    /// True for array classes.
    pub fn is_array(&self) -> bool {
        self.elem.is_some()
    }

    /// The static field called `name`, if any.
    pub fn static_field(&self, name: &str) -> Option<&StaticField> {
        self.static_names
            .iter()
            .position(|n| n == name)
            .map(|i| &self.dump.statics[i])
    }

    /// The instance field called `name`, the most derived one if several share the name.
    pub fn field(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|f| f.name == name)
    }
}

/// Turns an HPROF class name (`java/lang/String`, `[[I`, `[Ljava/lang/Object;`) into the
/// name a Java programmer reads (`java.lang.String`, `int[][]`, `java.lang.Object[]`).
pub fn java_name(raw: &str) -> String {
    let dims = raw.bytes().take_while(|&b| b == b'[').count();
    if dims == 0 {
        // Hidden classes (lambdas) are `Foo$$Lambda$14+0x0000000800c0b000` in the dump
        // and `Foo$$Lambda$14/0x0000000800c0b000` in Java's own output.
        return raw.replace('/', ".").replacen("+0x", "/0x", 1);
    }
    let elem = &raw[dims..];
    let base = match elem {
        "Z" => "boolean".to_string(),
        "C" => "char".to_string(),
        "F" => "float".to_string(),
        "D" => "double".to_string(),
        "B" => "byte".to_string(),
        "S" => "short".to_string(),
        "I" => "int".to_string(),
        "J" => "long".to_string(),
        e if e.starts_with('L') && e.ends_with(';') => e[1..e.len() - 1].replace('/', "."),
        e => e.replace('/', "."),
    };
    let mut s = base;
    for _ in 0..dims {
        s.push_str("[]");
    }
    s
}

/// The element type of a one-dimensional primitive array class name, like `[B`.
fn primitive_array_elem(raw: &str) -> Option<BasicType> {
    Some(match raw {
        "[Z" => BasicType::Boolean,
        "[C" => BasicType::Char,
        "[F" => BasicType::Float,
        "[D" => BasicType::Double,
        "[B" => BasicType::Byte,
        "[S" => BasicType::Short,
        "[I" => BasicType::Int,
        "[J" => BasicType::Long,
        _ => return None,
    })
}

/// Fields the JVM adds to some JDK classes that class dumps do not list (JDK 17's
/// `javaClasses.hpp` injected fields); they count toward the instance size.
/// `(class, primitive field sizes on 64-bit, reference fields)`.
const INJECTED: &[(&str, &[u32], usize)] = &[
    ("java.lang.Class", &[8, 8, 4, 4], 3),
    ("java.lang.ClassLoader", &[8], 0),
    ("java.lang.Module", &[8], 0),
    ("java.lang.invoke.MemberName", &[8], 0),
    ("java.lang.invoke.ResolvedMethodName", &[8], 1),
    (
        "java.lang.invoke.MethodHandleNatives$CallSiteContext",
        &[8, 8],
        0,
    ),
    ("java.lang.StackFrameInfo", &[2], 0),
    ("java.lang.InternalError", &[1], 0),
];

/// JDK classes with `@Contended` fields (the dump does not record annotations):
/// `(class, None)` for a contended class, `(class, Some(fields))` for one contended group.
const CONTENDED: &[(&str, Option<&[&str]>)] = &[
    (
        "java.lang.Thread",
        Some(&[
            "threadLocalRandomSeed",
            "threadLocalRandomProbe",
            "threadLocalRandomSecondarySeed",
        ]),
    ),
    ("java.util.concurrent.ConcurrentHashMap$CounterCell", None),
    ("java.util.concurrent.atomic.Striped64$Cell", None),
    ("java.util.concurrent.Exchanger$Node", None),
];

/// A class's own fields (`own`, named, in dump order) as the layout simulation needs them:
/// sizes, injected fields added, `@Contended` groups apart.
fn own_layout_fields(
    class_name: &str,
    own: &[Field],
    model: &VmModel,
    id_size: IdSize,
) -> OwnFields {
    let contended = CONTENDED
        .iter()
        .find(|(name, _)| *name == class_name)
        .map(|(_, g)| *g);
    let mut fields = OwnFields {
        contended_class: matches!(contended, Some(None)),
        ..OwnFields::default()
    };
    let mut group = (Vec::new(), 0);
    for f in own {
        let in_group = matches!(contended, Some(Some(names)) if names.contains(&f.name.as_str()));
        let (prims, refs) = if in_group {
            (&mut group.0, &mut group.1)
        } else {
            (&mut fields.primitives, &mut fields.references)
        };
        if f.ty == BasicType::Object {
            *refs += 1;
        } else {
            prims.push(model.field_size(f.ty));
        }
    }
    if !group.0.is_empty() || group.1 > 0 {
        fields.contended_groups.push(group);
    }
    if let Some((_, p, r)) = INJECTED.iter().find(|(name, _, _)| *name == class_name) {
        // Injected pointer-sized fields are 4 bytes on 32-bit VMs.
        let narrow = |&s: &u32| {
            if s == 8 && id_size == IdSize::Four {
                4
            } else {
                s
            }
        };
        fields.primitives.extend(p.iter().map(narrow));
        fields.references += r;
    }
    fields
}

/// The most field bytes a missing superclass chain is taken to hold (1 MiB).
const MAX_OPAQUE_BYTES: u32 = 1 << 20;

/// Stands in for a superclass the dump does not define. HotSpot's CLASS_DUMP states the
/// instance's field bytes including every superclass's, so the difference from the class's
/// own fields is what the missing superclasses hold: kept as opaque bytes, so that
/// instances match their class and their size counts those bytes (in the dump's
/// encoding, which widens compressed references: an upper bound).
fn missing_super_layout(
    dump: &ClassDump,
    id_size: IdSize,
    model: &VmModel,
) -> (Vec<Field>, FieldLayout, u32) {
    let own: u32 = dump
        .fields
        .iter()
        .map(|f| f.ty.dump_size(id_size) as u32)
        .sum();
    // A class file holds at most 65,535 fields of at most 8 bytes: more than this is a
    // corrupt size, and capping it keeps the layout arithmetic of subclasses far from u32's
    // limit (their instances then count as layout mismatches).
    let missing = dump.instance_size.saturating_sub(own).min(MAX_OPAQUE_BYTES);
    if missing == 0 {
        return (Vec::new(), FieldLayout::root(model), 0);
    }
    // One opaque block, not one field per 8 bytes: `missing` comes from the file, and a
    // corrupt instance size must not become an allocation.
    (Vec::new(), FieldLayout::opaque(model, missing), missing)
}

/// The class table of a dump.
#[derive(Debug, Default)]
pub struct Classes {
    /// All classes; indices are stable class indices.
    pub list: Vec<ClassInfo>,
    /// Consulted once per object while sizing, so it hashes with foldhash, not SipHash.
    by_id: HashMap<u64, u32, FixedState>,
    /// Index of java.lang.Class, whose instances class dumps are.
    pub class_class: Option<u32>,
    /// Indices of the primitive array classes, by basic type code.
    prim_arrays: [Option<u32>; 12],
    /// Classes whose superclass id names no class of the dump. The field bytes their class
    /// dump declares beyond their own stand for the missing superclass's fields: counted in
    /// sizes, never read as references.
    pub missing_supers: u64,
}

impl Classes {
    /// Builds the table from the class dumps and the LOAD_CLASS names (`class id -> name`).
    pub fn build(
        dumps: Vec<(u64, ClassDump)>,
        names: &HashMap<u64, String>,
        field_name: &dyn Fn(u64) -> String,
        id_size: IdSize,
        model: &VmModel,
    ) -> Classes {
        let mut list: Vec<ClassInfo> = Vec::with_capacity(dumps.len());
        let mut by_id = HashMap::with_capacity_and_hasher(dumps.len(), FixedState::default());
        for (offset, dump) in dumps {
            if by_id.contains_key(&dump.id) {
                continue;
            }
            let raw = names
                .get(&dump.id)
                .cloned()
                .unwrap_or_else(|| format!("<unnamed class 0x{:x}>", dump.id));
            by_id.insert(dump.id, list.len() as u32);
            let elem = if raw.starts_with('[') {
                Some(primitive_array_elem(&raw).unwrap_or(BasicType::Object))
            } else {
                None
            };
            let static_names = dump.statics.iter().map(|s| field_name(s.name_id)).collect();
            list.push(ClassInfo {
                id: dump.id,
                name: java_name(&raw),
                super_class: None,
                dump,
                static_names,
                fields: Vec::new(),
                ref_offsets: Vec::new(),
                dump_size: 0,
                instance_size: 0,
                mirror_size: 0,
                elem,
                offset,
                layout: FieldLayout::default(),
            });
        }
        let mut classes = Classes {
            list,
            by_id,
            class_class: None,
            prim_arrays: [None; 12],
            missing_supers: 0,
        };
        for i in 0..classes.list.len() {
            let s = classes.list[i].dump.super_id;
            classes.list[i].super_class =
                classes.by_id.get(&s).copied().filter(|&k| k as usize != i);
            if s != 0 && classes.list[i].super_class.is_none() {
                classes.missing_supers += 1;
            }
        }
        // Primitive array classes the dump lacks still need a class to count under.
        for ty in [
            BasicType::Boolean,
            BasicType::Char,
            BasicType::Float,
            BasicType::Double,
            BasicType::Byte,
            BasicType::Short,
            BasicType::Int,
            BasicType::Long,
        ] {
            let name = java_name(ty.array_descriptor());
            let found = classes.list.iter().position(|c| c.name == name);
            let idx = match found {
                Some(i) => i as u32,
                None => classes.add_synthetic(&name, Some(ty)),
            };
            classes.prim_arrays[ty as usize] = Some(idx);
        }
        classes.class_class = classes
            .list
            .iter()
            .position(|c| c.name == "java.lang.Class")
            .map(|i| i as u32);
        classes.compute_layouts(field_name, id_size, model);
        classes
    }

    /// Adds a class the dump references but never defines; returns its index.
    pub fn add_synthetic(&mut self, name: &str, elem: Option<BasicType>) -> u32 {
        let idx = self.list.len() as u32;
        self.list.push(ClassInfo {
            id: 0,
            name: name.to_string(),
            super_class: None,
            dump: ClassDump {
                id: 0,
                super_id: 0,
                loader_id: 0,
                signers_id: 0,
                protection_domain_id: 0,
                instance_size: 0,
                constant_pool_refs: Vec::new(),
                statics: Vec::new(),
                fields: Vec::new(),
            },
            static_names: Vec::new(),
            fields: Vec::new(),
            ref_offsets: Vec::new(),
            dump_size: 0,
            instance_size: 16,
            mirror_size: 0,
            elem,
            offset: 0,
            layout: FieldLayout::default(),
        });
        idx
    }

    /// Recomputes fields and sizes for another object geometry.
    pub fn relayout(
        &mut self,
        field_name: &dyn Fn(u64) -> String,
        id_size: IdSize,
        model: &VmModel,
    ) {
        self.compute_layouts(field_name, id_size, model);
    }

    /// Computes flattened fields and sizes, superclasses before subclasses.
    fn compute_layouts(
        &mut self,
        field_name: &dyn Fn(u64) -> String,
        id_size: IdSize,
        model: &VmModel,
    ) {
        let n = self.list.len();
        // Depth in the hierarchy, found iteratively; a corrupt cycle is cut at 10,000 levels.
        let mut depth = vec![u32::MAX; n];
        for i in 0..n {
            let mut chain = vec![i];
            let mut cur = i;
            while let Some(s) = self.list[cur].super_class {
                if depth[s as usize] != u32::MAX || chain.len() > 10_000 {
                    break;
                }
                chain.push(s as usize);
                cur = s as usize;
            }
            let mut d = match self.list[*chain.last().expect("non-empty")].super_class {
                Some(s) if depth[s as usize] != u32::MAX => depth[s as usize] + 1,
                _ => 0,
            };
            for &c in chain.iter().rev() {
                if depth[c] == u32::MAX {
                    depth[c] = d;
                }
                d = depth[c] + 1;
            }
        }
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| depth[i]);
        for i in order {
            let (mut fields, super_layout, super_size) = match self.list[i].super_class {
                Some(s) if depth[s as usize] < depth[i] => {
                    let sup = &self.list[s as usize];
                    (sup.fields.clone(), sup.layout.clone(), sup.dump_size)
                }
                None if self.list[i].dump.super_id != 0 => {
                    missing_super_layout(&self.list[i].dump, id_size, model)
                }
                _ => (Vec::new(), FieldLayout::root(model), 0),
            };
            let c = &self.list[i];
            // Own fields come first in the dump's instance data, supers' after.
            let own_size: u32 = c
                .dump
                .fields
                .iter()
                .map(|f| f.ty.dump_size(id_size) as u32)
                .sum();
            for f in &mut fields {
                f.dump_offset += own_size;
            }
            let mut own = Vec::with_capacity(c.dump.fields.len());
            let mut off = 0;
            for f in &c.dump.fields {
                own.push(Field {
                    name: field_name(f.name_id),
                    ty: f.ty,
                    dump_offset: off,
                    declared_by: i as u32,
                });
                off += f.ty.dump_size(id_size) as u32;
            }
            own.extend(fields);
            let own_fields =
                own_layout_fields(&c.name, &own[..c.dump.fields.len()], model, id_size);
            let layout = super_layout.extend(model, &own_fields);
            let c = &mut self.list[i];
            c.ref_offsets = own
                .iter()
                .filter(|f| f.ty == BasicType::Object)
                .map(|f| f.dump_offset)
                .collect();
            c.fields = own;
            c.dump_size = own_size + super_size;
            c.instance_size = if c.elem.is_some() {
                0
            } else {
                layout.instance_size(model)
            };
            c.layout = layout;
        }
        let class_instance = self
            .class_class
            .map(|k| self.list[k as usize].instance_size)
            .unwrap_or(model.header + 4);
        for c in &mut self.list {
            // The dumper adds pseudo-statics such as `<resolved_references>` and
            // `<init_lock>`: real references, but not fields of the mirror.
            let types: Vec<BasicType> = c
                .dump
                .statics
                .iter()
                .zip(&c.static_names)
                .filter(|(_, name)| !name.starts_with('<'))
                .map(|(s, _)| s.ty)
                .collect();
            c.mirror_size = mirror_size(model, class_instance, &types);
        }
    }

    /// The index of the class whose object id is `id`.
    #[inline]
    pub fn by_id(&self, id: u64) -> Option<u32> {
        self.by_id.get(&id).copied()
    }

    /// The class of primitive arrays of type `ty`.
    #[inline]
    pub fn prim_array(&self, ty: BasicType) -> u32 {
        self.prim_arrays[ty as usize].expect("primitive array classes are always present")
    }

    /// The class at `idx`.
    #[inline]
    pub fn get(&self, idx: u32) -> &ClassInfo {
        &self.list[idx as usize]
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True when the dump has no classes.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// All classes named exactly `name` (several loaders may define the same name).
    pub fn named<'s>(&'s self, name: &'s str) -> impl Iterator<Item = u32> + 's {
        self.list
            .iter()
            .enumerate()
            .filter(move |(_, c)| c.name == name)
            .map(|(i, _)| i as u32)
    }

    /// True if class `c` is `ancestor` or a subclass of it.
    pub fn is_subclass_of(&self, mut c: u32, ancestor: u32) -> bool {
        for _ in 0..10_000 {
            if c == ancestor {
                return true;
            }
            match self.list[c as usize].super_class {
                Some(s) => c = s,
                None => return false,
            }
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_names() {
        assert_eq!(java_name("java/lang/String"), "java.lang.String");
        assert_eq!(java_name("[B"), "byte[]");
        assert_eq!(java_name("[[I"), "int[][]");
        assert_eq!(java_name("[Ljava/lang/Object;"), "java.lang.Object[]");
        assert_eq!(
            java_name("[[Ljava/util/Map$Entry;"),
            "java.util.Map$Entry[][]"
        );
    }
}
