//! Logging in from another client's login ([`ImportedLogin`]).
//!
//! The handoff (the default) makes a login of tgdl's own, so the other app's key is used
//! for one call and never again: a new key of ours exports a login token
//! (`auth.exportLoginToken`), the imported key accepts it once (`auth.acceptLoginToken`,
//! as a logged-in app scanning a QR code would), and our key exports again to collect the
//! login. The accept goes bare (no `initConnection`, which would rewrite the other app's
//! entry in the account's device list) inside `invokeWithoutUpdates` (so the server does
//! not start pushing updates to a session nobody reads), on a connection that is never
//! saved and is closed after the call. Only a server that says the connection must be
//! initialised first gets one retry wrapped in `initConnection`, naming the other app.
//!
//! Sharing the key ([`ImportMode::ShareKey`]) stores the imported keys as this session's.
//!
//! Either way a failure leaves the session's keys, home DC and account as they were.

use mtnet::InvokeError;
use mtproto::session::Delivery;
use tl_types::api::{enums, functions};
use tl_types::{Deserialize, Serialize};

use super::LoginError;
use super::qr::QrLogin;
use crate::client::{Client, DcConnection};
use crate::error::ClientError;
use crate::import::{ImportSource, ImportedLogin};
use crate::policy;
use crate::store::{DcAuth, SelfUser};

/// How an imported login becomes this session's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// A login of our own, approved once by the imported one (a separate device).
    Handoff,
    /// Use the imported keys directly: the two apps then share one login, and each may see
    /// the other's effects on it (the server's sessions, updates, a logout).
    ShareKey,
}

/// Telegram Desktop's `api_id`, which a retried accept on its key names.
const DESKTOP_API_ID: i32 = 2040;

/// Errors that say a connection must be initialised before any other call.
const NOT_INITIALISED: [&str; 2] = ["CONNECTION_NOT_INITED", "CONNECTION_LAYER_INVALID"];

/// Errors that say the imported login is gone (logged out, revoked, deleted account).
const SOURCE_GONE: [&str; 6] = [
    "AUTH_KEY_UNREGISTERED",
    "AUTH_KEY_INVALID",
    "AUTH_KEY_PERM_EMPTY",
    "SESSION_REVOKED",
    "SESSION_EXPIRED",
    "USER_DEACTIVATED",
];

impl Client {
    /// Logs in from `login`, another client's login.
    ///
    /// [`ImportMode::Handoff`]: a new key of our own on the account's main DC,
    /// `auth.exportLoginToken` on it, one `auth.acceptLoginToken` with the imported key,
    /// then the token exported (or imported on the DC the server names) again until the
    /// login is ours. Success is what our key's answer says, not the accept's answer. An
    /// account with a 2FA password ends in [`LoginError::PasswordRequired`]: then
    /// [`Client::check_password`] completes it.
    ///
    /// [`ImportMode::ShareKey`]: the imported keys become this session's, checked with
    /// `users.getUsers([inputUserSelf])`.
    ///
    /// On any other failure the session's keys, home DC and account are as before.
    pub async fn import_login(
        &self,
        login: &ImportedLogin,
        mode: ImportMode,
    ) -> Result<SelfUser, LoginError> {
        if let Some(me) = self.self_user()? {
            return Err(LoginError::AlreadyLoggedIn(me.id));
        }
        let before = Snapshot::take(self)?;
        tracing::info!(
            source = %login.source,
            dc = login.dc_id,
            key_id = login.auth_key.key_id(),
            ?mode,
            "logging in from an imported login"
        );
        let outcome = match mode {
            ImportMode::Handoff => self.hand_off(login).await,
            ImportMode::ShareKey => self.share_key(login).await,
        };
        match &outcome {
            Ok(_) | Err(LoginError::PasswordRequired { .. }) => {}
            Err(error) => {
                tracing::debug!(%error, "imported login failed; restoring the session");
                before.restore(self).await?;
            }
        }
        outcome
    }

    async fn hand_off(&self, login: &ImportedLogin) -> Result<SelfUser, LoginError> {
        if login.is_bot == Some(true) {
            return Err(LoginError::BotHandoff {
                client: login.source,
            });
        }
        self.set_home_dc_unsaved(login.dc_id);
        let mut token = QrLogin::unexported();
        if self.export_login_token(&mut token).await?.is_some() {
            return Err(LoginError::Unexpected(
                "logged in before the login token was accepted",
            ));
        }
        let accepted = self.accept_with(login, token.token()).await;
        if let Err(error) = &accepted {
            tracing::debug!(%error, "auth.acceptLoginToken failed; asking our key anyway");
        }
        // Our key's answer decides: an accept whose answer was lost may still have worked.
        let Some(me) = self.export_login_token(&mut token).await? else {
            return Err(accepted.err().unwrap_or(LoginError::Unexpected(
                "the login token was accepted but the server did not log this key in",
            )));
        };
        if let Some(expected) = login.user_id
            && expected != me.id
        {
            if let Err(error) = self.log_out().await {
                tracing::warn!(%error, "could not log the wrong account out again");
            }
            return Err(LoginError::OtherAccount {
                expected,
                got: me.id,
            });
        }
        tracing::info!(
            user_id = me.id,
            source = %login.source,
            "logged in with a login of our own, approved by the imported one"
        );
        Ok(me)
    }

    /// One `auth.acceptLoginToken` of `token` on the imported key, on a connection of its
    /// own that is closed afterwards.
    async fn accept_with(&self, login: &ImportedLogin, token: &[u8]) -> Result<(), LoginError> {
        let connection = self
            .foreign_connection(login.dc_id, login.auth_key.clone())
            .await?;
        let outcome = self.accept_on(&connection, login, token).await;
        connection.close().await;
        outcome
    }

    async fn accept_on(
        &self,
        connection: &DcConnection,
        login: &ImportedLogin,
        token: &[u8],
    ) -> Result<(), LoginError> {
        let accept = functions::InvokeWithoutUpdates {
            query: functions::auth::AcceptLoginToken {
                token: token.to_vec(),
            },
        }
        .to_bytes();
        let timeout = self.config().request_timeout;
        let send = |body| {
            connection
                .sender
                .invoke_raw_with(body, timeout, Delivery::AtMostOnce)
        };
        let mut answer = send(accept.clone()).await;
        if needs_init(&answer) {
            let (api_id, app_version) = self.identity_of(login.source);
            tracing::info!(
                api_id,
                "the server wants the connection initialised; accepting once more with initConnection"
            );
            let wrapped = self.init_connection_as(api_id, &app_version, accept);
            answer = send(wrapped.to_bytes()).await;
        }
        match answer {
            Ok(_) => Ok(()),
            Err(error) => accept_error(login.source, &error),
        }
    }

    /// The `api_id` and `app_version` an `initConnection` on another app's key gives:
    /// that app's where the login says, else ours.
    fn identity_of(&self, source: ImportSource) -> (i32, String) {
        let ours = (self.config().api_id, self.config().app_version.clone());
        match source {
            ImportSource::Desktop { app_version } => {
                (DESKTOP_API_ID, desktop_version_text(app_version))
            }
            ImportSource::Pyrogram {
                api_id: Some(api_id),
            } => (api_id, ours.1),
            ImportSource::Pyrogram { api_id: None } | ImportSource::Telethon => ours,
        }
    }

    async fn share_key(&self, login: &ImportedLogin) -> Result<SelfUser, LoginError> {
        // Connections made with keys of ours must not carry on beside the shared ones.
        self.disconnect_all().await;
        let main = std::iter::once((login.dc_id, &login.auth_key));
        let others = login.other_keys.iter().map(|k| (k.dc_id, &k.key));
        self.with_store(|s| {
            for (dc_id, key) in main.chain(others) {
                let auth = mtnet::AuthState {
                    auth_key: key.clone(),
                    salt: 0,
                    time_offset: 0,
                };
                s.save_dc_auth(dc_id, &auth)?;
                s.set_dc_authorized(dc_id, true)?;
            }
            Ok(())
        })
        .map_err(ClientError::from)?;
        self.set_home_dc_unsaved(login.dc_id);
        let request = functions::users::GetUsers {
            id: vec![enums::InputUser::InputUserSelf],
        };
        let users = self.invoke(&request).await.map_err(|error| {
            let gone = match &error {
                ClientError::LoginLost { reason } => Some(reason.clone()),
                _ => error
                    .rpc()
                    .filter(|rpc| SOURCE_GONE.iter().any(|name| policy::is(rpc, name)))
                    .map(|rpc| rpc.message.clone()),
            };
            match gone {
                Some(reason) => LoginError::SourceLoginInvalid {
                    client: login.source,
                    reason,
                },
                None => LoginError::Client(error),
            }
        })?;
        let Some(enums::User::User(user)) = users.into_iter().next() else {
            return Err(LoginError::Unexpected(
                "users.getUsers([inputUserSelf]) gave no user",
            ));
        };
        if let Some(expected) = login.user_id
            && expected != user.id
        {
            return Err(LoginError::OtherAccount {
                expected,
                got: user.id,
            });
        }
        let me = self.record_login(&user)?;
        tracing::warn!(
            user_id = me.id,
            source = %login.source,
            "sharing the imported login's key: both apps now use one login"
        );
        Ok(me)
    }
}

/// Whether an accept's outcome says the connection must be initialised first (an error
/// saying so, or an answer this layer cannot read: the server answered in the layer it
/// keeps for that key).
fn needs_init(answer: &Result<Vec<u8>, InvokeError>) -> bool {
    match answer {
        Ok(body) => enums::Authorization::from_bytes(body).is_err(),
        Err(InvokeError::Rpc(rpc)) => NOT_INITIALISED.iter().any(|name| policy::is(rpc, name)),
        Err(_) => false,
    }
}

/// What a failed accept means. A token accepted already (a retry after a lost answer) is
/// not a failure.
fn accept_error(client: ImportSource, error: &InvokeError) -> Result<(), LoginError> {
    match error {
        InvokeError::Rpc(rpc) if policy::is(rpc, "AUTH_TOKEN_ALREADY_ACCEPTED") => Ok(()),
        InvokeError::Rpc(rpc) if SOURCE_GONE.iter().any(|name| policy::is(rpc, name)) => {
            Err(LoginError::SourceLoginInvalid {
                client,
                reason: rpc.message.clone(),
            })
        }
        InvokeError::AuthKeyUnknown => Err(LoginError::SourceLoginInvalid {
            client,
            reason: "the server does not know its auth key".to_owned(),
        }),
        InvokeError::Rpc(rpc) => Err(LoginError::HandoffRefused {
            client,
            reason: rpc.message.clone(),
        }),
        _ => Err(LoginError::HandoffRefused {
            client,
            reason: error.to_string(),
        }),
    }
}

/// Desktop's version number (`major * 1_000_000 + minor * 1_000 + patch`) as it shows it.
fn desktop_version_text(version: i32) -> String {
    let (major, minor, patch) = (
        version / 1_000_000,
        version / 1_000 % 1_000,
        version % 1_000,
    );
    format!("{major}.{minor}.{patch}")
}

/// The session's login state before an import: restored if the import fails.
struct Snapshot {
    home_dc: i32,
    stored_home_dc: Option<i32>,
    keys: Vec<DcAuth>,
}

impl Snapshot {
    fn take(client: &Client) -> Result<Self, ClientError> {
        Ok(Self {
            home_dc: client.home_dc(),
            stored_home_dc: client.with_store(|s| s.home_dc())?,
            keys: client.with_store(|s| s.dc_auths())?,
        })
    }

    /// Puts the keys and the home DC back (closing connections made with other keys).
    async fn restore(&self, client: &Client) -> Result<(), ClientError> {
        client.disconnect_all().await;
        client.set_home_dc_unsaved(self.home_dc);
        client.with_store(|s| {
            for now in s.dc_auths()? {
                if !self.keys.iter().any(|k| k.dc_id == now.dc_id) {
                    s.remove_dc_auth(now.dc_id)?;
                }
            }
            for key in &self.keys {
                s.save_dc_auth(key.dc_id, &key.auth)?;
                s.set_dc_authorized(key.dc_id, key.authorized)?;
            }
            if let Some(home) = self.stored_home_dc {
                s.set_home_dc(home)?;
            }
            s.set_self_user(None)
        })?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mtproto::session::RpcError;

    fn rpc(message: &str) -> InvokeError {
        InvokeError::Rpc(RpcError {
            code: 400,
            message: message.to_owned(),
        })
    }

    #[test]
    fn only_a_not_initialised_error_or_an_unreadable_answer_asks_for_init() {
        assert!(needs_init(&Err(rpc("CONNECTION_NOT_INITED"))));
        assert!(needs_init(&Err(rpc("CONNECTION_LAYER_INVALID"))));
        assert!(needs_init(&Ok(vec![1, 2, 3, 4])));
        assert!(!needs_init(&Err(rpc("AUTH_TOKEN_EXPIRED"))));
        assert!(!needs_init(&Err(InvokeError::Uncertain)));
    }

    #[test]
    fn an_already_accepted_token_is_success_and_a_gone_login_says_so() {
        let source = ImportSource::Telethon;
        assert!(accept_error(source, &rpc("AUTH_TOKEN_ALREADY_ACCEPTED")).is_ok());
        assert!(matches!(
            accept_error(source, &rpc("AUTH_KEY_UNREGISTERED")),
            Err(LoginError::SourceLoginInvalid { .. })
        ));
        assert!(matches!(
            accept_error(source, &InvokeError::AuthKeyUnknown),
            Err(LoginError::SourceLoginInvalid { .. })
        ));
        assert!(matches!(
            accept_error(source, &rpc("AUTH_TOKEN_EXPIRED")),
            Err(LoginError::HandoffRefused { reason, .. }) if reason == "AUTH_TOKEN_EXPIRED"
        ));
    }

    #[test]
    fn desktop_versions_read_as_desktop_shows_them() {
        assert_eq!(desktop_version_text(5_010_003), "5.10.3");
        assert_eq!(desktop_version_text(1_000_000), "1.0.0");
    }
}
