//! Object sizes: the class and shallow size of one object from its sub-record, and the
//! inference of the 64-bit object layout from the gaps between object addresses.

use std::sync::atomic::{AtomicU64, Ordering};

use rayon::prelude::*;

use crate::hprof::format::{sub, BasicType, IdSize};

use super::{Classes, VmModel};

/// Objects sampled to infer the object geometry.
const MODEL_SAMPLE: usize = 200_000;

/// Infers the 64-bit object geometry from the addresses: object ids are heap addresses,
/// and consecutive objects in a region sit back to back, so the gap from one object to the
/// next is its true size for most objects. The model whose predicted sizes equal the gaps
/// most often wins; ties go to compressed oops, the JVM's default below 32 GB heaps.
pub(super) fn detect_model(
    data: &[u8],
    offsets: &[u64],
    ids: &[u64],
    classes: &mut Classes,
    field_name: &dyn Fn(u64) -> String,
    id_size: IdSize,
) -> VmModel {
    let candidates = [
        VmModel::COMPRESSED,
        VmModel::WIDE_OOPS,
        VmModel::UNCOMPRESSED,
    ];
    let n = offsets.len();
    if n < 2 {
        return candidates[0];
    }
    let step = (n / MODEL_SAMPLE).max(1);
    let sample: Vec<usize> = (0..n - 1).step_by(step).collect();
    let ignore = AtomicU64::new(0);
    let mut best = (0usize, candidates[0]);
    for (i, model) in candidates.iter().enumerate() {
        if i > 0 {
            classes.relayout(field_name, id_size, model);
        }
        let class_class = classes.class_class;
        let hits = sample
            .par_iter()
            .filter(|&&k| {
                let (_, size) = size_object(
                    data,
                    offsets[k],
                    id_size,
                    classes,
                    model,
                    class_class,
                    &ignore,
                    &ignore,
                );
                ids[k + 1] - ids[k] == size
            })
            .count();
        if hits > best.0 {
            best = (hits, *model);
        }
    }
    if best.1 != candidates[candidates.len() - 1] {
        classes.relayout(field_name, id_size, &best.1);
    }
    best.1
}

#[allow(clippy::too_many_arguments)]
pub(super) fn size_object(
    data: &[u8],
    off: u64,
    id_size: IdSize,
    classes: &Classes,
    model: &VmModel,
    class_class: Option<u32>,
    unknown: &AtomicU64,
    mismatched: &AtomicU64,
) -> (u32, u64) {
    let b = &data[off as usize..];
    let ids = id_size.bytes();
    let rd = |at: usize| crate::hprof::reader::id_at(&b[at..], id_size);
    let u4 = |at: usize| u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]);
    // The sub-record was fully validated by the parse pass, so these reads are in bounds.
    match b[0] {
        sub::INSTANCE_DUMP => {
            let class_id = rd(1 + ids + 4);
            let n = u4(1 + ids + 4 + ids);
            match classes.by_id(class_id) {
                Some(c) => {
                    let ci = classes.get(c);
                    if n != ci.dump_size {
                        mismatched.fetch_add(1, Ordering::Relaxed);
                    }
                    (c, ci.instance_size as u64)
                }
                None => {
                    unknown.fetch_add(1, Ordering::Relaxed);
                    (u32::MAX, model.object_size(model.header + n) as u64)
                }
            }
        }
        sub::OBJ_ARRAY_DUMP => {
            let len = u4(1 + ids + 4);
            let class_id = rd(1 + ids + 8);
            let size = model.array_size(BasicType::Object, len);
            match classes.by_id(class_id) {
                Some(c) => (c, size),
                None => {
                    unknown.fetch_add(1, Ordering::Relaxed);
                    (u32::MAX, size)
                }
            }
        }
        sub::PRIM_ARRAY_DUMP | sub::PRIM_ARRAY_NODATA => {
            let len = u4(1 + ids + 4);
            let ty = BasicType::from_code(b[1 + ids + 8]).expect("validated");
            (classes.prim_array(ty), model.array_size(ty, len))
        }
        sub::CLASS_DUMP => {
            let id = rd(1);
            let c = classes.by_id(id).expect("every class dump is in the table");
            (class_class.unwrap_or(c), classes.get(c).mirror_size as u64)
        }
        _ => unreachable!("only object sub-records are indexed"),
    }
}
