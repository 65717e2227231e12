//! A login made on a session kept in memory and written to the session file only once it
//! succeeded: a source that cannot be used, a refused handoff or a wrong 2FA password
//! leave the file as it was (or not there at all).

use tgclient::{SessionStore, StoreError};

/// Writes the login held in `from` (the DC list, every auth key with its salt, clock offset
/// and login flag, the home DC, the account) into `to`. The account is written last: a
/// session is logged in only once its keys are there.
///
/// # Errors
/// Reading `from` or writing `to` failed.
pub fn copy_login(from: &SessionStore, to: &mut SessionStore) -> Result<(), StoreError> {
    let options = from.dc_options()?;
    if !options.is_empty() {
        to.replace_dc_options(&options)?;
    }
    for dc in from.dc_auths()? {
        to.save_dc_auth(dc.dc_id, &dc.auth)?;
        to.set_dc_authorized(dc.dc_id, dc.authorized)?;
    }
    if let Some(home) = from.home_dc()? {
        to.set_home_dc(home)?;
    }
    to.set_self_user(from.self_user()?.as_ref())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::net::{IpAddr, Ipv4Addr};

    use mtcrypto::AuthKey;
    use mtnet::AuthState;
    use tgclient::{DcAddress, SelfUser};

    use super::*;

    fn auth(seed: u8) -> AuthState {
        AuthState {
            auth_key: AuthKey::from_bytes([seed; 256]),
            salt: i64::from(seed),
            time_offset: -3,
        }
    }

    #[test]
    fn the_whole_login_is_copied_over_an_older_logged_out_session() {
        let mut from = SessionStore::in_memory().unwrap();
        from.replace_dc_options(&[DcAddress::new(4, IpAddr::V4(Ipv4Addr::LOCALHOST), 4404)])
            .unwrap();
        from.save_dc_auth(4, &auth(4)).unwrap();
        from.set_dc_authorized(4, true).unwrap();
        from.save_dc_auth(2, &auth(2)).unwrap();
        from.set_home_dc(4).unwrap();
        let me = SelfUser {
            id: 1001,
            bot: false,
            username: Some("alice".into()),
        };
        from.set_self_user(Some(&me)).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.session");
        let mut to = SessionStore::open(&path).unwrap();
        // A key left from an earlier attempt on the same DC is replaced.
        to.save_dc_auth(4, &auth(9)).unwrap();
        copy_login(&from, &mut to).unwrap();
        drop(to);

        let to = SessionStore::open(&path).unwrap();
        assert_eq!(to.self_user().unwrap(), Some(me));
        assert_eq!(to.home_dc().unwrap(), Some(4));
        assert_eq!(to.dc_options().unwrap().len(), 1);
        let keys = to.dc_auths().unwrap();
        assert_eq!(keys.len(), 2);
        let home = to.dc_auth(4).unwrap().unwrap();
        assert_eq!(home.auth.auth_key.as_bytes(), &[4; 256]);
        assert_eq!(home.auth.salt, 4);
        assert!(home.authorized);
        assert!(!to.dc_auth(2).unwrap().unwrap().authorized);
    }
}
