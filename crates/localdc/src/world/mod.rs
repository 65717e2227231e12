//! The scripted world localdc serves: accounts, users, chats, messages and media from a
//! [`Fixture`], and the API methods that read it, with Telegram's rules and errors.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! let world = Arc::new(localdc::world::World::load("fixtures/demo.json".as_ref())?);
//! let mut registry = localdc::Registry::with_defaults();
//! localdc::world::register(&mut registry, Arc::clone(&world));
//! let server = localdc::Server::start_with(localdc::Config::default(), registry).await?;
//! let minted = localdc::world::mint_session(&server, &world, "15550001", None)?;
//! println!("{}", minted.string_session);
//! # Ok(()) }
//! ```

mod authorizations;
mod convert;
pub mod fixture;
pub mod flood;
pub mod generate;
mod handlers;
pub mod live;
mod logins;
pub mod media;
mod mint;
pub mod paging;
pub mod posting;
pub mod pts;
mod push;
mod store;
mod updates;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

pub use fixture::Fixture;
pub use flood::Flood;
pub use handlers::register;
pub use live::{MediaLive, ServedRange};
pub use media::{FileInfo, FileKey};
pub use mint::{MintError, MintedSession, mint_session, string_session};
pub use posting::{ChatRef, LiveError};
pub use store::{ChatRecord, Store, WorldError};
pub use updates::{SavedChange, SavedLive};

use crate::sync::lock;
pub use authorizations::{AuthorizationInfo, SavedAuthorization};
use logins::{ChangeHook, Logins};
pub use logins::{SavedLogin, SavedLogins, SavedQr};

/// A world being served: the fixture indexed, plus what clients changed (logins, joined
/// chats, flood counters) and what was posted, edited and deleted while serving.
#[derive(Debug)]
pub struct World {
    /// The current snapshot. Handlers read one snapshot per call ([`World::store`]); the
    /// live methods ([`posting`]) replace it, copying only what a reader still holds.
    store: RwLock<Arc<Store>>,
    /// The store's live media state (the same `Arc` as every snapshot's `media`).
    media: Arc<MediaLive>,
    /// The update boxes (pts per channel and per account) and their limits.
    boxes: Mutex<updates::Boxes>,
    /// The sessions that get pushed updates, by user.
    pushes: push::Subscribers,
    /// Told after every live change (a state dir saves them).
    live_changed: Mutex<Option<ChangeHook>>,
    logins: Logins,
    flood: Flood,
    /// (chat, user) pairs joined through invite links while running.
    joined: Mutex<BTreeSet<(i64, i64)>>,
    /// 2FA verifiers by user, computed on first use (100,000 PBKDF2 rounds each).
    verifiers: Mutex<HashMap<i64, Arc<handlers::Verifier>>>,
}

impl World {
    /// Indexes `fixture`, refusing unknown references and duplicates.
    pub fn from_fixture(mut fixture: Fixture) -> Result<Self, WorldError> {
        let limits = fixture.updates.clone().unwrap_or_default();
        let timeline = std::mem::take(&mut fixture.timeline);
        for (index, entry) in timeline.iter().enumerate() {
            entry
                .parts()
                .map_err(|why| WorldError::Timeline(format!("entry {index}: {why}")))?;
        }
        let store = Store::build(fixture)?;
        let flood = Flood::with_premium(store.flood.clone(), store.flood_premium.clone());
        let boxes = updates::Boxes::new(&store, limits, timeline);
        Ok(Self {
            media: Arc::clone(&store.media),
            store: RwLock::new(Arc::new(store)),
            boxes: Mutex::new(boxes),
            pushes: push::Subscribers::default(),
            live_changed: Mutex::new(None),
            logins: Logins::default(),
            flood,
            joined: Mutex::new(BTreeSet::new()),
            verifiers: Mutex::new(HashMap::new()),
        })
    }

    /// Reads a JSON fixture.
    pub fn load(path: &Path) -> Result<Self, WorldError> {
        let text = std::fs::read_to_string(path)?;
        Self::from_fixture(Fixture::from_json(&text)?)
    }

    /// The world as it is now: a snapshot, unchanged by later posts, edits and deletions
    /// (read one per request, so that a request sees one consistent world).
    pub fn store(&self) -> Arc<Store> {
        Arc::clone(&self.store.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// The seed of the world's derived values (access hashes, references, file bytes).
    pub(crate) fn seed(&self) -> u64 {
        self.store().seed
    }

    /// What changes about media while serving.
    pub(crate) fn media(&self) -> &MediaLive {
        &self.media
    }

    /// The flood-control knob (rules can change while the server runs).
    pub fn flood(&self) -> &Flood {
        &self.flood
    }

    /// Where file `key` is stored and how large it is.
    pub fn file(&self, key: &FileKey) -> Option<FileInfo> {
        self.store().files.get(key).copied()
    }

    /// `len` bytes of file `key` from `offset`, cut at the end of the file (the lookup
    /// `upload.getFile` will use).
    pub fn file_bytes(
        &self,
        key: &FileKey,
        offset: u64,
        len: usize,
    ) -> Result<Vec<u8>, WorldError> {
        let info = self.file(key).ok_or_else(|| WorldError::NoSuchFile {
            media_id: key.media_id,
            thumb: key.thumb.clone(),
        })?;
        if offset > info.size {
            return Err(WorldError::OutOfRange {
                offset,
                len,
                size: info.size,
            });
        }
        let available = usize::try_from(info.size - offset).unwrap_or(usize::MAX);
        Ok(media::bytes(
            self.store().seed,
            key,
            offset,
            len.min(available),
        ))
    }

    /// The SHA-256 of a whole file (for tests checking a download).
    pub fn file_sha256(&self, key: &FileKey) -> Result<[u8; 32], WorldError> {
        let info = self.file(key).ok_or_else(|| WorldError::NoSuchFile {
            media_id: key.media_id,
            thumb: key.thumb.clone(),
        })?;
        Ok(media::file_sha256(self.store().seed, key, info.size))
    }

    /// The user logged in on auth key `key_id` of DC `dc`.
    pub fn logged_in_user(&self, dc: i32, key_id: u64) -> Option<i64> {
        self.logins.user((dc, key_id))
    }

    /// Logs auth key `key_id` of DC `dc` in as `user` (ready-made sessions).
    pub fn log_in(&self, dc: i32, key_id: u64, user: i64) {
        self.logins.sign_in((dc, key_id), user, false, None, None);
    }

    /// The logins of `user` (what `account.getAuthorizations` lists), most recently
    /// active first: one per key that signed in, with the keys it imported on other DCs.
    pub fn authorizations(&self, user: i64) -> Vec<AuthorizationInfo> {
        self.logins.authorizations(user)
    }

    /// The login state a state dir keeps (which user each key is logged in as, exported
    /// authorizations, takeouts, QR tokens).
    pub fn saved_logins(&self) -> SavedLogins {
        self.logins.saved()
    }

    /// Adds saved login state (a restarted server's).
    pub fn restore_logins(&self, saved: SavedLogins) {
        self.logins.restore(saved);
    }

    /// Forgets the logins of keys `key_ids` of DC `dc` (the DC forgot the keys).
    pub fn forget_key_logins(&self, dc: i32, key_ids: &[u64]) {
        self.logins.forget_keys(dc, key_ids);
    }

    /// Calls `hook` after every change of the login state.
    pub(crate) fn on_logins_changed(&self, hook: Arc<dyn Fn() + Send + Sync>) {
        self.logins.on_change(ChangeHook(hook));
    }

    /// Control interface for QR login: accepts a login token as `user` (what scanning
    /// the code on a logged-in device does). Whether the token exists.
    pub fn approve_login_token(&self, token: &[u8], user: i64) -> bool {
        self.logins.qr_accept(token, user)
    }

    /// Login tokens exported and not yet accepted.
    pub fn pending_login_tokens(&self) -> Vec<Vec<u8>> {
        self.logins.qr_pending()
    }

    /// Whether `user` is in `chat` (fixture members and invite joins).
    pub fn is_member(&self, chat: &ChatRecord, user: i64) -> bool {
        chat.members.contains(&user) || lock(&self.joined).contains(&(chat.spec.id, user))
    }

    fn join(&self, chat: i64, user: i64) {
        lock(&self.joined).insert((chat, user));
    }
}

/// Makes the world's logins the accounts of every DC of `server`'s WAN emulation:
/// connections of one user share that user's bucket on each DC.
pub fn use_world_logins(server: &crate::RunningServer, world: &Arc<World>) {
    for dc in server.dcs() {
        let world = Arc::clone(world);
        let dc_id = dc.id();
        dc.faults()
            .wan()
            .set_account_resolver(move |key_id| world.logged_in_user(dc_id, key_id));
    }
}
