//! Logging in and out: phone code, 2FA password (SRP), bot token, QR code.

mod code;
mod error;
mod handoff;
mod password;
mod qr;

use tl_types::api::{enums, functions, types};

pub use code::{CodeKind, CodeRequest};
pub use error::LoginError;
pub use handoff::ImportMode;
#[cfg(test)]
pub(crate) use qr::base64url;
pub use qr::{QrLogin, QrStatus};

use crate::client::Client;
use crate::error::ClientError;
use crate::store::{PeerKind, PeerRecord, SelfUser, SessionStore};

impl Client {
    /// Logs in as a bot with its token from @BotFather.
    pub async fn bot_sign_in(&self, token: &str) -> Result<SelfUser, LoginError> {
        let request = functions::auth::ImportBotAuthorization {
            flags: 0,
            api_id: self.config().api_id,
            api_hash: self.config().api_hash.clone(),
            bot_auth_token: token.to_owned(),
        };
        let authorization = self.invoke(&request).await.map_err(|failure| {
            failure
                .rpc()
                .and_then(error::bot_refusal)
                .unwrap_or(LoginError::Client(failure))
        })?;
        self.finish_login(authorization)
    }

    /// Logs out: `auth.logOut` on the home DC, then forgets every key and the account.
    /// The session file stays, with the DC list.
    pub async fn log_out(&self) -> Result<(), ClientError> {
        let outcome = self.invoke(&functions::auth::LogOut {}).await;
        match &outcome {
            Err(error) if error.rpc().is_some_and(|rpc| rpc.code == 401) => {
                tracing::debug!(%error, "already logged out on the server");
            }
            // Refused, or not answered: keep the session as it is.
            Err(_) => return outcome.map(|_| ()),
            Ok(_) => {}
        }
        self.disconnect_all().await;
        self.with_store(SessionStore::clear_login)?;
        Ok(())
    }

    /// Records a successful login: the account, its peer entry, the home key authorized.
    pub(crate) fn finish_login(
        &self,
        authorization: enums::auth::Authorization,
    ) -> Result<SelfUser, LoginError> {
        let authorization = match authorization {
            enums::auth::Authorization::Authorization(a) => a,
            enums::auth::Authorization::SignUpRequired(_) => {
                return Err(LoginError::SignUpRequired);
            }
        };
        let enums::User::User(user) = authorization.user else {
            return Err(LoginError::Unexpected(
                "the login answer carried an empty user",
            ));
        };
        self.record_login(&user)
    }

    /// Records `user` as the logged-in account on the home DC.
    pub(crate) fn record_login(&self, user: &types::User) -> Result<SelfUser, LoginError> {
        let me = SelfUser {
            id: user.id,
            bot: user.bot,
            username: user.username.clone(),
        };
        let home = self.home_dc();
        self.with_store(|s| {
            s.set_self_user(Some(&me))?;
            s.set_home_dc(home)?;
            s.set_dc_authorized(home, true)?;
            s.upsert_peers(&[PeerRecord {
                kind: PeerKind::User,
                id: user.id,
                access_hash: user.access_hash,
                username: user.username.clone(),
            }])
        })
        .map_err(ClientError::from)?;
        self.save_session()?;
        tracing::info!(user_id = me.id, bot = me.bot, dc = home, "logged in");
        Ok(me)
    }
}
