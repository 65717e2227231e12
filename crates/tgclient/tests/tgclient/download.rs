//! The download engine against localdc: files on the home DC, on another DC and behind the
//! CDN (with a corrupted chunk and a reupload request), a zero-byte file, sizes on and off
//! the 1 MiB grid, photos at their largest size, expired file references, a file deleted
//! mid-run, flood waits on file requests, resume after an interrupted run, and offsets past
//! 4 GiB.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use localdc::world::fixture::FloodRule;
use localdc::world::{FileKey, Fixture, World};
use localdc::{Config, RunningServer};
use tgclient::download::{
    DownloadEvent, DownloadJob, DownloadOptions, FileFailure, FileOutcome, StopSignal, download,
};
use tgclient::media::{MediaFile, MediaKind};
use tgclient::{Client, SessionStore};
use tl_types::Identifiable;
use tl_types::api::{enums, functions};
use tokio::sync::mpsc;

use crate::common;

const MIB: u64 = 1 << 20;
const CHANNEL: i64 = 601;
const BIG: u64 = (4 << 30) + 5000;

fn fixture() -> Fixture {
    let doc = common::document;
    let messages = serde_json::json!([
        { "id": 1, "date": 1_700_000_100, "text": "home", "media": doc(90001, 2, 3 * MIB + MIB / 2, "home.bin", false) },
        { "id": 2, "date": 1_700_000_200, "text": "elsewhere", "media": doc(90002, 4, 2 * MIB, "exact.bin", false) },
        { "id": 3, "date": 1_700_000_300, "text": "empty", "media": doc(90003, 2, 0, "empty.bin", false) },
        { "id": 4, "date": 1_700_000_400, "text": "cdn", "media": doc(90004, 2, MIB + 300_000, "cdn.bin", true) },
        { "id": 5, "date": 1_700_000_500, "text": "photo", "media": { "type": "photo", "id": 90005, "dc": 2,
            "sizes": [ { "type": "m", "w": 320, "h": 240, "size": 20000 },
                       { "type": "y", "w": 2560, "h": 1920, "size": 1_300_000 } ] } },
        { "id": 6, "date": 1_700_000_600, "text": "big", "media": doc(90006, 3, BIG, "big.bin", false) },
        { "id": 7, "date": 1_700_000_700, "text": "doomed", "media": doc(90007, 2, 6 * MIB, "doomed.bin", false) }
    ]);
    common::files_channel(99, CHANNEL, &messages)
}

struct Env {
    server: RunningServer,
    world: Arc<World>,
    client: Client,
    session: PathBuf,
    dir: tempfile::TempDir,
    peer: enums::InputPeer,
    messages: Vec<enums::Message>,
}

impl Env {
    async fn start(flood_rules: Vec<FloodRule>) -> Env {
        Self::start_with(flood_rules, |_| {}).await
    }

    async fn start_with(
        flood_rules: Vec<FloodRule>,
        customize: impl FnOnce(&mut localdc::Registry),
    ) -> Env {
        let world = Arc::new(World::from_fixture(fixture()).unwrap());
        world.flood().set_rules(flood_rules);
        let config = Config {
            cdn_dcs: vec![201],
            ..Config::default()
        };
        let server = common::serve(config, &world, customize).await;
        let dir = tempfile::tempdir().unwrap();
        let session = dir.path().join("s.session");
        let client = common::open_client(&session, common::server_config(&server));
        let peer = common::open_files_channel(&client).await;
        let messages = client.history(peer.clone()).collect().await.unwrap();
        Env {
            server,
            world,
            client,
            session,
            dir,
            peer,
            messages,
        }
    }

    fn media(&self, msg_id: i32) -> MediaFile {
        let message = self
            .messages
            .iter()
            .find(|m| matches!(m, enums::Message::Message(x) if x.id == msg_id))
            .unwrap();
        MediaFile::from_message(message).unwrap()
    }

    fn job(&self, msg_id: i32) -> DownloadJob {
        let media = self.media(msg_id);
        let path = self
            .out()
            .join(media.file_name.clone().unwrap_or(format!("{msg_id}.jpg")));
        common::download_job(&self.peer, msg_id, media, path)
    }

    fn out(&self) -> PathBuf {
        self.dir.path().join("out")
    }

    fn expected_sha256(&self, media: &MediaFile) -> [u8; 32] {
        let key = FileKey::sized(media.id.id, &media.id.thumb);
        self.world.file_sha256(&key).unwrap()
    }

    /// Downloads `job` alone with the default options; it arrives verified.
    async fn download_verified(&self, job: &DownloadJob) {
        let outcomes = download(
            &self.client,
            vec![job.clone()],
            DownloadOptions::default(),
            None,
        )
        .await
        .unwrap();
        assert_done(self, job, &outcomes[0]);
    }

    /// Every DC answers `delay` late.
    fn delay_answers(&self, delay: Duration) {
        for dc in 1..=5 {
            self.server
                .dc(dc)
                .unwrap()
                .faults()
                .set_response_delay(delay);
        }
    }

    fn served(&self, media: &MediaFile) -> u64 {
        let key = FileKey::sized(media.id.id, &media.id.thumb);
        self.world.served_bytes(&key)
    }
}

fn assert_done(env: &Env, job: &DownloadJob, outcome: &FileOutcome) {
    let FileOutcome::Done { sha256, .. } = outcome else {
        panic!("{}: {outcome:?}", job.path.display());
    };
    let expected = env.expected_sha256(&job.media);
    assert_eq!(*sha256, expected, "{}", job.path.display());
    assert_eq!(
        common::file_sha256(&job.path),
        expected,
        "{}",
        job.path.display()
    );
    assert!(!tgclient::download::part_path(&job.path).exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn home_other_dc_cdn_empty_and_photo_files_arrive_verified() {
    let env = Env::start(Vec::new()).await;
    let cdn = env.media(4);
    // The CDN lacks the file at first, and one chunk comes corrupted once.
    env.world.set_cdn_missing(cdn.id.id, true);
    env.world
        .corrupt_cdn_chunk_once(cdn.id.id, MIB + 128 * 1024);
    let jobs: Vec<DownloadJob> = [1, 2, 3, 4, 5].iter().map(|id| env.job(*id)).collect();
    assert_eq!(jobs[4].media.kind, MediaKind::Photo);
    assert_eq!(jobs[4].media.size, 1_300_000, "the largest photo size");
    let (events, mut seen) = mpsc::unbounded_channel();
    let outcomes = download(
        &env.client,
        jobs.clone(),
        DownloadOptions::default(),
        Some(events),
    )
    .await
    .unwrap();
    for (job, outcome) in jobs.iter().zip(&outcomes) {
        assert_done(&env, job, outcome);
    }
    let mut progress = 0;
    while let Ok(event) = seen.try_recv() {
        if let DownloadEvent::Progress { bytes, .. } = event {
            progress += bytes;
        }
    }
    let total: u64 = jobs.iter().map(|j| j.media.size).sum();
    // The corrupted CDN part was fetched twice but reported once.
    assert_eq!(progress, total);
    assert!(
        env.served(&cdn) > cdn.size,
        "the corrupted part was fetched again"
    );

    // A second run finds everything done and fetches nothing.
    env.world.reset_served();
    let again = download(&env.client, jobs.clone(), DownloadOptions::default(), None)
        .await
        .unwrap();
    assert!(
        again
            .iter()
            .all(|o| matches!(o, FileOutcome::AlreadyDone { .. }))
    );
    assert_eq!(env.world.served_total(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_references_are_renewed_and_deleted_files_are_reported() {
    let env = Env::start(Vec::new()).await;
    env.world.rotate_file_references();
    let mut doomed = env.job(7);
    let jobs = vec![env.job(1), doomed.clone()];
    // The doomed message is deleted before its reference can be renewed.
    env.world.delete_message(CHANNEL, 7);
    let outcomes = download(&env.client, jobs.clone(), DownloadOptions::default(), None)
        .await
        .unwrap();
    assert_done(&env, &jobs[0], &outcomes[0]);
    assert!(
        matches!(outcomes[1], FileOutcome::Failed(FileFailure::Gone(_))),
        "{:?}",
        outcomes[1]
    );
    assert!(!doomed.path.exists());

    // Without a message to re-read, an expired reference cannot be renewed.
    doomed = env.job(2);
    doomed.source = None;
    env.world.rotate_file_references();
    let outcomes = download(&env.client, vec![doomed], DownloadOptions::default(), None)
        .await
        .unwrap();
    assert!(matches!(
        outcomes[0],
        FileOutcome::Failed(FileFailure::Gone(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_waits_on_file_requests_are_waited_out() {
    let rule = FloodRule {
        method: "upload.getFile".into(),
        max_calls: 3,
        per_seconds: 2,
        user_id: None,
    };
    let mut calls = None;
    let env = Env::start_with(vec![rule], |registry| {
        calls = Some(Arc::clone(registry.calls()));
    })
    .await;
    let calls = calls.unwrap();
    let job = env.job(7);
    env.download_verified(&job).await;
    // Six parts at three per two seconds: some were refused, and each refused part was
    // asked again only after its wait (a client asking early is refused again and again,
    // and gives the file up after 30 refusals of one part).
    let asked = calls.of(functions::upload::GetFile::CONSTRUCTOR_ID);
    assert!(
        (7..=12).contains(&asked),
        "upload.getFile asked {asked} times"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_resumes_with_only_the_missing_parts() {
    let env = Env::start(Vec::new()).await;
    let job = env.job(7);
    let options = DownloadOptions {
        parts_in_flight: 2,
        commit_interval: Duration::from_millis(10),
        ..DownloadOptions::default()
    };
    // Slow answers, so the run is still going when it is stopped.
    env.delay_answers(Duration::from_millis(150));
    let (events, mut seen) = mpsc::unbounded_channel();
    let run = tokio::spawn({
        let client = env.client.clone();
        let jobs = vec![job.clone()];
        let options = options.clone();
        async move { download(&client, jobs, options, Some(events)).await }
    });
    // Stop the run after three parts, as a crash would.
    let mut parts = 0;
    while parts < 3 {
        if let Some(DownloadEvent::Progress { .. }) = seen.recv().await {
            parts += 1;
        }
    }
    run.abort();
    let _ = run.await;
    let expected = env.expected_sha256(&job.media);
    let Env {
        server,
        world,
        client,
        session,
        dir: _dir,
        ..
    } = env;
    client.close().await.unwrap();
    drop(client);

    // A new process: the session file says which ranges are on disk.
    let server_config = common::server_config(&server);
    // The cancelled run's tasks let go of the session as they wind down (a killed
    // process's lock goes with the process).
    let mut opened = None;
    for _ in 0..100 {
        if let Ok(store) = SessionStore::open(&session) {
            opened = Some(store);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let config = common::client_config(server_config);
    let client = Client::new(config, opened.expect("the session is released")).unwrap();
    let saved = client
        .with_store(|s| s.download_state(&job.key))
        .unwrap()
        .and_then(|bytes| tgclient::download::FileState::from_bytes(&bytes))
        .unwrap();
    let kept = saved.done.covered();
    assert!(kept >= 2 * MIB && kept < job.media.size, "kept {kept}");
    world.reset_served();
    let outcomes = download(&client, vec![job.clone()], options, None)
        .await
        .unwrap();
    let FileOutcome::Done { fetched, .. } = outcomes[0] else {
        panic!("{:?}", outcomes[0]);
    };
    assert_eq!(fetched, job.media.size - kept);
    let key = FileKey::document(job.media.id.id);
    assert_eq!(world.served_bytes(&key), job.media.size - kept);
    assert_eq!(common::file_sha256(&job.path), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requested_stop_records_what_is_on_disk_and_the_rerun_fetches_the_rest() {
    let env = Env::start(Vec::new()).await;
    let job = env.job(7);
    let stop = StopSignal::new();
    let options = DownloadOptions {
        parts_in_flight: 2,
        commit_interval: Duration::from_hours(1),
        stop: Some(stop.clone()),
        ..DownloadOptions::default()
    };
    env.delay_answers(Duration::from_millis(150));
    let (events, mut seen) = mpsc::unbounded_channel();
    let run = tokio::spawn({
        let client = env.client.clone();
        let jobs = vec![job.clone()];
        let options = options.clone();
        async move { download(&client, jobs, options, Some(events)).await }
    });
    let mut parts = 0;
    while parts < 3 {
        if let Some(DownloadEvent::Progress { .. }) = seen.recv().await {
            parts += 1;
        }
    }
    stop.request();
    // A clean stop: the run returns (no error), the file not finished.
    let outcomes = run.await.unwrap().unwrap();
    assert!(
        matches!(outcomes[0], FileOutcome::NotRun),
        "{:?}",
        outcomes[0]
    );
    // The periodic commit never ran: what is recorded was committed by the stop.
    let saved = env
        .client
        .with_store(|s| s.download_state(&job.key))
        .unwrap()
        .and_then(|bytes| tgclient::download::FileState::from_bytes(&bytes))
        .unwrap();
    let kept = saved.done.covered();
    assert!(kept >= 3 * MIB && kept < job.media.size, "kept {kept}");
    let key = FileKey::document(job.media.id.id);
    let first_run = env.world.served_bytes(&key);
    env.delay_answers(Duration::ZERO);
    let options = DownloadOptions {
        stop: None,
        ..options
    };
    let outcomes = download(&env.client, vec![job.clone()], options, None)
        .await
        .unwrap();
    let FileOutcome::Done { fetched, .. } = outcomes[0] else {
        panic!("{:?}", outcomes[0]);
    };
    assert_eq!(fetched, job.media.size - kept);
    // Fetched twice at most: the parts that were in flight when the stop came.
    let total = env.world.served_bytes(&key);
    assert!(
        total <= job.media.size + 2 * MIB,
        "served {total} for a file of {} (first run {first_run})",
        job.media.size
    );
    assert_eq!(
        common::file_sha256(&job.path),
        env.expected_sha256(&job.media)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_past_four_gib_are_requested_and_written() {
    let env = Env::start(Vec::new()).await;
    let job = env.job(6);
    assert_eq!(job.media.size, BIG);
    // Pretend an earlier run fetched everything but the tail: a sparse .part and a ledger
    // entry saying so (without the server's hashes the sparse zeros pass: this test is
    // about the offsets).
    let part = tgclient::download::part_path(&job.path);
    std::fs::create_dir_all(part.parent().unwrap()).unwrap();
    std::fs::File::create(&part).unwrap().set_len(BIG).unwrap();
    let mut state = tgclient::download::FileState::new(job.media.id.clone(), BIG);
    state.done.insert(0..4 << 30);
    env.client
        .with_store(|s| s.set_download_state(&job.key, &state.to_bytes()))
        .unwrap();
    let options = DownloadOptions {
        verify_server_hashes: false,
        ..DownloadOptions::default()
    };
    let outcomes = download(&env.client, vec![job.clone()], options, None)
        .await
        .unwrap();
    let FileOutcome::Done { fetched, .. } = outcomes[0] else {
        panic!("{:?}", outcomes[0]);
    };
    assert_eq!(fetched, 5000);
    let key = FileKey::document(job.media.id.id);
    let expected = env.world.file_bytes(&key, 4 << 30, 5000).unwrap();
    let mut tail = vec![0u8; 5000];
    std::fs::File::open(&job.path)
        .unwrap()
        .read_exact_at(&mut tail, 4 << 30)
        .unwrap();
    assert_eq!(tail, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dc_refusing_connections_for_a_while_is_waited_for() {
    let env = Env::start(Vec::new()).await;
    // The file lives on DC 4, which refuses every connection for a while.
    let job = env.job(2);
    let faults = env.server.dc(4).unwrap().faults();
    faults.set_refuse_connections(true);
    let lift = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        faults.set_refuse_connections(false);
    };
    tokio::join!(env.download_verified(&job), lift);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_part_file_never_inherits_the_ranges_of_a_renamed_one() {
    let env = Env::start(Vec::new()).await;
    let job = env.job(1);
    let size = job.media.size;
    // A run renamed its verified file into place and was killed before recording the hash:
    // the final file is there, the ledger holds every range and no hash, no `.part` is left.
    let key = FileKey::document(job.media.id.id);
    std::fs::create_dir_all(job.path.parent().unwrap()).unwrap();
    std::fs::write(
        &job.path,
        env.world.file_bytes(&key, 0, size as usize).unwrap(),
    )
    .unwrap();
    let mut state = tgclient::download::FileState::new(job.media.id.clone(), size);
    state.done.insert(0..size);
    env.client
        .with_store(|s| s.set_download_state(&job.key, &state.to_bytes()))
        .unwrap();

    // The next run starts the file again (a new, empty `.part`) and is killed at once.
    env.delay_answers(Duration::from_millis(500));
    let (events, mut seen) = mpsc::unbounded_channel();
    let options = DownloadOptions {
        commit_interval: Duration::from_hours(1),
        ..DownloadOptions::default()
    };
    let run = tokio::spawn({
        let (client, jobs) = (env.client.clone(), vec![job.clone()]);
        async move { download(&client, jobs, options, Some(events)).await }
    });
    while !matches!(
        seen.recv().await,
        Some(DownloadEvent::Started { .. }) | None
    ) {}
    run.abort();
    let _ = run.await;
    env.delay_answers(Duration::ZERO);

    // The run after that must not take the new `.part`'s zeros for the recorded ranges.
    env.download_verified(&job).await;
}

/// A file is recorded as done (with its hash) before it takes its final name, so a file at
/// its final name is always in the ledger as this media. A run killed between the two
/// leaves a done record and a verified `.part`: the next run fetches the file again and
/// names it, verified.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_done_record_without_its_final_file_is_fetched_again() {
    let env = Env::start(Vec::new()).await;
    let job = env.job(1);
    env.download_verified(&job).await;
    let saved = env
        .client
        .with_store(|s| s.download_state(&job.key))
        .unwrap()
        .and_then(|bytes| tgclient::download::FileState::from_bytes(&bytes))
        .unwrap();
    assert_eq!(saved.media, job.media.id);
    assert_eq!(saved.sha256, Some(env.expected_sha256(&job.media)));
    // As if killed before the rename: the record stays, the file is only a `.part`.
    std::fs::rename(&job.path, tgclient::download::part_path(&job.path)).unwrap();
    let served = env.served(&job.media);
    env.download_verified(&job).await;
    assert_eq!(env.served(&job.media), served + job.media.size);
}

/// A server without `upload.getFileHashes` (`500 NOT_IMPLEMENTED`, as an independent server
/// answered): a file from its own DC is finished without them, each byte fetched once, and
/// the outcome says the hashes were unavailable; a CDN file still requires its own
/// (`upload.getCdnFileHashes`, which this server has). Before the fix every part was
/// fetched again three times and every file failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_file_hashes_finishes_direct_files_on_mtproto_integrity() {
    use tl_types::Identifiable;
    let env = Env::start_with(Vec::new(), |registry| {
        registry.register_sync(
            tl_types::api::functions::upload::GetFileHashes::CONSTRUCTOR_ID,
            "upload.getFileHashes",
            |_, _| Err(localdc::RpcError::new(500, "NOT_IMPLEMENTED")),
        );
    })
    .await;
    let jobs = vec![env.job(1), env.job(4)];
    env.world.reset_served();
    let outcomes = download(&env.client, jobs.clone(), DownloadOptions::default(), None)
        .await
        .unwrap();
    let direct = &jobs[0];
    let FileOutcome::Done {
        fetched,
        server_hashes,
        ..
    } = &outcomes[0]
    else {
        panic!("{:?}", outcomes[0]);
    };
    assert_eq!(
        *server_hashes,
        tgclient::download::ServerHashes::Unavailable
    );
    assert_eq!(*fetched, direct.media.size);
    let key = FileKey::document(direct.media.id.id);
    assert_eq!(
        env.world.served_bytes(&key),
        direct.media.size,
        "fetched twice"
    );
    assert_eq!(
        common::file_sha256(&direct.path),
        env.expected_sha256(&direct.media)
    );
    assert!(
        matches!(
            outcomes[1],
            FileOutcome::Done {
                server_hashes: tgclient::download::ServerHashes::Checked,
                ..
            }
        ),
        "{:?}",
        outcomes[1]
    );
}
