//! The download engine writing to object storage (an in-memory store with faults; the
//! same against Garage is in `object_garage`), with localdc as Telegram: sizes around the
//! part size, a run killed in the middle of a multipart upload and resumed at the part, an
//! upload the service forgot, a completion whose answer was lost, a refusing service,
//! passing failures, and another object already at the key.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use localdc::world::{FileKey, World};
use localdc::{Config, RunningServer};
use sha2::{Digest, Sha256};
use tgclient::Client;
use tgclient::download::object::{MemoryTarget, ObjectErrorKind, ObjectOutput, Output};
use tgclient::download::{
    DownloadError, DownloadJob, DownloadOptions, FileFailure, FileOutcome, download,
};
use tgclient::media::MediaFile;
use tl_types::api::{enums, functions};

use crate::common;

const MIB: u64 = 1 << 20;
const CHANNEL: i64 = 611;

/// The sizes of the acceptance (300 MiB aside: see `object_garage`), and a file of
/// five parts for the resume tests.
const SIZES: [(i32, u64); 6] = [
    (1, 0),
    (2, 1),
    (3, 5 * MIB - 1),
    (4, 5 * MIB),
    (5, 12 * MIB + 17),
    (6, 24 * MIB),
];

/// The large file (message 7), for the Garage run that is not part of every test.
pub(crate) const LARGE: (i32, u64) = (7, 300 * MIB);

pub(crate) fn fixture() -> localdc::world::Fixture {
    let messages: Vec<serde_json::Value> = SIZES
        .iter()
        .chain([&LARGE])
        .map(|&(id, size)| {
            let doc = common::document(
                95_000 + i64::from(id),
                if id % 2 == 0 { 2 } else { 4 },
                size,
                &format!("f{id}.bin"),
                false,
            );
            serde_json::json!({ "id": id, "date": 1_700_000_000 + id, "text": "", "media": doc })
        })
        .collect();
    common::files_channel(77, CHANNEL, &serde_json::Value::Array(messages))
}

pub(crate) struct Env {
    pub(crate) server: RunningServer,
    pub(crate) world: Arc<World>,
    pub(crate) client: Client,
    pub(crate) dir: tempfile::TempDir,
    peer: enums::InputPeer,
    messages: Vec<enums::Message>,
}

impl Env {
    pub(crate) async fn start() -> Env {
        Self::start_with(|_| {}).await
    }

    /// With localdc's handlers adjusted by `customize`.
    pub(crate) async fn start_with(customize: impl FnOnce(&mut localdc::Registry)) -> Env {
        let world = Arc::new(World::from_fixture(fixture()).unwrap());
        let server = common::serve(Config::default(), &world, customize).await;
        let dir = tempfile::tempdir().unwrap();
        let client = common::open_client(
            &dir.path().join("s.session"),
            common::server_config(&server),
        );
        let peer = common::open_files_channel(&client).await;
        let messages = client.history(peer.clone()).collect().await.unwrap();
        Env {
            server,
            world,
            client,
            dir,
            peer,
            messages,
        }
    }

    /// The job of message `msg_id`, keyed `chat/f<id>.bin` in the bucket.
    pub(crate) fn job(&self, msg_id: i32) -> DownloadJob {
        let message = self
            .messages
            .iter()
            .find(|m| matches!(m, enums::Message::Message(x) if x.id == msg_id))
            .unwrap();
        let media = MediaFile::from_message(message).unwrap();
        let path = PathBuf::from(format!("chat/f{msg_id}.bin"));
        common::download_job(&self.peer, msg_id, media, path)
    }

    pub(crate) fn expected_sha256(&self, job: &DownloadJob) -> [u8; 32] {
        self.world
            .file_sha256(&FileKey::document(job.media.id.id))
            .unwrap()
    }

    pub(crate) fn served(&self, job: &DownloadJob) -> u64 {
        self.world.served_bytes(&FileKey::document(job.media.id.id))
    }

    /// Answers from every DC come `delay` late.
    pub(crate) fn delay_answers(&self, delay: Duration) {
        for dc in 1..=5 {
            if let Some(dc) = self.server.dc(dc) {
                dc.faults().set_response_delay(delay);
            }
        }
    }

    /// Options writing to `output`, 5 MiB parts, short pauses between storage retries.
    pub(crate) fn options(
        &self,
        target: Arc<dyn tgclient::download::object::ObjectTarget>,
    ) -> DownloadOptions {
        let mut output = ObjectOutput::new(target);
        output.part_size = 5 * MIB;
        output.spill_dir = self.dir.path().join("spill");
        output.retry.first_pause = Duration::from_millis(20);
        DownloadOptions {
            output: Output::Objects(output),
            commit_interval: Duration::from_millis(20),
            ..DownloadOptions::default()
        }
    }

    /// The parts of `job`'s upload the session recorded.
    pub(crate) fn recorded_parts(&self, job: &DownloadJob) -> usize {
        self.client
            .with_store(|s| s.upload(&job.key))
            .unwrap()
            .map_or(0, |u| u.parts.len())
    }

    /// Runs `jobs` until `job`'s upload has `parts` parts recorded, then drops the run
    /// (as a killed process stops: no cleanup of any kind).
    pub(crate) async fn kill_after_parts(
        &self,
        jobs: Vec<DownloadJob>,
        options: DownloadOptions,
        job: &DownloadJob,
        parts: usize,
    ) {
        let run = tokio::spawn({
            let client = self.client.clone();
            async move { download(&client, jobs, options, None).await }
        });
        while self.recorded_parts(job) < parts {
            assert!(!run.is_finished(), "the run ended before it was killed");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        run.abort();
        let _ = run.await;
    }
}

fn done_sha(outcome: &FileOutcome) -> ([u8; 32], u64) {
    match outcome {
        FileOutcome::Done {
            sha256, fetched, ..
        } => (*sha256, *fetched),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_every_size_arrive_whole_under_their_keys_and_nothing_else_stays() {
    let env = Env::start().await;
    let target = Arc::new(MemoryTarget::new(5 * MIB));
    let jobs: Vec<DownloadJob> = SIZES.iter().map(|&(id, _)| env.job(id)).collect();
    let outcomes = download(&env.client, jobs.clone(), env.options(target.clone()), None)
        .await
        .unwrap();
    for (job, outcome) in jobs.iter().zip(&outcomes) {
        let (sha256, fetched) = done_sha(outcome);
        let expected = env.expected_sha256(job);
        assert_eq!(sha256, expected, "{}", job.key);
        assert_eq!(fetched, job.media.size);
        let key = job.path.to_str().unwrap();
        let object = target.object(key).unwrap();
        assert_eq!(<[u8; 32]>::from(Sha256::digest(&object)), expected, "{key}");
        assert_eq!(target.object_sha256(key), Some(expected), "{key}");
        // Recorded done, the upload record gone.
        let state = env
            .client
            .with_store(|s| s.download_state(&job.key))
            .unwrap()
            .and_then(|b| tgclient::download::FileState::from_bytes(&b))
            .unwrap();
        assert_eq!(state.sha256, Some(expected));
        assert_eq!(env.recorded_parts(job), 0);
        assert!(
            env.client
                .with_store(|s| s.upload(&job.key))
                .unwrap()
                .is_none()
        );
    }
    // Below 5 MiB one PUT each; from 5 MiB multipart (1 + 3 + 5 parts); no staging
    // object or open upload left, and nothing in the spill directory.
    assert_eq!(target.calls("put_small"), 3);
    assert_eq!(target.calls("begin"), 3);
    assert_eq!(target.calls("put_part"), 9);
    assert_eq!(target.open_uploads(), 0);
    let keys = target.keys();
    assert_eq!(keys.len(), SIZES.len(), "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("chat/")), "{keys:?}");
    let spill = env.dir.path().join("spill");
    assert!(std::fs::read_dir(&spill).map_or(true, |d| d.count() == 0));

    // A rerun finds every file done and fetches nothing.
    let served_all = || jobs.iter().map(|j| env.served(j)).sum::<u64>();
    let before = served_all();
    let outcomes = download(&env.client, jobs.clone(), env.options(target.clone()), None)
        .await
        .unwrap();
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, FileOutcome::AlreadyDone { .. })),
        "{outcomes:?}"
    );
    assert_eq!(served_all(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_mid_upload_resumes_the_same_upload_with_only_the_missing_parts() {
    let env = Env::start().await;
    let target = Arc::new(MemoryTarget::new(5 * MIB));
    let job = env.job(6);
    let mut options = env.options(target.clone());
    options.parts_in_flight = 2;
    env.delay_answers(Duration::from_millis(40));
    env.kill_after_parts(vec![job.clone()], options.clone(), &job, 2)
        .await;
    env.delay_answers(Duration::ZERO);

    let kept = env
        .client
        .with_store(|s| s.upload(&job.key))
        .unwrap()
        .unwrap();
    let kept_bytes = kept.parts.last().unwrap().end;
    assert!(
        kept.parts.len() >= 2 && kept_bytes < job.media.size,
        "{kept:?}"
    );
    let (received, served) = (target.part_bytes_received(), env.served(&job));
    let outcomes = download(&env.client, vec![job.clone()], options, None)
        .await
        .unwrap();
    let (sha256, fetched) = done_sha(&outcomes[0]);
    assert_eq!(sha256, env.expected_sha256(&job));
    // The same upload went on: only the bytes not uploaded were fetched and sent.
    assert_eq!(target.calls("begin"), 1);
    assert_eq!(fetched, job.media.size - kept_bytes);
    assert_eq!(env.served(&job) - served, job.media.size - kept_bytes);
    assert_eq!(
        target.part_bytes_received() - received,
        job.media.size - kept_bytes
    );
    let object = target.object("chat/f6.bin").unwrap();
    assert_eq!(<[u8; 32]>::from(Sha256::digest(&object)), sha256);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_the_service_forgot_starts_the_file_again_cleanly() {
    let env = Env::start().await;
    let target = Arc::new(MemoryTarget::new(5 * MIB));
    let job = env.job(6);
    let mut options = env.options(target.clone());
    options.parts_in_flight = 2;
    env.delay_answers(Duration::from_millis(40));
    env.kill_after_parts(vec![job.clone()], options.clone(), &job, 1)
        .await;
    env.delay_answers(Duration::ZERO);
    // A lifecycle rule (or a wiped service) dropped the upload.
    target.forget_uploads();
    let outcomes = download(&env.client, vec![job.clone()], options, None)
        .await
        .unwrap();
    let (sha256, fetched) = done_sha(&outcomes[0]);
    assert_eq!(sha256, env.expected_sha256(&job));
    assert_eq!(fetched, job.media.size, "started again from the first byte");
    assert_eq!(target.calls("begin"), 2);
    assert_eq!(target.open_uploads(), 0);
    assert_eq!(target.keys(), vec!["chat/f6.bin".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_completion_whose_answer_was_lost_is_published_by_the_rerun_without_fetching() {
    let env = Env::start().await;
    let target = Arc::new(MemoryTarget::new(5 * MIB));
    let job = env.job(5);
    // The service completes the upload, the answer never arrives, and the run stops
    // (as a crash right after completing would).
    target.fail_after("complete", ObjectErrorKind::Refused, 1);
    let error = download(
        &env.client,
        vec![job.clone()],
        env.options(target.clone()),
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(error, DownloadError::Storage(_)), "{error}");
    assert!(target.object("chat/f5.bin").is_none(), "not visible yet");
    let record = env
        .client
        .with_store(|s| s.upload(&job.key))
        .unwrap()
        .unwrap();
    assert_eq!(record.sha256, Some(env.expected_sha256(&job)));
    assert!(!record.completed);

    let (served, received) = (env.served(&job), target.part_bytes_received());
    let outcomes = download(
        &env.client,
        vec![job.clone()],
        env.options(target.clone()),
        None,
    )
    .await
    .unwrap();
    let (sha256, fetched) = done_sha(&outcomes[0]);
    assert_eq!(sha256, env.expected_sha256(&job));
    assert_eq!(fetched, 0);
    assert_eq!(env.served(&job), served);
    assert_eq!(target.part_bytes_received(), received);
    assert_eq!(target.object_sha256("chat/f5.bin"), Some(sha256));
    assert_eq!(target.keys(), vec!["chat/f5.bin".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_service_stops_the_run_with_its_error_and_the_rerun_keeps_what_was_sent() {
    let env = Env::start().await;
    let target = Arc::new(MemoryTarget::new(5 * MIB));
    let job = env.job(6);
    let options = env.options(target.clone());
    // Two parts go up, then the service refuses (quota full, credentials revoked).
    target.refuse_after("put_part", 2);
    let error = download(&env.client, vec![job.clone()], options.clone(), None)
        .await
        .unwrap_err();
    let DownloadError::Storage(storage) = &error else {
        panic!("{error}");
    };
    assert_eq!(storage.kind, ObjectErrorKind::Refused);
    assert_eq!(env.recorded_parts(&job), 2);
    assert!(target.object("chat/f6.bin").is_none());

    target.heal();
    let received = target.part_bytes_received();
    let outcomes = download(&env.client, vec![job.clone()], options, None)
        .await
        .unwrap();
    let (sha256, fetched) = done_sha(&outcomes[0]);
    assert_eq!(sha256, env.expected_sha256(&job));
    assert_eq!(fetched, job.media.size - 10 * MIB);
    assert_eq!(
        target.part_bytes_received() - received,
        job.media.size - 10 * MIB
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passing_storage_failures_are_tried_again_and_other_content_at_a_key_is_never_replaced() {
    let env = Env::start().await;
    let target = Arc::new(MemoryTarget::new(5 * MIB));
    target.fail("put_part", ObjectErrorKind::Transient, 3);
    // A part damaged on the way: the service disputes its checksum; it is sent again.
    target.fail("put_part", ObjectErrorKind::Mismatch, 1);
    target.fail("put_small", ObjectErrorKind::Transient, 2);
    target.insert("chat/f2.bin", b"someone else's".to_vec());
    let jobs = vec![env.job(2), env.job(3), env.job(5)];
    let outcomes = download(&env.client, jobs.clone(), env.options(target.clone()), None)
        .await
        .unwrap();
    assert!(
        matches!(&outcomes[0], FileOutcome::Failed(FileFailure::Storage(why)) if why.contains("chat/f2.bin")),
        "{:?}",
        outcomes[0]
    );
    assert_eq!(target.object("chat/f2.bin").unwrap(), b"someone else's");
    for (job, outcome) in jobs.iter().zip(&outcomes).skip(1) {
        assert_eq!(done_sha(outcome).0, env.expected_sha256(job));
    }
    assert_eq!(target.calls("put_part"), 3 + 3 + 1);
}

/// Holds the answer for offset 0 of any file until a part at `until` or beyond was asked
/// for (or a few seconds passed); the highest offset asked for when it was let go.
fn hold_first_part(registry: &mut localdc::Registry, until: u64) -> Arc<AtomicU64> {
    use tl_types::{Deserialize, Identifiable};
    let id = functions::upload::GetFile::CONSTRUCTOR_ID;
    let (_, inner) = registry.get(id).unwrap();
    let (seen, held) = (
        Arc::new(AtomicU64::new(0)),
        Arc::new(AtomicBool::new(false)),
    );
    let at_release = Arc::new(AtomicU64::new(0));
    let released = Arc::clone(&at_release);
    registry.register_async(id, "upload.getFile", move |ctx, body| {
        let (inner, seen, held) = (Arc::clone(&inner), Arc::clone(&seen), Arc::clone(&held));
        let released = Arc::clone(&released);
        async move {
            let offset = functions::upload::GetFile::from_bytes(&body)
                .map_or(0, |request| u64::try_from(request.offset).unwrap());
            seen.fetch_max(offset, Ordering::AcqRel);
            if offset == 0 && !held.swap(true, Ordering::AcqRel) {
                for _ in 0..500 {
                    if seen.load(Ordering::Acquire) >= until {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                // A moment for the parts asked last to arrive before this one.
                tokio::time::sleep(Duration::from_millis(200)).await;
                released.store(seen.load(Ordering::Acquire), Ordering::Release);
            }
            inner.call(ctx, body).await
        }
    });
    at_release
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_ahead_of_a_slow_one_spill_beyond_the_budget_and_never_past_the_window() {
    let seen = Arc::new(std::sync::Mutex::new(None));
    let env = Env::start_with(|registry| {
        *seen.lock().unwrap() = Some(hold_first_part(registry, 7 * MIB));
    })
    .await;
    let at_release = seen.lock().unwrap().take().unwrap();
    let target = Arc::new(MemoryTarget::new(5 * MIB));
    let job = env.job(6);
    let mut options = env.options(target.clone());
    // A budget of 4 parts (2 MiB of it for parts waiting their turn) and a window of 8 MiB.
    options.parts_in_flight = 4;
    if let Output::Objects(output) = &mut options.output {
        output.lookahead = 8 * MIB;
    }
    let outcomes = download(&env.client, vec![job.clone()], options, None)
        .await
        .unwrap();
    assert_eq!(done_sha(&outcomes[0]).0, env.expected_sha256(&job));
    // While part 0 was held, the parts after it were fetched up to the window's end (far
    // past the 3 MiB the budget alone allows: those waited in the spill file), no further.
    assert_eq!(at_release.load(Ordering::Acquire), 7 * MIB);
    let spill = env.dir.path().join("spill");
    assert!(std::fs::read_dir(&spill).map_or(true, |d| d.count() == 0));
    assert_eq!(env.served(&job), job.media.size, "each part fetched once");
    let object = target.object("chat/f6.bin").unwrap();
    assert_eq!(
        <[u8; 32]>::from(Sha256::digest(&object)),
        env.expected_sha256(&job)
    );
}
