//! `tgdl login`: phone number, login code and (when the account has one) 2FA password; or a
//! bot token (from `--bot-token`, `TGDL_BOT_TOKEN` or stdin); or a QR code scanned by a
//! logged-in app; or another app's login (`--from-desktop`, `--from-telethon`,
//! `--from-pyrogram`), with which tgdl makes a login of its own (or, with `--share-key`,
//! which it uses as it is). Prompts go to stderr, the result to stdout. Codes, passwords,
//! passcodes, tokens, session strings and keys are never logged.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use mtcrypto::Zeroizing;
use qrcode::QrCode;
use qrcode::render::unicode::Dense1x2;
use tgclient::import::ImportedLogin;
use tgclient::{
    Client, CodeKind, ImportMode, LoginError, QrLogin, QrStatus, SelfUser, SessionStore, policy,
};

use super::describe_user;
use crate::cli::{GlobalArgs, LoginArgs, STDIN_TOKEN, Secret};
use crate::import_source::{App, Source};
use crate::{errors, output, prompt, server, staged_login};

/// Tries at a code or password before giving up.
const ATTEMPTS: usize = 3;
/// How long a QR login waits for the code to be scanned.
const QR_TIMEOUT: Duration = Duration::from_mins(5);
/// How often a QR login asks a custom server (localdc) whether the code was accepted.
const QR_POLL: Duration = Duration::from_secs(1);

/// Runs `tgdl login`.
pub async fn run(client: &Client, global: &GlobalArgs, args: &LoginArgs) -> Result<()> {
    // Asked of the server, not only the session: a login the server dropped must not be
    // reported as "already logged in" while every other command says "not logged in".
    if let Some(me) = client.verify_login().await.map_err(errors::client_error)? {
        return already_logged_in(&me);
    }
    // The variable only stands in for --bot-token: a login method named on the command
    // line wins over one left in the environment.
    let from_env = std::env::var(BOT_TOKEN_VAR)
        .ok()
        .filter(|_| args.phone.is_none() && !args.qr)
        .map(Secret::from);
    let me = if let Some(token) = args.bot_token.as_ref().or(from_env.as_ref()) {
        let token = bot_token(token).await?;
        client
            .bot_sign_in(&token)
            .await
            .map_err(errors::login_error)?
    } else if args.qr {
        qr_login(client, server::is_custom(global)).await?
    } else {
        phone_login(client, args.phone.as_deref()).await?
    };
    output::to_stdout(|out| writeln!(out, "logged in as {}", describe_user(&me)))
}

/// Runs `tgdl login --from-*`: reads the other app's login (before any session is opened),
/// makes tgdl's login from it on a session kept in memory, and writes that to the session
/// file only when it succeeded.
pub async fn run_import(global: &GlobalArgs, args: &LoginArgs) -> Result<()> {
    let source = Source::from_args(args)?.ok_or_else(|| anyhow!("no --from-* source given"))?;
    let app = source.app();
    let config = super::client_config(global)?;
    let login = source.read().await?;
    let mode = if args.share_key {
        ImportMode::ShareKey
    } else {
        ImportMode::Handoff
    };
    let path = super::session_path(global)?;
    // An existing session is opened (never created) to refuse a second login over a live
    // one; a logged-out session needs no server to say so.
    let existing = if path.exists() {
        let store = super::open_store(&path)?;
        Some(Client::new(config.clone(), store).map_err(errors::client_error)?)
    } else {
        None
    };
    if let Some(client) = &existing {
        match client.verify_login().await.map_err(errors::client_error) {
            Ok(None) => {}
            Ok(Some(me)) => return close_after(client, already_logged_in(&me)).await,
            Err(error) => return close_after(client, Err(error)).await,
        }
    }
    if matches!(mode, ImportMode::ShareKey) {
        output::note(share_key_warning(app));
    }
    let staging = Client::new(
        config,
        SessionStore::in_memory().context("cannot make a session in memory")?,
    )
    .map_err(errors::client_error)?;
    let outcome = import_login(&staging, &login, mode, app).await;
    // Saves what the connections learned (salts, clock offsets) into the staged session.
    let closed = staging.close().await.map_err(errors::client_error);
    let written = match outcome {
        Ok(me) => match closed.and_then(|()| write_session(&staging, existing.as_ref(), &path)) {
            Ok(()) => Ok(me),
            Err(error) => {
                if matches!(mode, ImportMode::Handoff) {
                    end_unsaved_login(&staging).await;
                }
                Err(error)
            }
        },
        Err(error) => Err(error),
    };
    let me = match &existing {
        Some(client) => close_after(client, written).await?,
        None => written?,
    };
    output::to_stdout(|out| writeln!(out, "logged in as {}", describe_user(&me)))?;
    if matches!(mode, ImportMode::Handoff) {
        output::note(format_args!(
            "tgdl has a login of its own now: a new device in the account's list (Settings > \
             Devices). {} stays logged in; tgdl does not use its key again.",
            capitalized(app)
        ));
    }
    Ok(())
}

/// Says that the session is logged in already (a success: the session has a login).
fn already_logged_in(me: &SelfUser) -> Result<()> {
    output::to_stdout(|out| {
        writeln!(
            out,
            "already logged in as {}; run `tgdl logout` first to change accounts",
            describe_user(me)
        )
    })
}

/// Logs in on `client` with the imported login, and with the 2FA password when the account
/// has one.
async fn import_login(
    client: &Client,
    login: &ImportedLogin,
    mode: ImportMode,
    app: App,
) -> Result<SelfUser> {
    match client.import_login(login, mode).await {
        Ok(me) => Ok(me),
        Err(LoginError::PasswordRequired { hint }) => {
            output::note("The account is protected by a password.");
            password_login(client, hint).await
        }
        Err(error) if needs_password(&error) => password_after_qr(client).await,
        Err(error) => Err(import_error(error, app)),
    }
}

/// A failed import, said as such; the handoff's own errors need no "login failed" before
/// them.
fn import_error(error: LoginError, app: App) -> anyhow::Error {
    let context = format!("cannot log in with {app}'s login");
    match error {
        LoginError::HandoffRefused { .. } => anyhow::Error::new(error).context(format!(
            "{context}; --share-key would use its key instead (read its warning first)"
        )),
        LoginError::SourceLoginInvalid { .. }
        | LoginError::OtherAccount { .. }
        | LoginError::BotHandoff { .. } => anyhow::Error::new(error).context(context),
        error => errors::login_error(error).context(context),
    }
}

/// Writes the login made on `staging` to the session file: the open `existing` one, or a
/// new one at `path`.
fn write_session(staging: &Client, existing: Option<&Client>, path: &Path) -> Result<()> {
    let copy =
        |to: &mut SessionStore| staging.with_store(|from| staged_login::copy_login(from, to));
    let written = match existing {
        Some(client) => client.with_store(|to| copy(to)),
        None => copy(&mut super::open_store(path)?),
    };
    written.with_context(|| format!("cannot write the login to the session {}", path.display()))
}

/// Ends the login a handoff made when it could not be saved, so that no device nobody can
/// use is left in the account's list. (Never after `--share-key`: that login is the source
/// app's.)
async fn end_unsaved_login(staging: &Client) {
    match staging.log_out().await {
        Ok(()) => output::note("The new login could not be saved, so tgdl ended it again."),
        Err(error) => tracing::warn!(%error, "could not end the login that was not saved"),
    }
    let _ = staging.close().await;
}

/// Closes `client` (saving its session), then gives back `result`.
async fn close_after<T>(client: &Client, result: Result<T>) -> Result<T> {
    if let Err(error) = client.close().await {
        tracing::warn!(%error, "could not save the session");
    }
    result
}

/// What `--share-key` costs, said before it is used.
fn share_key_warning(app: App) -> String {
    format!(
        "warning: --share-key: tgdl will use {app}'s own auth key instead of making a login of \
         its own. Two programs then talk to Telegram with one key: Telegram may end both \
         sessions (AUTH_KEY_DUPLICATED) and each would have to log in again, and `tgdl logout` \
         logs {app} out too. Without --share-key tgdl makes a separate login (a new device) \
         and never uses the other app's key again."
    )
}

/// The app's name at the start of a sentence.
fn capitalized(app: App) -> String {
    let name = app.to_string();
    let mut chars = name.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// Where a bot token may come from instead of the command line.
const BOT_TOKEN_VAR: &str = "TGDL_BOT_TOKEN";

/// The bot token as given, or read from stdin for `--bot-token -`; trimmed.
async fn bot_token(given: &Secret) -> Result<Zeroizing<String>> {
    let line;
    let text = if given.expose() == STDIN_TOKEN {
        // Not echoed when typed on a terminal; a plain line when piped in.
        line = prompt::secret("Bot token: ")
            .await?
            .ok_or_else(|| anyhow!("--bot-token -: no token on stdin"))?;
        line.as_str()
    } else {
        given.expose()
    };
    let token = text.trim();
    // An empty TGDL_BOT_TOKEN, most likely.
    if token.is_empty() {
        bail!("the bot token is empty");
    }
    Ok(Zeroizing::new(token.to_owned()))
}

async fn phone_login(client: &Client, phone: Option<&str>) -> Result<SelfUser> {
    let phone = match phone {
        Some(phone) => phone.to_owned(),
        None => prompt::line("Phone number (international format, e.g. +15551234567): ")
            .await?
            .filter(|p| !p.is_empty())
            .ok_or_else(|| anyhow!("no phone number given"))?,
    };
    // Telegram wants digits; people type spaces, dashes and parentheses.
    let phone: String = phone
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let request = client
        .request_login_code(&phone)
        .await
        .map_err(errors::login_error)?;
    output::note(format_args!(
        "A login code was sent {}.",
        where_sent(request.kind)
    ));
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        let Some(code) = prompt::line("Login code: ").await? else {
            break;
        };
        match client.sign_in(&request, &code).await {
            Ok(me) => return Ok(me),
            Err(LoginError::PasswordRequired { hint }) => {
                return password_login(client, hint).await;
            }
            Err(error @ LoginError::InvalidCode(_)) => {
                output::note("That code is wrong.");
                last_error = Some(error);
            }
            Err(error) => return Err(errors::login_error(error)),
        }
    }
    Err(last_error.map_or_else(|| anyhow!("no login code given"), errors::login_error))
}

fn where_sent(kind: CodeKind) -> &'static str {
    match kind {
        CodeKind::App => "to your Telegram app",
        CodeKind::Sms => "by SMS",
        CodeKind::Call => "by a phone call",
        CodeKind::Call2 => "by a missed call (the code is in the caller's number)",
        _ => "to you",
    }
}

async fn password_login(client: &Client, hint: Option<String>) -> Result<SelfUser> {
    let prompt = match hint.as_deref().filter(|h| !h.is_empty()) {
        Some(hint) => format!("2FA password (hint: {hint}): "),
        None => "2FA password: ".to_owned(),
    };
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        let Some(password) = prompt::secret(&prompt).await? else {
            break;
        };
        match client.check_password(&password).await {
            Ok(me) => return Ok(me),
            Err(error @ LoginError::WrongPassword(_)) => {
                output::note("That password is wrong.");
                last_error = Some(error);
            }
            Err(error) => return Err(errors::login_error(error)),
        }
    }
    Err(last_error.map_or_else(|| anyhow!("no 2FA password given"), errors::login_error))
}

async fn qr_login(client: &Client, poll: bool) -> Result<SelfUser> {
    let mut qr = match client.qr_login(Vec::new()).await {
        Ok(qr) => qr,
        Err(error) if needs_password(&error) => return password_after_qr(client).await,
        Err(error) => return Err(errors::login_error(error)),
    };
    if poll {
        qr.poll_interval = Some(QR_POLL);
    }
    show_qr(&qr)?;
    let deadline = tokio::time::Instant::now() + QR_TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match client.qr_wait(&mut qr, left).await {
            Ok(QrStatus::LoggedIn(me)) => return Ok(me),
            Ok(QrStatus::Refreshed) => show_qr(&qr)?,
            Err(error) if needs_password(&error) => return password_after_qr(client).await,
            Err(error) => return Err(errors::login_error(error)),
        }
    }
}

/// Whether a QR login stopped because the account has a 2FA password.
fn needs_password(error: &LoginError) -> bool {
    match error {
        LoginError::PasswordRequired { .. } => true,
        LoginError::Client(client) => client
            .rpc()
            .is_some_and(|rpc| policy::is(rpc, "SESSION_PASSWORD_NEEDED")),
        _ => false,
    }
}

async fn password_after_qr(client: &Client) -> Result<SelfUser> {
    output::note("The code was accepted; the account is protected by a password.");
    let hint = client.password_hint().await.ok().flatten();
    password_login(client, hint).await
}

/// Prints the QR code (for a dark terminal) and its URL to stderr.
fn show_qr(qr: &QrLogin) -> Result<()> {
    let url = qr.url();
    let code = QrCode::new(url.as_bytes()).context("cannot make the QR code")?;
    let image = code
        .render::<Dense1x2>()
        .dark_color(Dense1x2::Light)
        .light_color(Dense1x2::Dark)
        .quiet_zone(true)
        .build();
    output::note(format_args!(
        "{image}\nScan this code in Telegram (Settings > Devices > Link Desktop Device), or \
         open:\n{url}\nWaiting..."
    ));
    Ok(())
}
