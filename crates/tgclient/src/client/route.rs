//! Where a call goes and what happens when the server sends it elsewhere.

use std::time::Duration;

use tl_types::api::{enums, functions};
use tl_types::{Deserialize, Identifiable, Serialize};

use super::Client;
use crate::error::ClientError;
use crate::rpc_error::{MigrateKind, RpcAction, classify, is_lost_login};
use crate::store::SessionStore;
use mtnet::InvokeError;
use mtproto::session::{Delivery, resending_helps};

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

/// Redirections one call may follow.
const MAX_MIGRATIONS: u32 = 5;
/// Times one call is sent again after its session gave it up on `bad_msg_notification`s
/// that a later try may not meet (a storm, a salt or clock being sorted out).
const MAX_REFUSED_RETRIES: u32 = 3;
/// The wait before the first of those, doubling after each.
const REFUSED_BACKOFF: Duration = Duration::from_millis(500);
/// How many times the home DC must say the login is gone (on fresh connections) before the
/// session drops it.
const LOST_LOGIN_CONFIRMATIONS: u32 = 2;
/// The pause before asking again.
const LOST_LOGIN_RECHECK: Duration = Duration::from_millis(500);

impl Client {
    /// The routing loop: sends `body` (the request `method`) where `route` says and
    /// follows what the server says.
    pub(crate) async fn invoke_bytes(
        &self,
        mut route: Route,
        method: &'static str,
        body: Vec<u8>,
    ) -> Result<Vec<u8>, ClientError> {
        let delivery = delivery_of(method);
        let policy = self.inner.config.flood;
        let (mut migrations, mut waits, mut reconnects, mut refusals) = (0u32, 0u32, 0u32, 0u32);
        let (mut relogins, mut home_logouts) = (0u32, 0u32);
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
            match error {
                // The DC dropped the login imported there (or a key made beside ours took
                // its place): import it again, once.
                InvokeError::Rpc(rpc)
                    if is_lost_login(&rpc)
                        && self.uses_imported_login(route, dc)
                        && relogins == 0 =>
                {
                    relogins += 1;
                    tracing::info!(dc, %rpc, "the login on this DC was lost; importing it again");
                    self.with_store(|s| s.set_dc_authorized(dc, false))?;
                }
                // The home DC says the login is gone. Said once, it may be a server's
                // passing trouble: a fresh connection asks again before the login is
                // dropped from the session (and then it is really dropped, so that the
                // session never claims a login the server refuses).
                InvokeError::Rpc(rpc)
                    if is_lost_login(&rpc) && dc == self.home_dc() && self.is_logged_in() =>
                {
                    home_logouts += 1;
                    if home_logouts >= LOST_LOGIN_CONFIRMATIONS {
                        self.forget_login(&rpc.message)?;
                        return Err(ClientError::LoginLost {
                            reason: rpc.message.clone(),
                        });
                    }
                    tracing::info!(dc, %rpc, "the home DC refused the login; asking again");
                    self.drop_connection(dc).await;
                    tokio::time::sleep(LOST_LOGIN_RECHECK).await;
                }
                InvokeError::Rpc(rpc) => match classify(&rpc) {
                    RpcAction::Migrate { kind, dc: target } => {
                        migrations += 1;
                        if migrations > MAX_MIGRATIONS {
                            return Err(ClientError::TooManyMigrations(target));
                        }
                        tracing::debug!(?kind, from = dc, to = target, "migrating");
                        route = match kind {
                            MigrateKind::Phone | MigrateKind::User => {
                                self.set_home_dc(target)?;
                                Route::Home
                            }
                            MigrateKind::Network if !self.is_logged_in() => {
                                self.set_home_dc(target)?;
                                Route::Home
                            }
                            MigrateKind::Network | MigrateKind::File | MigrateKind::Stats => {
                                Route::Dc(target)
                            }
                        };
                    }
                    RpcAction::FloodWait(wait) => {
                        waits += 1;
                        if wait > policy.max_wait || waits > policy.max_retries {
                            return Err(ClientError::FloodWait {
                                wait,
                                limit: policy.max_wait,
                            });
                        }
                        tracing::info!(dc, ?wait, "flood wait");
                        tokio::time::sleep(wait).await;
                    }
                    RpcAction::Fail => {
                        return Err(ClientError::Rpc { method, error: rpc });
                    }
                },
                // The key was forgotten (the sender made sure), or the connection task
                // ended: one fresh start. A forgotten home key takes the login with it.
                InvokeError::AuthKeyUnknown | InvokeError::Stopped if reconnects == 0 => {
                    reconnects += 1;
                    self.drop_connection(dc).await;
                    if matches!(error, InvokeError::AuthKeyUnknown) {
                        let carried_login = dc == self.home_dc() && self.is_logged_in();
                        self.forget_key(dc)?;
                        if carried_login {
                            return Err(ClientError::LoginLost {
                                reason: "auth key unknown (-404)".to_owned(),
                            });
                        }
                    }
                }
                InvokeError::Rejected(code)
                    if resending_helps(code) && refusals < MAX_REFUSED_RETRIES =>
                {
                    let wait = REFUSED_BACKOFF * (1 << refusals);
                    refusals += 1;
                    tracing::info!(
                        dc,
                        code,
                        ?wait,
                        "the server kept refusing the call; trying again"
                    );
                    tokio::time::sleep(wait).await;
                }
                source => return Err(ClientError::Invoke { dc, method, source }),
            }
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
