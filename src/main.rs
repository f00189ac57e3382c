//! The rollcall executable: parses the command line; with no subcommand it opens the window.

fn main() -> std::process::ExitCode {
    configure_threads();
    rollcall::cli::main(rollcall::gui::run)
}

/// Sets candle's thread counts unless the user did: candle's element-wise thread pool spins
/// while it waits and collapses when other programs load the machine (a training step took
/// twice as long at load 9), so it gets one thread; matrix products keep every core through
/// rayon, whose count is fixed once here instead of read from `/proc/cpuinfo` on every product.
fn configure_threads() {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    for (name, value) in [
        ("CANDLE_NUM_THREADS", "1".to_owned()),
        ("RAYON_NUM_THREADS", cores.to_string()),
    ] {
        if std::env::var_os(name).is_none() {
            // SAFETY: this runs first thing in `main`, before any other thread exists, so no
            // other thread can read the environment while it changes.
            #[allow(unsafe_code)]
            unsafe {
                std::env::set_var(name, value);
            }
        }
    }
}
