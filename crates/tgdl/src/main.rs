//! The `tgdl` binary: parse the command line, run it, report errors on stderr.

// The print macros panic when the write fails: see `tgdl::output`.
#![deny(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // Usage errors exit with status 2 from inside clap.
    let cli = tgdl::cli::Cli::parse();
    tgdl::logging::init(cli.global.verbose);
    match tgdl::run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`tgdl history ... | head`): nothing more to say.
        Err(error) if tgdl::errors::is_broken_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            // A requested stop: said as such, with the shell's status for the signal.
            if let Some(stop) = error.downcast_ref::<tgdl::signals::Interrupted>() {
                tgdl::output::note(stop);
                return ExitCode::from(stop.signal.exit_code());
            }
            // Not `eprintln!`: it panics when stderr cannot be written (a file on a full
            // disk), turning a clean failure into a crash.
            tgdl::output::note(tgdl::errors::report(&error));
            ExitCode::FAILURE
        }
    }
}
