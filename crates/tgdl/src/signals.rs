//! SIGINT and SIGTERM: the first asks the running command to stop cleanly (the download
//! engine records what is on disk, a watcher keeps its last saved state), a second one
//! ends the process at once.

use std::sync::{Arc, OnceLock};

use anyhow::{Context, Result};
use tgclient::download::StopSignal;
use tokio::signal::unix::{SignalKind, signal};

/// The signals that stop tgdl.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    Interrupt,
    Terminate,
}

impl Signal {
    /// The shell's status for a process this signal ended (128 + its number).
    pub fn exit_code(self) -> u8 {
        match self {
            Signal::Interrupt => 130,
            Signal::Terminate => 143,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Signal::Interrupt => "SIGINT",
            Signal::Terminate => "SIGTERM",
        }
    }
}

/// A command that stopped because it was asked to; `main` exits with the signal's status
/// (130 or 143), as a shell reports a process the signal ended, so that a script does not
/// take an interrupted download for a complete one.
#[derive(Debug)]
pub struct Interrupted {
    pub signal: Signal,
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "stopped by {}; what was downloaded is recorded and the same command resumes",
            self.signal.name()
        )
    }
}

impl std::error::Error for Interrupted {}

/// The stop requested by a signal, shared with the download engine.
#[derive(Debug, Clone)]
pub struct Stopper {
    stop: StopSignal,
    received: Arc<OnceLock<Signal>>,
}

impl Stopper {
    /// Starts listening for SIGINT and SIGTERM (inside the runtime).
    pub fn listen() -> Result<Self> {
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot listen for SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
        let stopper = Self {
            stop: StopSignal::new(),
            received: Arc::new(OnceLock::new()),
        };
        let shared = stopper.clone();
        tokio::spawn(async move {
            loop {
                let got = tokio::select! {
                    _ = interrupt.recv() => Signal::Interrupt,
                    _ = terminate.recv() => Signal::Terminate,
                };
                if shared.received.set(got).is_err() {
                    // Asked twice: the user does not want to wait for the clean stop.
                    std::process::exit(i32::from(got.exit_code()));
                }
                crate::output::note(format_args!(
                    "{}: stopping cleanly (again to quit at once)",
                    got.name()
                ));
                shared.stop.request();
            }
        });
        Ok(stopper)
    }

    /// The signal for the download engine.
    pub fn signal(&self) -> &StopSignal {
        &self.stop
    }

    /// Waits until a stop is asked.
    pub async fn requested(&self) {
        self.stop.requested().await;
    }

    /// The signal received, if one was.
    pub fn received(&self) -> Option<Signal> {
        self.received.get().copied()
    }
}
