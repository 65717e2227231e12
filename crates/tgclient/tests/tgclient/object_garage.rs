//! The download engine writing to a real S3 service: a single Garage node on loopback
//! (`objstore::garage`), with localdc as Telegram. Every object is read back and hashed;
//! resume is counted in Garage's own `UploadPart` requests and stored bytes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::time::Duration;

use objstore::garage::Garage;
use sha2::{Digest, Sha256};
use tgclient::download::object::ObjectErrorKind;
use tgclient::download::{DownloadError, DownloadJob, FileOutcome, download};

use crate::object_output::{Env, LARGE};

const MIB: u64 = 1 << 20;

fn done(outcome: &FileOutcome) -> ([u8; 32], u64) {
    match outcome {
        FileOutcome::Done {
            sha256, fetched, ..
        } => (*sha256, *fetched),
        other => panic!("{other:?}"),
    }
}

/// Reads `job`'s object back from the bucket: its SHA-256 and the one it carries.
async fn read_back(target: &objstore::Target, job: &DownloadJob) -> ([u8; 32], Option<[u8; 32]>) {
    let key = job.path.to_str().unwrap();
    let bytes = target.read(key).await.unwrap();
    assert_eq!(bytes.len() as u64, job.media.size, "{key}");
    let info = target.stat(key).await.unwrap().unwrap();
    (Sha256::digest(&bytes).into(), info.sha256)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_of_every_size_go_to_garage_and_read_back_with_their_sha256() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("archive").await.unwrap();
    let env = Env::start().await;
    let jobs: Vec<DownloadJob> = (1..=6).map(|id| env.job(id)).collect();
    let outcomes = download(
        &env.client,
        jobs.clone(),
        env.options(Arc::new(target.clone())),
        None,
    )
    .await
    .unwrap();
    for (job, outcome) in jobs.iter().zip(&outcomes) {
        let expected = env.expected_sha256(job);
        assert_eq!(done(outcome).0, expected, "{}", job.key);
        assert_eq!(
            read_back(&target, job).await,
            (expected, Some(expected)),
            "{}",
            job.key
        );
    }
    // Nothing but the files: no staging object, no multipart upload left open.
    let keys = target.list("").await.unwrap();
    let files: Vec<String> = jobs
        .iter()
        .map(|j| j.path.to_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, files);
    // 5 MiB and up went as multipart (1 + 3 + 5 parts), the smaller ones as one PUT.
    assert_eq!(garage.requests("UploadPart").await.unwrap(), 9);
    assert_eq!(garage.requests("CreateMultipartUpload").await.unwrap(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_resumes_the_same_multipart_upload_sending_only_the_missing_parts() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("archive").await.unwrap();
    let env = Env::start().await;
    let job = env.job(6);
    let mut options = env.options(Arc::new(target.clone()));
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
    let kept_parts = kept.parts.len() as u64;
    let kept_bytes = kept.parts.last().unwrap().end;
    let parts_before = garage.requests("UploadPart").await.unwrap();
    let stored_before = garage.received_bytes().await.unwrap();
    let served_before = env.served(&job);
    let outcomes = download(&env.client, vec![job.clone()], options, None)
        .await
        .unwrap();
    let (sha256, fetched) = done(&outcomes[0]);
    assert_eq!(sha256, env.expected_sha256(&job));
    assert_eq!(fetched, job.media.size - kept_bytes);
    assert_eq!(
        env.served(&job) - served_before,
        job.media.size - kept_bytes
    );
    // 24 MiB in 5 MiB parts is 5 parts: the rerun sent exactly the ones not recorded.
    assert_eq!(
        garage.requests("UploadPart").await.unwrap() - parts_before,
        5 - kept_parts
    );
    let stored = garage.received_bytes().await.unwrap() - stored_before;
    assert!(
        stored <= job.media.size - kept_bytes + MIB,
        "Garage stored {stored} new bytes for {} missing",
        job.media.size - kept_bytes
    );
    assert_eq!(garage.requests("CreateMultipartUpload").await.unwrap(), 1);
    assert_eq!(read_back(&target, &job).await, (sha256, Some(sha256)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garage_restarted_in_the_middle_of_a_run_is_waited_for() {
    let mut garage = Garage::start().await.unwrap();
    let target = garage.target("archive").await.unwrap();
    let env = Env::start().await;
    let jobs = vec![env.job(6), env.job(5), env.job(2)];
    let mut options = env.options(Arc::new(target.clone()));
    options.parts_in_flight = 2;
    env.delay_answers(Duration::from_millis(30));
    let run = tokio::spawn({
        let (client, jobs, options) = (env.client.clone(), jobs.clone(), options.clone());
        async move { download(&client, jobs, options, None).await }
    });
    while env.recorded_parts(&jobs[0]) < 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    garage.restart().await.unwrap();
    let outcomes = run.await.unwrap().unwrap();
    for (job, outcome) in jobs.iter().zip(&outcomes) {
        let expected = env.expected_sha256(job);
        assert_eq!(done(outcome).0, expected, "{}", job.key);
        assert_eq!(read_back(&target, job).await, (expected, Some(expected)));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_bucket_stops_the_run_with_a_clear_error_and_nothing_done_is_lost() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("archive").await.unwrap();
    let env = Env::start().await;
    let (small, big) = (env.job(5), env.job(6));
    let options = env.options(Arc::new(target.clone()));
    let outcomes = download(&env.client, vec![small.clone()], options.clone(), None)
        .await
        .unwrap();
    let small_sha = done(&outcomes[0]).0;
    // Room for little more than what is there: the big file's parts are refused.
    garage
        .set_quota(Some(small.media.size + 6 * MIB))
        .await
        .unwrap();
    let error = download(&env.client, vec![big.clone()], options.clone(), None)
        .await
        .unwrap_err();
    let DownloadError::Storage(storage) = &error else {
        panic!("{error}");
    };
    assert_eq!(storage.kind, ObjectErrorKind::Refused, "{error}");
    assert!(error.to_string().contains("quota"), "{error}");
    // What was archived is still there; the big file is not visible.
    assert_eq!(read_back(&target, &small).await.0, small_sha);
    assert_eq!(target.stat(big.path.to_str().unwrap()).await.unwrap(), None);
    // Garage checks the quota when the upload is completed, and then drops the upload
    // (its CompleteMultipartUpload marks the version aborted): every part was sent and
    // the whole file verified and recorded, but there is nothing to continue from.
    let record = env
        .client
        .with_store(|s| s.upload(&big.key))
        .unwrap()
        .unwrap();
    assert_eq!(record.parts.len(), 5);
    assert_eq!(record.sha256, Some(env.expected_sha256(&big)));

    garage.set_quota(None).await.unwrap();
    let parts_before = garage.requests("UploadPart").await.unwrap();
    let outcomes = download(&env.client, vec![big.clone()], options, None)
        .await
        .unwrap();
    let (sha256, _) = done(&outcomes[0]);
    assert_eq!(read_back(&target, &big).await, (sha256, Some(sha256)));
    assert_eq!(
        garage.requests("UploadPart").await.unwrap() - parts_before,
        5,
        "the upload Garage dropped is started again"
    );
    // The small file's upload, the big file's dropped one and its new one.
    assert_eq!(garage.requests("CreateMultipartUpload").await.unwrap(), 3);
    assert_eq!(target.list(".tgdl").await.unwrap(), Vec::<String>::new());
}

/// The 300 MiB file, with the default part size (8 MiB, 38 parts) and budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_300_mib_file_goes_to_garage_in_8_mib_parts_and_reads_back_whole() {
    let garage = Garage::start().await.unwrap();
    let target = garage.target("archive").await.unwrap();
    let env = Env::start().await;
    let job = env.job(LARGE.0);
    let mut options = env.options(Arc::new(target.clone()));
    if let tgclient::download::object::Output::Objects(output) = &mut options.output {
        output.part_size = 8 * MIB;
    }
    let outcomes = download(&env.client, vec![job.clone()], options, None)
        .await
        .unwrap();
    let (sha256, fetched) = done(&outcomes[0]);
    assert_eq!(fetched, LARGE.1);
    assert_eq!(sha256, env.expected_sha256(&job));
    assert_eq!(read_back(&target, &job).await, (sha256, Some(sha256)));
    assert_eq!(garage.requests("UploadPart").await.unwrap(), 38);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garage_gone_for_good_stops_the_run_and_the_rerun_goes_on_from_the_recorded_parts() {
    let mut garage = Garage::start().await.unwrap();
    let target = garage.target("archive").await.unwrap();
    let env = Env::start().await;
    let job = env.job(6);
    let mut options = env.options(Arc::new(target.clone()));
    options.parts_in_flight = 2;
    env.delay_answers(Duration::from_millis(30));
    let run = tokio::spawn({
        let (client, job, options) = (env.client.clone(), job.clone(), options.clone());
        async move { download(&client, vec![job], options, None).await }
    });
    while env.recorded_parts(&job) < 1 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    garage.stop().await.unwrap();
    let error = run.await.unwrap().unwrap_err();
    let DownloadError::Storage(storage) = &error else {
        panic!("{error}");
    };
    assert_eq!(storage.kind, ObjectErrorKind::Transient, "{error}");
    assert!(error.to_string().contains("cannot reach"), "{error}");
    let kept = env.recorded_parts(&job) as u64;
    assert!(kept >= 1);

    garage.restart().await.unwrap();
    env.delay_answers(Duration::ZERO);
    let outcomes = download(&env.client, vec![job.clone()], options, None)
        .await
        .unwrap();
    let (sha256, fetched) = done(&outcomes[0]);
    assert_eq!(fetched, job.media.size - kept * 5 * MIB);
    assert_eq!(read_back(&target, &job).await, (sha256, Some(sha256)));
    // Counted since the restart: only the parts not recorded went up.
    assert_eq!(garage.requests("UploadPart").await.unwrap(), 5 - kept);
}
