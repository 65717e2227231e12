//! The client's store of salts announced by `future_salts`, so that it switches to the next
//! salt on time instead of waiting for `bad_server_salt`.

use tl_types::mtproto::types::FutureSalt;

/// Salts kept at most; a server announces far fewer.
const CAPACITY: usize = 64;

#[derive(Debug, Clone, Default)]
pub(crate) struct FutureSalts {
    /// Sorted by `valid_since`.
    salts: Vec<FutureSalt>,
}

impl FutureSalts {
    /// Replaces what is known with a fresh announcement.
    pub(crate) fn replace(&mut self, salts: &[FutureSalt]) {
        self.salts = salts
            .iter()
            .filter(|s| s.valid_since < s.valid_until)
            .take(CAPACITY)
            .cloned()
            .collect();
        self.salts.sort_by_key(|s| s.valid_since);
    }

    /// The newest salt valid at `server_now` (Unix seconds on the server's clock), dropping
    /// those that expired.
    pub(crate) fn select(&mut self, server_now: i64) -> Option<i64> {
        self.salts.retain(|s| i64::from(s.valid_until) > server_now);
        self.salts
            .iter()
            .rev()
            .find(|s| i64::from(s.valid_since) <= server_now)
            .map(|s| s.salt)
    }

    pub(crate) fn clear(&mut self) {
        self.salts.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.salts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn salt(since: i32, until: i32, salt: i64) -> FutureSalt {
        FutureSalt {
            valid_since: since,
            valid_until: until,
            salt,
        }
    }

    #[test]
    fn switches_by_time() {
        let mut store = FutureSalts::default();
        store.replace(&[salt(200, 400, 2), salt(100, 300, 1), salt(300, 500, 3)]);
        assert_eq!(store.select(50), None);
        assert_eq!(store.select(150), Some(1));
        assert_eq!(store.select(250), Some(2));
        assert_eq!(store.select(450), Some(3));
        assert_eq!(store.len(), 1, "expired salts dropped");
        assert_eq!(store.select(600), None);
        store.replace(&[salt(10, 5, 9)]);
        assert_eq!(store.len(), 0, "nonsense intervals ignored");
        let many: Vec<_> = (0..1000).map(|i| salt(i, i + 10, i64::from(i))).collect();
        store.replace(&many);
        assert_eq!(store.len(), CAPACITY);
        store.clear();
        assert_eq!(store.select(15), None);
    }
}
