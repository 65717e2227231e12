//! What the keys' unit tests share.

use mtcrypto::AuthKey;
use mtproto::session::{SaltSchedule, UnixTime};
use rand::SeedableRng;
use rand::rngs::StdRng;

use super::NewKey;

/// A key made from `seed`, created at a fixed time.
pub(super) fn new_key(seed: u8) -> NewKey {
    let mut rng = StdRng::seed_from_u64(u64::from(seed));
    NewKey {
        auth_key: AuthKey::from_bytes([seed; 256]),
        salts: SaltSchedule::new(&mut rng),
        created: UnixTime::from_secs(1_700_000_000),
        expires_in: None,
    }
}
