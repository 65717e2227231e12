//! Starting and stopping a server: one listener per DC, all sharing the RSA key.

use std::net::SocketAddr;
use std::sync::Arc;

use mtcrypto::RsaPrivateKey;
use mtcrypto::dh::DhParams;
use rand::Rng;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::dc::{DcAddress, DcState};
use crate::error::Error;
use crate::faults::Faults;
use crate::keys::KeyStore;
use crate::listener;
use crate::mtproxy::MtProxyFront;
use crate::ready::{ReadyDc, ReadyInfo};
use crate::rpc::Registry;
use crate::state::StateDir;

/// Ports picked for `port_base` 0 lie in this range: below 32768, as some clients keep
/// ports in signed 16-bit fields, and above the well-known ones.
const FREE_PORTS: std::ops::Range<u16> = 20_000..32_768;
/// Random ports tried per DC before asking the OS for any port.
const FREE_PORT_TRIES: usize = 64;

/// The server. See [`Server::start`].
#[derive(Debug)]
pub struct Server;

impl Server {
    /// Binds every DC's port, starts serving, and returns once all listeners are up. The
    /// methods served are [`Registry::with_defaults`].
    pub async fn start(config: Config) -> Result<RunningServer, Error> {
        Self::start_with(config, Registry::with_defaults()).await
    }

    /// Like [`Server::start`], serving the methods of `registry`.
    pub async fn start_with(config: Config, registry: Registry) -> Result<RunningServer, Error> {
        if config.dcs == 0 {
            return Err(Error::Config("at least one DC is needed".into()));
        }
        let state = match &config.state_dir {
            Some(dir) => Some(StateDir::open(dir)?),
            None => None,
        };
        let rsa = match &config.rsa_key {
            Some(key) => Arc::clone(key),
            None => Arc::new(saved_or_new_key(state.as_deref(), false).await?),
        };
        let public_key_pem = rsa.public_key().to_pkcs1_pem()?;
        let fingerprint = rsa.public_key().fingerprint();

        let cdn_rsa = match (&config.cdn_rsa_key, config.cdn_dcs.is_empty()) {
            (Some(key), _) => Some(Arc::clone(key)),
            (None, false) => Some(Arc::new(saved_or_new_key(state.as_deref(), true).await?)),
            (None, true) => None,
        };
        let cdn_public_keys: Arc<[(i32, String)]> = match &cdn_rsa {
            Some(key) => {
                let pem = key.public_key().to_pkcs1_pem()?;
                config.cdn_dcs.iter().map(|id| (*id, pem.clone())).collect()
            }
            None => Arc::from(Vec::new()),
        };

        let mut listeners = Vec::new();
        let main_ids = (1..=i32::from(config.dcs)).map(|id| (id, false));
        let cdn_ids = config.cdn_dcs.iter().map(|id| (*id, true));
        let saved_ports = state.as_ref().map(|s| s.load_ports()).unwrap_or_default();
        for (id, cdn) in main_ids.chain(cdn_ids) {
            let listener = bind_dc(&config, id, saved_ports.get(&id.to_string()).copied())?;
            let addr = listener.local_addr().map_err(|source| Error::Bind {
                dc: id,
                addr: SocketAddr::new(config.host, 0),
                source,
            })?;
            listeners.push((DcAddress { id, addr, cdn }, listener));
        }
        let directory: Arc<[DcAddress]> = listeners.iter().map(|(dc, _)| *dc).collect();
        let registry = Arc::new(registry);
        let dh = DhParams::telegram();

        let padding = if config.faults.quirks.pads_full_range() {
            mtproto::transport::PaddingStyle::FullRange
        } else {
            config.padding
        };
        let mtproxy = Arc::new(MtProxyFront::new(config.mtproxy_secrets.clone(), padding));
        if !config.mtproxy_secrets.is_empty() {
            tracing::info!(
                secrets = config.mtproxy_secrets.len(),
                "every DC port is also an MTProxy front"
            );
        }

        let (shutdown, shutdown_rx) = watch::channel(false);
        let mut dcs = Vec::new();
        let mut tasks = Vec::new();
        for (address, listener) in listeners {
            let keys = Arc::new(
                KeyStore::new(
                    config.limits.max_keys_per_dc,
                    config.limits.max_sessions_per_key,
                )
                .with_salt_period(config.salt_period)
                .with_session_bounds(config.limits.session_bounds()),
            );
            let faults = Faults::new(&config.faults);
            faults.attach_keys(Arc::clone(&keys));
            let state = Arc::new(DcState {
                id: address.id,
                addr: address.addr,
                directory: Arc::clone(&directory),
                keys,
                faults,
                limits: config.limits.clone(),
                rsa: match (&cdn_rsa, address.cdn) {
                    (Some(key), true) => Arc::clone(key),
                    _ => Arc::clone(&rsa),
                },
                dh: dh.clone(),
                registry: Arc::clone(&registry),
                salt_period: config.salt_period,
                connections: Arc::new(Semaphore::new(config.limits.max_connections_per_dc.max(1))),
                mtproxy: Arc::clone(&mtproxy),
                http_polls: Arc::default(),
                carriers: crate::conn::Carriers::default(),
                cdn_public_keys: Arc::clone(&cdn_public_keys),
            });
            dcs.push((DcHandle { state }, listener));
        }
        // Every DC exists before any port accepts, so a proxied client always finds its DC.
        let states: Vec<Arc<DcState>> = dcs.iter().map(|(dc, _)| Arc::clone(&dc.state)).collect();
        mtproxy.set_dcs(&states);
        if let Some(state) = &state {
            state.adopt_stores(
                states
                    .iter()
                    .map(|dc| (dc.id, Arc::clone(&dc.keys)))
                    .collect(),
            )?;
            let ports = states
                .iter()
                .map(|dc| (dc.id.to_string(), dc.addr.port()))
                .collect();
            state.save_ports(&ports)?;
            tasks.push(tokio::spawn(Arc::clone(state).run(shutdown_rx.clone())));
        }
        let dcs: Vec<DcHandle> = dcs
            .into_iter()
            .map(|(dc, listener)| {
                tracing::info!(dc = dc.id(), addr = %dc.addr(), "listening");
                tasks.push(tokio::spawn(listener::run(
                    Arc::clone(&dc.state),
                    listener,
                    shutdown_rx.clone(),
                )));
                dc
            })
            .collect();
        Ok(RunningServer {
            dcs,
            public_key_pem,
            fingerprint,
            shutdown,
            tasks,
            state,
        })
    }
}

/// The key saved in the state dir, else a new one (saved there).
async fn saved_or_new_key(state: Option<&StateDir>, cdn: bool) -> Result<RsaPrivateKey, Error> {
    if let Some(state) = state
        && let Some(key) = state.load_rsa(cdn)?
    {
        return Ok(key);
    }
    let key = generate_rsa_key().await?;
    if let Some(state) = state {
        state.save_rsa(&key, cdn)?;
    }
    Ok(key)
}

async fn generate_rsa_key() -> Result<RsaPrivateKey, Error> {
    tracing::info!("generating a 2048-bit RSA key");
    tokio::task::spawn_blocking(|| RsaPrivateKey::generate(&mut rand::rngs::OsRng))
        .await
        .map_err(|error| Error::Task(error.to_string()))?
        .map_err(Error::from)
}

/// Binds DC `id`'s port: `port_base + id`, or when the base is 0 the port `saved` (a state
/// dir's, if it is free) or a free port below 32768.
fn bind_dc(config: &Config, id: i32, saved: Option<u16>) -> Result<TcpListener, Error> {
    let bind_error = |port: u16, source| Error::Bind {
        dc: id,
        addr: SocketAddr::new(config.host, port),
        source,
    };
    if config.port_base != 0 {
        let port = config.port_for(id).ok_or_else(|| {
            Error::Config(format!(
                "port base {} + DC {id} overflows",
                config.port_base
            ))
        })?;
        return listener::bind(SocketAddr::new(config.host, port)).map_err(|e| bind_error(port, e));
    }
    if let Some(port) = saved.filter(|port| *port != 0)
        && let Ok(listener) = listener::bind(SocketAddr::new(config.host, port))
    {
        return Ok(listener);
    }
    let mut rng = rand::thread_rng();
    for _ in 0..FREE_PORT_TRIES {
        let port = rng.gen_range(FREE_PORTS);
        if let Ok(listener) = listener::bind(SocketAddr::new(config.host, port)) {
            return Ok(listener);
        }
    }
    listener::bind(SocketAddr::new(config.host, 0)).map_err(|e| bind_error(0, e))
}

/// A handle on one running DC: its address, keys and fault knobs.
#[derive(Debug, Clone)]
pub struct DcHandle {
    state: Arc<DcState>,
}

impl DcHandle {
    /// The DC id.
    pub fn id(&self) -> i32 {
        self.state.id
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.state.addr
    }

    /// Its fault knobs, live.
    pub fn faults(&self) -> &Faults {
        &self.state.faults
    }

    /// Its auth keys.
    pub fn keys(&self) -> &crate::keys::KeyStore {
        &self.state.keys
    }

    /// Everything about it.
    pub fn state(&self) -> &Arc<DcState> {
        &self.state
    }
}

/// A started server. Dropping it does not stop it: call [`RunningServer::shutdown`] (or
/// keep a [`ShutdownHandle`]).
#[derive(Debug)]
pub struct RunningServer {
    dcs: Vec<DcHandle>,
    public_key_pem: String,
    fingerprint: i64,
    shutdown: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    state: Option<Arc<StateDir>>,
}

impl RunningServer {
    /// Ties `world` (served through this server's registry) to the server: when a DC
    /// forgets auth keys, the logins of those keys go with them; with a state dir, the
    /// world's saved logins are loaded now and its login changes are saved from now on.
    /// Call it once, right after starting, before clients are told where the server is.
    pub fn attach_world(&self, world: &Arc<crate::world::World>) -> Result<(), Error> {
        for dc in &self.dcs {
            let weak = Arc::downgrade(world);
            let id = dc.id();
            dc.state.keys.add_forget_hook(Arc::new(move |ids| {
                if let Some(world) = weak.upgrade() {
                    world.forget_key_logins(id, ids);
                }
            }));
        }
        if let Some(state) = &self.state {
            state.adopt_world(world)?;
            state.touch();
        }
        Ok(())
    }

    /// The state dir in use, if any.
    pub fn state_dir(&self) -> Option<&std::path::Path> {
        self.state.as_deref().map(StateDir::path)
    }

    /// Every DC, by increasing id.
    pub fn dcs(&self) -> &[DcHandle] {
        &self.dcs
    }

    /// DC `id`.
    pub fn dc(&self, id: i32) -> Option<&DcHandle> {
        self.dcs.iter().find(|dc| dc.id() == id)
    }

    /// Where DC `id` listens.
    pub fn addr(&self, id: i32) -> Option<SocketAddr> {
        self.dc(id).map(DcHandle::addr)
    }

    /// The RSA public key, PKCS#1 PEM.
    pub fn public_key_pem(&self) -> &str {
        &self.public_key_pem
    }

    /// The RSA key's fingerprint.
    pub fn fingerprint(&self) -> i64 {
        self.fingerprint
    }

    /// What clients need to connect (the ready file's contents).
    pub fn ready_info(&self) -> ReadyInfo {
        let listed = |cdn: bool| {
            self.dcs
                .iter()
                .filter(|dc| dc.state.is_cdn() == cdn)
                .map(|dc| ReadyDc {
                    id: dc.id(),
                    host: dc.addr().ip().to_string(),
                    port: dc.addr().port(),
                })
                .collect()
        };
        ReadyInfo {
            dcs: listed(false),
            cdn_dcs: listed(true),
            rsa_public_key_pem: self.public_key_pem.clone(),
            rsa_fingerprint: self.fingerprint,
        }
    }

    /// A handle that stops the server from elsewhere.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            shutdown: self.shutdown.clone(),
            dcs: self.dcs.clone(),
        }
    }

    /// Stops accepting, closes every connection and waits for the listeners to finish.
    pub async fn shutdown(self) {
        self.shutdown_handle().shutdown();
        for task in self.tasks {
            let _ = task.await;
        }
    }

    /// Waits until the server is shut down through a [`ShutdownHandle`].
    pub async fn wait(self) {
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// Stops a running server from anywhere (a signal handler, a test).
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    shutdown: watch::Sender<bool>,
    dcs: Vec<DcHandle>,
}

impl ShutdownHandle {
    /// Stops the listeners and closes every connection.
    pub fn shutdown(&self) {
        self.shutdown.send_replace(true);
        for dc in &self.dcs {
            dc.faults().disconnect_all();
        }
    }
}
