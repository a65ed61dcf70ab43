//! How big an object was in the JVM's heap.
//!
//! The dump does not record shallow sizes: a CLASS_DUMP states its fields (with references
//! widened to the identifier size) and an array its length. The JVM's size depends on the
//! object header, the reference width (compressed oops), field packing and alignment, so
//! it is inferred here from a [`VmModel`] and a simulation of HotSpot's field layout.
//!
//! The simulation follows `FieldLayoutBuilder` of JDK 15 and later (the default layout since
//! JDK-8237767): an instance starts with the superclass's fields at their offsets; the gaps
//! between them, and the gap after the header, stay usable (`UseEmptySlotsInSupers`).
//! The class's own primitive fields are placed largest first, then its references; each goes
//! into the smallest gap that fits it with its natural alignment (the highest such gap on a
//! tie), else at the end. The instance size is the end of the last field, rounded up to 8.
//! Class mirrors (java.lang.Class instances) hold the class's static fields after the
//! instance fields of java.lang.Class: references first, contiguously, then primitives.
//! JDK 8-14 packed fields slightly differently; their sizes can differ by padding only.

use crate::hprof::format::{BasicType, IdSize};

/// The JVM's object geometry, which the dump does not state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmModel {
    /// Bytes of an instance's header (mark word + class pointer).
    pub header: u32,
    /// Bytes of a reference field or array element.
    pub ref_size: u32,
    /// Offset of an array's first element (header + length, rounded to 8).
    pub array_header: u32,
    /// Object alignment in bytes.
    pub align: u32,
}

impl VmModel {
    /// 64-bit HotSpot with compressed oops and class pointers: the default below 32 GB heaps.
    pub const COMPRESSED: VmModel = VmModel {
        header: 12,
        ref_size: 4,
        array_header: 16,
        align: 8,
    };
    /// 64-bit HotSpot without compressed oops (heaps of 32 GB or more,
    /// `-XX:-UseCompressedOops`), class pointers still compressed.
    pub const WIDE_OOPS: VmModel = VmModel {
        header: 12,
        ref_size: 8,
        array_header: 16,
        align: 8,
    };
    /// 64-bit HotSpot with neither compressed oops nor compressed class pointers.
    pub const UNCOMPRESSED: VmModel = VmModel {
        header: 16,
        ref_size: 8,
        array_header: 24,
        align: 8,
    };
    /// 32-bit HotSpot (4-byte identifiers).
    pub const BITS32: VmModel = VmModel {
        header: 8,
        ref_size: 4,
        array_header: 12,
        align: 8,
    };

    /// The usual model for a dump with this identifier size.
    pub fn default_for(id_size: IdSize) -> VmModel {
        match id_size {
            IdSize::Four => VmModel::BITS32,
            IdSize::Eight => VmModel::COMPRESSED,
        }
    }

    /// Bytes of one field or element of type `ty` in the JVM's heap.
    pub fn field_size(&self, ty: BasicType) -> u32 {
        match ty {
            BasicType::Object => self.ref_size,
            BasicType::Boolean | BasicType::Byte => 1,
            BasicType::Char | BasicType::Short => 2,
            BasicType::Float | BasicType::Int => 4,
            BasicType::Double | BasicType::Long => 8,
        }
    }

    /// Shallow size of an array of `len` elements of type `ty`.
    pub fn array_size(&self, ty: BasicType, len: u32) -> u64 {
        let elem = self.field_size(ty) as u64;
        // On 32-bit VMs 8-byte elements start at the next 8-byte boundary.
        let base = align_up(self.array_header as u64, elem.min(8));
        align_up(base + elem * len as u64, self.align as u64)
    }

    /// Rounds an end offset up to a whole object.
    pub fn object_size(&self, end: u32) -> u32 {
        align_up(end as u64, self.align as u64) as u32
    }
}

fn align_up(v: u64, a: u64) -> u64 {
    v.div_ceil(a) * a
}

/// Bytes of padding HotSpot puts around `@Contended` fields (`ContendedPaddingWidth`).
pub const CONTENDED_PADDING: u32 = 128;

/// A class's own fields, as sizes in the JVM's heap.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OwnFields {
    /// Sizes of ordinary primitive fields.
    pub primitives: Vec<u32>,
    /// Number of ordinary reference fields.
    pub references: usize,
    /// The whole class is `@Contended`.
    pub contended_class: bool,
    /// `@Contended` field groups: each group's primitive sizes and reference count.
    pub contended_groups: Vec<(Vec<u32>, usize)>,
}

/// Where a class's instance fields sit: occupied byte ranges after the header.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldLayout {
    /// Occupied `(offset, size)` blocks, sorted by offset, header excluded.
    blocks: Vec<(u32, u32)>,
    /// Offset just past the last field (or the header, for a class without fields).
    fields_end: u32,
    /// Offset just past the last field or padding: what the instance size rounds up.
    end: u32,
    /// This class or a superclass has `@Contended` fields: subclasses may not use its gaps.
    contended: bool,
}

impl FieldLayout {
    /// The layout of java.lang.Object: a bare header.
    pub fn root(model: &VmModel) -> FieldLayout {
        FieldLayout {
            blocks: Vec::new(),
            fields_end: model.header,
            end: model.header,
            contended: false,
        }
    }

    /// A layout of `bytes` opaque field bytes right after the header, for a superclass the
    /// dump does not define: one block however large, since the size comes from the file.
    pub fn opaque(model: &VmModel, bytes: u32) -> FieldLayout {
        let end = model.header.saturating_add(bytes);
        FieldLayout {
            blocks: vec![(model.header, bytes)],
            fields_end: end,
            end,
            contended: false,
        }
    }

    /// End of the last field or padding.
    pub fn end(&self) -> u32 {
        self.end
    }

    /// The layout of a subclass of `self` that declares `own` fields.
    pub fn extend(&self, model: &VmModel, own: &OwnFields) -> FieldLayout {
        let mut placer = Placer {
            blocks: self.blocks.clone(),
            holes: Vec::new(),
            end: self.fields_end,
            last: None,
        };
        if self.contended {
            // Gaps in a contended superclass are padding, and a padding follows its fields.
            placer.end += CONTENDED_PADDING;
        } else {
            let mut cursor = model.header;
            for &(off, size) in &self.blocks {
                if off > cursor {
                    placer.holes.push((cursor, off - cursor));
                }
                cursor = off + size;
            }
        }
        let append_only = self.contended || own.contended_class;
        if own.contended_class {
            placer.end += CONTENDED_PADDING;
        }
        placer.place_group(&own.primitives, own.references, model, append_only);
        for (prims, refs) in &own.contended_groups {
            placer.end += CONTENDED_PADDING;
            placer.place_group(prims, *refs, model, true);
        }
        let padded = own.contended_class || !own.contended_groups.is_empty();
        let fields_end = placer
            .blocks
            .iter()
            .map(|b| b.0 + b.1)
            .max()
            .unwrap_or(model.header);
        let end = placer.end + if padded { CONTENDED_PADDING } else { 0 };
        FieldLayout {
            blocks: placer.blocks,
            fields_end: fields_end.max(model.header),
            end,
            contended: self.contended || padded,
        }
    }

    /// Shallow size of an instance with this layout.
    pub fn instance_size(&self, model: &VmModel) -> u32 {
        model.object_size(self.end)
    }
}

/// HotSpot's `FieldLayout::add`: best fit into gaps, else append.
struct Placer {
    blocks: Vec<(u32, u32)>,
    /// Usable gaps `(offset, size)`, in offset order.
    holes: Vec<(u32, u32)>,
    /// Where the next appended field goes (before alignment).
    end: u32,
    /// The previous field's size and whether its gap search succeeded.
    last: Option<(u32, bool)>,
}

impl Placer {
    /// Places primitives (largest first), then references.
    fn place_group(
        &mut self,
        primitives: &[u32],
        references: usize,
        model: &VmModel,
        append_only: bool,
    ) {
        let mut prims = primitives.to_vec();
        prims.sort_unstable_by(|a, b| b.cmp(a));
        prims.extend(std::iter::repeat_n(model.ref_size, references));
        for size in prims {
            self.place(size, append_only);
        }
    }

    fn place(&mut self, size: u32, append_only: bool) {
        let align = size;
        let fits = |&(off, len): &(u32, u32)| len >= size + (align - off % align) % align;
        let mut pick: Option<usize> = None;
        // A failed search for a field of this size fails again: HotSpot skips it.
        if !append_only && self.last != Some((size, false)) {
            // Best fit, scanning from the highest gap down; equal sizes keep the higher.
            for (i, h) in self.holes.iter().enumerate().rev() {
                if fits(h) && pick.is_none_or(|p| h.1 < self.holes[p].1) {
                    pick = Some(i);
                }
            }
            self.last = Some((size, pick.is_some()));
        }
        let off = match pick {
            Some(i) => {
                let (hoff, hlen) = self.holes[i];
                let adj = (align - hoff % align) % align;
                let off = hoff + adj;
                let mut replace = Vec::with_capacity(2);
                if adj > 0 {
                    replace.push((hoff, adj));
                }
                if hlen > adj + size {
                    replace.push((off + size, hlen - adj - size));
                }
                self.holes.splice(i..=i, replace);
                off
            }
            None => {
                let adj = (align - self.end % align) % align;
                if adj > 0 {
                    self.holes.push((self.end, adj));
                }
                let off = self.end + adj;
                self.end = off + size;
                off
            }
        };
        let at = self.blocks.partition_point(|b| b.0 < off);
        self.blocks.insert(at, (off, size));
    }
}

/// Size of a class mirror (its java.lang.Class instance): the instance part of
/// java.lang.Class (`class_instance_size`) followed by the class's static fields.
/// HotSpot appends statics without filling gaps: references first, contiguously, then
/// primitives largest first, each at its natural alignment.
pub fn mirror_size(model: &VmModel, class_instance_size: u32, statics: &[BasicType]) -> u32 {
    let refs = statics.iter().filter(|t| **t == BasicType::Object).count() as u32;
    let mut end = class_instance_size + refs * model.ref_size;
    let mut prims: Vec<u32> = statics
        .iter()
        .filter(|t| **t != BasicType::Object)
        .map(|t| model.field_size(*t))
        .collect();
    prims.sort_unstable_by(|a, b| b.cmp(a));
    for size in prims {
        end = end.div_ceil(size) * size + size;
    }
    model.object_size(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: VmModel = VmModel::COMPRESSED;

    fn fields(primitives: &[u32], references: usize) -> OwnFields {
        OwnFields {
            primitives: primitives.to_vec(),
            references,
            ..OwnFields::default()
        }
    }

    #[test]
    fn small_objects_match_hotspot() {
        let object = FieldLayout::root(&M);
        assert_eq!(object.instance_size(&M), 16);
        // java.lang.Integer: one int fills the gap after the 12-byte header.
        assert_eq!(object.extend(&M, &fields(&[4], 0)).instance_size(&M), 16);
        // java.lang.Long: the long cannot use the 4-byte gap.
        assert_eq!(object.extend(&M, &fields(&[8], 0)).instance_size(&M), 24);
        // java.lang.String (JDK 17): int hash, byte coder, boolean hashIsZero, byte[] value.
        assert_eq!(
            object.extend(&M, &fields(&[4, 1, 1], 1)).instance_size(&M),
            24
        );
        // HashMap$Node: int hash + 3 references = 12 + 4 + 12 = 28 -> 32.
        assert_eq!(object.extend(&M, &fields(&[4], 3)).instance_size(&M), 32);
    }

    #[test]
    fn subclass_fields_fill_gaps_in_the_superclass() {
        // Base { long l; byte b; }: long at 16, byte in the header gap at 12, end 24.
        let base = FieldLayout::root(&M).extend(&M, &fields(&[8, 1], 0));
        assert_eq!(base.end(), 24);
        // Derived adds an int and a short: the int cannot fit 13..16 (3 bytes) -> 24;
        // the short fits at 14 after alignment.
        let derived = base.extend(&M, &fields(&[4, 2], 0));
        assert_eq!(derived.end(), 28);
        assert_eq!(derived.instance_size(&M), 32);
    }

    #[test]
    fn contended_groups_are_padded_and_close_the_class_to_subclasses() {
        // java.lang.Thread in JDK 17: regular fields end at 96 here, then the "tlr" group
        // (long, int, int) between two 128-byte paddings: 96 + 128 + 16 + 128 = 368.
        let regular = FieldLayout::root(&M).extend(&M, &fields(&[8, 8, 8, 4, 4, 4, 4, 1, 1, 1], 9));
        let thread = FieldLayout::root(&M).extend(
            &M,
            &OwnFields {
                contended_groups: vec![(vec![8, 4, 4], 0)],
                ..fields(&[8, 8, 8, 4, 4, 4, 4, 1, 1, 1], 9)
            },
        );
        assert_eq!(thread.end(), M.object_size(regular.end()) + 128 + 16 + 128);
        // A subclass appends after a padding that follows the group, never in gaps.
        let sub = thread.extend(&M, &fields(&[1], 0));
        assert_eq!(sub.instance_size(&M), thread.end() + 8);
        assert_eq!(
            thread.extend(&M, &fields(&[], 0)).instance_size(&M),
            thread.end()
        );
        // A @Contended class: padding, fields, padding.
        let cell = FieldLayout::root(&M).extend(
            &M,
            &OwnFields {
                contended_class: true,
                ..fields(&[8], 0)
            },
        );
        assert_eq!(cell.instance_size(&M), 280);
    }

    #[test]
    fn mirrors_append_statics_without_filling_gaps() {
        assert_eq!(mirror_size(&M, 112, &[]), 112);
        // One reference (116), then a long at 120 (the gap at 116 stays), then an int.
        let t = [BasicType::Int, BasicType::Object, BasicType::Long];
        assert_eq!(mirror_size(&M, 112, &t), 136);
    }

    #[test]
    fn arrays() {
        assert_eq!(M.array_size(BasicType::Byte, 0), 16);
        assert_eq!(M.array_size(BasicType::Byte, 1000), 1016);
        assert_eq!(M.array_size(BasicType::Object, 3), 32);
        assert_eq!(M.array_size(BasicType::Long, 100), 816);
        assert_eq!(VmModel::UNCOMPRESSED.array_size(BasicType::Int, 1), 32);
        assert_eq!(VmModel::BITS32.array_size(BasicType::Int, 1), 16);
        assert_eq!(VmModel::BITS32.array_size(BasicType::Long, 1), 24);
        // Arrays over 4 GB keep their size.
        assert_eq!(
            M.array_size(BasicType::Long, u32::MAX),
            16 + 8 * u32::MAX as u64
        );
    }
}
