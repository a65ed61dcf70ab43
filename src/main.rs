//! The `heapsleuth` binary: parse the command line, run, exit with a code.
//! Exit codes: 0 success, 2 usage error or unreadable, invalid or corrupt dump.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(heapsleuth::cli::main() as u8)
}
