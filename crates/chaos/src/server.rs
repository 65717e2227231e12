//! localdc, in this process, on fixed ports: the fault schedule turns its knobs directly
//! (the live `Faults` of every DC, the world's media and flood knobs). It runs with a state
//! dir, and a restart stops every listener and connection, then starts a new server on the
//! same ports from that state dir, as `localdc --state-dir` restarted: the auth keys (with
//! their salts and client info) and the logins come back from disk. The world itself (the
//! messages, file references, CDN state) is Telegram's cloud, not the process, and stays.
//! Every DC port is also an MTProxy front, for the client runs that go through a proxy.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{Context, Result, anyhow};
use localdc::rpc::CallCounts;
use localdc::world::World;
use localdc::{Config, FaultSettings, RunningServer};
use mtcrypto::RsaPrivateKey;
use mtproto::transport::ProxySecret;

use crate::fixture::{CDN_DC, DCS};

/// The keys a server signs with, kept across restarts and rounds.
#[derive(Debug, Clone)]
pub struct Keys {
    main: Arc<RsaPrivateKey>,
    cdn: Arc<RsaPrivateKey>,
}

impl Keys {
    pub fn generate() -> Result<Self> {
        let mut rng = rand::rngs::OsRng;
        Ok(Self {
            main: Arc::new(RsaPrivateKey::generate(&mut rng).context("generating an RSA key")?),
            cdn: Arc::new(RsaPrivateKey::generate(&mut rng).context("generating an RSA key")?),
        })
    }
}

/// A running localdc and what restarting it needs.
#[derive(Debug)]
pub struct Local {
    runtime: Arc<tokio::runtime::Runtime>,
    world: Arc<World>,
    config: Config,
    /// Requests executed per method, across restarts.
    calls: Arc<CallCounts>,
    server: Mutex<Option<RunningServer>>,
    ready: PathBuf,
}

impl Local {
    /// Starts serving `world` on `port_base + dc` (or the first free base from
    /// `port_base` on, in steps of 300, when `search` is set), with its state dir and ready
    /// file in `dir`.
    pub fn start(
        runtime: Arc<tokio::runtime::Runtime>,
        world: Arc<World>,
        keys: &Keys,
        port_base: u16,
        search: bool,
        dir: &Path,
        base: &FaultSettings,
    ) -> Result<Self> {
        let ready = dir.join("ready.json");
        let state_dir = dir.join("localdc-state");
        let mut last_error = None;
        for attempt in 0..if search { 20 } else { 1 } {
            let ports = port_base.saturating_add(attempt * 300);
            let config = Config {
                port_base: ports,
                dcs: DCS,
                rsa_key: Some(Arc::clone(&keys.main)),
                cdn_rsa_key: Some(Arc::clone(&keys.cdn)),
                cdn_dcs: vec![CDN_DC],
                faults: base.clone(),
                mtproxy_secrets: proxy_secrets(),
                state_dir: Some(state_dir.clone()),
                ..Config::default()
            };
            let calls = Arc::new(CallCounts::default());
            match runtime.block_on(serve(&config, &world, &calls).start()) {
                Ok(server) => {
                    std::fs::write(&ready, server.ready_info().to_json())
                        .with_context(|| format!("writing {}", ready.display()))?;
                    return Ok(Self {
                        runtime,
                        world,
                        config,
                        calls,
                        server: Mutex::new(Some(server)),
                        ready: ready.clone(),
                    });
                }
                Err(error) => last_error = Some(error),
            }
        }
        Err(anyhow!(
            "cannot start localdc near port {port_base}: {}",
            last_error.map_or_else(String::new, |e| e.to_string())
        ))
    }

    pub fn world(&self) -> &Arc<World> {
        &self.world
    }

    /// How many times each method ran, across restarts.
    pub fn calls(&self) -> &CallCounts {
        &self.calls
    }

    pub fn ready_file(&self) -> &Path {
        &self.ready
    }

    /// The knobs every DC starts with (the WAN the run asked for), which faults return to.
    pub fn base(&self) -> &FaultSettings {
        &self.config.faults
    }

    pub fn port_base(&self) -> u16 {
        self.config.port_base
    }

    /// Runs `f` on the running server (nothing while it is down for a restart).
    pub fn with<T>(&self, f: impl FnOnce(&RunningServer) -> T) -> Option<T> {
        lock(&self.server).as_ref().map(f)
    }

    /// Where the MTProxy front listens (DC 1's port; every DC port is one).
    pub fn proxy_port(&self) -> Option<u16> {
        self.config.port_for(1)
    }

    /// Stops the server (which saves its state dir), waits `down`, and starts it again on
    /// the same ports from the state dir.
    pub fn restart(&self, down: std::time::Duration) -> Result<()> {
        let Some(server) = lock(&self.server).take() else {
            return Ok(());
        };
        self.runtime.block_on(server.shutdown());
        std::thread::sleep(down);
        let mut last_error = None;
        // The ports were just released; give the OS a few tries.
        for _ in 0..50 {
            match self
                .runtime
                .block_on(serve(&self.config, &self.world, &self.calls).start())
            {
                Ok(server) => {
                    *lock(&self.server) = Some(server);
                    return Ok(());
                }
                Err(error) => last_error = Some(error),
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        Err(anyhow!(
            "localdc did not come back after a restart: {}",
            last_error.map_or_else(String::new, |e| e.to_string())
        ))
    }

    /// Stops the server for good.
    pub fn shutdown(&self) {
        if let Some(server) = lock(&self.server).take() {
            self.runtime.block_on(server.shutdown());
        }
    }
}

impl Drop for Local {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The server of `config` serving `world`, counting into `calls`.
fn serve(config: &Config, world: &Arc<World>, calls: &Arc<CallCounts>) -> localdc::Serve {
    localdc::serve(config.clone())
        .world(world)
        .counting_into(calls)
}

/// The MTProxy secrets every DC port accepts, one of each kind.
pub fn proxy_secrets() -> Vec<ProxySecret> {
    vec![
        ProxySecret::Plain(*b"chaos-plain-key!"),
        ProxySecret::Padded(*b"chaos-padded-key"),
        ProxySecret::FakeTls {
            key: *b"chaos-faketlskey",
            domain: "chaos.example.org".to_owned(),
        },
    ]
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
