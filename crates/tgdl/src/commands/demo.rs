//! `tgdl demo`: tgdl end to end with no account and no network. It starts localdc in the
//! process (five DCs and a CDN DC on loopback) serving the bundled demo world
//! (`fixtures/demo-world.json`: a channel, a group and a private chat with about 200 MB of
//! photos, videos, audio, voice messages and documents spread over every DC and the CDN),
//! logs in with the world's phone number and code as a user would, downloads every file of
//! the account's chats the way `tgdl download` does (same planning, naming, engine,
//! progress and manifest), then checks each file on disk against the SHA-256 the world
//! computes from its own byte streams, independently of what the engine reported.
//!
//! The session lives in the output directory (`.session`) so that a second run finds the
//! files already downloaded and verified; since every run starts a new server (new ports,
//! new keys), the session's keys and login from an earlier run are forgotten first.

use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use localdc::world::fixture::{ChatKind, MediaSpec, MessageSpec};
use localdc::world::{FileKey, Fixture, World};
use localdc::{Config, RunningServer, WanProfile};
use mtcrypto::RsaPublicKey;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tgclient::download::{DownloadOptions, FileOutcome};
use tgclient::{Client, ClientConfig, DcAddress, LoginError, SelfUser, ServerConfig, SessionStore};

use super::download::{self, Plan, Planned};
use super::resolve_chat;
use crate::cli::{DemoArgs, GlobalArgs, WanArg};
use crate::filters::Filters;
use crate::manifest::Manifest;
use crate::naming::{DEFAULT_TEMPLATE, Template};
use crate::{dialogs, errors, output, server};

/// The demo world.
const FIXTURE: &str = include_str!("../../fixtures/demo-world.json");
/// The CDN DC the server runs besides DCs 1-5.
const CDN_DC: i32 = 201;
/// Any api_id/api_hash do for localdc.
const DEMO_API_ID: i32 = 4;
const DEMO_API_HASH: &str = "0123456789abcdef0123456789abcdef";
/// Marked ids of channels and supergroups are `-(CHANNEL_BASE + id)`.
const CHANNEL_BASE: i64 = 1_000_000_000_000;
/// The demo's manifest, rewritten by each run.
const MANIFEST: &str = "tgdl-manifest.jsonl";
/// The demo's session, in the output directory unless `--session` says otherwise.
const SESSION: &str = ".session";
const MIB: f64 = 1024.0 * 1024.0;

/// One file the world says the demo must end up with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedFile {
    /// The chat's marked id (Bot API style) and the message's id.
    pub chat_id: i64,
    pub msg_id: i32,
    /// The stored file: a document, or a photo at its largest size.
    pub key: FileKey,
    pub size: u64,
}

/// The bundled demo world.
pub fn fixture() -> Result<Fixture> {
    Fixture::from_json(FIXTURE).context("the bundled demo world is invalid")
}

/// Every file of the chats `user` is in, from the fixture alone.
pub fn expected_files(fixture: &Fixture, user: i64) -> Vec<ExpectedFile> {
    let mut files = Vec::new();
    for chat in &fixture.chats {
        if chat.creator != user && !chat.members.contains(&user) {
            continue;
        }
        let chat_id = match chat.kind {
            ChatKind::Group => -chat.id,
            ChatKind::Supergroup | ChatKind::Channel => -(CHANNEL_BASE + chat.id),
        };
        files.extend(chat.messages.iter().filter_map(|m| expected(chat_id, m)));
    }
    for chat in fixture.private_chats.iter().filter(|c| c.user == user) {
        files.extend(chat.messages.iter().filter_map(|m| expected(chat.peer, m)));
    }
    files
}

fn expected(chat_id: i64, message: &MessageSpec) -> Option<ExpectedFile> {
    let (key, size) = match message.media.as_ref()? {
        MediaSpec::Document(document) => (FileKey::document(document.id), document.size),
        MediaSpec::Photo(photo) => {
            let largest = photo.sizes.iter().max_by_key(|s| s.size)?;
            (FileKey::sized(photo.id, &largest.kind), largest.size)
        }
    };
    Some(ExpectedFile {
        chat_id,
        msg_id: message.id,
        key,
        size,
    })
}

/// An expected file and the world's SHA-256 of it.
type Hashed = (ExpectedFile, Option<[u8; 32]>);

/// Runs `tgdl demo`.
pub async fn run(global: &GlobalArgs, args: &DemoArgs) -> Result<()> {
    let started = Instant::now();
    let profile = network(global, args)?;
    let fixture = fixture()?;
    let account = fixture
        .accounts
        .first()
        .cloned()
        .ok_or_else(|| anyhow!("the demo world has no account"))?;
    let expected = expected_files(&fixture, account.user_id);
    let world = Arc::new(World::from_fixture(fixture.clone()).context("the demo world")?);

    let output = download::prepare_output(&args.output)?;
    let session = output.join(SESSION);

    let config = Config {
        cdn_dcs: vec![CDN_DC],
        ..Config::default()
    }
    .with_wan_profile(profile);
    let server = localdc::serve(config)
        .world(&world)
        .start()
        .await
        .context("cannot start the local Telegram server")?;
    output::note(format_args!(
        "local Telegram: DCs 1-5 and CDN DC {CDN_DC} on {}, network profile {profile}",
        server
            .addr(2)
            .map_or_else(|| "loopback".to_owned(), |a| a.ip().to_string())
    ));

    // The world's hashes are computed while the files download.
    let hashing = {
        let world = Arc::clone(&world);
        let expected = expected.clone();
        tokio::task::spawn_blocking(move || {
            expected
                .into_iter()
                .map(|file| {
                    let sha256 = world.file_sha256(&file.key).ok();
                    (file, sha256)
                })
                .collect::<Vec<_>>()
        })
    };

    let outcome = match open_client(&server, global, &session) {
        Ok(client) => {
            let outcome = demo(&client, &world, &account, args, &output, hashing).await;
            if let Err(error) = client.close().await {
                tracing::warn!(%error, "could not save the session");
            }
            outcome
        }
        Err(error) => Err(error),
    };
    server.shutdown().await;
    let report = outcome?;
    let printed = report.print(args, &output, started.elapsed());
    // Files that are not right outrank a stdout that could not be written: a closed pipe
    // must not turn them into a success.
    if report.verified < report.expected {
        bail!(
            "{} of {} files are missing or do not match the demo world",
            report.expected - report.verified,
            report.expected
        );
    }
    match report.progress_failure {
        Some(error) => Err(output::stdout_error(error)),
        None => printed,
    }
}

/// The network to emulate (`--wan`). The options naming another server or session make no
/// sense here; the global `--profile` names a session, which the demo keeps itself.
fn network(global: &GlobalArgs, args: &DemoArgs) -> Result<WanProfile> {
    if global.server.is_some() || global.test_dc {
        bail!("tgdl demo runs its own local server: leave out --server and --test-dc");
    }
    if global.session.is_some() || global.profile.is_some() {
        bail!(
            "tgdl demo keeps its own session in the output directory: leave out --session and \
             --profile (--wan names the network)"
        );
    }
    Ok(match args.wan {
        WanArg::Lan => WanProfile::Lan,
        WanArg::Wan => WanProfile::Wan,
        WanArg::Mobile => WanProfile::Mobile,
    })
}

/// A client of `server` over the session at `path`, whose login and keys from an earlier
/// demo (an earlier server) are forgotten; its download ledger stays.
fn open_client(server: &RunningServer, global: &GlobalArgs, path: &Path) -> Result<Client> {
    let key = RsaPublicKey::from_pem(server.public_key_pem())
        .context("the local server's RSA key is not valid")?;
    let dcs = server
        .ready_info()
        .dcs
        .iter()
        .map(|dc| {
            let ip: IpAddr = dc
                .host
                .parse()
                .with_context(|| format!("the local server's address {:?}", dc.host))?;
            Ok(DcAddress::new(dc.id, ip, dc.port))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut server_config = ServerConfig::custom(dcs, vec![key]);
    // These addresses are the truth, as with `--server`.
    server_config.use_server_dc_list = false;
    server_config.connect = server::connect_options(global)?;

    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut store = SessionStore::open(path)
        .with_context(|| format!("cannot open the session {}", path.display()))?;
    store
        .clear_login()
        .and_then(|()| store.replace_dc_options(&[]))
        .with_context(|| format!("cannot reset the session {}", path.display()))?;
    let config = ClientConfig::new(DEMO_API_ID, DEMO_API_HASH).with_server(server_config);
    Client::new(config, store).map_err(errors::client_error)
}

/// What the demo did.
#[derive(Debug)]
struct Report {
    files: usize,
    bytes: u64,
    downloaded: usize,
    already: usize,
    failed: usize,
    fetched: u64,
    transfer: Duration,
    expected: usize,
    verified: usize,
    problems: Vec<String>,
    /// Why the `--json` progress could not be written to stdout, if it could not.
    progress_failure: Option<std::io::Error>,
}

/// The `--json` summary line.
#[derive(Debug, Serialize)]
struct SummaryJson {
    event: &'static str,
    files: usize,
    bytes: u64,
    downloaded: usize,
    already_downloaded: usize,
    failed: usize,
    fetched_bytes: u64,
    transfer_seconds: f64,
    total_seconds: f64,
    expected: usize,
    verified: usize,
}

/// Logs in, plans, downloads and verifies.
async fn demo(
    client: &Client,
    world: &World,
    account: &localdc::world::fixture::AccountSpec,
    args: &DemoArgs,
    output: &Path,
    hashing: tokio::task::JoinHandle<Vec<Hashed>>,
) -> Result<Report> {
    let me = log_in(client, account).await?;
    let name = world
        .store()
        .users
        .get(&me.id)
        .map(|u| match &u.last_name {
            Some(last) => format!("{} {last}", u.first_name),
            None => u.first_name.clone(),
        })
        .unwrap_or_default();
    output::note(format_args!(
        "logged in as {name} ({}user {}) with phone +{} and code {}; home DC {}",
        me.username
            .as_deref()
            .map(|u| format!("@{u}, "))
            .unwrap_or_default(),
        me.id,
        account.phone,
        account.code,
        client.home_dc()
    ));

    let chats = dialogs::list(client, None)
        .await
        .map_err(errors::client_error)
        .context("cannot list the demo account's chats")?;
    let mut plan = Plan::new(Template::parse(DEFAULT_TEMPLATE)?, output.to_owned(), None);
    let filters = Filters::default();
    let mut lines = Vec::new();
    for chat in &chats {
        let before = plan.files.len();
        let peer = resolve_chat(client, &chat.id.to_string()).await?;
        plan.add_chat(client, &peer, &chat.title, None, &filters)
            .await
            .with_context(|| format!("cannot list the media of {}", chat.title))?;
        let added = plan.files.get(before..).unwrap_or_default();
        let bytes: u64 = added.iter().map(|p| p.job.media.size).sum();
        lines.push(format!(
            "  {} ({}): {} files, {:.1} MiB",
            chat.title,
            chat.kind,
            added.len(),
            bytes as f64 / MIB
        ));
    }
    let total: u64 = plan.files.iter().map(|p| p.job.media.size).sum();
    output::note(format_args!(
        "{} chats, {} files, {:.1} MiB -> {}",
        chats.len(),
        plan.files.len(),
        total as f64 / MIB,
        args.output.display()
    ));
    for line in lines {
        output::note(line);
    }
    output::note(placement(&plan.files, world, client.home_dc()));

    let manifest = output.join(MANIFEST);
    match std::fs::remove_file(&manifest) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => {
            return Err(anyhow!(error).context(format!("cannot replace {}", manifest.display())));
        }
        _ => {}
    }
    let executed = download::execute(
        client,
        &plan.files,
        DownloadOptions::default(),
        args.json,
        &mut Manifest::create(&manifest)?,
        None,
    )
    .await?;

    let expected = hashing
        .await
        .context("computing the demo world's hashes stopped")?;
    let (verified, problems) = verify(&plan.files, &executed.outcomes, expected).await?;
    let summary = executed.summary;
    Ok(Report {
        files: plan.files.len(),
        bytes: total,
        downloaded: summary.downloaded,
        already: summary.already,
        failed: summary.failed + summary.not_run,
        fetched: summary.bytes,
        transfer: executed.elapsed,
        expected: verified.1,
        verified: verified.0,
        problems,
        progress_failure: executed.progress_failure,
    })
}

/// Where the files are stored: which DCs, which through the CDN.
fn placement(files: &[Planned], world: &World, home: i32) -> String {
    let mut dcs: Vec<i32> = files.iter().map(|p| p.job.media.dc_id).collect();
    dcs.sort_unstable();
    dcs.dedup();
    let others: Vec<String> = dcs
        .iter()
        .filter(|dc| **dc != home)
        .map(ToString::to_string)
        .collect();
    let cdn = files
        .iter()
        .filter(|p| {
            let media = &p.job.media.id;
            world
                .file(&FileKey::sized(media.id, &media.thumb))
                .is_some_and(|info| info.cdn)
        })
        .count();
    format!(
        "  stored on DC {home} and on DC {} (reached with exported authorizations), \
         {cdn} served through CDN DC {CDN_DC}",
        others.join(", ")
    )
}

/// Logs in with the world's phone number and code (and password, if it has one).
async fn log_in(
    client: &Client,
    account: &localdc::world::fixture::AccountSpec,
) -> Result<SelfUser> {
    let request = client
        .request_login_code(&account.phone)
        .await
        .map_err(errors::login_error)?;
    match client.sign_in(&request, &account.code).await {
        Ok(me) => Ok(me),
        Err(LoginError::PasswordRequired { .. }) => {
            let password = account
                .password
                .as_deref()
                .ok_or_else(|| anyhow!("the demo account wants a password it does not have"))?;
            client
                .check_password(password)
                .await
                .map_err(errors::login_error)
        }
        Err(error) => Err(errors::login_error(error)),
    }
}

/// Checks every downloaded file against the world: each expected file was planned, is on
/// disk with the world's size and SHA-256. Returns ((verified, expected), problems).
async fn verify(
    files: &[Planned],
    outcomes: &[FileOutcome],
    expected: Vec<Hashed>,
) -> Result<((usize, usize), Vec<String>)> {
    let total = expected.len();
    let mut wanted: HashMap<(i64, i32), Hashed> = expected
        .into_iter()
        .map(|(file, sha)| ((file.chat_id, file.msg_id), (file, sha)))
        .collect();
    let mut problems = Vec::new();
    let mut checks = Vec::new();
    for (plan, outcome) in files.iter().zip(outcomes) {
        let Some((file, sha)) = wanted.remove(&(plan.chat_id, plan.msg_id)) else {
            problems.push(format!("{}: not a file of the demo world", plan.shown));
            continue;
        };
        let media = &plan.job.media.id;
        if media.id != file.key.media_id || media.thumb != file.key.thumb {
            problems.push(format!(
                "{}: the message's file is {media}, the world's {}:{}",
                plan.shown, file.key.media_id, file.key.thumb
            ));
            continue;
        }
        match outcome {
            FileOutcome::Done { .. } | FileOutcome::AlreadyDone { .. } => {}
            FileOutcome::Failed(failure) => {
                problems.push(format!("{}: not downloaded: {failure}", plan.shown));
                continue;
            }
            FileOutcome::NotRun => {
                problems.push(format!("{}: not downloaded", plan.shown));
                continue;
            }
        }
        let Some(sha) = sha else {
            problems.push(format!("{}: the world has no such file", plan.shown));
            continue;
        };
        checks.push((plan.shown.clone(), plan.job.path.clone(), file.size, sha));
    }
    for (file, _) in wanted.values() {
        problems.push(format!(
            "message {} of chat {}: its file was not planned",
            file.msg_id, file.chat_id
        ));
    }
    let results = tokio::task::spawn_blocking(move || {
        checks
            .into_iter()
            .map(|(shown, path, size, sha)| match hash_file(&path) {
                Ok((len, _)) if len != size => {
                    Err(format!("{shown}: {len} bytes, the world says {size}"))
                }
                Ok((_, got)) if got != sha => Err(format!("{shown}: SHA-256 mismatch")),
                Ok(_) => Ok(()),
                Err(error) => Err(format!("{shown}: cannot read it: {error}")),
            })
            .collect::<Vec<_>>()
    })
    .await
    .context("checking the files stopped")?;
    let mut verified = 0;
    for result in results {
        match result {
            Ok(()) => verified += 1,
            Err(problem) => problems.push(problem),
        }
    }
    Ok(((verified, total), problems))
}

/// The length and SHA-256 of the file at `path`.
fn hash_file(path: &PathBuf) -> std::io::Result<(u64, [u8; 32])> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut len = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(buf.get(..n).unwrap_or_default());
        len += n as u64;
    }
    Ok((len, hasher.finalize().into()))
}

impl Report {
    /// The summary on stderr, and with `--json` its line on stdout (unless the progress
    /// could not be written there already).
    fn print(&self, args: &DemoArgs, output: &Path, total: Duration) -> Result<()> {
        for problem in &self.problems {
            output::note(format_args!("  FAILED {problem}"));
        }
        let seconds = self.transfer.as_secs_f64().max(1e-3);
        let fetched = if self.fetched > 0 {
            format!(
                "{:.1} MiB fetched in {seconds:.2} s, {:.1} MiB/s",
                self.fetched as f64 / MIB,
                self.fetched as f64 / MIB / seconds
            )
        } else {
            "nothing to fetch".to_owned()
        };
        output::note(format_args!(
            "done: {} files, {:.1} MiB in {:.1} s ({fetched}): {} downloaded, {} already \
             there, {} failed",
            self.files,
            self.bytes as f64 / MIB,
            total.as_secs_f64(),
            self.downloaded,
            self.already,
            self.failed,
        ));
        output::note(format_args!(
            "verified {}/{} against the SHA-256 of the demo world's files",
            self.verified, self.expected
        ));
        output::note(format_args!(
            "files in {}, manifest {}",
            args.output.display(),
            output.join(MANIFEST).display()
        ));
        if args.json && self.progress_failure.is_none() {
            let line = SummaryJson {
                event: "summary",
                files: self.files,
                bytes: self.bytes,
                downloaded: self.downloaded,
                already_downloaded: self.already,
                failed: self.failed,
                fetched_bytes: self.fetched,
                transfer_seconds: self.transfer.as_secs_f64(),
                total_seconds: total.as_secs_f64(),
                expected: self.expected,
                verified: self.verified,
            };
            output::to_stdout(|out| output::write_json_line(out, &line))?;
        }
        Ok(())
    }
}
