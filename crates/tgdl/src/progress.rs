//! Showing a download as it happens: `indicatif` bars on a terminal (overall bytes, rate,
//! ETA, and one line per active file), or JSON-lines events on stdout with `--json`.

use std::io;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use tgclient::download::DownloadEvent;

/// Where progress goes.
#[derive(Debug)]
pub enum Progress {
    Bars(Bars),
    Json,
    Quiet,
}

/// The terminal display.
#[derive(Debug)]
pub struct Bars {
    multi: MultiProgress,
    total: ProgressBar,
    files: Vec<Option<ProgressBar>>,
    names: Vec<String>,
}

/// A `--json` event line.
#[derive(Debug, Serialize)]
struct EventJson<'a> {
    event: &'static str,
    index: usize,
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    size: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ok: Option<bool>,
}

impl Progress {
    /// Bars for `names` (display names per job) totalling `total` bytes; JSON events
    /// instead with `json`.
    pub fn new(json: bool, names: Vec<String>, total: u64) -> Self {
        if json {
            return Progress::Json;
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr_with_hz(8));
        if multi.is_hidden() {
            return Progress::Quiet;
        }
        let total_bar = multi.add(ProgressBar::new(total));
        total_bar.set_style(
            ProgressStyle::with_template(
                "{bar:30.cyan/blue} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        total_bar.enable_steady_tick(Duration::from_millis(250));
        Progress::Bars(Bars {
            multi,
            total: total_bar,
            files: vec![None; names.len()],
            names,
        })
    }

    /// Shows `event`; `names[index]` is the job's path. Fails when a `--json` line cannot
    /// be written to stdout (the bars on stderr never fail).
    pub fn show(&mut self, event: &DownloadEvent, names: &[String]) -> io::Result<()> {
        let name = |index: usize| names.get(index).map_or("", String::as_str);
        match self {
            Progress::Quiet => Ok(()),
            Progress::Json => {
                let line = match *event {
                    DownloadEvent::Started {
                        index,
                        size,
                        resumed,
                    } => EventJson {
                        event: "started",
                        index,
                        path: name(index),
                        size: Some(size),
                        bytes: Some(resumed),
                        ok: None,
                    },
                    DownloadEvent::Progress { index, bytes } => EventJson {
                        event: "progress",
                        index,
                        path: name(index),
                        size: None,
                        bytes: Some(bytes),
                        ok: None,
                    },
                    DownloadEvent::Finished { index, ok } => EventJson {
                        event: "finished",
                        index,
                        path: name(index),
                        size: None,
                        bytes: None,
                        ok: Some(ok),
                    },
                };
                crate::output::write_json_line(&mut io::stdout().lock(), &line)
            }
            Progress::Bars(bars) => {
                bars.show(event);
                Ok(())
            }
        }
    }

    /// Ends the display.
    pub fn finish(&self) {
        if let Progress::Bars(bars) = self {
            bars.total.finish_and_clear();
            let _ = bars.multi.clear();
        }
    }
}

impl Bars {
    fn show(&mut self, event: &DownloadEvent) {
        match *event {
            DownloadEvent::Started {
                index,
                size,
                resumed,
            } => {
                self.total.inc(resumed);
                let bar = self.multi.add(ProgressBar::new(size));
                bar.set_style(
                    ProgressStyle::with_template(
                        "  {bar:20.green/white} {bytes:>10}/{total_bytes:<10} {msg}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
                bar.set_position(resumed);
                bar.set_message(self.names.get(index).cloned().unwrap_or_default());
                if let Some(slot) = self.files.get_mut(index) {
                    *slot = Some(bar);
                }
            }
            DownloadEvent::Progress { index, bytes } => {
                self.total.inc(bytes);
                if let Some(Some(bar)) = self.files.get(index) {
                    bar.inc(bytes);
                }
            }
            DownloadEvent::Finished { index, .. } => {
                if let Some(bar) = self.files.get_mut(index).and_then(Option::take) {
                    bar.finish_and_clear();
                    self.multi.remove(&bar);
                }
            }
        }
    }
}
