//! Rounds: a fresh world, output directory and session; `tgdl download` run as a child
//! process, SIGKILLed at seeded moments and started again until it finishes, while the fault
//! schedule fires and the watcher looks on; then every file is checked.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use localdc::quirks::Quirks;
use localdc::world::World;
use localdc::{FaultSettings, WanSettings};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tl_types::Identifiable;
use tl_types::api::functions::auth::{SendCode, SignIn};

use crate::faults::{Firing, Schedule};
use crate::fixture::{CODE, PHONE, Plan};
use crate::live::{self, Live, LiveFile};
use crate::s3::{Restarts, S3Output};
use crate::server::{Keys, Local, proxy_secrets};
use crate::watch::{self, Watcher};

/// What a run is asked to do.
#[derive(Debug, Clone)]
pub struct Settings {
    pub seed: u64,
    pub files: usize,
    pub max_size: u64,
    /// Kills per round.
    pub kills: u32,
    /// Rounds go on until this much time has passed (at least one round).
    pub duration: Duration,
    /// Faults stop this long into a round at the latest (the rest of the duration when
    /// `None`).
    pub fault_window: Option<Duration>,
    /// Mean time between faults.
    pub mean_gap: Duration,
    /// Bytes per second each connection receives at most (the base WAN; `None`: no
    /// limit), so that a small world still takes a while.
    pub rate: Option<u64>,
    pub port_base: u16,
    /// Whether `port_base` may move up if taken.
    pub search_ports: bool,
    pub work_dir: PathBuf,
    pub verbose: bool,
    /// Download into a Garage on loopback (restarted as a fault) instead of a directory.
    pub s3: bool,
}

/// Counters of a run.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub faults: u64,
    pub kills: u64,
    pub files: u64,
    pub bytes: u64,
    pub corrupt: u64,
    pub lost: u64,
    /// Files that appeared at a final name with the wrong size or bytes.
    pub unverified: u64,
    /// `.part` files or files that are no fixture file left at the end.
    pub leftovers: u64,
    pub panics: u64,
    /// Client runs that exited with an error (not killed by us).
    pub failures: u64,
    /// Client runs killed because they made no progress for too long.
    pub hangs: u64,
    pub rounds: u64,
    /// Messages posted into the live channel.
    pub posted: u64,
    /// Posted (or initial) live files the watcher never delivered.
    pub missed: u64,
    /// Watcher runs SIGKILLed.
    pub watch_kills: u64,
    /// Watcher runs that did not stop cleanly on SIGTERM at the end of a round.
    pub unclean_stops: u64,
    /// Garage restarts (`--output s3`), counted in `faults` too.
    pub garage_restarts: u64,
}

impl Totals {
    pub fn ok(&self) -> bool {
        self.corrupt == 0
            && self.lost == 0
            && self.unverified == 0
            && self.leftovers == 0
            && self.panics == 0
            && self.missed == 0
            && self.unclean_stops == 0
    }

    fn add(&mut self, other: &Self) {
        self.faults += other.faults;
        self.kills += other.kills;
        self.files += other.files;
        self.bytes += other.bytes;
        self.corrupt += other.corrupt;
        self.lost += other.lost;
        self.unverified += other.unverified;
        self.leftovers += other.leftovers;
        self.panics += other.panics;
        self.failures += other.failures;
        self.hangs += other.hangs;
        self.rounds += other.rounds;
        self.posted += other.posted;
        self.missed += other.missed;
        self.watch_kills += other.watch_kills;
        self.unclean_stops += other.unclean_stops;
        self.garage_restarts += other.garage_restarts;
    }
}

/// The most client runs in a row that may fail on their own before the round gives up.
const MAX_FAILURES: u64 = 12;
/// A client run with no new byte on disk for this long is killed as hung.
const HANG: Duration = Duration::from_mins(4);

/// Runs rounds until the duration is used; the totals.
pub fn run(settings: &Settings) -> Result<Totals> {
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("starting the server runtime")?,
    );
    let keys = Keys::generate()?;
    let s3 = if settings.s3 {
        Some(Arc::new(S3Output::start(Arc::clone(&runtime))?))
    } else {
        None
    };
    let start = Instant::now();
    let deadline = start + settings.duration;
    let mut totals = Totals::default();
    let mut port_base = settings.port_base;
    for round in 0.. {
        let remaining = deadline.saturating_duration_since(Instant::now());
        // A round always has some faults, even past the deadline.
        let window = settings
            .fault_window
            .unwrap_or_else(|| remaining.max(Duration::from_secs(30)));
        let (outcome, base) = run_round(
            settings,
            &runtime,
            &keys,
            s3.as_ref(),
            (round, port_base),
            window,
        )?;
        port_base = base;
        eprintln!(
            "chaos: round {round}: faults={} kills={} files={} bytes={} corrupt={} lost={} \
             unverified={} leftovers={} panics={} failures={} hangs={} posted={} missed={} \
             watch_kills={} unclean_stops={} t={:.0}s",
            outcome.faults,
            outcome.kills,
            outcome.files,
            outcome.bytes,
            outcome.corrupt,
            outcome.lost,
            outcome.unverified,
            outcome.leftovers,
            outcome.panics,
            outcome.failures,
            outcome.hangs,
            outcome.posted,
            outcome.missed,
            outcome.watch_kills,
            outcome.unclean_stops,
            start.elapsed().as_secs_f64()
        );
        totals.add(&outcome);
        if !outcome.ok() || Instant::now() >= deadline {
            break;
        }
    }
    Ok(totals)
}

fn run_round(
    settings: &Settings,
    runtime: &Arc<tokio::runtime::Runtime>,
    keys: &Keys,
    s3: Option<&Arc<S3Output>>,
    (round, port_base): (u64, u16),
    window: Duration,
) -> Result<(Totals, u16)> {
    let plan = Plan::generate(
        settings.seed.wrapping_add(round),
        settings.files,
        settings.max_size,
    )?;
    let world = Arc::new(World::from_fixture(plan.fixture.clone()).context("loading the world")?);
    let expected = plan.expected_hashes(&world)?;
    let cdn: Arc<Vec<(i64, u64)>> = Arc::new(
        plan.files
            .values()
            .filter(|f| f.cdn)
            .map(|f| (f.media_id, f.size))
            .collect(),
    );
    let dir = settings.work_dir.join(format!("round-{round}"));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let base = FaultSettings {
        wan: WanSettings {
            conn_rate: settings.rate,
            ..WanSettings::default()
        },
        // Every reading of the spec the docs allow, a different mix each round.
        quirks: Quirks::seeded(settings.seed.wrapping_add(round)),
        ..FaultSettings::default()
    };
    let local = Arc::new(Local::start(
        Arc::clone(runtime),
        Arc::clone(&world),
        keys,
        port_base,
        settings.search_ports,
        &dir,
        &base,
    )?);
    let base = local.port_base();
    if settings.verbose {
        eprintln!(
            "chaos: round {round}: {} files, {} bytes, localdc at port base {base}, in {}",
            plan.files.len(),
            plan.total_bytes(),
            dir.display()
        );
    }
    let client = Client {
        ready: local.ready_file().to_owned(),
        dir: dir.clone(),
        session: dir.join("s.session"),
        proxy_port: local.proxy_port(),
        s3: s3.map(|s3| ObjectOutput {
            url: s3.url(round),
            env: s3.env().to_vec(),
        }),
    };
    if let Some(s3) = s3 {
        let config = dir.join("home/config/tgdl");
        std::fs::create_dir_all(&config)?;
        std::fs::write(config.join("config.toml"), s3.config_toml())?;
    }
    let logins = client.login()?;
    // Each login attempt asks for one code and signs in once: a request with effects run
    // twice by session bookkeeping shows here.
    for (method, id) in [
        ("auth.sendCode", SendCode::CONSTRUCTOR_ID),
        ("auth.signIn", SignIn::CONSTRUCTOR_ID),
    ] {
        let ran = local.calls().of(id);
        if ran != logins {
            bail!("{method} ran {ran} times for {logins} login attempts");
        }
    }
    // The watcher has a session of its own: a session file is one process's at a time.
    let watch_client = Arc::new(Client {
        session: dir.join("w.session"),
        ..client.clone()
    });
    watch_client.login()?;

    let out = dir.join("out");
    let watcher = Watcher::start(out.clone());
    let live_out = dir.join("live-out");
    let live_watcher = Watcher::start(live_out.clone());
    let live = Live::start(
        Arc::clone(&world),
        watch_client,
        live_out.clone(),
        settings.seed.wrapping_add(round),
        settings.verbose,
    );
    let firing = Firing::start(
        Arc::clone(&local),
        Schedule::new(settings.seed, round, cdn.len(), settings.mean_gap),
        cdn,
        window,
        settings.verbose,
    );
    let restarts = s3.map(|s3| {
        Restarts::start(
            Arc::clone(s3),
            settings.seed,
            round,
            settings.mean_gap.mul_f64(4.0).max(Duration::from_secs(4)),
            window,
            settings.verbose,
        )
    });
    let mut outcome = Totals {
        rounds: 1,
        ..Totals::default()
    };
    let downloaded = drive(
        settings,
        &client,
        &world,
        plan.total_bytes(),
        round,
        &mut outcome,
    );
    outcome.garage_restarts = restarts.map_or(0, Restarts::stop);
    outcome.faults = firing.stop() + outcome.garage_restarts;
    let seen = watcher.stop();
    let (live_files, live_outcome) = live.finish(&plan.live_files);
    let live_seen = live_watcher.stop();
    local.shutdown();
    downloaded?;

    match s3 {
        Some(s3) => {
            let sizes = plan
                .files
                .iter()
                .map(|(path, spec)| (path.clone(), spec.size))
                .collect();
            outcome.lost += s3.check(round, &sizes, &expected, &mut outcome)?;
        }
        None => check(&plan, &expected, &out, &seen, &mut outcome)?,
    }
    let live_expected = live::expected_hashes(&world, &live_files)?;
    check_live(
        &live_files,
        &live_expected,
        &live_out,
        &live_seen,
        &mut outcome,
    )?;
    outcome.posted = live_outcome.posted;
    outcome.watch_kills = live_outcome.kills;
    outcome.panics += live_outcome.panics;
    outcome.failures += live_outcome.failures;
    outcome.unclean_stops = u64::from(!live_outcome.clean_stop);
    if outcome.ok() {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        eprintln!(
            "chaos: round {round} failed; its files are kept in {}",
            dir.display()
        );
    }
    Ok((outcome, base))
}

/// When the client is killed: once the server has served this many bytes of the round
/// (the run is then somewhere in its files), or this long after it started (while it is
/// still logging in, resolving, listing).
#[derive(Debug, Clone, Copy)]
enum KillAt {
    Served(u64),
    After(Duration),
}

/// The seeded kill moments of a round, in order.
fn kill_points(seed: u64, round: u64, kills: u32, total: u64) -> Vec<KillAt> {
    let mut rng = StdRng::seed_from_u64(seed ^ round.wrapping_mul(0x51_7cc1_b727_220a) ^ 0x4b11);
    let mut served: Vec<u64> = Vec::new();
    let mut points = Vec::new();
    for _ in 0..kills {
        if rng.gen_bool(0.2) {
            points.push(KillAt::After(Duration::from_millis(
                rng.gen_range(100..2500),
            )));
        } else {
            served.push((total as f64 * rng.gen_range(0.02..0.95)) as u64);
            points.push(KillAt::Served(0));
        }
    }
    served.sort_unstable();
    let mut served = served.into_iter();
    for point in &mut points {
        if let KillAt::Served(at) = point {
            *at = served.next().unwrap_or(0);
        }
    }
    points
}

/// Starts the client until a run finishes, killing it at seeded moments.
fn drive(
    settings: &Settings,
    client: &Client,
    world: &World,
    total: u64,
    round: u64,
    outcome: &mut Totals,
) -> Result<()> {
    let mut kills = kill_points(settings.seed, round, settings.kills, total).into_iter();
    let mut next_kill = kills.next();
    let mut failures_in_row = 0;
    for attempt in 0u64.. {
        let proxy = client.proxy_link(attempt);
        if settings.verbose && proxy.is_some() {
            eprintln!("chaos: attempt {attempt} goes through the MTProxy front");
        }
        let mut child = client.download(attempt, proxy)?;
        let started = Instant::now();
        let mut progress = (Instant::now(), 0u64);
        let status = loop {
            if let Some(status) = child.try_wait().context("waiting for the client")? {
                break Some(status);
            }
            let now = Instant::now();
            let served = world.served_total();
            let due = match next_kill {
                Some(KillAt::Served(at)) => served >= at,
                Some(KillAt::After(after)) => now >= started + after,
                None => false,
            };
            if due {
                // Child::kill is SIGKILL on Unix.
                let _ = child.kill();
                let _ = child.wait();
                outcome.kills += 1;
                if settings.verbose {
                    eprintln!(
                        "chaos: killed the client after {:.1}s, {served} bytes served",
                        started.elapsed().as_secs_f64()
                    );
                }
                next_kill = kills.next().map(|next| match next {
                    // Each kill lands after some progress of its own.
                    KillAt::Served(at) => KillAt::Served(at.max(served + (256 << 10))),
                    after @ KillAt::After(_) => after,
                });
                break None;
            }
            // Progress: bytes served, or JSON progress events printed.
            let bytes = served + client.stdout_len(attempt);
            if bytes != progress.1 {
                progress = (now, bytes);
            } else if now.duration_since(progress.0) > HANG {
                let _ = child.kill();
                let _ = child.wait();
                outcome.hangs += 1;
                eprintln!(
                    "chaos: the client made no progress for {}s: killed (attempt {attempt})",
                    HANG.as_secs()
                );
                break None;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stderr = client.stderr(attempt);
        if stderr.contains("panicked") {
            outcome.panics += 1;
            eprintln!(
                "chaos: the client panicked (attempt {attempt}):\n{}",
                tail(&stderr)
            );
        }
        match status {
            Some(status) if status.success() => return Ok(()),
            Some(status) => {
                outcome.failures += 1;
                failures_in_row += 1;
                eprintln!(
                    "chaos: the client failed ({status}, attempt {attempt}):\n{}",
                    tail(&stderr)
                );
                if failures_in_row >= MAX_FAILURES {
                    eprintln!("chaos: giving up after {failures_in_row} failures in a row");
                    return Ok(());
                }
                std::thread::sleep(Duration::from_millis(500));
            }
            None => failures_in_row = 0,
        }
    }
    Ok(())
}

/// Every fixture file in place with its hash; nothing appeared unverified; no leftovers.
fn check(
    plan: &Plan,
    expected: &BTreeMap<PathBuf, [u8; 32]>,
    out: &Path,
    seen: &BTreeMap<PathBuf, watch::Sighting>,
    outcome: &mut Totals,
) -> Result<()> {
    let sizes = plan
        .files
        .iter()
        .map(|(path, spec)| (path.clone(), spec.size))
        .collect();
    let missing = check_files(&sizes, expected, out, seen, outcome, |path| {
        plan.files.get(path).map_or_else(String::new, |spec| {
            format!(
                " ({} bytes, dc {}{})",
                spec.size,
                spec.dc,
                if spec.cdn { ", via the CDN" } else { "" }
            )
        })
    })?;
    outcome.lost += missing;
    Ok(())
}

/// Every file of the live channel (initial and posted) delivered by the watcher.
fn check_live(
    files: &BTreeMap<PathBuf, LiveFile>,
    expected: &BTreeMap<PathBuf, [u8; 32]>,
    out: &Path,
    seen: &BTreeMap<PathBuf, watch::Sighting>,
    outcome: &mut Totals,
) -> Result<()> {
    let sizes = files
        .iter()
        .map(|(path, file)| (path.clone(), file.size))
        .collect();
    let missing = check_files(&sizes, expected, out, seen, outcome, |path| {
        files.get(path).map_or_else(String::new, |file| {
            format!(" ({} bytes, posted)", file.size)
        })
    })?;
    outcome.missed += missing;
    Ok(())
}

/// Checks the files of `sizes` under `out` against `expected` (counting files, bytes,
/// corrupt, unverified and leftovers into `outcome`); how many are missing.
fn check_files(
    sizes: &BTreeMap<PathBuf, u64>,
    expected: &BTreeMap<PathBuf, [u8; 32]>,
    out: &Path,
    seen: &BTreeMap<PathBuf, watch::Sighting>,
    outcome: &mut Totals,
    describe: impl Fn(&Path) -> String,
) -> Result<u64> {
    let mut missing = 0;
    for (path, size) in sizes {
        let full = out.join(path);
        if !full.exists() {
            missing += 1;
            eprintln!("chaos: LOST {}{}", path.display(), describe(path));
            continue;
        }
        let hash =
            watch::sha256_of(&full).with_context(|| format!("reading {}", full.display()))?;
        if Some(&hash) == expected.get(path) {
            outcome.files += 1;
            outcome.bytes += size;
        } else {
            outcome.corrupt += 1;
            eprintln!("chaos: CORRUPT {} (final hash differs)", path.display());
        }
    }
    for (path, sighting) in seen {
        if is_manifest(path) {
            continue;
        }
        let (Some(size), Some(hash)) = (sizes.get(path), expected.get(path)) else {
            outcome.leftovers += 1;
            eprintln!("chaos: STRAY file {} appeared", path.display());
            continue;
        };
        if sighting.size != *size || sighting.sha256.as_ref() != Some(hash) {
            outcome.unverified += 1;
            eprintln!(
                "chaos: UNVERIFIED {} appeared with {} bytes (expected {size}) and {}",
                path.display(),
                sighting.size,
                if sighting.sha256.as_ref() == Some(hash) {
                    "the right hash"
                } else {
                    "a wrong hash"
                }
            );
        }
    }
    for (path, _) in watch::all_files(out) {
        if watch::is_part(&path) {
            outcome.leftovers += 1;
            eprintln!("chaos: LEFTOVER {}", path.display());
        }
    }
    Ok(missing)
}

fn is_manifest(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with("tgdl-manifest-"))
}

pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines
        .get(lines.len().saturating_sub(15)..)
        .unwrap_or_default()
        .join("\n")
}

/// tgdl, as a child process of this binary.
#[derive(Debug, Clone)]
pub struct Client {
    ready: PathBuf,
    dir: PathBuf,
    session: PathBuf,
    /// localdc's MTProxy front, which every other download attempt goes through.
    proxy_port: Option<u16>,
    /// Object storage as the download's output (the watcher keeps its directory).
    s3: Option<ObjectOutput>,
}

/// Where `tgdl download` writes in the S3 variant, and the key it is given.
#[derive(Debug, Clone)]
pub struct ObjectOutput {
    url: String,
    env: Vec<(&'static str, String)>,
}

impl Client {
    fn command(&self, args: &[&str]) -> Result<Command> {
        let exe = std::env::current_exe().context("finding this executable")?;
        let home = self.dir.join("home");
        let mut command = Command::new(exe);
        command
            .arg("client")
            .arg("--server")
            .arg(&self.ready)
            .arg("--session")
            .arg(&self.session)
            .args(args)
            .env("TGDL_API_ID", "4")
            .env("TGDL_API_HASH", "0123456789abcdef")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", home.join("config"))
            .env("XDG_DATA_HOME", home.join("data"));
        if let Some(s3) = &self.s3 {
            command.envs(s3.env.iter().map(|(k, v)| (*k, v.as_str())));
        }
        Ok(command)
    }

    /// Logs in; the number of attempts it took.
    fn login(&self) -> Result<u64> {
        let mut last = String::new();
        for attempt in 1..=3 {
            let mut child = self
                .command(&["login", "--phone", PHONE])?
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .context("starting the client")?;
            if let Some(mut stdin) = child.stdin.take() {
                let _ = writeln!(stdin, "{CODE}");
            }
            let output = child.wait_with_output().context("waiting for the login")?;
            if output.status.success() {
                return Ok(attempt);
            }
            last = String::from_utf8_lossy(&output.stderr).into_owned();
        }
        bail!("the client cannot log in:\n{last}")
    }

    /// The `--proxy` link of an attempt: odd attempts go through the MTProxy front, with
    /// each kind of secret in turn; even ones connect directly.
    fn proxy_link(&self, attempt: u64) -> Option<String> {
        let port = self.proxy_port.filter(|_| attempt % 2 == 1)?;
        let secrets = proxy_secrets();
        let index = usize::try_from(attempt / 2).unwrap_or(0) % secrets.len();
        let secret = secrets.get(index)?;
        Some(format!(
            "tg://proxy?server=127.0.0.1&port={port}&secret={}",
            secret.to_hex().as_str()
        ))
    }

    /// Starts attempt `attempt` of the download, through `proxy` (a `--proxy` link) if any.
    fn download(&self, attempt: u64, proxy: Option<String>) -> Result<Child> {
        let out = self.dir.join("out");
        let out = match &self.s3 {
            Some(s3) => s3.url.as_str(),
            None => out.to_str().context("the output path is not UTF-8")?,
        };
        let stdout = File::create(self.dir.join(format!("attempt-{attempt}.out")))?;
        let stderr = File::create(self.stderr_path(attempt))?;
        let mut args = vec![
            "download".to_owned(),
            format!("@{}", crate::fixture::CHAT),
            "-o".to_owned(),
            out.to_owned(),
            "--json".to_owned(),
        ];
        if let Some(link) = proxy {
            args.extend(["--proxy".to_owned(), link]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.command(&args)?
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .context("starting the client")
    }

    /// Starts watcher run `run`: `tgdl watch @chaos_live` into `live-out`, with JSON events.
    pub fn watch(&self, run: u64) -> Result<Child> {
        let out = self.dir.join("live-out");
        let out = out.to_str().context("the output path is not UTF-8")?;
        let stdout = File::create(self.dir.join(format!("watch-{run}.out")))?;
        let stderr = File::create(self.dir.join(format!("watch-{run}.err")))?;
        let live = format!("@{}", crate::fixture::LIVE_CHAT);
        self.command(&["watch", &live, "-o", out, "--json"])?
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .context("starting the watcher")
    }

    /// What watcher run `run` wrote to stderr.
    pub fn watch_stderr(&self, run: u64) -> String {
        std::fs::read_to_string(self.dir.join(format!("watch-{run}.err"))).unwrap_or_default()
    }

    fn stdout_len(&self, attempt: u64) -> u64 {
        std::fs::metadata(self.dir.join(format!("attempt-{attempt}.out"))).map_or(0, |m| m.len())
    }

    fn stderr_path(&self, attempt: u64) -> PathBuf {
        self.dir.join(format!("attempt-{attempt}.err"))
    }

    fn stderr(&self, attempt: u64) -> String {
        std::fs::read_to_string(self.stderr_path(attempt)).unwrap_or_default()
    }
}
