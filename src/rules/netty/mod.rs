//! The netty pack: off-heap memory netty counts itself (INCIDENTS.md, incident 4). Class
//! and field names checked against netty 4.1.48 (Debian `libnetty-java`).

pub mod direct_memory_leak;
