//! localdc, in this process, on fixed ports: the fault schedule turns its knobs directly
//! (the live `Faults` of every DC, the world's media and flood knobs), and a restart stops
//! every listener and connection, then starts a new server on the same ports with the same
//! RSA keys and the same state: the world (logins, file references, CDN state) and every
//! DC's auth keys (with their salts and client info) carry over, as a server restarted with
//! its state directory kept.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use anyhow::{Context, Result, anyhow};
use localdc::keys::{KeyState, NewKey};
use localdc::world::World;
use localdc::{Config, FaultSettings, Registry, RunningServer, Server};
use mtcrypto::RsaPrivateKey;

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
    server: Mutex<Option<RunningServer>>,
    ready: PathBuf,
}

impl Local {
    /// Starts serving `world` on `port_base + dc` (or the first free base from
    /// `port_base` on, in steps of 300, when `search` is set), and writes the ready file.
    pub fn start(
        runtime: Arc<tokio::runtime::Runtime>,
        world: Arc<World>,
        keys: &Keys,
        port_base: u16,
        search: bool,
        ready: &Path,
        base: &FaultSettings,
    ) -> Result<Self> {
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
                ..Config::default()
            };
            match runtime.block_on(Server::start_with(config.clone(), registry(&world))) {
                Ok(server) => {
                    localdc::wan::use_world_logins(&server, &world);
                    std::fs::write(ready, server.ready_info().to_json())
                        .with_context(|| format!("writing {}", ready.display()))?;
                    return Ok(Self {
                        runtime,
                        world,
                        config,
                        server: Mutex::new(Some(server)),
                        ready: ready.to_owned(),
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

    /// Stops the server, waits `down`, and starts it again on the same ports with the same
    /// world and auth keys.
    pub fn restart(&self, down: std::time::Duration) -> Result<()> {
        let Some(server) = lock(&self.server).take() else {
            return Ok(());
        };
        let keys = snapshot(&server);
        self.runtime.block_on(server.shutdown());
        std::thread::sleep(down);
        let mut last_error = None;
        // The ports were just released; give the OS a few tries.
        for _ in 0..50 {
            match self.runtime.block_on(Server::start_with(
                self.config.clone(),
                registry(&self.world),
            )) {
                Ok(server) => {
                    localdc::wan::use_world_logins(&server, &self.world);
                    restore(&server, keys);
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

fn registry(world: &Arc<World>) -> Registry {
    let mut registry = Registry::with_defaults();
    localdc::world::register(&mut registry, Arc::clone(world));
    registry
}

type Snapshot = Vec<(i32, Vec<(NewKey, KeyState)>)>;

/// Every DC's auth keys, as a restarted server finds them in its state directory.
fn snapshot(server: &RunningServer) -> Snapshot {
    server
        .dcs()
        .iter()
        .map(|dc| {
            let keys = dc
                .keys()
                .key_ids()
                .into_iter()
                .filter_map(|id| dc.keys().get(id))
                .map(|entry| {
                    (
                        NewKey {
                            auth_key: entry.auth_key().clone(),
                            salts: entry.salts(),
                            created: entry.created(),
                            expires_in: entry.expires_in(),
                        },
                        entry.state(),
                    )
                })
                .collect();
            (dc.id(), keys)
        })
        .collect()
}

fn restore(server: &RunningServer, snapshot: Snapshot) {
    for (dc, keys) in snapshot {
        let Some(handle) = server.dc(dc) else {
            continue;
        };
        for (key, state) in keys {
            if let Some(entry) = handle.keys().insert(key) {
                entry.update_state(|s| *s = state);
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
