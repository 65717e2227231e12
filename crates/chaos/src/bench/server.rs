//! The benchmark's world and the localdc serving it: a fixture of N documents of one size
//! in one public channel, and localdc started as a separate process (the default, so that
//! the client's CPU and memory are measured alone) or on a thread of this process (tests).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use localdc::world::fixture::{
    AccountSpec, AttributeSpec, ChatKind, ChatSpec, DocumentSpec, MediaSpec, MessageSpec, UserSpec,
};
use localdc::world::{Fixture, World};
use localdc::{Config, ShutdownHandle, WanProfile};

/// The benchmark account: phone, login code, user id, home DC.
pub const PHONE: &str = "15550001";
pub const CODE: &str = "11111";
const USER_ID: i64 = 1001;
pub const HOME_DC: i32 = 2;
/// The public channel holding the files (message ids 1..=N).
pub const CHANNEL: &str = "benchfiles";
/// Document ids are this plus the message id.
const MEDIA_BASE: i64 = 500_000;
/// The DCs files are spread over, in order: the home DC first.
const DC_ORDER: [i32; 5] = [HOME_DC, 1, 3, 4, 5];
/// The most DCs files can be spread over.
pub const MAX_DCS: usize = DC_ORDER.len();
const SEED: u64 = 20_240_601;
const DATE: i32 = 1_700_000_000;
/// How long localdc may take to listen.
const START_LIMIT: Duration = Duration::from_secs(30);

/// The DC holding the file of message `msg_id` (1-based) when files are spread over `dcs`.
pub fn dc_of(msg_id: i32, dcs: usize) -> i32 {
    let index = (msg_id.max(1) - 1) as usize % dcs.clamp(1, MAX_DCS);
    DC_ORDER.get(index).copied().unwrap_or(HOME_DC)
}

/// The document id of message `msg_id`.
pub fn media_id(msg_id: i32) -> i64 {
    MEDIA_BASE + i64::from(msg_id)
}

/// `files` documents of `size` bytes each, spread round-robin over `dcs` DCs.
pub fn fixture(files: usize, size: u64, dcs: usize) -> Fixture {
    let messages = (1..=files)
        .map(|n| {
            let msg_id = n as i32;
            MessageSpec {
                id: msg_id,
                date: DATE + msg_id,
                text: format!("bench file {msg_id}"),
                media: Some(MediaSpec::Document(DocumentSpec {
                    id: media_id(msg_id),
                    dc: dc_of(msg_id, dcs),
                    size,
                    mime_type: "application/octet-stream".into(),
                    attributes: vec![AttributeSpec::FileName {
                        file_name: format!("bench-{msg_id}.bin"),
                    }],
                    ..DocumentSpec::default()
                })),
                ..MessageSpec::default()
            }
        })
        .collect();
    Fixture {
        seed: SEED,
        users: vec![UserSpec {
            id: USER_ID,
            first_name: "Bench".into(),
            username: Some("bench_user".into()),
            phone: Some(PHONE.into()),
            ..UserSpec::default()
        }],
        accounts: vec![AccountSpec {
            phone: PHONE.into(),
            user_id: USER_ID,
            code: CODE.into(),
            home_dc: HOME_DC,
            password: None,
            hint: None,
        }],
        chats: vec![ChatSpec {
            id: 1,
            kind: ChatKind::Channel,
            title: "Bench files".into(),
            username: Some(CHANNEL.into()),
            creator: USER_ID,
            members: vec![USER_ID],
            date: DATE,
            messages,
            ..ChatSpec::default()
        }],
        ..Fixture::default()
    }
}

/// A localdc serving the benchmark, stopped when dropped.
#[derive(Debug)]
pub enum Localdc {
    /// A child process.
    Process { child: Child, stderr: PathBuf },
    /// A server on its own thread and runtime in this process.
    InProcess {
        shutdown: ShutdownHandle,
        thread: Option<std::thread::JoinHandle<()>>,
    },
}

impl Localdc {
    /// Whether the server is a separate process.
    pub fn mode(&self) -> &'static str {
        match self {
            Self::Process { .. } => "process",
            Self::InProcess { .. } => "in-process",
        }
    }

    /// Stops the server (and waits for it).
    pub fn stop(&mut self) {
        match self {
            Self::Process { child, .. } => {
                let _ = child.kill();
                let _ = child.wait();
            }
            Self::InProcess { shutdown, thread } => {
                shutdown.shutdown();
                if let Some(thread) = thread.take() {
                    let _ = thread.join();
                }
            }
        }
    }
}

impl Drop for Localdc {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The localdc binary: `explicit`, or `localdc` next to this executable.
pub fn find_binary(explicit: Option<&Path>) -> Result<PathBuf> {
    if let Some(path) = explicit {
        if path.is_file() {
            return Ok(path.to_owned());
        }
        bail!("--localdc {}: no such file", path.display());
    }
    let exe = std::env::current_exe().context("cannot tell where tgdl is installed")?;
    let dir = exe
        .parent()
        .ok_or_else(|| anyhow!("{} has no directory", exe.display()))?;
    let path = dir.join(format!("localdc{}", std::env::consts::EXE_SUFFIX));
    if path.is_file() {
        return Ok(path);
    }
    bail!(
        "the localdc binary was not found next to tgdl ({}): build it with \
         `cargo build --release -p localdc` (the same profile as tgdl), or pass --localdc PATH",
        path.display()
    )
}

/// Starts `binary` serving `fixture_path` with `profile`, and waits until it writes
/// `ready` (its DC addresses and RSA key). Its log goes to a file in `dir`.
pub async fn start_process(
    binary: &Path,
    fixture_path: &Path,
    ready: &Path,
    profile: WanProfile,
    dir: &Path,
) -> Result<Localdc> {
    let stderr_path = dir.join("localdc.log");
    let log = std::fs::File::create(&stderr_path)
        .with_context(|| format!("cannot create {}", stderr_path.display()))?;
    let child = Command::new(binary)
        .arg("--port-base")
        .arg("0")
        .arg("--fixture")
        .arg(fixture_path)
        .arg("--ready-file")
        .arg(ready)
        .arg("--profile")
        .arg(profile.name())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let mut server = Localdc::Process {
        child,
        stderr: stderr_path,
    };
    let started = Instant::now();
    loop {
        if ready.is_file() {
            return Ok(server);
        }
        if let Localdc::Process { child, stderr } = &mut server
            && let Some(status) = child.try_wait().context("waiting for localdc")?
        {
            let log = std::fs::read_to_string(&*stderr).unwrap_or_default();
            bail!(
                "localdc exited before listening ({status}):\n{}",
                log.trim()
            );
        }
        if started.elapsed() > START_LIMIT {
            bail!("localdc did not listen within {START_LIMIT:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Starts a server for `world` on a new thread with its own runtime, writes `ready`.
pub fn start_in_process(world: Arc<World>, profile: WanProfile, ready: &Path) -> Result<Localdc> {
    let (sender, receiver) = std::sync::mpsc::channel();
    let thread = std::thread::Builder::new()
        .name("localdc".into())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = sender.send(Err(anyhow!(error).context("localdc runtime")));
                    return;
                }
            };
            runtime.block_on(async move {
                let config = Config::default().with_wan_profile(profile);
                match localdc::serve(config).world(&world).start().await {
                    Ok(server) => {
                        let _ = sender.send(Ok((server.ready_info(), server.shutdown_handle())));
                        server.wait().await;
                    }
                    Err(error) => {
                        let _ = sender.send(Err(anyhow!(error).context("starting localdc")));
                    }
                }
            });
        })
        .context("cannot start the localdc thread")?;
    let (info, shutdown) = receiver
        .recv()
        .map_err(|_| anyhow!("the localdc thread stopped before listening"))??;
    let server = Localdc::InProcess {
        shutdown,
        thread: Some(thread),
    };
    std::fs::write(ready, info.to_json())
        .with_context(|| format!("cannot write {}", ready.display()))?;
    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fixture_is_a_valid_world() {
        let fixture = fixture(7, 3 << 20, 3);
        let world = World::from_fixture(fixture).unwrap();
        let dcs: Vec<i32> = (1..=7)
            .map(|m| {
                let info = world
                    .file(&localdc::world::FileKey::document(media_id(m)))
                    .unwrap();
                assert_eq!(info.size, 3 << 20);
                info.dc
            })
            .collect();
        assert_eq!(dcs, [2, 1, 3, 2, 1, 3, 2]);
        assert_eq!(dc_of(1, 0), HOME_DC);
        assert_eq!(dc_of(5, 99), 5);
    }
}
