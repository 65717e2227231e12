//! Where a call goes, and carrying out the recovery policy's steps when it fails.

use tl_types::api::{enums, functions};
use tl_types::{Deserialize, Identifiable, Serialize};

use super::Client;
use crate::error::ClientError;
use crate::policy::{Attempts, Context, ErrorKind, Failure, PolicyConfig, Step};
use crate::store::SessionStore;
use mtnet::InvokeError;
use mtproto::session::Delivery;

/// Where a call is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The home DC, following `PHONE_`/`USER_`/`NETWORK_MIGRATE` (which move it).
    Home,
    /// A given DC, with the login exported there first when logged in.
    Dc(i32),
    /// A given DC as is: no export of the login (login calls, `importAuthorization`).
    Bare(i32),
}

impl Client {
    /// The recovery policy's numbers for this client (flood patience from its
    /// configuration).
    pub fn policy(&self) -> PolicyConfig {
        PolicyConfig::new(self.inner.config.flood)
    }

    /// The routing loop: sends `body` (the request `method`) where `route` says and
    /// carries out what the recovery policy decides after each failure.
    pub(crate) async fn invoke_bytes(
        &self,
        mut route: Route,
        method: &'static str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, ClientError> {
        let delivery = delivery_of(method);
        let at_most_once = delivery == Delivery::AtMostOnce;
        let policy = self.policy();
        let mut attempts = Attempts::default();
        loop {
            let dc = match route {
                Route::Home => self.home_dc(),
                Route::Dc(dc) | Route::Bare(dc) => dc,
            };
            if self.uses_imported_login(route, dc) {
                self.export_authorization(dc).await?;
            }
            let connection = self.connection(dc).await?;
            let error = match self.call_with(&connection, body.clone(), delivery).await {
                Ok(answer) => return Ok(answer),
                Err(error) => error,
            };
            let kind = ErrorKind::of_invoke(&error);
            let context = Context {
                home: dc == self.home_dc(),
                logged_in: self.is_logged_in(),
                imported_login: self.uses_imported_login(route, dc),
                file_part: false,
                at_most_once,
                jitter: rand::random(),
            };
            let step = attempts.next(&kind, &context, &policy);
            tracing::debug!(dc, method, %error, ?kind, ?step, "call failed");
            match step {
                Step::Retry { delay } => tokio::time::sleep(delay).await,
                Step::Reconnect { delay } | Step::ConfirmLostLogin { delay } => {
                    self.drop_connection(dc).await;
                    tokio::time::sleep(delay).await;
                }
                Step::Migrate { dc: target, home } => {
                    route = if home {
                        self.set_home_dc(target)?;
                        Route::Home
                    } else {
                        Route::Dc(target)
                    };
                }
                Step::Reimport => {
                    tracing::info!(dc, %error, "the login on this DC was lost; importing it again");
                    self.forget_imported_login(dc)?;
                }
                Step::NewKey => self.renew_key(dc).await?,
                Step::FloodWait { wait } => {
                    tracing::info!(dc, method, ?wait, "flood wait");
                    tokio::time::sleep(wait).await;
                }
                Step::RefreshReference | Step::GiveUp(_) => {
                    return Err(self.give_up(step, dc, method, error).await);
                }
            }
        }
    }

    /// The error a call ends with after `step` (a give-up; a step only file parts take
    /// ends a call with the error as it came).
    async fn give_up(
        &self,
        step: Step,
        dc: i32,
        method: &'static str,
        error: InvokeError,
    ) -> ClientError {
        match step {
            Step::GiveUp(Failure::TooManyMigrations { dc }) => ClientError::TooManyMigrations(dc),
            Step::GiveUp(Failure::FloodWait { wait, limit }) => {
                ClientError::FloodWait { wait, limit }
            }
            Step::GiveUp(Failure::LoginLost) => {
                let reason = match &error {
                    InvokeError::Rpc(rpc) => rpc.message.clone(),
                    _ => "auth key unknown (-404)".to_owned(),
                };
                self.lose_login(dc, reason).await
            }
            _ => match error {
                InvokeError::Rpc(error) => ClientError::Rpc { method, error },
                source => ClientError::Invoke { dc, method, source },
            },
        }
    }

    /// The login imported on `dc` is gone there: the next call to it imports it again.
    pub(crate) fn forget_imported_login(&self, dc: i32) -> Result<(), ClientError> {
        Ok(self.with_store(|s| s.set_dc_authorized(dc, false))?)
    }

    /// The DC forgot our key: drops the connection and the key (the next call makes a new
    /// one).
    pub(crate) async fn renew_key(&self, dc: i32) -> Result<(), ClientError> {
        self.drop_connection(dc).await;
        self.forget_key(dc)
    }

    /// The home DC no longer accepts the login (`dc` said so): drops the connection and the
    /// login, and gives the error the caller ends with.
    pub(crate) async fn lose_login(&self, dc: i32, reason: String) -> ClientError {
        self.drop_connection(dc).await;
        match self.forget_login(&reason) {
            Ok(()) => ClientError::LoginLost { reason },
            Err(error) => error,
        }
    }

    /// Drops the key of `dc` from the session, which the server said it does not know. The
    /// home DC's key carries the login: it goes too.
    pub(crate) fn forget_key(&self, dc: i32) -> Result<(), ClientError> {
        if dc == self.home_dc() && self.is_logged_in() {
            self.forget_login("auth key unknown (-404)")
        } else {
            Ok(self.with_store(|s| s.remove_dc_auth(dc))?)
        }
    }

    /// Drops the login from the session (every key, the self user), which the server no
    /// longer accepts, so that the session and the server agree: not logged in.
    fn forget_login(&self, reason: &str) -> Result<(), ClientError> {
        tracing::warn!(reason, "the server no longer accepts this session's login");
        Ok(self.with_store(SessionStore::clear_login)?)
    }

    /// Whether a call on `route`, now going to `dc`, rides on the login imported there
    /// (a DC named for the call, not the home DC, while logged in).
    fn uses_imported_login(&self, route: Route, dc: i32) -> bool {
        route == Route::Dc(dc) && dc != self.home_dc() && self.is_logged_in()
    }

    /// Makes the login usable on `dc_id`: `auth.exportAuthorization` on the home DC, then
    /// `auth.importAuthorization` there. Done once per DC and remembered in the session.
    pub async fn export_authorization(&self, dc_id: i32) -> Result<(), ClientError> {
        if dc_id == self.home_dc() {
            return Ok(());
        }
        let lock = Self::slot(&self.inner.exports, dc_id);
        let _guard = lock.lock().await;
        let authorized = |client: &Self| {
            client
                .with_store(|s| s.dc_auth(dc_id))
                .map(|auth| auth.is_some_and(|a| a.authorized))
        };
        if authorized(self)? {
            return Ok(());
        }
        // Make sure the key exists first: the authorization is bound to it.
        self.connection(dc_id).await?;
        if authorized(self)? {
            return Ok(());
        }
        let export = functions::auth::ExportAuthorization { dc_id };
        let body = Box::pin(self.invoke_bytes(
            Route::Home,
            functions::auth::ExportAuthorization::TL_NAME,
            export.to_bytes(),
        ))
        .await?;
        let enums::auth::ExportedAuthorization::ExportedAuthorization(exported) =
            enums::auth::ExportedAuthorization::from_bytes(&body)?;
        let import = functions::auth::ImportAuthorization {
            id: exported.id,
            bytes: exported.bytes,
        };
        let body = Box::pin(self.invoke_bytes(
            Route::Bare(dc_id),
            functions::auth::ImportAuthorization::TL_NAME,
            import.to_bytes(),
        ))
        .await?;
        enums::auth::Authorization::from_bytes(&body)?;
        self.with_store(|s| s.set_dc_authorized(dc_id, true))?;
        tracing::debug!(dc = dc_id, "login exported");
        Ok(())
    }
}

/// Requests with effects that must not happen twice (a second login code, a code or
/// password try used up, a login imported twice, a second takeout): the session never sends
/// them again blindly when it cannot tell whether the server saw them.
const AT_MOST_ONCE: [&str; 13] = [
    "auth.sendCode",
    "auth.resendCode",
    "auth.signIn",
    "auth.signUp",
    "auth.checkPassword",
    "auth.recoverPassword",
    "auth.importAuthorization",
    "auth.importBotAuthorization",
    "auth.importLoginToken",
    "auth.acceptLoginToken",
    "auth.logOut",
    "account.initTakeoutSession",
    "account.finishTakeoutSession",
];

/// How the session may resend the request `method`.
pub(crate) fn delivery_of(method: &str) -> Delivery {
    if AT_MOST_ONCE.contains(&method) {
        Delivery::AtMostOnce
    } else {
        Delivery::Idempotent
    }
}
