//! Heap-dump sub-records: GC roots, class dumps, instances and arrays.
//!
//! A HEAP_DUMP or HEAP_DUMP_SEGMENT body is a sequence of sub-records with no length
//! prefix: each sub-record's length follows from its tag and contents (an instance states
//! its byte count, an array its length, a class dump its field tables). [`SubRecords`]
//! walks them; every length is checked against the body before it is used, so a corrupt
//! count yields an error at its offset, never an out-of-bounds read or a huge allocation.

use crate::error::{Error, ErrorKind, Result};
use crate::hprof::format::{sub, BasicType, IdSize, RootKind};
use crate::hprof::reader::Reader;

/// A GC root: the object and, for thread-related kinds, the thread and frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Root {
    /// What kind of root this is.
    pub kind: RootKind,
    /// The rooted object.
    pub id: u64,
    /// The thread serial number, for thread-related roots.
    pub thread_serial: Option<u32>,
    /// The frame number in the thread's stack trace (ROOT_JAVA_FRAME, ROOT_JNI_LOCAL).
    pub frame: Option<u32>,
    /// For ROOT_THREAD_OBJECT: the serial number of the thread's stack trace.
    pub trace_serial: Option<u32>,
}

/// A value of a static field or constant-pool entry.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Value {
    /// An object reference (0 is null).
    Object(u64),
    /// boolean
    Boolean(bool),
    /// char (a UTF-16 code unit)
    Char(u16),
    /// float
    Float(f32),
    /// double
    Double(f64),
    /// byte
    Byte(i8),
    /// short
    Short(i16),
    /// int
    Int(i32),
    /// long
    Long(i64),
}

impl Value {
    /// Reads a value of type `ty`.
    pub fn read(r: &mut Reader<'_>, ty: BasicType) -> Result<Value> {
        Ok(match ty {
            BasicType::Object => Value::Object(r.id("object id")?),
            BasicType::Boolean => Value::Boolean(r.u1("boolean")? != 0),
            BasicType::Char => Value::Char(r.u2("char")?),
            BasicType::Float => Value::Float(f32::from_bits(r.u4("float")?)),
            BasicType::Double => Value::Double(f64::from_bits(r.u8("double")?)),
            BasicType::Byte => Value::Byte(r.u1("byte")? as i8),
            BasicType::Short => Value::Short(r.u2("short")? as i16),
            BasicType::Int => Value::Int(r.u4("int")? as i32),
            BasicType::Long => Value::Long(r.u8("long")? as i64),
        })
    }

    /// Decodes a value of type `ty` from the front of `b`, which must be long enough.
    pub fn decode(b: &[u8], ty: BasicType, id_size: IdSize) -> Value {
        let mut r = Reader::new(b, 0, id_size);
        Value::read(&mut r, ty).expect("caller checked the length")
    }
}

/// A static field of a class.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StaticField {
    /// String id of the field name.
    pub name_id: u64,
    /// Its type.
    pub ty: BasicType,
    /// Its value.
    pub value: Value,
}

/// An instance field declaration (name and type; values live in instance dumps).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldDecl {
    /// String id of the field name.
    pub name_id: u64,
    /// Its type.
    pub ty: BasicType,
}

/// A CLASS_DUMP sub-record, fully parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct ClassDump {
    /// The class object id.
    pub id: u64,
    /// The superclass object id (0 for java.lang.Object and interfaces' roots).
    pub super_id: u64,
    /// The defining class loader (0 for the bootstrap loader).
    pub loader_id: u64,
    /// Signers object id.
    pub signers_id: u64,
    /// Protection domain object id.
    pub protection_domain_id: u64,
    /// Instance size as the dump states it (field bytes in dump encoding, not the JVM's size).
    pub instance_size: u32,
    /// Object references held by the constant pool.
    pub constant_pool_refs: Vec<u64>,
    /// Static fields with their values.
    pub statics: Vec<StaticField>,
    /// Instance fields declared by this class (not its supers), in dump order.
    pub fields: Vec<FieldDecl>,
}

/// One sub-record.
#[derive(Clone, Debug, PartialEq)]
pub enum SubRecord<'a> {
    /// A GC root.
    Root(Root),
    /// A class.
    Class(ClassDump),
    /// An instance: its field bytes, this class's fields first, then each super's.
    Instance {
        /// Object id.
        id: u64,
        /// Class object id.
        class_id: u64,
        /// The field values.
        data: &'a [u8],
    },
    /// An array of references.
    ObjArray {
        /// Object id.
        id: u64,
        /// Array class object id.
        class_id: u64,
        /// Number of elements.
        len: u32,
        /// `len` identifiers.
        data: &'a [u8],
    },
    /// An array of primitives.
    PrimArray {
        /// Object id.
        id: u64,
        /// Element type (never `Object`).
        ty: BasicType,
        /// Number of elements.
        len: u32,
        /// The elements, or empty for Android's PRIMITIVE_ARRAY_NODATA.
        data: &'a [u8],
    },
    /// Android HEAP_DUMP_INFO: the heap the following objects live in.
    HeapInfo {
        /// Heap type code.
        heap_type: u32,
        /// String id of the heap name.
        name_id: u64,
    },
}

/// Iterates the sub-records of one heap-dump body, yielding each with its file offset.
pub struct SubRecords<'a> {
    r: Reader<'a>,
    failed: bool,
}

impl<'a> SubRecords<'a> {
    /// Walks `body`, the body reader of a HEAP_DUMP or HEAP_DUMP_SEGMENT record.
    pub fn new(body: Reader<'a>) -> SubRecords<'a> {
        SubRecords {
            r: body,
            failed: false,
        }
    }

    /// File offset of the next sub-record.
    pub fn offset(&self) -> u64 {
        self.r.offset()
    }
}

impl<'a> Iterator for SubRecords<'a> {
    type Item = Result<(u64, SubRecord<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.r.is_empty() {
            return None;
        }
        let start = self.r.offset();
        let saved = self.r.clone();
        match parse_sub_record(&mut self.r) {
            Ok(s) => Some(Ok((start, s))),
            Err(e) => {
                // Leave the reader at the start of the bad sub-record so callers can tell
                // how far the good data goes.
                self.r = saved;
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

/// Parses the sub-record starting at the reader's position.
pub fn parse_sub_record<'a>(r: &mut Reader<'a>) -> Result<SubRecord<'a>> {
    let start = r.offset();
    let t = r.u1("sub-record tag")?;
    parse_body(r, t).map_err(|e| e.in_record(sub::name(t), start))
}

fn root(kind: RootKind, id: u64) -> SubRecord<'static> {
    SubRecord::Root(Root {
        kind,
        id,
        thread_serial: None,
        frame: None,
        trace_serial: None,
    })
}

fn parse_body<'a>(r: &mut Reader<'a>, t: u8) -> Result<SubRecord<'a>> {
    Ok(match t {
        sub::ROOT_UNKNOWN => root(RootKind::Unknown, r.id("object id")?),
        sub::ROOT_STICKY_CLASS => root(RootKind::StickyClass, r.id("class id")?),
        sub::ROOT_MONITOR_USED => root(RootKind::MonitorUsed, r.id("object id")?),
        sub::ROOT_INTERNED_STRING => root(RootKind::InternedString, r.id("object id")?),
        sub::ROOT_FINALIZING => root(RootKind::Finalizing, r.id("object id")?),
        sub::ROOT_DEBUGGER => root(RootKind::Debugger, r.id("object id")?),
        sub::ROOT_REFERENCE_CLEANUP => root(RootKind::ReferenceCleanup, r.id("object id")?),
        sub::ROOT_VM_INTERNAL => root(RootKind::VmInternal, r.id("object id")?),
        sub::UNREACHABLE => root(RootKind::Unknown, r.id("object id")?),
        sub::ROOT_JNI_GLOBAL => {
            let id = r.id("object id")?;
            r.id("JNI global ref id")?;
            root(RootKind::JniGlobal, id)
        }
        sub::ROOT_JNI_LOCAL | sub::ROOT_JAVA_FRAME | sub::ROOT_JNI_MONITOR => {
            let kind = match t {
                sub::ROOT_JNI_LOCAL => RootKind::JniLocal,
                sub::ROOT_JAVA_FRAME => RootKind::JavaFrame,
                _ => RootKind::JniMonitor,
            };
            let id = r.id("object id")?;
            let thread = r.u4("thread serial")?;
            let frame = r.u4("frame number")?;
            SubRecord::Root(Root {
                kind,
                id,
                thread_serial: Some(thread),
                frame: (frame != u32::MAX).then_some(frame),
                trace_serial: None,
            })
        }
        sub::ROOT_NATIVE_STACK | sub::ROOT_THREAD_BLOCK => {
            let kind = if t == sub::ROOT_NATIVE_STACK {
                RootKind::NativeStack
            } else {
                RootKind::ThreadBlock
            };
            let id = r.id("object id")?;
            let thread = r.u4("thread serial")?;
            SubRecord::Root(Root {
                kind,
                id,
                thread_serial: Some(thread),
                frame: None,
                trace_serial: None,
            })
        }
        sub::ROOT_THREAD_OBJECT => {
            let id = r.id("thread object id")?;
            let thread = r.u4("thread serial")?;
            let trace = r.u4("stack trace serial")?;
            SubRecord::Root(Root {
                kind: RootKind::ThreadObject,
                id,
                thread_serial: Some(thread),
                frame: None,
                trace_serial: Some(trace),
            })
        }
        sub::CLASS_DUMP => SubRecord::Class(parse_class_dump(r)?),
        sub::INSTANCE_DUMP => {
            let id = r.id("object id")?;
            r.u4("stack trace serial")?;
            let class_id = r.id("class id")?;
            let n = checked_field_bytes(r)?;
            let data = r.bytes(n, "field values")?;
            SubRecord::Instance { id, class_id, data }
        }
        sub::OBJ_ARRAY_DUMP => {
            let id = r.id("object id")?;
            r.u4("stack trace serial")?;
            let len = r.u4("array length")?;
            let class_id = r.id("array class id")?;
            let bytes = checked_array_bytes(r, len, r.id_size().bytes())?;
            let data = r.bytes(bytes, "array elements")?;
            SubRecord::ObjArray {
                id,
                class_id,
                len,
                data,
            }
        }
        sub::PRIM_ARRAY_DUMP | sub::PRIM_ARRAY_NODATA => {
            let id = r.id("object id")?;
            r.u4("stack trace serial")?;
            let len = r.u4("array length")?;
            let ty = basic_type(r, "element type")?;
            if ty == BasicType::Object {
                return Err(Error::at(
                    ErrorKind::BadType,
                    r.offset() - 1,
                    "primitive array of object type",
                ));
            }
            let data = if t == sub::PRIM_ARRAY_DUMP {
                let bytes = checked_array_bytes(r, len, ty.dump_size(r.id_size()))?;
                r.bytes(bytes, "array elements")?
            } else {
                &[]
            };
            SubRecord::PrimArray { id, ty, len, data }
        }
        sub::HEAP_DUMP_INFO => {
            let heap_type = r.u4("heap type")?;
            let name_id = r.id("heap name id")?;
            SubRecord::HeapInfo { heap_type, name_id }
        }
        _ => {
            return Err(Error::at(
                ErrorKind::UnknownSubRecord,
                r.offset() - 1,
                format!("tag 0x{t:02x} is not a heap-dump sub-record"),
            ))
        }
    })
}

/// Reads an instance's field byte count, which must fit in what is left of its record.
fn checked_field_bytes(r: &mut Reader<'_>) -> Result<usize> {
    let n = r.u4("field byte count")? as usize;
    if n > r.remaining() {
        return Err(Error::at(
            ErrorKind::BadLength,
            r.offset() - 4,
            format!(
                "instance of {n} field bytes runs past its record ({} bytes left)",
                r.remaining()
            ),
        ));
    }
    Ok(n)
}

fn checked_array_bytes(r: &Reader<'_>, len: u32, elem: usize) -> Result<usize> {
    let bytes = len as usize * elem;
    if bytes > r.remaining() {
        return Err(Error::at(
            ErrorKind::BadLength,
            r.offset(),
            format!(
                "array of {len} elements ({bytes} bytes) runs past its record ({} bytes left)",
                r.remaining()
            ),
        ));
    }
    Ok(bytes)
}

fn basic_type(r: &mut Reader<'_>, what: &'static str) -> Result<BasicType> {
    let at = r.offset();
    let code = r.u1(what)?;
    BasicType::from_code(code).ok_or_else(|| {
        Error::at(
            ErrorKind::BadType,
            at,
            format!("{what} code {code} is not an HPROF basic type"),
        )
    })
}

fn parse_class_dump(r: &mut Reader<'_>) -> Result<ClassDump> {
    let id = r.id("class id")?;
    r.u4("stack trace serial")?;
    let super_id = r.id("super class id")?;
    let loader_id = r.id("class loader id")?;
    let signers_id = r.id("signers id")?;
    let protection_domain_id = r.id("protection domain id")?;
    r.id("reserved")?;
    r.id("reserved")?;
    let instance_size = r.u4("instance size")?;
    // Each count is bounded by what the remaining bytes could hold, so a corrupt count
    // cannot make us reserve more than the record's own size.
    let n = r.u2("constant pool size")? as usize;
    let mut constant_pool_refs = Vec::new();
    for _ in 0..n {
        r.u2("constant pool index")?;
        let ty = basic_type(r, "constant pool entry type")?;
        if let Value::Object(v) = Value::read(r, ty)? {
            if v != 0 {
                constant_pool_refs.push(v);
            }
        }
    }
    let n = r.u2("static field count")? as usize;
    let mut statics = Vec::with_capacity(n.min(r.remaining() / 2));
    for _ in 0..n {
        let name_id = r.id("static field name id")?;
        let ty = basic_type(r, "static field type")?;
        let value = Value::read(r, ty)?;
        statics.push(StaticField { name_id, ty, value });
    }
    let n = r.u2("instance field count")? as usize;
    let mut fields = Vec::with_capacity(n.min(r.remaining() / 2));
    for _ in 0..n {
        let name_id = r.id("instance field name id")?;
        let ty = basic_type(r, "instance field type")?;
        fields.push(FieldDecl { name_id, ty });
    }
    Ok(ClassDump {
        id,
        super_id,
        loader_id,
        signers_id,
        protection_domain_id,
        instance_size,
        constant_pool_refs,
        statics,
        fields,
    })
}

/// Finds where the next sub-record starts without building it: the cheap walk used to
/// cut a heap-dump body into chunks for parallel parsing. Returns the length of the
/// sub-record at the front of `r` and advances past it.
pub fn skip_sub_record(r: &mut Reader<'_>) -> Result<()> {
    let start = r.offset();
    let t = r.u1("sub-record tag")?;
    let id = r.id_size().bytes();
    let res = match t {
        sub::INSTANCE_DUMP => (|| {
            r.skip(id + 4 + id, "instance header")?;
            // The same check as the full parse, so both passes report one error.
            let n = checked_field_bytes(r)?;
            r.skip(n, "field values")
        })(),
        sub::OBJ_ARRAY_DUMP => (|| {
            r.skip(id + 4, "array header")?;
            let len = r.u4("array length")?;
            r.skip(id, "array class id")?;
            let bytes = checked_array_bytes(r, len, id)?;
            r.skip(bytes, "array elements")
        })(),
        sub::PRIM_ARRAY_DUMP => (|| {
            r.skip(id + 4, "array header")?;
            let len = r.u4("array length")?;
            let ty = basic_type(r, "element type")?;
            let bytes = checked_array_bytes(r, len, ty.dump_size(r.id_size()))?;
            r.skip(bytes, "array elements")
        })(),
        // Rarer sub-records: parse them fully, which also validates them.
        _ => parse_body(r, t).map(|_| ()),
    };
    res.map_err(|e| e.in_record(sub::name(t), start))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id4(v: u32) -> [u8; 4] {
        v.to_be_bytes()
    }

    #[test]
    fn parses_roots_instances_and_arrays() {
        let mut b = vec![sub::ROOT_JAVA_FRAME];
        b.extend_from_slice(&id4(0x10));
        b.extend_from_slice(&id4(7));
        b.extend_from_slice(&id4(2));
        b.push(sub::INSTANCE_DUMP);
        b.extend_from_slice(&id4(0x20));
        b.extend_from_slice(&id4(0));
        b.extend_from_slice(&id4(0x30));
        b.extend_from_slice(&id4(4));
        b.extend_from_slice(&id4(0x40));
        b.push(sub::PRIM_ARRAY_DUMP);
        b.extend_from_slice(&id4(0x50));
        b.extend_from_slice(&id4(0));
        b.extend_from_slice(&id4(3));
        b.push(8);
        b.extend_from_slice(&[1, 2, 3]);
        let recs: Vec<_> = SubRecords::new(Reader::new(&b, 1000, IdSize::Four))
            .map(|r| r.unwrap())
            .collect();
        assert_eq!(recs.len(), 3);
        assert_eq!(
            recs[0].1,
            SubRecord::Root(Root {
                kind: RootKind::JavaFrame,
                id: 0x10,
                thread_serial: Some(7),
                frame: Some(2),
                trace_serial: None,
            })
        );
        assert_eq!(recs[1].0, 1013);
        assert!(
            matches!(recs[1].1, SubRecord::Instance { id: 0x20, class_id: 0x30, data } if data == [0, 0, 0, 0x40])
        );
        assert!(matches!(
            recs[2].1,
            SubRecord::PrimArray {
                len: 3,
                ty: BasicType::Byte,
                ..
            }
        ));
        // The skip walk agrees with the full parse on every boundary.
        let mut r = Reader::new(&b, 1000, IdSize::Four);
        let mut starts = vec![];
        while !r.is_empty() {
            starts.push(r.offset());
            skip_sub_record(&mut r).unwrap();
        }
        assert_eq!(starts, recs.iter().map(|r| r.0).collect::<Vec<_>>());
    }

    #[test]
    fn corrupt_lengths_and_tags_are_errors_with_offsets() {
        let mut b = vec![sub::OBJ_ARRAY_DUMP];
        b.extend_from_slice(&id4(1));
        b.extend_from_slice(&id4(0));
        b.extend_from_slice(&id4(0xFFFF_FFFF));
        b.extend_from_slice(&id4(2));
        let e = SubRecords::new(Reader::new(&b, 0, IdSize::Four))
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::BadLength);
        assert_eq!(e.record, Some(("OBJ_ARRAY_DUMP", 0)));
        let e = SubRecords::new(Reader::new(&[0x42], 500, IdSize::Four))
            .next()
            .unwrap()
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownSubRecord);
        assert_eq!(e.offset, Some(500));
        let e = skip_sub_record(&mut Reader::new(&[0x42], 500, IdSize::Four)).unwrap_err();
        assert_eq!(e.kind, ErrorKind::UnknownSubRecord);
    }
}
