//! Errors as users meet them: the library's error, wrapped in a sentence that says what
//! happened and what to do next. The library's own message stays as the cause.

use anyhow::anyhow;
use tgclient::policy::ErrorKind;
use tgclient::{ClientError, LoginError, ResolveError};

/// What commands needing a login say without one.
pub const NOT_LOGGED_IN: &str = "not logged in; run `tgdl login`";

/// A client error with advice, following what the error means (its policy kind), not
/// lists of names of its own.
pub fn client_error(error: ClientError) -> anyhow::Error {
    let advice = match &error {
        ClientError::NotLoggedIn => Some(NOT_LOGGED_IN.to_owned()),
        ClientError::LoginLost { .. } => {
            Some("this session is logged out now; run `tgdl login`".to_owned())
        }
        ClientError::FloodWait { wait, .. } => Some(format!(
            "Telegram limits this request: it asks to wait {} s, longer than tgdl waits by \
             itself; try again later",
            wait.as_secs()
        )),
        ClientError::Connect { dc, .. } => Some(format!(
            "cannot connect to Telegram (DC {dc}); check the network, --proxy and --server"
        )),
        _ => advice_for(&error),
    };
    match advice {
        Some(advice) => anyhow::Error::new(error).context(advice),
        None => anyhow::Error::new(error),
    }
}

/// The advice for a failed request, from what its failure means.
fn advice_for(error: &ClientError) -> Option<String> {
    let kind = error.kind()?;
    let advice = match (kind, error) {
        (ErrorKind::LostLogin, _) => {
            "the login of this session is no longer valid; run `tgdl login`".to_owned()
        }
        (ErrorKind::NoAccess, _) => {
            "the chat does not exist or this account cannot read it".to_owned()
        }
        (ErrorKind::FileGone | ErrorKind::FileReferenceExpired, _) => {
            "the file is no longer available (its message or media was deleted)".to_owned()
        }
        (ErrorKind::Uncertain, ClientError::Invoke { dc, .. }) => format!(
            "the connection to Telegram (DC {dc}) broke before it answered; check whether \
             the request took effect before repeating it"
        ),
        (_, ClientError::Invoke { dc, .. }) => {
            format!("Telegram (DC {dc}) did not answer properly; try again")
        }
        (ErrorKind::Transient, _) => "Telegram failed for a moment; try again".to_owned(),
        _ => return None,
    };
    Some(advice)
}

/// A login error with advice.
pub fn login_error(error: LoginError) -> anyhow::Error {
    let advice = match &error {
        LoginError::InvalidCode(_) => "login failed: the code is wrong",
        LoginError::CodeExpired(_) => "login failed: the code expired; run `tgdl login` again",
        LoginError::WrongPassword(_) => "login failed: the 2FA password is wrong",
        LoginError::InvalidPhone(_) => "login failed: Telegram refused the phone number",
        LoginError::SignUpRequired => {
            "login failed: this phone number has no Telegram account; sign it up in an \
             official Telegram app first (tgdl does not create accounts), then run \
             `tgdl login` again"
        }
        LoginError::InvalidBotToken(_) => {
            "login failed: the bot token is wrong, no bot has it; copy it again from \
             @BotFather (it looks like 123456789:AAE...)"
        }
        LoginError::RevokedBotToken(_) => {
            "login failed: this bot token was revoked in @BotFather and no longer works; get \
             the bot's current token there (/token)"
        }
        LoginError::AppRefused(message) if message == "API_ID_PUBLISHED_FLOOD" => {
            "login failed: Telegram limits this api_id because it was published; register an \
             app of your own at https://my.telegram.org/apps"
        }
        LoginError::AppRefused(_) => {
            "login failed: Telegram does not accept this api_id/api_hash pair; copy both from \
             https://my.telegram.org/apps (TGDL_API_ID/TGDL_API_HASH or config.toml)"
        }
        LoginError::QrTimeout | LoginError::InvalidQrToken(_) => {
            "login failed: the QR code was not accepted; run `tgdl login --qr` again"
        }
        LoginError::Client(_) => {
            let LoginError::Client(inner) = error else {
                return anyhow!("login failed");
            };
            return client_error(inner).context("login failed");
        }
        _ => "login failed",
    };
    anyhow::Error::new(error).context(advice)
}

/// A chat reference that did not resolve, with advice.
pub fn resolve_error(input: &str, error: ResolveError) -> anyhow::Error {
    let advice = match &error {
        ResolveError::Link(_) => format!("{input:?} does not name a chat"),
        ResolveError::UnknownUsername(_) | ResolveError::UnknownId { .. } => {
            format!("chat not found: {input}")
        }
        ResolveError::InvalidInvite(_) | ResolveError::NotJoined { .. } => {
            format!("cannot open the chat {input}")
        }
        ResolveError::Client(_) => {
            let ResolveError::Client(inner) = error else {
                return anyhow!("cannot open the chat {input}");
            };
            return client_error(inner).context(format!("cannot open the chat {input}"));
        }
        _ => format!("cannot open the chat {input}"),
    };
    anyhow::Error::new(error).context(advice)
}

/// The error report printed to stderr: the error, then each cause on its own line.
pub fn report(error: &anyhow::Error) -> String {
    let mut text = format!("error: {error}");
    let mut previous = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        // Transparent wrappers repeat their inner message, and some errors print their
        // source after their own text: say each thing once.
        if !previous.ends_with(&cause) {
            text.push_str("\n  caused by: ");
            text.push_str(&cause);
        }
        previous = cause;
    }
    text
}

/// Whether the error is a closed stdout (`tgdl history ... | head`): not a failure.
pub fn is_broken_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn flood_waits_and_wrong_passwords_read_well() {
        let flood = client_error(ClientError::FloodWait {
            wait: Duration::from_mins(5),
            limit: Duration::from_mins(1),
        });
        let text = report(&flood);
        assert!(
            text.starts_with("error: Telegram limits this request"),
            "{text}"
        );
        assert!(text.contains("300 s"), "{text}");
        let wrong = login_error(LoginError::WrongPassword("PASSWORD_HASH_INVALID".into()));
        assert_eq!(
            report(&wrong),
            "error: login failed: the 2FA password is wrong\n  caused by: wrong password \
             (PASSWORD_HASH_INVALID)"
        );
        assert!(report(&client_error(ClientError::NotLoggedIn)).contains("tgdl login"));
    }

    #[test]
    fn login_refusals_say_what_to_do() {
        let cases = [
            (LoginError::SignUpRequired, "has no Telegram account"),
            (LoginError::SignUpRequired, "official Telegram app"),
            (
                LoginError::InvalidBotToken("ACCESS_TOKEN_INVALID".into()),
                "the bot token is wrong, no bot has it",
            ),
            (
                LoginError::RevokedBotToken("ACCESS_TOKEN_EXPIRED".into()),
                "was revoked in @BotFather",
            ),
            (
                LoginError::AppRefused("API_ID_INVALID".into()),
                "does not accept this api_id/api_hash pair",
            ),
            (
                LoginError::AppRefused("API_ID_PUBLISHED_FLOOD".into()),
                "because it was published",
            ),
        ];
        for (error, advice) in cases {
            let text = report(&login_error(error));
            assert!(text.starts_with("error: login failed: "), "{text}");
            assert!(text.contains(advice), "{advice:?} not in {text}");
        }
        // The server's own word stays in the report.
        let revoked = report(&login_error(LoginError::RevokedBotToken(
            "ACCESS_TOKEN_EXPIRED".into(),
        )));
        assert!(revoked.contains("caused by: the bot token was revoked (ACCESS_TOKEN_EXPIRED)"));
    }

    #[test]
    fn causes_are_said_once() {
        let error = client_error(ClientError::Connect {
            dc: 2,
            source: mtnet::NetError::InvalidEndpoint("no port"),
        });
        let text = report(&error);
        assert!(
            text.starts_with("error: cannot connect to Telegram (DC 2)"),
            "{text}"
        );
        assert_eq!(text.matches("caused by").count(), 1, "{text}");
        assert!(text.contains("no port"), "{text}");
    }

    /// The advice follows the policy's kind: every name of the lost-login family (not only
    /// the ones a list here once had), and the chats that cannot be read.
    #[test]
    fn advice_follows_the_error_kind() {
        let rpc = |code, message: &str| {
            report(&client_error(ClientError::Rpc {
                method: "messages.getHistory",
                error: mtproto::session::RpcError::new(code, message),
            }))
        };
        for name in [
            "AUTH_KEY_UNREGISTERED",
            "SESSION_EXPIRED",
            "SESSION_REVOKED",
            "USER_DEACTIVATED_BAN",
            "AUTH_KEY_PERM_EMPTY",
        ] {
            let text = rpc(401, name);
            assert!(text.contains("run `tgdl login`"), "{text}");
            assert!(text.contains(name), "the server's word stays: {text}");
        }
        assert!(
            rpc(406, "AUTH_KEY_DUPLICATED").contains("run `tgdl login`"),
            "406 AUTH_KEY_DUPLICATED drops the key"
        );
        for name in [
            "CHANNEL_PRIVATE",
            "CHAT_FORBIDDEN",
            "CHANNEL_PUBLIC_GROUP_NA",
        ] {
            let text = rpc(400, name);
            assert!(text.contains("cannot read it"), "{text}");
        }
        let password = rpc(401, "SESSION_PASSWORD_NEEDED");
        assert!(!password.contains("tgdl login"), "a login step: {password}");
        assert!(rpc(500, "RPC_CALL_FAIL").contains("try again"));
        let uncertain = report(&client_error(ClientError::Invoke {
            dc: 2,
            method: "auth.signIn",
            source: mtnet::InvokeError::Uncertain,
        }));
        assert!(uncertain.contains("took effect"), "{uncertain}");
        let timeout = report(&client_error(ClientError::Invoke {
            dc: 4,
            method: "upload.getFile",
            source: mtnet::InvokeError::Timeout(Duration::from_mins(1)),
        }));
        assert!(
            timeout.contains("Telegram (DC 4) did not answer properly"),
            "{timeout}"
        );
    }

    #[test]
    fn broken_pipes_are_recognized() {
        let error = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
            .context("writing");
        assert!(is_broken_pipe(&error));
        assert!(!is_broken_pipe(&anyhow!("other")));
    }
}
