//! The HPROF format as HotSpot writes it: record tags, basic types, identifier sizes.
//!
//! Definitions only, no reading logic (the equivalent of `elf.h` in the `object` crate).
//! The reference is the JDK's `src/hotspot/share/services/heapDumper.cpp`, whose header
//! comment documents every record; Android's 1.0.3 additions come from its `hprof.cc`.

/// The file header's format name, without the trailing NUL.
pub const MAGIC_PREFIX: &[u8] = b"JAVA PROFILE 1.0.";

/// Format versions this crate reads: HotSpot writes 1.0.1 (before JDK 6) and 1.0.2, Android 1.0.3.
pub const VERSIONS: [&[u8]; 3] = [
    b"JAVA PROFILE 1.0.1",
    b"JAVA PROFILE 1.0.2",
    b"JAVA PROFILE 1.0.3",
];

/// Top-level record tags (`u1 tag, u4 time, u4 length, body`).
pub mod tag {
    /// `id, utf8 bytes`: a string referenced by id from other records.
    pub const UTF8: u8 = 0x01;
    /// `u4 class serial, id class object, u4 stack trace serial, id name string`.
    pub const LOAD_CLASS: u8 = 0x02;
    /// `u4 class serial`.
    pub const UNLOAD_CLASS: u8 = 0x03;
    /// `id frame, id method name, id signature, id source file, u4 class serial, i4 line`.
    pub const STACK_FRAME: u8 = 0x04;
    /// `u4 serial, u4 thread serial, u4 frame count, id * frames`.
    pub const STACK_TRACE: u8 = 0x05;
    /// Allocation sites; HotSpot never writes it, old profilers did.
    pub const ALLOC_SITES: u8 = 0x06;
    /// `u4 live bytes, u4 live instances, u8 bytes allocated, u8 instances allocated`.
    pub const HEAP_SUMMARY: u8 = 0x07;
    /// `u4 thread serial, id thread, u4 trace serial, id name, id group, id parent group`.
    pub const START_THREAD: u8 = 0x0A;
    /// `u4 thread serial`.
    pub const END_THREAD: u8 = 0x0B;
    /// A whole heap dump as one record (1.0.1, or small 1.0.2 dumps).
    pub const HEAP_DUMP: u8 = 0x0C;
    /// CPU samples; not written by heap dumps.
    pub const CPU_SAMPLES: u8 = 0x0D;
    /// `u4 flags, u2 stack depth`.
    pub const CONTROL_SETTINGS: u8 = 0x0E;
    /// One segment of a heap dump (1.0.2); a dump has any number of them.
    pub const HEAP_DUMP_SEGMENT: u8 = 0x1C;
    /// Ends a segmented heap dump.
    pub const HEAP_DUMP_END: u8 = 0x2C;

    /// True for the tags HotSpot, the old hprof agent or Android write.
    pub fn is_known(tag: u8) -> bool {
        name(tag) != "unknown record"
    }

    /// The record's name for messages.
    pub fn name(tag: u8) -> &'static str {
        match tag {
            UTF8 => "UTF8",
            LOAD_CLASS => "LOAD_CLASS",
            UNLOAD_CLASS => "UNLOAD_CLASS",
            STACK_FRAME => "STACK_FRAME",
            STACK_TRACE => "STACK_TRACE",
            ALLOC_SITES => "ALLOC_SITES",
            HEAP_SUMMARY => "HEAP_SUMMARY",
            START_THREAD => "START_THREAD",
            END_THREAD => "END_THREAD",
            HEAP_DUMP => "HEAP_DUMP",
            CPU_SAMPLES => "CPU_SAMPLES",
            CONTROL_SETTINGS => "CONTROL_SETTINGS",
            HEAP_DUMP_SEGMENT => "HEAP_DUMP_SEGMENT",
            HEAP_DUMP_END => "HEAP_DUMP_END",
            _ => "unknown record",
        }
    }
}

/// Heap-dump sub-record tags, found inside HEAP_DUMP and HEAP_DUMP_SEGMENT bodies.
pub mod sub {
    /// `id`: a root of unknown kind.
    pub const ROOT_UNKNOWN: u8 = 0xFF;
    /// `id object, id JNI global ref`.
    pub const ROOT_JNI_GLOBAL: u8 = 0x01;
    /// `id, u4 thread serial, u4 frame number`.
    pub const ROOT_JNI_LOCAL: u8 = 0x02;
    /// `id, u4 thread serial, u4 frame number`: a local variable of a Java frame.
    pub const ROOT_JAVA_FRAME: u8 = 0x03;
    /// `id, u4 thread serial`.
    pub const ROOT_NATIVE_STACK: u8 = 0x04;
    /// `id`: a class the VM keeps loaded (system classes).
    pub const ROOT_STICKY_CLASS: u8 = 0x05;
    /// `id, u4 thread serial`.
    pub const ROOT_THREAD_BLOCK: u8 = 0x06;
    /// `id`: an object whose monitor is held.
    pub const ROOT_MONITOR_USED: u8 = 0x07;
    /// `id thread, u4 thread serial, u4 stack trace serial`: a live thread.
    pub const ROOT_THREAD_OBJECT: u8 = 0x08;
    /// A class: its statics, constant pool references, super class and loader.
    pub const CLASS_DUMP: u8 = 0x20;
    /// `id, u4 trace, id class, u4 byte count, field values`.
    pub const INSTANCE_DUMP: u8 = 0x21;
    /// `id, u4 trace, u4 length, id array class, id * length`.
    pub const OBJ_ARRAY_DUMP: u8 = 0x22;
    /// `id, u4 trace, u4 length, u1 type, values`.
    pub const PRIM_ARRAY_DUMP: u8 = 0x23;
    /// Android: `id`: an interned string.
    pub const ROOT_INTERNED_STRING: u8 = 0x89;
    /// Android: `id`: an object awaiting finalization.
    pub const ROOT_FINALIZING: u8 = 0x8A;
    /// Android: `id`: held by the debugger.
    pub const ROOT_DEBUGGER: u8 = 0x8B;
    /// Android: `id`: a reference being cleaned up.
    pub const ROOT_REFERENCE_CLEANUP: u8 = 0x8C;
    /// Android: `id`: held by the VM.
    pub const ROOT_VM_INTERNAL: u8 = 0x8D;
    /// Android: `id, u4 thread serial, u4 frame number`.
    pub const ROOT_JNI_MONITOR: u8 = 0x8E;
    /// Android: `id`: unreachable object kept in the dump.
    pub const UNREACHABLE: u8 = 0x90;
    /// Android: `id, u4 trace, u4 length, u1 type` with the values left out.
    pub const PRIM_ARRAY_NODATA: u8 = 0xC3;
    /// Android: `u4 heap type, id heap name`: which heap the following objects live in.
    pub const HEAP_DUMP_INFO: u8 = 0xFE;

    /// The sub-record's name for messages.
    pub fn name(tag: u8) -> &'static str {
        match tag {
            ROOT_UNKNOWN => "ROOT_UNKNOWN",
            ROOT_JNI_GLOBAL => "ROOT_JNI_GLOBAL",
            ROOT_JNI_LOCAL => "ROOT_JNI_LOCAL",
            ROOT_JAVA_FRAME => "ROOT_JAVA_FRAME",
            ROOT_NATIVE_STACK => "ROOT_NATIVE_STACK",
            ROOT_STICKY_CLASS => "ROOT_STICKY_CLASS",
            ROOT_THREAD_BLOCK => "ROOT_THREAD_BLOCK",
            ROOT_MONITOR_USED => "ROOT_MONITOR_USED",
            ROOT_THREAD_OBJECT => "ROOT_THREAD_OBJECT",
            CLASS_DUMP => "CLASS_DUMP",
            INSTANCE_DUMP => "INSTANCE_DUMP",
            OBJ_ARRAY_DUMP => "OBJ_ARRAY_DUMP",
            PRIM_ARRAY_DUMP => "PRIM_ARRAY_DUMP",
            ROOT_INTERNED_STRING => "ROOT_INTERNED_STRING",
            ROOT_FINALIZING => "ROOT_FINALIZING",
            ROOT_DEBUGGER => "ROOT_DEBUGGER",
            ROOT_REFERENCE_CLEANUP => "ROOT_REFERENCE_CLEANUP",
            ROOT_VM_INTERNAL => "ROOT_VM_INTERNAL",
            ROOT_JNI_MONITOR => "ROOT_JNI_MONITOR",
            UNREACHABLE => "UNREACHABLE",
            PRIM_ARRAY_NODATA => "PRIM_ARRAY_NODATA",
            HEAP_DUMP_INFO => "HEAP_DUMP_INFO",
            _ => "unknown sub-record",
        }
    }
}

/// The kinds of GC root a dump names; `Unknown` also covers the Android-only kinds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RootKind {
    /// ROOT_UNKNOWN.
    Unknown,
    /// ROOT_JNI_GLOBAL.
    JniGlobal,
    /// ROOT_JNI_LOCAL.
    JniLocal,
    /// ROOT_JAVA_FRAME.
    JavaFrame,
    /// ROOT_NATIVE_STACK.
    NativeStack,
    /// ROOT_STICKY_CLASS.
    StickyClass,
    /// ROOT_THREAD_BLOCK.
    ThreadBlock,
    /// ROOT_MONITOR_USED.
    MonitorUsed,
    /// ROOT_THREAD_OBJECT.
    ThreadObject,
    /// Android ROOT_INTERNED_STRING.
    InternedString,
    /// Android ROOT_FINALIZING.
    Finalizing,
    /// Android ROOT_DEBUGGER.
    Debugger,
    /// Android ROOT_REFERENCE_CLEANUP.
    ReferenceCleanup,
    /// Android ROOT_VM_INTERNAL.
    VmInternal,
    /// Android ROOT_JNI_MONITOR.
    JniMonitor,
}

impl RootKind {
    /// A short human name, as MAT and VisualVM print it.
    pub fn name(self) -> &'static str {
        match self {
            RootKind::Unknown => "unknown",
            RootKind::JniGlobal => "JNI global",
            RootKind::JniLocal => "JNI local",
            RootKind::JavaFrame => "Java frame",
            RootKind::NativeStack => "native stack",
            RootKind::StickyClass => "system class",
            RootKind::ThreadBlock => "thread block",
            RootKind::MonitorUsed => "busy monitor",
            RootKind::ThreadObject => "thread",
            RootKind::InternedString => "interned string",
            RootKind::Finalizing => "finalizing",
            RootKind::Debugger => "debugger",
            RootKind::ReferenceCleanup => "reference cleanup",
            RootKind::VmInternal => "VM internal",
            RootKind::JniMonitor => "JNI monitor",
        }
    }
}

/// HPROF basic types, as coded in class dumps and primitive arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BasicType {
    /// An object reference (code 2), of the dump's identifier size.
    Object,
    /// code 4
    Boolean,
    /// code 5
    Char,
    /// code 6
    Float,
    /// code 7
    Double,
    /// code 8
    Byte,
    /// code 9
    Short,
    /// code 10
    Int,
    /// code 11
    Long,
}

impl BasicType {
    /// Decodes a type code; `None` for codes HPROF does not define.
    pub fn from_code(code: u8) -> Option<BasicType> {
        Some(match code {
            2 => BasicType::Object,
            4 => BasicType::Boolean,
            5 => BasicType::Char,
            6 => BasicType::Float,
            7 => BasicType::Double,
            8 => BasicType::Byte,
            9 => BasicType::Short,
            10 => BasicType::Int,
            11 => BasicType::Long,
            _ => return None,
        })
    }

    /// Bytes a value takes in the dump; references take the identifier size.
    pub fn dump_size(self, id_size: IdSize) -> usize {
        match self {
            BasicType::Object => id_size.bytes(),
            BasicType::Boolean | BasicType::Byte => 1,
            BasicType::Char | BasicType::Short => 2,
            BasicType::Float | BasicType::Int => 4,
            BasicType::Double | BasicType::Long => 8,
        }
    }

    /// The Java name of the type (`int`, `byte`, ...), `Object` for references.
    pub fn java_name(self) -> &'static str {
        match self {
            BasicType::Object => "Object",
            BasicType::Boolean => "boolean",
            BasicType::Char => "char",
            BasicType::Float => "float",
            BasicType::Double => "double",
            BasicType::Byte => "byte",
            BasicType::Short => "short",
            BasicType::Int => "int",
            BasicType::Long => "long",
        }
    }

    /// The JVM descriptor of a one-dimensional array of this type (`[I`).
    pub fn array_descriptor(self) -> &'static str {
        match self {
            BasicType::Object => "[Ljava/lang/Object;",
            BasicType::Boolean => "[Z",
            BasicType::Char => "[C",
            BasicType::Float => "[F",
            BasicType::Double => "[D",
            BasicType::Byte => "[B",
            BasicType::Short => "[S",
            BasicType::Int => "[I",
            BasicType::Long => "[J",
        }
    }
}

/// Size of object identifiers in this dump: 4 bytes (32-bit JVMs) or 8 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdSize {
    /// 32-bit identifiers.
    Four,
    /// 64-bit identifiers.
    Eight,
}

impl IdSize {
    /// The identifier size in bytes.
    pub fn bytes(self) -> usize {
        match self {
            IdSize::Four => 4,
            IdSize::Eight => 8,
        }
    }
}
