//! A hostile server: localdc with its [`HostileMutator`] armed rewrites answers after its
//! handlers ran (bit flips, truncations, extensions, wrong constructor ids, huge vector
//! counts, lying `bytes` lengths, gzip bombs, file parts longer or shorter than asked,
//! corrupted parts, wrong or out-of-range hashes, wrong CDN keys and bytes). For each seeded
//! case a fresh client (from a prepared, logged-in session) pages history, searches and
//! downloads three small files (multi-part, another DC, through the CDN); whatever the
//! server said, nothing panics (anywhere in the process), memory stays bounded, no run
//! hangs, every file that reached its final name is the fixture's file, and no file that
//! failed has a final name.
//!
//! `HOSTILE_CASES=10000` runs the long mode; `HOSTILE_SEED` shifts the seeds.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// The allocation counter below is a global allocator, which is `unsafe` to implement.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use localdc::rpc::HostileMutator;
use localdc::world::{FileKey, Fixture, World};
use localdc::{Config, RunningServer};
use rand::{Rng, SeedableRng};
use tgclient::download::{DownloadJob, DownloadOptions, FileOutcome, download, part_path};
use tgclient::media::MediaFile;
use tgclient::{Client, ServerConfig, SessionStore};
use tl_types::api::enums;

use crate::common;

// ---- process-wide peak of live heap bytes --------------------------------------------------

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

struct Counting;

// SAFETY: every call is forwarded unchanged to the system allocator; the bookkeeping is
// two atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grow(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: `ptr` came from `System` with `layout`; the caller upholds `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn grow(size: usize) {
    let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
    PEAK.fetch_max(live, Ordering::Relaxed);
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The most one case may add to what the whole process (server and client) holds. A correct run needs a
/// few parts in flight on each side (about 1 MiB each) and the 16 MiB a `gzip_packed` may
/// expand to; a client that believed a vector count or a length prefix would go far past.
const PEAK_BOUND: usize = 96 << 20;

// ---- panics anywhere in the process --------------------------------------------------------

static PANICS: AtomicUsize = AtomicUsize::new(0);

fn count_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        default(info);
    }));
}

// ---- the world -----------------------------------------------------------------------------

const KIB: u64 = 1 << 10;
const MIB: u64 = 1 << 20;
const CHANNEL: i64 = 701;
const TEXT_MESSAGES: i32 = 230;

fn fixture() -> Fixture {
    let doc = common::document;
    let mut messages: Vec<serde_json::Value> = (1..=TEXT_MESSAGES)
        .map(|id| {
            let text = if id % 10 == 0 {
                format!("needle {id}")
            } else {
                format!("hay {id}")
            };
            serde_json::json!({ "id": id, "date": 1_700_000_000 + id, "text": text })
        })
        .collect();
    let media = [
        (1, doc(91_001, 2, MIB + 70 * KIB, "home.bin", false)),
        (2, doc(91_002, 4, 200 * KIB + 13, "other.bin", false)),
        (3, doc(91_003, 2, MIB + 30 * KIB, "cdn.bin", true)),
    ];
    for (i, media) in media {
        let id = TEXT_MESSAGES + i;
        messages.push(serde_json::json!({ "id": id, "date": 1_700_000_000 + id,
            "text": "needle file", "media": media }));
    }
    common::files_channel(5, CHANNEL, &serde_json::Value::Array(messages))
}

struct Env {
    server: RunningServer,
    registry_hook: Arc<localdc::rpc::MutatorHook>,
    world: Arc<World>,
    server_config: ServerConfig,
    /// The prepared session (logged in, keys made on every DC the workload uses).
    session: tempfile::TempDir,
    peer: enums::InputPeer,
    media: Vec<(i32, MediaFile)>,
}

fn open_client(path: &Path, server: ServerConfig) -> Client {
    let mut config = common::client_config(server);
    config.request_timeout = Duration::from_secs(5);
    Client::new(config, SessionStore::open(path).unwrap()).unwrap()
}

const SESSION: &str = "s.session";

/// Copies the prepared session (database and WAL) into `dir`.
fn copy_session(from: &Path, to: &Path) -> PathBuf {
    for suffix in ["", "-wal", "-shm"] {
        let name = format!("{SESSION}{suffix}");
        if from.join(&name).exists() {
            std::fs::copy(from.join(&name), to.join(&name)).unwrap();
        }
    }
    to.join(SESSION)
}

async fn setup() -> Env {
    let world = Arc::new(World::from_fixture(fixture()).unwrap());
    let mut config = Config {
        cdn_dcs: vec![201],
        // Every case opens new sessions on one auth key per DC (and makes a new CDN key);
        // what the sessions left unacknowledged is bounded by the default limits.
        limits: localdc::Limits::default(),
        ..Config::default()
    };
    // Every reading of the spec the docs allow, one per session (HOSTILE_QUIRKS picks the
    // seed): the client must come through all of them and the hostile answers together.
    // All but a DC without getFileHashes: bytes a server lies about cannot be caught
    // without its hashes (that reading has its own test, in download.rs).
    let quirks = std::env::var("HOSTILE_QUIRKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(11);
    config.faults.quirks = localdc::quirks::Quirks::seeded(quirks).keeping_file_hashes();
    let mut registry_hook = None;
    let server = common::serve(config, &world, |registry| {
        registry_hook = Some(Arc::clone(registry.mutator()));
    })
    .await;
    let registry_hook = registry_hook.unwrap();
    let server_config = common::server_config(&server);
    let session = tempfile::tempdir().unwrap();
    let client = open_client(&session.path().join(SESSION), server_config.clone());
    let peer = common::open_files_channel(&client).await;
    let ids: Vec<i32> = (1..=3).map(|i| TEXT_MESSAGES + i).collect();
    let messages = client.messages_by_id(&peer, &ids).await.unwrap();
    let media: Vec<(i32, MediaFile)> = messages
        .iter()
        .filter_map(|m| match m {
            enums::Message::Message(x) => Some((x.id, MediaFile::from_message(m)?)),
            _ => None,
        })
        .collect();
    assert_eq!(media.len(), 3);
    let env = Env {
        server,
        registry_hook,
        world,
        server_config,
        session,
        peer,
        media,
    };
    // One clean download makes the keys of the other DC and of the CDN, so cases start warm.
    let out = tempfile::tempdir().unwrap();
    let jobs = env.jobs(out.path());
    let outcomes = download(&client, jobs.clone(), options(3), None)
        .await
        .unwrap();
    for (job, outcome) in jobs.iter().zip(&outcomes) {
        assert!(
            matches!(
                outcome,
                FileOutcome::Done {
                    server_hashes: tgclient::download::ServerHashes::Checked,
                    ..
                }
            ),
            "{outcome:?}"
        );
        assert_eq!(common::file_sha256(&job.path), env.expected(&job.media));
    }
    client.close().await.unwrap();
    drop(client);
    env
}

fn options(max_attempts: u32) -> DownloadOptions {
    DownloadOptions {
        parts_in_flight: 4,
        parallel_files: Some(3),
        connections_per_dc: 1,
        max_attempts,
        commit_interval: Duration::from_millis(50),
        ..DownloadOptions::default()
    }
}

impl Env {
    fn jobs(&self, out: &Path) -> Vec<DownloadJob> {
        self.media
            .iter()
            .map(|(msg_id, media)| {
                let path = out.join(media.file_name.clone().unwrap());
                common::download_job(&self.peer, *msg_id, media.clone(), path)
            })
            .collect()
    }

    fn expected(&self, media: &MediaFile) -> [u8; 32] {
        self.world
            .file_sha256(&FileKey::sized(media.id.id, &media.id.thumb))
            .unwrap()
    }
}

// ---- one case ------------------------------------------------------------------------------

/// What one case saw.
#[derive(Debug, Default)]
struct Seen {
    workload_errors: usize,
    done: usize,
    failed: usize,
}

/// History paging, a search, a resolve and the downloads; errors are results, not panics.
async fn workload(
    client: Client,
    peer: enums::InputPeer,
    jobs: Vec<DownloadJob>,
    max_attempts: u32,
) -> (usize, Result<Vec<FileOutcome>, String>) {
    let mut errors = 0;
    match client.history(peer.clone()).collect().await {
        Ok(messages) => assert!(messages.len() <= TEXT_MESSAGES as usize + 3),
        Err(_) => errors += 1,
    }
    let empty = enums::MessagesFilter::InputMessagesFilterEmpty;
    match client.search(peer, "needle", empty).collect().await {
        Ok(found) => assert!(found.len() <= TEXT_MESSAGES as usize + 3),
        Err(_) => errors += 1,
    }
    if client.resolve_str("@files").await.is_err() {
        errors += 1;
    }
    let outcomes = download(&client, jobs, options(max_attempts), None)
        .await
        .map_err(|e| e.to_string());
    let _ = client.close().await;
    (errors, outcomes)
}

async fn run_case(env: &Env, case: u64) -> Seen {
    let mut rng = rand::rngs::StdRng::seed_from_u64(case);
    let rate = [0.02, 0.05, 0.1, 0.2, 0.5][rng.gen_range(0..5)];
    let max_attempts = rng.gen_range(1..=3);
    let mutator = Arc::new(HostileMutator::new(rate));
    let dir = tempfile::tempdir().unwrap();
    let session = copy_session(env.session.path(), dir.path());
    let out = dir.path().join("out");
    let jobs = env.jobs(&out);
    let client = open_client(&session, env.server_config.clone());
    env.registry_hook.set(mutator.clone(), case);
    let task = tokio::spawn(workload(
        client,
        env.peer.clone(),
        jobs.clone(),
        max_attempts,
    ));
    let joined = tokio::time::timeout(Duration::from_mins(1), task).await;
    env.registry_hook.clear();
    let (errors, outcomes) = joined
        .unwrap_or_else(|_| panic!("case {case} (rate {rate}) hung"))
        .unwrap_or_else(|e| panic!("case {case} (rate {rate}): the workload panicked: {e}"));
    let mut seen = Seen {
        workload_errors: errors,
        ..Seen::default()
    };
    let outcomes = outcomes.unwrap_or_else(|_| {
        seen.workload_errors += 1;
        Vec::new()
    });
    for (i, job) in jobs.iter().enumerate() {
        let expected = env.expected(&job.media);
        match outcomes.get(i) {
            Some(FileOutcome::Done { sha256, .. }) => {
                assert_eq!(*sha256, expected, "case {case}: {}", job.path.display());
                seen.done += 1;
            }
            Some(FileOutcome::Failed(_)) => {
                assert!(
                    !job.path.exists(),
                    "case {case}: {} failed but has its final name",
                    job.path.display()
                );
                seen.failed += 1;
            }
            _ => {}
        }
        // Whatever the outcome: a file under its final name is the fixture's file.
        if job.path.exists() {
            assert_eq!(
                common::file_sha256(&job.path),
                expected,
                "case {case} (rate {rate}): {} holds unverified bytes",
                job.path.display()
            );
            assert!(!part_path(&job.path).exists());
        }
    }
    assert_eq!(
        PANICS.load(Ordering::SeqCst),
        0,
        "case {case} (rate {rate}): a task panicked"
    );
    assert!(mutator.seen() > 0, "case {case}: the mutator saw no answer");
    seen
}

/// Corrupts every `upload.file` part and answers every hash request with garbage.
struct GarbleFilesAndHashes;

impl localdc::rpc::Mutator for GarbleFilesAndHashes {
    fn mutate(&self, method: u32, result: &mut Vec<u8>, _: &mut rand::rngs::StdRng) {
        use tl_types::Identifiable;
        use tl_types::api::functions::upload::{GetFile, GetFileHashes};
        match method {
            GetFileHashes::CONSTRUCTOR_ID => result[..4].copy_from_slice(&[1, 2, 3, 4]),
            GetFile::CONSTRUCTOR_ID
                if result[..4]
                    == tl_types::api::types::upload::File::CONSTRUCTOR_ID.to_le_bytes() =>
            {
                let last = result.len() - 8;
                result[last] ^= 0x40;
            }
            _ => {}
        }
    }
}

/// Regression: a malformed `upload.getFileHashes` answer used to leave the part unchecked
/// (and mark the whole file as having no hashes), so corrupted parts reached the final file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_without_usable_hashes_never_reach_the_final_file() {
    count_panics();
    let env = setup().await;
    let dir = tempfile::tempdir().unwrap();
    let session = copy_session(env.session.path(), dir.path());
    let client = open_client(&session, env.server_config.clone());
    let jobs = env.jobs(&dir.path().join("out"));
    env.registry_hook.set(Arc::new(GarbleFilesAndHashes), 1);
    let outcomes = download(&client, jobs.clone(), options(2), None)
        .await
        .unwrap();
    env.registry_hook.clear();
    // Every part is checked against upload.getFileHashes (CDN parts too): none can be.
    for (job, outcome) in jobs.iter().zip(&outcomes) {
        assert!(
            matches!(
                outcome,
                FileOutcome::Failed(tgclient::download::FileFailure::Verification(_))
            ),
            "{}: {outcome:?}",
            job.path.display()
        );
        assert!(!job.path.exists());
    }
    client.close().await.unwrap();
    env.server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_server_answers_end_in_typed_errors_or_verified_files() {
    count_panics();
    let cases: u64 = std::env::var("HOSTILE_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let first: u64 = std::env::var("HOSTILE_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let env = setup().await;
    let started = Instant::now();
    let mut total = Seen::default();
    let mut mutated_cases = 0;
    for case in first..first + cases {
        let before = env.world.served_total();
        // The bound is on what one case adds at its peak over what was live before it.
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        let timer = Instant::now();
        let seen = run_case(&env, case).await;
        if std::env::var_os("HOSTILE_VERBOSE").is_some() {
            println!(
                "case {case}: {:?} {seen:?} peak +{} MiB, live {} MiB",
                timer.elapsed(),
                PEAK.load(Ordering::Relaxed).saturating_sub(base) >> 20,
                LIVE.load(Ordering::Relaxed) >> 20
            );
        }
        mutated_cases += usize::from(seen.failed > 0 || seen.workload_errors > 0);
        total.workload_errors += seen.workload_errors;
        total.done += seen.done;
        total.failed += seen.failed;
        assert!(env.world.served_total() >= before);
        let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
        assert!(
            peak < PEAK_BOUND,
            "case {case}: {} MiB more live at the peak",
            peak >> 20
        );
    }
    println!(
        "{cases} cases in {:?}: {} files verified, {} failed with a typed error, {} other \
         errors, {mutated_cases} cases hurt; {} MiB live at the end",
        started.elapsed(),
        total.done,
        total.failed,
        total.workload_errors,
        LIVE.load(Ordering::Relaxed) >> 20
    );
    // What stays live across cases is bounded: each DC's sessions of closed connections
    // keep at most `max_detached_bytes_per_dc` (three DCs are used), and a closed client
    // keeps nothing.
    let retained = 3 * localdc::Limits::default().max_detached_bytes_per_dc + (64 << 20);
    assert!(
        LIVE.load(Ordering::Relaxed) < retained,
        "{} MiB live after {cases} cases",
        LIVE.load(Ordering::Relaxed) >> 20
    );
    // The hostile answers must have hurt some cases, and most files still arrived.
    assert!(mutated_cases > 0, "no case was hurt: is the mutator armed?");
    assert!(total.done > 0);
    assert!(total.failed + total.workload_errors > 0);
    env.server.shutdown().await;
}
