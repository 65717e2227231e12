//! Phone number and login code: `auth.sendCode`, then `auth.signIn`.

use std::fmt;

use tl_types::api::{enums, functions, types};

use super::LoginError;
use crate::client::Client;
use crate::error::ClientError;
use crate::policy;
use crate::store::SelfUser;

/// Where the login code was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodeKind {
    /// In a Telegram app already logged in.
    App,
    /// By SMS.
    Sms,
    /// By a phone call that reads it out.
    Call,
    /// By a flash call or missed call (the code is in the caller's number).
    Call2,
    /// By email or another way.
    Other,
}

/// A login code on its way: what `sign_in` needs.
#[derive(Clone)]
pub struct CodeRequest {
    /// The phone number, as given.
    pub phone: String,
    phone_code_hash: String,
    /// Where the code went.
    pub kind: CodeKind,
    /// The code's length, when the server says.
    pub length: Option<i32>,
    /// Seconds before another way may be requested.
    pub timeout: Option<i32>,
}

impl fmt::Debug for CodeRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeRequest")
            .field("phone", &self.phone)
            .field("kind", &self.kind)
            .field("length", &self.length)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Asks Telegram to send a login code to `phone` (following `PHONE_MIGRATE_X` to the
    /// account's DC).
    pub async fn request_login_code(&self, phone: &str) -> Result<CodeRequest, LoginError> {
        let request = functions::auth::SendCode {
            phone_number: phone.to_owned(),
            api_id: self.config().api_id,
            api_hash: self.config().api_hash.clone(),
            settings: types::CodeSettings {
                allow_flashcall: false,
                current_number: false,
                allow_app_hash: false,
                allow_missed_call: false,
                allow_firebase: false,
                unknown_number: false,
                logout_tokens: None,
                token: None,
                app_sandbox: None,
            }
            .into(),
        };
        let sent = self.invoke(&request).await.map_err(|error| {
            error
                .rpc()
                .and_then(|rpc| {
                    super::error::app_refusal(rpc).or_else(|| phone_refusal(&rpc.message))
                })
                .unwrap_or(LoginError::Client(error))
        })?;
        match sent {
            enums::auth::SentCode::SentCode(sent) => {
                let (kind, length) = code_kind(&sent.r#type);
                Ok(CodeRequest {
                    phone: phone.to_owned(),
                    phone_code_hash: sent.phone_code_hash,
                    kind,
                    length,
                    timeout: sent.timeout,
                })
            }
            enums::auth::SentCode::Success(_) => Err(LoginError::Unexpected(
                "auth.sentCodeSuccess without a future auth token",
            )),
            enums::auth::SentCode::PaymentRequired(_) => {
                Err(LoginError::Unsupported("auth.sentCodePaymentRequired"))
            }
        }
    }

    /// Signs in with the code received. With a 2FA password the answer is
    /// [`LoginError::PasswordRequired`]: then call [`check_password`](Self::check_password).
    pub async fn sign_in(&self, request: &CodeRequest, code: &str) -> Result<SelfUser, LoginError> {
        let sign_in = functions::auth::SignIn {
            phone_number: request.phone.clone(),
            phone_code_hash: request.phone_code_hash.clone(),
            phone_code: Some(code.to_owned()),
            email_verification: None,
        };
        match self.invoke(&sign_in).await {
            Ok(authorization) => self.finish_login(authorization),
            Err(error) => Err(self.sign_in_error(error).await),
        }
    }

    async fn sign_in_error(&self, error: ClientError) -> LoginError {
        let Some(rpc) = error.rpc() else {
            return LoginError::Client(error);
        };
        let message = rpc.message.clone();
        match message.as_str() {
            "SESSION_PASSWORD_NEEDED" => LoginError::PasswordRequired {
                hint: self.password_hint().await.ok().flatten(),
            },
            "PHONE_CODE_EXPIRED" => LoginError::CodeExpired(message),
            _ if message.starts_with("PHONE_CODE_") => LoginError::InvalidCode(message),
            _ if policy::is(rpc, "SIGN_UP_REQUIRED") => LoginError::SignUpRequired,
            _ => phone_refusal(&message).unwrap_or(LoginError::Client(error)),
        }
    }
}

/// The login error for a `PHONE_NUMBER_*` refusal. `PHONE_NUMBER_UNOCCUPIED` is how layers
/// before `auth.authorizationSignUpRequired` said that the number has no account.
fn phone_refusal(message: &str) -> Option<LoginError> {
    if message == "PHONE_NUMBER_UNOCCUPIED" {
        Some(LoginError::SignUpRequired)
    } else {
        message
            .starts_with("PHONE_NUMBER_")
            .then(|| LoginError::InvalidPhone(message.to_owned()))
    }
}

fn code_kind(kind: &enums::auth::SentCodeType) -> (CodeKind, Option<i32>) {
    use enums::auth::SentCodeType as T;
    match kind {
        T::App(t) => (CodeKind::App, Some(t.length)),
        T::Sms(t) => (CodeKind::Sms, Some(t.length)),
        T::Call(t) => (CodeKind::Call, Some(t.length)),
        T::FlashCall(_) | T::MissedCall(_) => (CodeKind::Call2, None),
        _ => (CodeKind::Other, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_layers_unoccupied_number_means_sign_up_required() {
        assert!(matches!(
            phone_refusal("PHONE_NUMBER_UNOCCUPIED"),
            Some(LoginError::SignUpRequired)
        ));
        assert!(matches!(
            phone_refusal("PHONE_NUMBER_BANNED"),
            Some(LoginError::InvalidPhone(m)) if m == "PHONE_NUMBER_BANNED"
        ));
        assert!(phone_refusal("PHONE_CODE_INVALID").is_none());
    }
}
