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
        let rsa = match &config.rsa_key {
            Some(key) => Arc::clone(key),
            None => Arc::new(generate_rsa_key().await?),
        };
        let public_key_pem = rsa.public_key().to_pkcs1_pem()?;
        let fingerprint = rsa.public_key().fingerprint();

        let cdn_rsa = match (&config.cdn_rsa_key, config.cdn_dcs.is_empty()) {
            (Some(key), _) => Some(Arc::clone(key)),
            (None, false) => Some(Arc::new(generate_rsa_key().await?)),
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
        for (id, cdn) in main_ids.chain(cdn_ids) {
            let listener = bind_dc(&config, id)?;
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

        let mtproxy = Arc::new(MtProxyFront::new(config.mtproxy_secrets.clone()));
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
            let state = Arc::new(DcState {
                id: address.id,
                addr: address.addr,
                directory: Arc::clone(&directory),
                keys: KeyStore::new(
                    config.limits.max_keys_per_dc,
                    config.limits.max_sessions_per_key,
                ),
                faults: Faults::new(&config.faults),
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
                cdn_public_keys: Arc::clone(&cdn_public_keys),
            });
            dcs.push((DcHandle { state }, listener));
        }
        // Every DC exists before any port accepts, so a proxied client always finds its DC.
        let states: Vec<Arc<DcState>> = dcs.iter().map(|(dc, _)| Arc::clone(&dc.state)).collect();
        mtproxy.set_dcs(&states);
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
        })
    }
}

async fn generate_rsa_key() -> Result<RsaPrivateKey, Error> {
    tracing::info!("generating a 2048-bit RSA key");
    tokio::task::spawn_blocking(|| RsaPrivateKey::generate(&mut rand::rngs::OsRng))
        .await
        .map_err(|error| Error::Task(error.to_string()))?
        .map_err(Error::from)
}

/// Binds DC `id`'s port: `port_base + id`, or a free port below 32768 when the base is 0.
fn bind_dc(config: &Config, id: i32) -> Result<TcpListener, Error> {
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
}

impl RunningServer {
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
        ReadyInfo {
            // CDN DCs are found through help.getConfig and help.getCdnConfig.
            dcs: self
                .dcs
                .iter()
                .filter(|dc| !dc.state.is_cdn())
                .map(|dc| ReadyDc {
                    id: dc.id(),
                    host: dc.addr().ip().to_string(),
                    port: dc.addr().port(),
                })
                .collect(),
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
