//! Small helpers shared by the subcommands.

/// Whether an error chain ends in a broken pipe (e.g. `hark ... | head`).
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|e| {
        e.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// A progress bar on stderr, hidden with `--quiet` or when stderr is not a terminal.
pub fn progress_bar(len: u64, quiet: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if quiet || !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("[{bar:30}] {pos}/{len} {msg} ETA {eta}")
    {
        bar.set_style(style);
    }
    bar
}

/// Seconds of `clock` (a `clock_gettime` clock id), exact to the nanosecond; `None`
/// where the clock is missing.
fn clock_secs(clock: libc::clockid_t) -> Option<f64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; the call only writes into it.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

/// CPU seconds used so far by the calling thread (`CLOCK_THREAD_CPUTIME_ID`).
pub fn thread_cpu_secs() -> Option<f64> {
    clock_secs(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU seconds used so far by the whole process, all threads
/// (`CLOCK_PROCESS_CPUTIME_ID`).
pub fn process_cpu_secs() -> Option<f64> {
    clock_secs(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// A stopwatch over the calling thread's CPU time (what a measurement on one core
/// means on a shared machine), falling back to wall time where the clock is missing.
pub struct CpuClock {
    cpu: Option<f64>,
    wall: std::time::Instant,
}

impl CpuClock {
    /// Starts both clocks.
    pub fn start() -> Self {
        CpuClock {
            cpu: thread_cpu_secs(),
            wall: std::time::Instant::now(),
        }
    }

    /// (CPU seconds, wall seconds) since `start`.
    pub fn elapsed(&self) -> (f64, f64) {
        let wall = self.wall.elapsed().as_secs_f64();
        let cpu = match (self.cpu, thread_cpu_secs()) {
            (Some(a), Some(b)) => b - a,
            _ => wall,
        };
        (cpu, wall)
    }
}
