//! Test support: a small HPROF writer for hand-made dumps, and helpers to run the analysis
//! through the library or the binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use heapsleuth::analysis::Analysis;
use heapsleuth::index::{HeapIndex, IndexOptions};
use heapsleuth::progress::NoProgress;
use heapsleuth::view::HeapView;

/// Basic type codes.
pub const OBJECT: u8 = 2;
pub const BOOLEAN: u8 = 4;
pub const BYTE: u8 = 8;
pub const INT: u8 = 10;
pub const LONG: u8 = 11;

/// Writes HPROF files: a header, records, heap-dump segments.
pub struct HprofWriter {
    pub id_size: usize,
    pub buf: Vec<u8>,
    next_string: u64,
    next_serial: u32,
}

impl HprofWriter {
    /// A dump with `JAVA PROFILE 1.0.2` and the given identifier size.
    pub fn new(id_size: usize) -> HprofWriter {
        Self::with_version(id_size, "1.0.2")
    }

    /// A dump with the given format version (`1.0.1`, `1.0.2`, `1.0.3`).
    pub fn with_version(id_size: usize, version: &str) -> HprofWriter {
        let mut buf = format!("JAVA PROFILE {version}\0").into_bytes();
        buf.extend_from_slice(&(id_size as u32).to_be_bytes());
        buf.extend_from_slice(&0u64.to_be_bytes());
        HprofWriter {
            id_size,
            buf,
            next_string: 0x5_0000,
            next_serial: 1,
        }
    }

    /// Appends an identifier.
    pub fn id(&self, v: &mut Vec<u8>, id: u64) {
        if self.id_size == 4 {
            v.extend_from_slice(&(id as u32).to_be_bytes());
        } else {
            v.extend_from_slice(&id.to_be_bytes());
        }
    }

    /// Appends a top-level record.
    pub fn record(&mut self, tag: u8, body: &[u8]) {
        self.buf.push(tag);
        self.buf.extend_from_slice(&0u32.to_be_bytes());
        self.buf
            .extend_from_slice(&(body.len() as u32).to_be_bytes());
        self.buf.extend_from_slice(body);
    }

    /// Writes a UTF8 record; returns its id.
    pub fn string(&mut self, s: &str) -> u64 {
        self.next_string += 8;
        let id = self.next_string;
        let mut b = Vec::new();
        self.id(&mut b, id);
        b.extend_from_slice(s.as_bytes());
        self.record(0x01, &b);
        id
    }

    /// Writes a LOAD_CLASS naming class object `class_id`.
    pub fn load_class(&mut self, class_id: u64, name: &str) {
        let name_id = self.string(name);
        let mut b = Vec::new();
        b.extend_from_slice(&self.next_serial.to_be_bytes());
        self.next_serial += 1;
        self.id(&mut b, class_id);
        b.extend_from_slice(&0u32.to_be_bytes());
        self.id(&mut b, name_id);
        self.record(0x02, &b);
    }

    /// Writes a HEAP_DUMP_SEGMENT.
    pub fn segment(&mut self, heap: &Heap) {
        self.record(0x1C, &heap.buf);
    }

    /// Writes HEAP_DUMP_END.
    pub fn end(&mut self) {
        self.record(0x2C, &[]);
    }
}

/// Builds the body of a heap-dump segment.
pub struct Heap {
    pub id_size: usize,
    pub buf: Vec<u8>,
}

impl Heap {
    /// An empty segment body.
    pub fn new(id_size: usize) -> Heap {
        Heap {
            id_size,
            buf: Vec::new(),
        }
    }

    fn id(&mut self, id: u64) {
        if self.id_size == 4 {
            self.buf.extend_from_slice(&(id as u32).to_be_bytes());
        } else {
            self.buf.extend_from_slice(&id.to_be_bytes());
        }
    }

    fn u4(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    /// CLASS_DUMP with instance fields `(name string id, type code)` and object statics.
    pub fn class(&mut self, id: u64, super_id: u64, fields: &[(u64, u8)], statics: &[(u64, u64)]) {
        self.buf.push(0x20);
        self.id(id);
        self.u4(0);
        self.id(super_id);
        for _ in 0..5 {
            self.id(0);
        }
        let size: usize = fields
            .iter()
            .map(|f| match f.1 {
                OBJECT => self.id_size,
                BOOLEAN | BYTE => 1,
                INT => 4,
                _ => 8,
            })
            .sum();
        self.u4(size as u32);
        self.buf.extend_from_slice(&0u16.to_be_bytes());
        self.buf
            .extend_from_slice(&(statics.len() as u16).to_be_bytes());
        for &(name, value) in statics {
            self.id(name);
            self.buf.push(OBJECT);
            self.id(value);
        }
        self.buf
            .extend_from_slice(&(fields.len() as u16).to_be_bytes());
        for &(name, ty) in fields {
            self.id(name);
            self.buf.push(ty);
        }
    }

    /// INSTANCE_DUMP whose fields are all references (in the class's field order).
    pub fn instance(&mut self, id: u64, class: u64, refs: &[u64]) {
        self.buf.push(0x21);
        self.id(id);
        self.u4(0);
        self.id(class);
        self.u4((refs.len() * self.id_size) as u32);
        for &r in refs {
            self.id(r);
        }
    }

    /// OBJ_ARRAY_DUMP.
    pub fn obj_array(&mut self, id: u64, class: u64, elems: &[u64]) {
        self.buf.push(0x22);
        self.id(id);
        self.u4(0);
        self.u4(elems.len() as u32);
        self.id(class);
        for &e in elems {
            self.id(e);
        }
    }

    /// PRIM_ARRAY_DUMP of bytes.
    pub fn byte_array(&mut self, id: u64, data: &[u8]) {
        self.buf.push(0x23);
        self.id(id);
        self.u4(0);
        self.u4(data.len() as u32);
        self.buf.push(BYTE);
        self.buf.extend_from_slice(data);
    }

    /// ROOT_STICKY_CLASS.
    pub fn root_class(&mut self, id: u64) {
        self.buf.push(0x05);
        self.id(id);
    }

    /// ROOT_UNKNOWN.
    pub fn root(&mut self, id: u64) {
        self.buf.push(0xFF);
        self.id(id);
    }
}

/// A synthetic world: java.lang.Object, java.lang.Class, a `Node` class with `n_refs`
/// reference fields, and byte[]; returns the writer with classes defined and the ids.
pub struct World {
    pub w: HprofWriter,
    pub object: u64,
    pub class: u64,
    pub node: u64,
    pub bytes: u64,
    pub field_names: Vec<u64>,
}

impl World {
    /// Defines the classes in a first segment.
    pub fn new(id_size: usize, n_refs: usize) -> World {
        let mut w = HprofWriter::new(id_size);
        let (object, class, node, bytes) = (0x100, 0x110, 0x120, 0x130);
        w.load_class(object, "java/lang/Object");
        w.load_class(class, "java/lang/Class");
        w.load_class(node, "Node");
        w.load_class(bytes, "[B");
        let field_names: Vec<u64> = (0..n_refs).map(|i| w.string(&format!("f{i}"))).collect();
        let mut h = Heap::new(id_size);
        h.class(object, 0, &[], &[]);
        h.class(class, object, &[], &[]);
        let fields: Vec<(u64, u8)> = field_names.iter().map(|&n| (n, OBJECT)).collect();
        h.class(node, object, &fields, &[]);
        h.class(bytes, object, &[], &[]);
        w.segment(&h);
        World {
            w,
            object,
            class,
            node,
            bytes,
            field_names,
        }
    }
}

/// A fully analysed dump, owning everything; derefs to its [`Analysis`].
pub struct Analysed<'a> {
    pub index: HeapIndex<'a>,
    pub analysis: Analysis,
}

impl std::ops::Deref for Analysed<'_> {
    type Target = Analysis;
    fn deref(&self) -> &Analysis {
        &self.analysis
    }
}

impl<'a> Analysed<'a> {
    /// Runs every phase on `data`.
    pub fn new(data: &'a [u8]) -> Analysed<'a> {
        Self::with(
            data,
            IndexOptions {
                model: None,
                salvage: false,
                dump: None,
            },
        )
    }

    /// Runs every phase with options.
    pub fn with(data: &'a [u8], opts: IndexOptions) -> Analysed<'a> {
        let index = HeapIndex::build(data, &opts, &NoProgress).expect("dump indexes");
        let analysis = Analysis::run(&index, &NoProgress).expect("analysis runs");
        Analysed { index, analysis }
    }

    /// The read-only view.
    pub fn view(&self) -> HeapView<'_> {
        HeapView::new(&self.index, &self.analysis)
    }
}

/// The repository's fixtures directory.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Inflates a gzipped fixture into memory (tests only; the tool itself maps files).
pub fn fixture_bytes(rel: &str) -> Vec<u8> {
    use std::io::Read;
    let path = fixtures().join(rel);
    let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .expect("fixture inflates");
        out
    } else {
        raw
    }
}

/// Runs the built binary; returns (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_heapsleuth"));
    cmd.args(args);
    outcome(cmd)
}

/// Runs `analyze --salvage --format json` on `path`, which must succeed; returns stdout.
pub fn analyze_salvaged(path: &Path) -> String {
    let (code, out, err) = run(&[
        "analyze",
        path.to_str().unwrap(),
        "--salvage",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{err}");
    out
}

/// Runs a command that runs the binary (with `NO_COLOR`); returns (exit code, stdout,
/// stderr).
pub fn outcome(mut cmd: Command) -> (i32, String, String) {
    let out = cmd.env("NO_COLOR", "1").output().expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes bytes to a fresh temporary file and returns its path.
pub fn temp_file(name: &str, data: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("heapsleuth-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join(name);
    std::fs::write(&p, data).expect("write temp file");
    p
}
