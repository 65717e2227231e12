//! QR login: `auth.exportLoginToken` gives a token shown as `tg://login?token=...`; a
//! logged-in app scans it, the server pushes `updateLoginToken`, and exporting again gives
//! the authorization (or `auth.loginTokenMigrateTo` another DC, where
//! `auth.importLoginToken` completes it).

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tl_types::api::{enums, functions};

use super::LoginError;
use crate::client::Client;
use crate::policy;
use crate::store::SelfUser;

/// A QR login in progress.
#[derive(Clone)]
pub struct QrLogin {
    token: Vec<u8>,
    expires: i32,
    except_ids: Vec<i64>,
    /// Also export again at this interval while waiting, for servers that expect the
    /// new device to poll (localdc). `None` (the default) relies on `updateLoginToken`
    /// and on expiry, as Telegram documents.
    pub poll_interval: Option<Duration>,
}

impl fmt::Debug for QrLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QrLogin")
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

impl QrLogin {
    /// A login token not exported yet (`except_ids` empty).
    pub(super) fn unexported() -> Self {
        Self {
            token: Vec::new(),
            expires: 0,
            except_ids: Vec::new(),
            poll_interval: None,
        }
    }

    /// The current token (a secret: never logged).
    pub(super) fn token(&self) -> &[u8] {
        &self.token
    }

    /// The URL to show as a QR code. It changes when the token is refreshed.
    pub fn url(&self) -> String {
        format!("tg://login?token={}", base64url(&self.token))
    }

    /// When the current token expires.
    pub fn expires(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(u64::try_from(self.expires).unwrap_or(0))
    }
}

/// What waiting on a QR login gave.
#[derive(Debug)]
pub enum QrStatus {
    /// The token was replaced (it expired, or a poll made a new one): show the new
    /// [`QrLogin::url`].
    Refreshed,
    /// Someone accepted the code: logged in.
    LoggedIn(SelfUser),
}

impl Client {
    /// Starts a QR login. `except_ids` are user ids already logged in here (their apps
    /// will not be asked).
    pub async fn qr_login(&self, except_ids: Vec<i64>) -> Result<QrLogin, LoginError> {
        let mut qr = QrLogin {
            token: Vec::new(),
            expires: 0,
            except_ids,
            poll_interval: None,
        };
        match self.export_login_token(&mut qr).await? {
            Some(me) => Err(LoginError::Unexpected(if me.bot {
                "a bot cannot log in by QR"
            } else {
                "logged in before any QR code was shown"
            })),
            None => Ok(qr),
        }
    }

    /// Waits up to `timeout` for the code to be accepted (the server pushes
    /// `updateLoginToken`, or a poll finds it accepted) or for the token to be replaced
    /// (it expired: show the new [`QrLogin::url`]).
    ///
    /// An accepted code for an account on another DC is imported there (the home DC
    /// moves); an account with a 2FA password gives [`LoginError::PasswordRequired`], after
    /// which [`Client::check_password`] completes the login.
    pub async fn qr_wait(
        &self,
        qr: &mut QrLogin,
        timeout: Duration,
    ) -> Result<QrStatus, LoginError> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return Err(LoginError::QrTimeout);
            }
            let until_expiry = qr
                .expires()
                .duration_since(SystemTime::now())
                .unwrap_or(Duration::ZERO);
            let nap = until_expiry
                .min(deadline - now)
                .min(qr.poll_interval.unwrap_or(Duration::MAX));
            tokio::select! {
                () = self.login_token_updated() => {}
                () = tokio::time::sleep(nap) => {
                    if tokio::time::Instant::now() >= deadline && nap < until_expiry {
                        return Err(LoginError::QrTimeout);
                    }
                }
            }
            let before = qr.token.clone();
            match self.export_login_token(qr).await? {
                Some(me) => return Ok(QrStatus::LoggedIn(me)),
                None if qr.token != before => return Ok(QrStatus::Refreshed),
                None => {}
            }
        }
    }

    /// Exports (again) and acts on the answer: a new token is stored in `qr`; success or
    /// migration completes the login.
    pub(super) async fn export_login_token(
        &self,
        qr: &mut QrLogin,
    ) -> Result<Option<SelfUser>, LoginError> {
        let export = functions::auth::ExportLoginToken {
            api_id: self.config().api_id,
            api_hash: self.config().api_hash.clone(),
            except_ids: qr.except_ids.clone(),
        };
        let answer = match self.invoke(&export).await {
            Ok(answer) => answer,
            Err(error) => return Err(self.token_error(error).await),
        };
        self.redeem_login_token(qr, answer).await
    }

    /// Acts on an `auth.loginToken*` answer, importing the token where the server says.
    async fn redeem_login_token(
        &self,
        qr: &mut QrLogin,
        mut answer: enums::auth::LoginToken,
    ) -> Result<Option<SelfUser>, LoginError> {
        for _ in 0..2 {
            match answer {
                enums::auth::LoginToken::LoginToken(token) => {
                    qr.token = token.token;
                    qr.expires = token.expires;
                    return Ok(None);
                }
                enums::auth::LoginToken::Success(success) => {
                    return self.finish_login(success.authorization).map(Some);
                }
                enums::auth::LoginToken::MigrateTo(migrate) => {
                    tracing::debug!(dc = migrate.dc_id, "QR login continues on another DC");
                    self.set_home_dc(migrate.dc_id)?;
                    let import = functions::auth::ImportLoginToken {
                        token: migrate.token,
                    };
                    answer = match self.invoke(&import).await {
                        Ok(answer) => answer,
                        Err(error) => return Err(self.token_error(error).await),
                    };
                }
            }
        }
        Err(LoginError::Unexpected("auth.loginTokenMigrateTo twice"))
    }
}

impl Client {
    /// The login error an `exportLoginToken`/`importLoginToken` failure means. An accepted
    /// code on an account with a 2FA password gives `SESSION_PASSWORD_NEEDED`: the login
    /// continues with [`Client::check_password`].
    async fn token_error(&self, error: crate::ClientError) -> LoginError {
        match error.rpc() {
            Some(rpc) if policy::is(rpc, "SESSION_PASSWORD_NEEDED") => {
                LoginError::PasswordRequired {
                    hint: self.password_hint().await.ok().flatten(),
                }
            }
            Some(rpc)
                if policy::is(rpc, "AUTH_TOKEN_INVALID")
                    || policy::is(rpc, "AUTH_TOKEN_EXPIRED")
                    || policy::is(rpc, "AUTH_TOKEN_ALREADY_ACCEPTED") =>
            {
                LoginError::InvalidQrToken(rpc.message.clone())
            }
            Some(rpc) => super::error::app_refusal(rpc).unwrap_or(LoginError::Client(error)),
            None => LoginError::Client(error),
        }
    }
}

/// Base64 with the URL-safe alphabet and no padding (RFC 4648 section 5).
pub(crate) fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let symbol =
        |index: u32| char::from(ALPHABET.get((index & 63) as usize).copied().unwrap_or(b'A'));
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        for (slot, byte) in group.iter_mut().zip(chunk) {
            *slot = *byte;
        }
        let n = u32::from(group[0]) << 16 | u32::from(group[1]) << 8 | u32::from(group[2]);
        let symbols = chunk.len() + 1;
        for i in 0..symbols {
            out.push(symbol(n >> (18 - 6 * i as u32)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::base64url;

    #[test]
    fn base64url_matches_rfc_4648_vectors() {
        for (input, expected) in [
            (&b""[..], ""),
            (b"f", "Zg"),
            (b"fo", "Zm8"),
            (b"foo", "Zm9v"),
            (b"foob", "Zm9vYg"),
            (b"fooba", "Zm9vYmE"),
            (b"foobar", "Zm9vYmFy"),
            (&[0xfb, 0xff, 0xbf], "-_-_"),
        ] {
            assert_eq!(base64url(input), expected);
        }
    }
}
