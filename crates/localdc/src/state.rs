//! The state dir: what a restarted localdc needs so that its clients carry on with their
//! keys without logging in again.
//!
//! Files, each written through a temporary file and a rename:
//! - `rsa.pem`, `cdn-rsa.pem`: the private keys signing handshakes (PKCS#1), when the
//!   configuration gives none (a given key is used as is and not written);
//! - `keys.json`: every DC's auth keys, with their salt seeds (so the same salts come
//!   back), layer, `initConnection` and takeout id;
//! - `logins.json`: with a world attached ([`RunningServer::attach_world`](crate::RunningServer::attach_world)),
//!   which user each key is logged in as, exported authorizations not yet imported, QR
//!   tokens and takeout sessions;
//! - `live.json`: with a world attached, the changes made while serving (posts, edits,
//!   deletions, with their dates) and how much of the fixture's timeline was played,
//!   replayed on the next start ([`World::restore_live`]);
//! - `ports.json`: the ports bound, reused on the next start when the port base is 0.
//!
//! Changes are saved at most [`DEBOUNCE`] after they happen, and once more at shutdown.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use mtcrypto::RsaPrivateKey;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, watch};

use crate::error::Error;
use crate::keys::{KeyStore, SavedKey};
use crate::sync::lock;
use crate::world::World;

/// How long after a change the files are written.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

const KEYS_FILE: &str = "keys.json";
const LOGINS_FILE: &str = "logins.json";
const LIVE_FILE: &str = "live.json";
const PORTS_FILE: &str = "ports.json";
const RSA_FILE: &str = "rsa.pem";
const CDN_RSA_FILE: &str = "cdn-rsa.pem";
const VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
struct KeysFile {
    version: u32,
    /// Keys by DC id (as a string: JSON object keys).
    dcs: BTreeMap<String, Vec<SavedKey>>,
}

/// A state dir in use by a running server.
pub(crate) struct StateDir {
    dir: PathBuf,
    dirty: Arc<Notify>,
    stores: Mutex<Vec<(i32, Arc<KeyStore>)>>,
    world: Mutex<Option<Weak<World>>>,
}

impl std::fmt::Debug for StateDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateDir")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl StateDir {
    /// Opens (creating it if needed) the state dir `dir`.
    pub(crate) fn open(dir: &Path) -> Result<Arc<Self>, Error> {
        std::fs::create_dir_all(dir).map_err(|e| io_error(dir, &e))?;
        Ok(Arc::new(Self {
            dir: dir.to_path_buf(),
            dirty: Arc::new(Notify::new()),
            stores: Mutex::new(Vec::new()),
            world: Mutex::new(None),
        }))
    }

    /// The directory.
    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// The RSA key saved as `cdn` or main key, if there is one.
    pub(crate) fn load_rsa(&self, cdn: bool) -> Result<Option<RsaPrivateKey>, Error> {
        let path = self.dir.join(if cdn { CDN_RSA_FILE } else { RSA_FILE });
        match std::fs::read_to_string(&path) {
            Ok(pem) => RsaPrivateKey::from_pem(&pem)
                .map(Some)
                .map_err(|e| Error::Config(format!("state dir: {}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_error(&path, &e)),
        }
    }

    /// Saves a generated RSA key.
    pub(crate) fn save_rsa(&self, key: &RsaPrivateKey, cdn: bool) -> Result<(), Error> {
        let path = self.dir.join(if cdn { CDN_RSA_FILE } else { RSA_FILE });
        let pem = key.to_pkcs1_pem()?;
        write_atomically(&path, pem.as_bytes()).map_err(|e| io_error(&path, &e))
    }

    /// The ports saved by the last run, by DC id.
    pub(crate) fn load_ports(&self) -> BTreeMap<String, u16> {
        let path = self.dir.join(PORTS_FILE);
        std::fs::read_to_string(path)
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Saves the ports bound.
    pub(crate) fn save_ports(&self, ports: &BTreeMap<String, u16>) -> Result<(), Error> {
        let path = self.dir.join(PORTS_FILE);
        let json = serde_json::to_vec_pretty(ports).map_err(|e| Error::Config(e.to_string()))?;
        write_atomically(&path, &json).map_err(|e| io_error(&path, &e))
    }

    /// Loads the saved keys of every DC into `stores`, then watches them for changes.
    pub(crate) fn adopt_stores(&self, stores: Vec<(i32, Arc<KeyStore>)>) -> Result<(), Error> {
        let path = self.dir.join(KEYS_FILE);
        let file: KeysFile = match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map_err(|e| Error::Config(format!("state dir: {}: {e}", path.display())))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => KeysFile::default(),
            Err(e) => return Err(io_error(&path, &e)),
        };
        let mut loaded = 0;
        for (dc, store) in &stores {
            for saved in file.dcs.get(&dc.to_string()).into_iter().flatten() {
                match store.import(saved.clone()) {
                    Ok(_) => loaded += 1,
                    Err(error) => tracing::warn!(dc, %error, "state dir: a saved key is skipped"),
                }
            }
            let dirty = Arc::clone(&self.dirty);
            store.set_change_hook(Arc::new(move || dirty.notify_one()));
        }
        tracing::info!(keys = loaded, dir = %self.dir.display(), "state dir loaded");
        *lock(&self.stores) = stores;
        Ok(())
    }

    /// Loads the saved logins into `world`, then saves its login changes too.
    pub(crate) fn adopt_world(&self, world: &Arc<World>) -> Result<(), Error> {
        let path = self.dir.join(LOGINS_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let saved = serde_json::from_str(&text)
                    .map_err(|e| Error::Config(format!("state dir: {}: {e}", path.display())))?;
                world.restore_logins(saved);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&path, &e)),
        }
        let path = self.dir.join(LIVE_FILE);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let saved = serde_json::from_str(&text)
                    .map_err(|e| Error::Config(format!("state dir: {}: {e}", path.display())))?;
                world
                    .restore_live(&saved)
                    .map_err(|e| Error::Config(format!("state dir: {}: {e}", path.display())))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_error(&path, &e)),
        }
        let dirty = Arc::clone(&self.dirty);
        world.on_logins_changed(Arc::new(move || dirty.notify_one()));
        let dirty = Arc::clone(&self.dirty);
        world.on_live_changed(Arc::new(move || dirty.notify_one()));
        *lock(&self.world) = Some(Arc::downgrade(world));
        Ok(())
    }

    /// Writes every file now.
    pub(crate) fn save(&self) -> Result<(), Error> {
        let mut file = KeysFile {
            version: VERSION,
            dcs: BTreeMap::new(),
        };
        let stores = lock(&self.stores).clone();
        for (dc, store) in stores {
            file.dcs.insert(dc.to_string(), store.export());
        }
        let path = self.dir.join(KEYS_FILE);
        let json = serde_json::to_vec(&file).map_err(|e| Error::Config(e.to_string()))?;
        write_atomically(&path, &json).map_err(|e| io_error(&path, &e))?;
        let world = lock(&self.world).as_ref().and_then(Weak::upgrade);
        if let Some(world) = world {
            let path = self.dir.join(LOGINS_FILE);
            let json = serde_json::to_vec(&world.saved_logins())
                .map_err(|e| Error::Config(e.to_string()))?;
            write_atomically(&path, &json).map_err(|e| io_error(&path, &e))?;
            let path = self.dir.join(LIVE_FILE);
            let json = serde_json::to_vec(&world.saved_live())
                .map_err(|e| Error::Config(e.to_string()))?;
            write_atomically(&path, &json).map_err(|e| io_error(&path, &e))?;
        }
        Ok(())
    }

    /// Saves after every change (debounced) until `shutdown`, then once more.
    pub(crate) async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        loop {
            if *shutdown.borrow() {
                break;
            }
            tokio::select! {
                () = self.dirty.notified() => {
                    tokio::select! {
                        () = tokio::time::sleep(DEBOUNCE) => {}
                        _ = shutdown.changed() => {}
                    }
                    self.save_logged();
                }
                _ = shutdown.changed() => {}
            }
        }
        self.save_logged();
    }

    fn save_logged(&self) {
        let dir = self.dir.clone();
        if let Err(error) = self.save() {
            tracing::warn!(%error, dir = %dir.display(), "state dir: saving failed");
        }
    }

    /// Marks the state changed (saved within [`DEBOUNCE`]).
    pub(crate) fn touch(&self) {
        self.dirty.notify_one();
    }
}

fn io_error(path: &Path, error: &std::io::Error) -> Error {
    Error::Config(format!("state dir: {}: {error}", path.display()))
}

/// Writes through a temporary file, synced, and a rename: a reader (or the next start after
/// a kill) sees the old file or the new one, never half of one. Owner-only: the files hold
/// keys.
pub fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
