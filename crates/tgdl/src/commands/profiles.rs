//! `tgdl profiles`: the sessions in the data directory and which account each is logged in
//! as, read from the files (no network; a session a running tgdl holds is read too).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::Serialize;
use tgclient::{SessionPeek, SessionStore};

use crate::cli::{GlobalArgs, ProfilesArgs};
use crate::config::{self, DEFAULT_PROFILE, ProcessEnv};
use crate::output;

/// The suffix of a profile's session file.
const SESSION_SUFFIX: &str = ".session";

/// One profile as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileRow {
    /// The profile name (`--profile NAME`).
    pub profile: String,
    /// Whether this is the profile the command line selects (`--profile`, else `default`).
    pub selected: bool,
    /// The logged-in account's user id, if any.
    pub user_id: Option<i64>,
    /// Its username, if it has one.
    pub username: Option<String>,
    /// Whether the account is a bot.
    pub bot: bool,
    /// The account's home DC.
    pub dc: Option<i32>,
    /// Why the session could not be read, if it could not.
    pub error: Option<String>,
}

/// Runs `tgdl profiles`.
pub fn run(global: &GlobalArgs, args: &ProfilesArgs) -> Result<()> {
    let dir = config::data_dir(&ProcessEnv)?;
    let selected = global.profile.as_deref().unwrap_or(DEFAULT_PROFILE);
    let rows = list(&dir, selected)?;
    if rows.is_empty() && !args.json {
        output::note(format_args!(
            "no profiles in {} yet; `tgdl login` makes one (`--profile NAME` for more)",
            dir.display()
        ));
        return Ok(());
    }
    output::to_stdout(|out| {
        if args.json {
            rows.iter()
                .try_for_each(|row| output::write_json_line(out, row))
        } else {
            write_table(out, &rows)
        }
    })
}

/// The profiles in `dir`, by name.
pub fn list(dir: &Path, selected: &str) -> Result<Vec<ProfileRow>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot list {}", dir.display()));
        }
    };
    let mut sessions: Vec<(String, PathBuf)> = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot list {}", dir.display()))?;
        let file_name = entry.file_name();
        let Some(name) = file_name
            .to_str()
            .and_then(|name| name.strip_suffix(SESSION_SUFFIX))
        else {
            continue;
        };
        if config::check_profile(name).is_ok() {
            sessions.push((name.to_owned(), entry.path()));
        }
    }
    sessions.sort();
    Ok(sessions
        .into_iter()
        .map(|(profile, path)| row(profile == selected, profile, &path))
        .collect())
}

fn row(selected: bool, profile: String, path: &Path) -> ProfileRow {
    let (peek, error) = match SessionStore::peek(path) {
        Ok(peek) => (peek, None),
        Err(error) => (
            SessionPeek {
                self_user: None,
                home_dc: None,
            },
            Some(error.to_string()),
        ),
    };
    let user = peek.self_user;
    ProfileRow {
        profile,
        selected,
        user_id: user.as_ref().map(|u| u.id),
        username: user.as_ref().and_then(|u| u.username.clone()),
        bot: user.as_ref().is_some_and(|u| u.bot),
        dc: user.as_ref().and(peek.home_dc),
        error,
    }
}

/// What the table says about a profile's account.
fn account(row: &ProfileRow) -> String {
    if let Some(error) = &row.error {
        return format!("unreadable: {error}");
    }
    let Some(id) = row.user_id else {
        return "not logged in".to_owned();
    };
    let kind = if row.bot { "bot" } else { "user" };
    match &row.username {
        Some(name) => format!("@{name} ({kind} {id})"),
        None => format!("{kind} {id}"),
    }
}

/// An aligned table; `*` marks the selected profile.
fn write_table(out: &mut impl Write, rows: &[ProfileRow]) -> io::Result<()> {
    let width = rows
        .iter()
        .map(|row| row.profile.chars().count())
        .max()
        .unwrap_or(0)
        .max("PROFILE".len());
    writeln!(out, "  {:<width$}  {:<3}  ACCOUNT", "PROFILE", "DC")?;
    for row in rows {
        let mark = if row.selected { '*' } else { ' ' };
        let dc = row.dc.map(|dc| dc.to_string()).unwrap_or_default();
        writeln!(
            out,
            "{mark} {:<width$}  {dc:<3}  {}",
            row.profile,
            account(row)
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use tgclient::SelfUser;

    use super::*;

    #[test]
    fn lists_sessions_by_name_with_their_accounts_and_skips_other_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut work = SessionStore::open(dir.path().join("work.session")).unwrap();
        work.set_home_dc(2).unwrap();
        work.set_self_user(Some(&SelfUser {
            id: 7,
            bot: false,
            username: Some("alice".into()),
        }))
        .unwrap();
        drop(SessionStore::open(dir.path().join("default.session")).unwrap());
        std::fs::write(dir.path().join("broken.session"), b"not a database at all").unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"x").unwrap();
        std::fs::write(dir.path().join(".hidden.session"), b"").unwrap();

        let rows = list(dir.path(), "work").unwrap();
        let names: Vec<_> = rows.iter().map(|r| r.profile.as_str()).collect();
        assert_eq!(names, ["broken", "default", "work"]);
        let [broken, default, work_row] = rows.as_slice() else {
            unreachable!()
        };
        assert!(broken.error.as_deref().unwrap().contains("broken.session"));
        assert_eq!(account(default), "not logged in");
        assert!(!default.selected);
        assert!(work_row.selected);
        assert_eq!((work_row.user_id, work_row.dc), (Some(7), Some(2)));
        assert_eq!(account(work_row), "@alice (user 7)");

        let mut table = Vec::new();
        write_table(&mut table, &rows).unwrap();
        let table = String::from_utf8(table).unwrap();
        assert!(table.contains("* work     2    @alice (user 7)"), "{table}");
        assert!(table.contains("  default       not logged in"), "{table}");
    }

    #[test]
    fn a_missing_data_directory_lists_nothing() {
        let dir = tempfile::tempdir().unwrap();
        assert!(
            list(&dir.path().join("absent"), "default")
                .unwrap()
                .is_empty()
        );
    }
}
