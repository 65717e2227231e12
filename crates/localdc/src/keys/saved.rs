//! Keys as a state dir saves them and loads them back.

use std::sync::Arc;

use mtcrypto::AuthKey;
use mtproto::session::UnixTime;
use serde::{Deserialize, Serialize};

use super::salts::SaltState;
use super::{ClientInfo, KeyEntry, KeyState, KeyStore};
use crate::sync::lock;

/// One key as a state dir saves it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct SavedKey {
    /// The 256 key bytes, hex.
    pub auth_key: String,
    pub created: u64,
    pub expires_in: Option<i32>,
    /// The salt seed, hex (32 bytes).
    pub salt_seed: String,
    pub salt_epoch: u64,
    pub salt_period: u64,
    pub initial_salt: Option<(i64, u64)>,
    pub layer: Option<i32>,
    pub client: Option<ClientInfo>,
    pub takeout_id: Option<i64>,
}

impl KeyStore {
    /// Every key as a state dir saves it, oldest first.
    pub(crate) fn export(&self) -> Vec<SavedKey> {
        let entries: Vec<Arc<KeyEntry>> = {
            let inner = lock(&self.inner);
            inner
                .order
                .iter()
                .filter_map(|id| inner.keys.get(id).cloned())
                .collect()
        };
        entries
            .iter()
            .map(|entry| {
                let salts = lock(&entry.salts).clone();
                let state = entry.state();
                SavedKey {
                    auth_key: hex::encode(entry.key.as_bytes()),
                    created: entry.created.as_secs(),
                    expires_in: entry.expires_in,
                    salt_seed: hex::encode(salts.seed),
                    salt_epoch: salts.epoch,
                    salt_period: salts.period,
                    initial_salt: salts.initial,
                    layer: state.layer,
                    client: state.client.as_deref().cloned(),
                    takeout_id: state.takeout_id,
                }
            })
            .collect()
    }

    /// Adds a saved key; `Err` says why it was not.
    pub(crate) fn import(&self, saved: SavedKey) -> Result<u64, String> {
        let bytes = hex::decode(&saved.auth_key).map_err(|e| format!("auth key: {e}"))?;
        let auth_key = AuthKey::from_slice(&bytes).map_err(|e| format!("auth key: {e}"))?;
        let seed: [u8; 32] = hex::decode(&saved.salt_seed)
            .ok()
            .and_then(|seed| seed.try_into().ok())
            .ok_or("salt seed: not 32 bytes of hex")?;
        let id = auth_key.key_id();
        let salts = SaltState::new(
            seed,
            saved.salt_epoch,
            saved.salt_period,
            saved.initial_salt,
        );
        let state = KeyState {
            layer: saved.layer,
            client: saved.client.map(Arc::new),
            takeout_id: saved.takeout_id,
        };
        self.insert_entry(
            auth_key,
            UnixTime::from_secs(saved.created),
            saved.expires_in,
            salts,
            state,
        )
        .map(|_| id)
        .ok_or_else(|| format!("key {id:#018x} is there twice"))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use mtproto::session::UnixTime;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    use super::super::testing::new_key;
    use super::*;

    #[test]
    fn saved_keys_come_back_with_their_salts() {
        let store = KeyStore::new(4, 2).with_salt_period(Duration::from_mins(1));
        let mut rng = StdRng::seed_from_u64(3);
        let now = UnixTime::from_secs(1_700_000_000);
        let a = store
            .insert_key(AuthKey::from_bytes([7; 256]), now, None, Some(42), &mut rng)
            .unwrap();
        let b = store.insert(new_key(8)).unwrap();
        b.rotate_salts();
        a.update_state(|state| state.layer = Some(229));
        let saved = store.export();
        let json = serde_json::to_string(&saved).unwrap();
        let again = KeyStore::new(4, 2);
        for key in serde_json::from_str::<Vec<SavedKey>>(&json).unwrap() {
            again.import(key).unwrap();
        }
        assert_eq!(again.key_ids(), store.key_ids());
        let a2 = again.get(a.id()).unwrap();
        assert_eq!(a2.salts().current(now), a.salts().current(now));
        assert!(a2.salts().accepts(42, now));
        assert_eq!(a2.state().layer, Some(229));
        let b2 = again.get(b.id()).unwrap();
        assert_eq!(b2.salts().current(now), b.salts().current(now));
        assert!(
            !b2.salts().accepts(0, now),
            "rotated away from the minted salt"
        );
        assert!(again.import(saved.first().unwrap().clone()).is_err());
    }
}
