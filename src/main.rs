//! The `heapsleuth` binary: parse the command line, run, exit with a code.
//! Exit codes: 0 success; 1 `check` found a finding at or above `--fail-on`;
//! 2 usage error, bad config, or an unreadable, invalid or corrupt dump.

/// Large arrays recycled between phases: see `heapsleuth::alloc` for why.
#[global_allocator]
static ALLOC: heapsleuth::alloc::RecyclingAlloc = heapsleuth::alloc::RecyclingAlloc;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(heapsleuth::cli::main() as u8)
}
