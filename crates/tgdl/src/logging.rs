//! Logging to stderr: warnings by default, more with each `-v`. What gets logged never
//! includes codes, passwords, tokens or keys (the libraries redact them).

use std::io::IsTerminal;

use tracing_subscriber::filter::LevelFilter;

/// Installs the stderr logger for `verbose` (the number of `-v`).
pub fn init(verbose: u8) {
    let level = match verbose {
        0 => LevelFilter::WARN,
        1 => LevelFilter::INFO,
        2 => LevelFilter::DEBUG,
        _ => LevelFilter::TRACE,
    };
    // A second install (tests calling in twice) is not an error worth reporting.
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(verbose >= 2)
        .try_init();
}
