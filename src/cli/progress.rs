//! Progress bars on stderr (indicatif) and the per-phase measurements `--timings` prints.

use std::io::Write;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::progress::Progress;

/// One finished phase's measurements.
#[derive(Clone, Debug)]
struct PhaseTiming {
    name: &'static str,
    wall: Duration,
    cpu: Duration,
    rss_anon_kb: u64,
    rss_file_kb: u64,
    /// Peak resident memory during the phase (0 where the kernel cannot reset the peak).
    peak_kb: u64,
}

/// Progress bars on stderr (hidden when it is not a terminal) plus per-phase timings.
pub struct TerminalProgress {
    bar: Mutex<Option<ProgressBar>>,
    current: Mutex<Option<(&'static str, Instant, Duration)>>,
    done: Mutex<Vec<PhaseTiming>>,
    notes: Mutex<Vec<(&'static str, u64)>>,
    hidden: bool,
    started: Instant,
}

impl TerminalProgress {
    /// A reporter; `quiet` hides the bars.
    pub fn new(quiet: bool) -> TerminalProgress {
        TerminalProgress {
            bar: Mutex::new(None),
            current: Mutex::new(None),
            done: Mutex::new(Vec::new()),
            notes: Mutex::new(Vec::new()),
            hidden: quiet,
            started: Instant::now(),
        }
    }

    /// Writes one `timing` line per phase, and a total, to `w`.
    pub fn write_timings(&self, w: &mut dyn Write) -> std::io::Result<()> {
        let done = self.done.lock().expect("not poisoned");
        // Phases reset the kernel's high-water mark, so the run's peak is theirs.
        let peak = done.iter().map(|t| t.peak_kb).fold(memory_kb().0, u64::max);
        for t in done.iter() {
            // The mapped dump's pages only accumulate, so peak minus the file pages at the
            // end of the phase bounds the anonymous peak from below (and is exact when the
            // peak came at the end).
            let peak_anon = t.peak_kb.saturating_sub(t.rss_file_kb).max(t.rss_anon_kb);
            writeln!(
                w,
                "timing phase={:?} wall_ms={:.1} cpu_ms={:.1} rss_anon_mb={:.1} rss_file_mb={:.1} \
                 peak_rss_mb={:.1} peak_anon_mb={:.1}",
                t.name,
                t.wall.as_secs_f64() * 1e3,
                t.cpu.as_secs_f64() * 1e3,
                t.rss_anon_kb as f64 / 1024.0,
                t.rss_file_kb as f64 / 1024.0,
                t.peak_kb as f64 / 1024.0,
                peak_anon as f64 / 1024.0,
            )?;
        }
        for (name, value) in self.notes.lock().expect("not poisoned").iter() {
            writeln!(
                w,
                "timing {name}_mb={:.1}",
                *value as f64 / (1 << 20) as f64
            )?;
        }
        writeln!(
            w,
            "timing phase=\"total\" wall_ms={:.1} cpu_ms={:.1} peak_rss_mb={:.1}",
            self.started.elapsed().as_secs_f64() * 1e3,
            cpu_time().as_secs_f64() * 1e3,
            peak as f64 / 1024.0
        )
    }
}

impl Progress for TerminalProgress {
    fn start(&self, phase: &'static str, total: u64) {
        reset_peak();
        *self.current.lock().expect("not poisoned") = Some((phase, Instant::now(), cpu_time()));
        if self.hidden {
            return;
        }
        let bar = if total > 0 {
            ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        };
        let style = if total > 0 {
            ProgressStyle::with_template("{msg:>24} [{bar:30}] {percent:>3}% {elapsed_precise}")
        } else {
            ProgressStyle::with_template("{msg:>24} {spinner} {elapsed_precise}")
        };
        bar.set_style(style.expect("valid template").progress_chars("=> "));
        bar.set_message(phase);
        bar.enable_steady_tick(Duration::from_millis(200));
        *self.bar.lock().expect("not poisoned") = Some(bar);
    }

    fn note(&self, name: &'static str, value: u64) {
        self.notes.lock().expect("not poisoned").push((name, value));
    }

    fn advance(&self, n: u64) {
        if let Some(b) = self.bar.lock().expect("not poisoned").as_ref() {
            b.inc(n);
        }
    }

    fn finish(&self) {
        if let Some(b) = self.bar.lock().expect("not poisoned").take() {
            b.finish_and_clear();
        }
        if let Some((name, wall, cpu)) = self.current.lock().expect("not poisoned").take() {
            let (peak, anon, file) = memory_kb();
            self.done.lock().expect("not poisoned").push(PhaseTiming {
                name,
                wall: wall.elapsed(),
                cpu: cpu_time().saturating_sub(cpu),
                rss_anon_kb: anon,
                rss_file_kb: file,
                peak_kb: peak,
            });
        }
    }
}

/// Process CPU time (user + system) to the microsecond; zero where that is unavailable.
/// (/proc/self/stat counts in 10 ms ticks, too coarse for the short phases.)
fn cpu_time() -> Duration {
    #[cfg(unix)]
    {
        // SAFETY: getrusage only writes the struct it is given.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } == 0 {
            let tv = |t: libc::timeval| {
                Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
            };
            return tv(u.ru_utime) + tv(u.ru_stime);
        }
    }
    Duration::ZERO
}

/// Resets the kernel's resident-memory high-water mark (VmHWM) to the current RSS, so that
/// each phase reports its own peak rather than the run's so far. Linux only; elsewhere the
/// peak simply is not reset.
fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// (peak RSS, current anonymous RSS, current file-backed RSS) in KiB, from /proc.
fn memory_kb() -> (u64, u64, u64) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return (0, 0, 0);
    };
    let get = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (get("VmHWM:"), get("RssAnon:"), get("RssFile:"))
}
