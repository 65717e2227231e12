//! The live half of a round: `@chaos_live`, a channel that gets new posts all through the
//! round while `tgdl watch` follows it. The watcher is SIGKILLed at seeded moments and started
//! again; some kills are followed by a burst of posts longer than the server's
//! channel-difference limit, so the restart takes the too-long path (relisting), and the
//! fault schedule drops pushed updates, so gaps must be noticed. When the downloads are done,
//! posting stops, the watcher gets time to catch up and is stopped with SIGTERM (a clean
//! stop, exit status 0); then every posted file must be in place with its bytes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Result;
use localdc::world::fixture::{MediaSpec, NewMedia, PostSpec};
use localdc::world::{ChatRef, World};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use crate::fixture::{LIVE_CHAT, LIVE_CHAT_ID, LIVE_TOO_LONG, document_hashes, log_uniform};
use crate::run::Client;

/// The largest file posted while the round runs (most are much smaller).
const MAX_POSTED: u64 = 3 << 20;
/// How long the watcher has to catch up once posting stops, counted from its last new file.
const CATCH_UP: Duration = Duration::from_mins(3);
/// How long a SIGTERMed watcher may take to stop.
const STOP_GRACE: Duration = Duration::from_mins(1);

/// One file the live channel has (initial or posted), by the path tgdl's default template
/// gives it under the watcher's output directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LiveFile {
    pub media_id: i64,
    pub size: u64,
}

/// What the live half of a round saw.
#[derive(Debug, Default, Clone)]
pub struct LiveOutcome {
    /// Messages posted during the round.
    pub posted: u64,
    /// Watcher runs SIGKILLed.
    pub kills: u64,
    /// Watcher runs that ended on their own with an error.
    pub failures: u64,
    /// Watcher runs that panicked.
    pub panics: u64,
    /// Whether the last run stopped cleanly (status 0) on SIGTERM.
    pub clean_stop: bool,
}

/// The poster and the watcher driver of a round.
#[derive(Debug)]
pub struct Live {
    posting: Arc<AtomicBool>,
    burst: Arc<AtomicU32>,
    poster: JoinHandle<(BTreeMap<PathBuf, LiveFile>, u64)>,
    killing: Arc<AtomicBool>,
    terminate: Arc<AtomicBool>,
    driver: JoinHandle<LiveOutcome>,
    out: PathBuf,
}

impl Live {
    /// Starts posting into the live channel of `world` and the watcher runs of `client`
    /// (whose files go to `out`).
    pub fn start(
        world: Arc<World>,
        client: Arc<Client>,
        out: PathBuf,
        seed: u64,
        verbose: bool,
    ) -> Self {
        let posting = Arc::new(AtomicBool::new(true));
        let burst = Arc::new(AtomicU32::new(0));
        let poster = {
            let posting = Arc::clone(&posting);
            let burst = Arc::clone(&burst);
            let rng = StdRng::seed_from_u64(seed ^ 0x1153_0057);
            std::thread::spawn(move || post(&world, rng, &posting, &burst, verbose))
        };
        let killing = Arc::new(AtomicBool::new(true));
        let terminate = Arc::new(AtomicBool::new(false));
        let driver = {
            let flags = DriverFlags {
                killing: Arc::clone(&killing),
                terminate: Arc::clone(&terminate),
                burst: Arc::clone(&burst),
            };
            let rng = StdRng::seed_from_u64(seed ^ 0x0dd_c0de);
            std::thread::spawn(move || drive_watcher(&client, rng, &flags, verbose))
        };
        Self {
            posting,
            burst,
            poster,
            killing,
            terminate,
            driver,
            out,
        }
    }

    /// Stops posting and killing, waits until the watcher has every file of `initial` and
    /// of the posts (or makes no progress for [`CATCH_UP`]), stops it with SIGTERM; the
    /// expected files and what happened.
    pub fn finish(
        self,
        initial: &BTreeMap<PathBuf, LiveFile>,
    ) -> (BTreeMap<PathBuf, LiveFile>, LiveOutcome) {
        self.posting.store(false, Ordering::Relaxed);
        self.killing.store(false, Ordering::Relaxed);
        self.burst.store(0, Ordering::Relaxed);
        let (mut expected, posted) = self.poster.join().unwrap_or_default();
        expected.extend(initial.iter().map(|(path, file)| (path.clone(), *file)));
        let mut last = (Instant::now(), usize::MAX);
        loop {
            let missing = expected
                .iter()
                .filter(|(path, file)| !in_place(&self.out.join(path), file.size))
                .count();
            if missing == 0 {
                break;
            }
            if missing != last.1 {
                last = (Instant::now(), missing);
            } else if last.0.elapsed() > CATCH_UP {
                eprintln!(
                    "chaos: the watcher is still missing {missing} files {}s after its last one",
                    CATCH_UP.as_secs()
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.terminate.store(true, Ordering::Relaxed);
        let mut outcome = self.driver.join().unwrap_or_default();
        outcome.posted = posted;
        (expected, outcome)
    }
}

fn in_place(path: &Path, size: u64) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.len() == size)
}

/// The path tgdl's default template gives the file of message `msg_id` named `name`.
pub fn live_path(msg_id: i32, name: &str) -> PathBuf {
    PathBuf::from(LIVE_CHAT).join(format!("{msg_id}_{name}"))
}

/// Posts a document every 0.1-1.5 s (and a burst when asked) until `posting` is cleared;
/// the posted files and how many messages were posted.
fn post(
    world: &World,
    mut rng: StdRng,
    posting: &AtomicBool,
    burst: &AtomicU32,
    verbose: bool,
) -> (BTreeMap<PathBuf, LiveFile>, u64) {
    let mut files = BTreeMap::new();
    let mut posted = 0u64;
    let mut bursts = 0u64;
    while posting.load(Ordering::Relaxed) {
        let burst_len = burst.swap(0, Ordering::Relaxed);
        let (count, max) = if burst_len > 0 {
            bursts += 1;
            (burst_len, 64 << 10)
        } else {
            (1, MAX_POSTED)
        };
        for _ in 0..count {
            let size = log_uniform(&mut rng, max);
            let name = format!("live{}.bin", posted + 1);
            match post_one(world, &name, size, rng.gen_range(1..=5)) {
                Ok((msg_id, file)) => {
                    files.insert(live_path(msg_id, &name), file);
                    posted += 1;
                }
                Err(error) => eprintln!("chaos: posting into @{LIVE_CHAT} failed: {error:#}"),
            }
        }
        if verbose && burst_len > 0 {
            eprintln!("chaos: posted a burst of {burst_len} into @{LIVE_CHAT}");
        }
        std::thread::sleep(Duration::from_millis(rng.gen_range(100..1500)));
    }
    if verbose {
        eprintln!("chaos: posted {posted} messages into @{LIVE_CHAT} ({bursts} bursts)");
    }
    (files, posted)
}

/// Posts one document; its message id and file.
fn post_one(world: &World, name: &str, size: u64, dc: i32) -> Result<(i32, LiveFile)> {
    let spec = PostSpec {
        text: format!("live {name}"),
        media: Some(NewMedia::Document {
            size,
            file_name: Some(name.to_owned()),
            mime_type: Some("application/octet-stream".into()),
            dc: Some(dc),
        }),
        ..PostSpec::default()
    };
    let msg_id = world.post(ChatRef::Chat(LIVE_CHAT_ID), &spec)?;
    let store = world.store();
    let media = store
        .chats
        .get(&LIVE_CHAT_ID)
        .and_then(|chat| chat.message(msg_id))
        .and_then(|message| message.media.as_ref());
    let Some(MediaSpec::Document(document)) = media else {
        anyhow::bail!("message {msg_id} has no document after posting it");
    };
    Ok((
        msg_id,
        LiveFile {
            media_id: document.id,
            size: document.size,
        },
    ))
}

/// The SHA-256 of every live file, from the world's deterministic media.
pub fn expected_hashes(
    world: &World,
    files: &BTreeMap<PathBuf, LiveFile>,
) -> Result<BTreeMap<PathBuf, [u8; 32]>> {
    document_hashes(
        world,
        files.iter().map(|(path, file)| (path, file.media_id)),
    )
}

struct DriverFlags {
    killing: Arc<AtomicBool>,
    terminate: Arc<AtomicBool>,
    burst: Arc<AtomicU32>,
}

/// Runs the watcher: SIGKILLs it every 2-10 s while `killing` is set (after some kills
/// asking the poster for a burst longer than the difference limit), restarts it when it
/// ends, and once `terminate` is set stops it with SIGTERM.
fn drive_watcher(
    client: &Client,
    mut rng: StdRng,
    flags: &DriverFlags,
    verbose: bool,
) -> LiveOutcome {
    let mut outcome = LiveOutcome::default();
    for run in 0u64.. {
        let mut running = match client.watch(run) {
            Ok(running) => running,
            Err(error) => {
                eprintln!("chaos: cannot start the watcher: {error:#}");
                outcome.failures += 1;
                return outcome;
            }
        };
        let kill_at = Instant::now() + Duration::from_millis(rng.gen_range(2000..10_000));
        let ended = loop {
            if flags.terminate.load(Ordering::Relaxed) {
                outcome.clean_stop = terminate(&mut running, run, verbose);
                note_panic(client, run, &mut outcome);
                return outcome;
            }
            if let Ok(Some(status)) = running.try_wait() {
                break Some(status);
            }
            if flags.killing.load(Ordering::Relaxed) && Instant::now() >= kill_at {
                // Child::kill is SIGKILL on Unix.
                let _ = running.kill();
                let _ = running.wait();
                outcome.kills += 1;
                if rng.gen_bool(0.4) {
                    let len = LIVE_TOO_LONG + rng.gen_range(5..40);
                    flags.burst.store(len, Ordering::Relaxed);
                }
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        note_panic(client, run, &mut outcome);
        if let Some(status) = ended {
            outcome.failures += 1;
            eprintln!(
                "chaos: the watcher ended on its own ({status}, run {run}):\n{}",
                crate::run::tail(&client.watch_stderr(run))
            );
        }
        // Down for a moment, so that posts (and a burst) land while nobody watches.
        std::thread::sleep(Duration::from_millis(rng.gen_range(50..1500)));
    }
    outcome
}

/// SIGTERMs the watcher and waits for it; whether it stopped with status 0.
fn terminate(running: &mut Child, run: u64, verbose: bool) -> bool {
    let pid = rustix::process::Pid::from_child(running);
    if rustix::process::kill_process(pid, rustix::process::Signal::TERM).is_err() {
        return false;
    }
    let deadline = Instant::now() + STOP_GRACE;
    loop {
        match running.try_wait() {
            Ok(Some(status)) => {
                if verbose || !status.success() {
                    eprintln!("chaos: the watcher (run {run}) stopped on SIGTERM with {status}");
                }
                return status.success();
            }
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            _ => {
                eprintln!("chaos: the watcher did not stop on SIGTERM: killed");
                let _ = running.kill();
                let _ = running.wait();
                return false;
            }
        }
    }
}

fn note_panic(client: &Client, run: u64, outcome: &mut LiveOutcome) {
    let stderr = client.watch_stderr(run);
    if stderr.contains("panicked") {
        outcome.panics += 1;
        eprintln!(
            "chaos: the watcher panicked (run {run}):\n{}",
            crate::run::tail(&stderr)
        );
    }
}
