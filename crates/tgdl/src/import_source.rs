//! The login another app keeps, as `tgdl login --from-*` names it: Telegram Desktop's
//! `tdata` folder (with its local passcode and a choice among its accounts), or a Telethon
//! or Pyrogram session file or string. Reading one touches no session of tgdl's and makes
//! no connection, so bad input fails before anything is written.
//!
//! A session argument is a file when a file of that name exists (or of that name with
//! `.session` added, as both libraries name their files), the string from stdin for `-`,
//! and a session string otherwise (with a warning: the command line is visible in
//! `ps` and kept in shell history).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use mtcrypto::Zeroizing;
use tgclient::import::tdata::{self, DesktopAccount, DesktopTdata, TdataError};
use tgclient::import::{ImportedLogin, pyrogram, telethon};

use crate::cli::{LoginArgs, STDIN_TOKEN, Secret};
use crate::config::ProcessEnv;
use crate::desktop_path::{self, Platform};
use crate::{output, prompt};

/// What Telethon and Pyrogram add to a session's name to make its file's.
const SESSION_EXTENSION: &str = ".session";

/// Tries at a local passcode typed at the prompt before giving up.
const PASSCODE_ATTEMPTS: usize = 3;

/// The app a login comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum App {
    /// Telegram Desktop.
    Desktop,
    /// A Telethon session.
    Telethon,
    /// A Pyrogram session.
    Pyrogram,
}

impl fmt::Display for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Desktop => "Telegram Desktop",
            Self::Telethon => "the Telethon session",
            Self::Pyrogram => "the Pyrogram session",
        })
    }
}

/// Where a Telethon or Pyrogram session comes from.
#[derive(Debug)]
pub enum SessionInput {
    /// A session file.
    File(PathBuf),
    /// A session string read from stdin.
    Stdin,
    /// A session string given on the command line.
    Argv(Secret),
}

impl SessionInput {
    /// What the argument names: an existing file, `-`, or a string.
    ///
    /// # Errors
    /// An argument that looks like a path (a `/` or a `.session` ending, which session
    /// strings never have) but names no file.
    pub fn from_arg(arg: &Secret) -> Result<Self> {
        let text = arg.expose();
        if text == STDIN_TOKEN {
            return Ok(Self::Stdin);
        }
        let path = Path::new(text);
        if path.is_file() {
            return Ok(Self::File(path.to_path_buf()));
        }
        // Both libraries name a session without its extension (`TelegramClient("anon")`,
        // `Client("my_account")`) and add `.session` to make the file's name.
        let named = PathBuf::from(format!("{text}{SESSION_EXTENSION}"));
        if named.is_file() {
            return Ok(Self::File(named));
        }
        if text.contains(['/', '\\']) || text.ends_with(SESSION_EXTENSION) {
            bail!("{}: no such session file", path.display());
        }
        Ok(Self::Argv(arg.clone()))
    }
}

/// A source named by `tgdl login --from-*`.
#[derive(Debug)]
pub enum Source {
    /// A Telegram Desktop `tdata` folder.
    Desktop {
        /// The folder given (default: Desktop's place on this system).
        path: Option<PathBuf>,
        /// `--passcode -`: the local passcode is one line of stdin.
        passcode_on_stdin: bool,
        /// `--account`: an index or a user id.
        account: Option<u64>,
    },
    /// A Telethon session.
    Telethon(SessionInput),
    /// A Pyrogram session.
    Pyrogram(SessionInput),
}

impl Source {
    /// The source the arguments name, if any.
    ///
    /// # Errors
    /// A session argument naming a file that does not exist.
    pub fn from_args(args: &LoginArgs) -> Result<Option<Self>> {
        if let Some(path) = &args.from_desktop {
            return Ok(Some(Self::Desktop {
                path: path.clone(),
                passcode_on_stdin: args.passcode.is_some(),
                account: args.account,
            }));
        }
        if let Some(arg) = &args.from_telethon {
            return Ok(Some(Self::Telethon(SessionInput::from_arg(arg)?)));
        }
        if let Some(arg) = &args.from_pyrogram {
            return Ok(Some(Self::Pyrogram(SessionInput::from_arg(arg)?)));
        }
        Ok(None)
    }

    /// The app the login comes from.
    pub fn app(&self) -> App {
        match self {
            Self::Desktop { .. } => App::Desktop,
            Self::Telethon(_) => App::Telethon,
            Self::Pyrogram(_) => App::Pyrogram,
        }
    }

    /// Reads and decrypts the login (asking for a passcode or reading stdin as needed).
    ///
    /// # Errors
    /// The source cannot be read; the message names the file (or "the session string").
    pub async fn read(&self) -> Result<ImportedLogin> {
        let app = self.app();
        let read = match self {
            Self::Desktop {
                path,
                passcode_on_stdin,
                account,
            } => read_desktop(path.as_deref(), *passcode_on_stdin, *account).await,
            Self::Telethon(input) => {
                read_session(input, telethon::read_file, telethon::read_string).await
            }
            Self::Pyrogram(input) => {
                read_session(input, pyrogram::read_file, pyrogram::read_string).await
            }
        };
        read.with_context(|| format!("cannot log in with {app}"))
    }
}

/// Reads a session file or string with the reader of its format.
async fn read_session<E>(
    input: &SessionInput,
    read_file: impl FnOnce(&Path) -> Result<ImportedLogin, E>,
    read_string: impl FnOnce(&str) -> Result<ImportedLogin, E>,
) -> Result<ImportedLogin>
where
    E: std::error::Error + Send + Sync + 'static,
{
    match input {
        SessionInput::File(path) => Ok(read_file(path)?),
        SessionInput::Stdin => {
            let line = prompt::secret("Session string: ")
                .await?
                .ok_or_else(|| anyhow!("no session string on stdin"))?;
            let text = line.trim();
            if text.is_empty() {
                bail!("the session string on stdin is empty");
            }
            Ok(read_string(text)?)
        }
        SessionInput::Argv(string) => {
            output::note(
                "warning: a session string on the command line is visible to every user of \
                 this machine (`ps`) and stays in your shell history; give `-` and pipe it on \
                 stdin instead",
            );
            Ok(read_string(string.expose().trim())?)
        }
    }
}

async fn read_desktop(
    given: Option<&Path>,
    passcode_on_stdin: bool,
    wanted: Option<u64>,
) -> Result<ImportedLogin> {
    let dir = match given {
        Some(path) => desktop_path::resolve_given(path),
        None => desktop_path::find_default(Platform::current(), &ProcessEnv)?,
    };
    tracing::debug!(folder = %dir.display(), "reading Telegram Desktop's data");
    let folder = open_tdata(&dir, passcode_on_stdin).await?;
    let account = choose_account(&dir, &folder, wanted)?;
    Ok(account.to_imported(folder.app_version)?)
}

/// Reads the folder: with the passcode from stdin; else without one, then asking for it
/// when the folder has one.
async fn open_tdata(dir: &Path, passcode_on_stdin: bool) -> Result<DesktopTdata> {
    if passcode_on_stdin {
        let passcode = prompt::secret("Local passcode: ")
            .await?
            .ok_or_else(|| anyhow!("--passcode -: no passcode on stdin"))?;
        return Ok(read_tdata(dir, passcode).await?);
    }
    match read_tdata(dir, Zeroizing::new(String::new())).await {
        Err(TdataError::WrongPasscode { .. }) => {}
        other => return Ok(other?),
    }
    output::note("Telegram Desktop's data is locked with a local passcode.");
    let mut last_error = None;
    for _ in 0..PASSCODE_ATTEMPTS {
        let Some(passcode) = prompt::secret("Local passcode: ").await? else {
            break;
        };
        match read_tdata(dir, passcode).await {
            Err(error @ TdataError::WrongPasscode { .. }) => {
                output::note("That passcode is wrong.");
                last_error = Some(error);
            }
            other => return Ok(other?),
        }
    }
    Err(last_error.map_or_else(
        || anyhow!("no local passcode given (pipe it with --passcode -)"),
        anyhow::Error::new,
    ))
}

/// [`tdata::read_tdata`] off the async threads (a passcode's key derivation takes a while).
async fn read_tdata(dir: &Path, passcode: Zeroizing<String>) -> Result<DesktopTdata, TdataError> {
    let dir = dir.to_path_buf();
    let read = tokio::task::spawn_blocking(move || tdata::read_tdata(&dir, passcode.as_bytes()));
    match read.await {
        Ok(result) => result,
        // The reader does not panic on any input; a cancelled runtime is all that is left.
        Err(join) => Err(TdataError::Io {
            file: PathBuf::new(),
            source: std::io::Error::other(join.to_string()),
        }),
    }
}

/// The account `wanted` names (its index, else its user id); without one, the only account.
fn choose_account<'a>(
    dir: &Path,
    folder: &'a DesktopTdata,
    wanted: Option<u64>,
) -> Result<&'a DesktopAccount> {
    let accounts = &folder.accounts;
    let Some(wanted) = wanted else {
        if let [only] = accounts.as_slice() {
            return Ok(only);
        }
        bail!(
            "{}: Telegram Desktop has {} accounts here; choose one with --account N (its \
             number below) or --account USER_ID:\n{}",
            dir.display(),
            accounts.len(),
            list_accounts(folder)
        );
    };
    let by_index = accounts
        .iter()
        .find(|a| u64::try_from(a.index).is_ok_and(|index| index == wanted));
    by_index
        .or_else(|| accounts.iter().find(|a| a.user_id == wanted))
        .ok_or_else(|| {
            anyhow!(
                "{}: no account {wanted} (by number or user id) in this Telegram Desktop \
                 folder; it has:\n{}",
                dir.display(),
                list_accounts(folder)
            )
        })
}

/// One line per account: number, user id, main DC, and which one Desktop shows.
fn list_accounts(folder: &DesktopTdata) -> String {
    folder
        .accounts
        .iter()
        .map(|account| {
            let active = if folder.active_index == Some(account.index) {
                " (active in Desktop)"
            } else {
                ""
            };
            format!(
                "  {}: user {}, DC {}{active}",
                account.index, account.user_id, account.main_dc
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn folder(accounts: &[(i32, u64, i32)], active: Option<i32>) -> DesktopTdata {
        DesktopTdata {
            accounts: accounts
                .iter()
                .map(|&(index, user_id, main_dc)| DesktopAccount {
                    index,
                    user_id,
                    main_dc,
                    keys: Vec::new(),
                })
                .collect(),
            active_index: active,
            app_version: 5_000_000,
        }
    }

    #[test]
    fn one_account_is_taken_and_several_need_a_choice() {
        let dir = Path::new("/t/tdata");
        let one = folder(&[(0, 1001, 2)], Some(0));
        assert_eq!(choose_account(dir, &one, None).unwrap().user_id, 1001);
        let two = folder(&[(0, 1001, 2), (1, 1002, 4)], Some(1));
        let error = choose_account(dir, &two, None).unwrap_err().to_string();
        assert!(error.contains("/t/tdata"), "{error}");
        assert!(error.contains("--account"), "{error}");
        assert!(error.contains("  0: user 1001, DC 2\n"), "{error}");
        assert!(
            error.contains("  1: user 1002, DC 4 (active in Desktop)"),
            "{error}"
        );
    }

    #[test]
    fn an_account_is_chosen_by_number_then_by_user_id() {
        let dir = Path::new("/t/tdata");
        let two = folder(&[(0, 1001, 2), (1, 1002, 4)], None);
        assert_eq!(choose_account(dir, &two, Some(1)).unwrap().user_id, 1002);
        assert_eq!(choose_account(dir, &two, Some(1001)).unwrap().index, 0);
        let error = choose_account(dir, &two, Some(7)).unwrap_err().to_string();
        assert!(error.contains("no account 7"), "{error}");
        assert!(error.contains("1: user 1002"), "{error}");
    }

    #[test]
    fn a_session_argument_is_a_file_stdin_or_a_string() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bot.session");
        std::fs::write(&file, b"x").unwrap();
        let arg = |text: &str| Secret::from(text.to_owned());
        assert!(matches!(
            SessionInput::from_arg(&arg(file.to_str().unwrap())).unwrap(),
            SessionInput::File(path) if path == file
        ));
        assert!(matches!(
            SessionInput::from_arg(&arg("-")).unwrap(),
            SessionInput::Stdin
        ));
        assert!(matches!(
            SessionInput::from_arg(&arg("1BVtsOKABu2x-_abc=")).unwrap(),
            SessionInput::Argv(_)
        ));
        // The session's name, as the libraries take it.
        let name = dir.path().join("bot");
        assert!(matches!(
            SessionInput::from_arg(&arg(name.to_str().unwrap())).unwrap(),
            SessionInput::File(path) if path == file
        ));
        let missing = dir.path().join("gone.session");
        let error = SessionInput::from_arg(&arg(missing.to_str().unwrap()))
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("gone.session: no such session file"),
            "{error}"
        );
        assert!(SessionInput::from_arg(&arg("old.session")).is_err());
    }
}
