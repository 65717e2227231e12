//! Where tgdl keeps things and who it is to Telegram: the api_id/api_hash pair (from the
//! environment or the config file) and the session file's path (from `--session`, or the
//! profile's file in the XDG data directory).

use std::fmt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use objstore::StorageConfig;
use serde::Deserialize;

/// The environment variable holding the api_id.
pub const API_ID_VAR: &str = "TGDL_API_ID";
/// The environment variable holding the api_hash.
pub const API_HASH_VAR: &str = "TGDL_API_HASH";
/// The profile used without `--profile`.
pub const DEFAULT_PROFILE: &str = "default";

/// The application's identity (from <https://my.telegram.org/apps>).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The api_id.
    pub api_id: i32,
    /// The api_hash. Never printed.
    pub api_hash: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("api_id", &self.api_id)
            .field("api_hash", &"<redacted>")
            .finish()
    }
}

/// The config file's contents (every key optional; unknown keys are refused so typos
/// show).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigFile {
    api_id: Option<i64>,
    api_hash: Option<String>,
    /// `[storage]`: endpoint, region, path_style, profile, for `-o s3://...`. Credentials
    /// are never here: they come from the AWS environment variables or profile files, so
    /// they are in neither this file, the logs nor `ps`.
    #[serde(default)]
    storage: StorageConfig,
}

/// Keys that would put a secret in the config file: refused by name, with where secrets go.
const SECRET_KEYS: &[&str] = &[
    "access_key_id",
    "secret_access_key",
    "session_token",
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "access_key",
    "secret_key",
    "secret",
    "password",
];

/// The environment the paths and credentials come from (the process's own, or a test's).
pub trait Env {
    /// The value of variable `name`, if set and not empty.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.is_empty())
    }
}

/// `$XDG_CONFIG_HOME/tgdl/config.toml`, or `~/.config/tgdl/config.toml`.
pub fn config_file(env: &impl Env) -> Result<PathBuf> {
    Ok(xdg_dir(env, "XDG_CONFIG_HOME", ".config")?
        .join("tgdl")
        .join("config.toml"))
}

/// `$XDG_DATA_HOME/tgdl`, or `~/.local/share/tgdl`.
pub fn data_dir(env: &impl Env) -> Result<PathBuf> {
    Ok(xdg_dir(env, "XDG_DATA_HOME", ".local/share")?.join("tgdl"))
}

fn xdg_dir(env: &impl Env, var: &str, fallback: &str) -> Result<PathBuf> {
    // The XDG spec says relative values are invalid and must be ignored.
    if let Some(dir) = env.var(var).map(PathBuf::from).filter(|p| p.is_absolute()) {
        return Ok(dir);
    }
    let home = env
        .var("HOME")
        .ok_or_else(|| anyhow!("neither ${var} nor $HOME is set"))?;
    Ok(PathBuf::from(home).join(fallback))
}

/// The session file: `session` when given, else the profile's file in the data
/// directory (created with mode 0700).
pub fn session_path(
    env: &impl Env,
    session: Option<&Path>,
    profile: Option<&str>,
) -> Result<PathBuf> {
    if let Some(path) = session {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            create_private_dir(parent)?;
        }
        return Ok(path.to_path_buf());
    }
    let profile = profile.unwrap_or(DEFAULT_PROFILE);
    check_profile(profile)?;
    let dir = data_dir(env)?;
    create_private_dir(&dir)?;
    Ok(dir.join(format!("{profile}.session")))
}

/// Profile names become file names: keep them to one plain path component.
///
/// # Errors
/// A name that is empty, too long, hidden or not plain.
pub fn check_profile(profile: &str) -> Result<()> {
    let valid = !profile.is_empty()
        && profile.len() <= 64
        && !profile.starts_with('.')
        && profile
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        bail!(
            "invalid profile name {profile:?}: use letters, digits, '-', '_' and '.' (not first)"
        );
    }
    Ok(())
}

/// Creates `dir` and its missing parents; the directories created are private (0700).
fn create_private_dir(dir: &Path) -> Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .with_context(|| format!("cannot create the directory {}", dir.display()))
}

/// The credentials: each of api_id and api_hash from the environment, else from the config
/// file. A clear error says how to get them when either is missing.
pub fn credentials(env: &impl Env) -> Result<Credentials> {
    let path = config_file(env)?;
    let file = read_config_file(&path)?;
    let api_id = match env.var(API_ID_VAR) {
        Some(text) => Some(
            text.trim()
                .parse::<i64>()
                .map_err(|_| anyhow!("{API_ID_VAR}={text:?} is not a number"))?,
        ),
        None => file.api_id,
    };
    let api_hash = env.var(API_HASH_VAR).or(file.api_hash);
    let (Some(api_id), Some(api_hash)) = (api_id, api_hash) else {
        bail!(
            "no Telegram API credentials (api_id and api_hash)\n\
             Create an application at https://my.telegram.org/apps, then either set the \
             environment variables {API_ID_VAR} and {API_HASH_VAR}, or write them to {}:\n\
             \n    api_id = 123456\n    api_hash = \"0123456789abcdef0123456789abcdef\"",
            path.display()
        );
    };
    let api_id = i32::try_from(api_id)
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| anyhow!("api_id {api_id} is not a valid api_id"))?;
    let api_hash = api_hash.trim().to_owned();
    if api_hash.is_empty() {
        bail!("api_hash is empty");
    }
    Ok(Credentials { api_id, api_hash })
}

fn read_config_file(path: &Path) -> Result<ConfigFile> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ConfigFile::default());
        }
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", path.display()));
        }
    };
    refuse_storage_secrets(&text, path)?;
    toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}

/// The `[storage]` section of the config file (empty when there is no file).
///
/// # Errors
/// A config file that cannot be read or is not valid, or one with credentials in it.
pub fn storage_settings(env: &impl Env) -> Result<StorageConfig> {
    let path = config_file(env)?;
    Ok(read_config_file(&path)?.storage)
}

/// A secret in `[storage]` is refused before the file is parsed, by its key alone: the
/// error never shows the value.
fn refuse_storage_secrets(text: &str, path: &Path) -> Result<()> {
    let Ok(table) = text.parse::<toml::Table>() else {
        // Not valid TOML: the parse that follows says where.
        return Ok(());
    };
    let Some(storage) = table.get("storage").and_then(toml::Value::as_table) else {
        return Ok(());
    };
    if let Some(key) = storage
        .keys()
        .find(|key| SECRET_KEYS.contains(&key.to_ascii_lowercase().as_str()))
    {
        bail!(
            "{}: [storage] {key} is refused: credentials are never read from the config file. \
             Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the environment, or put them \
             in a profile of ~/.aws/credentials and name it with `profile = \"NAME\"`",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::collections::HashMap;

    use super::*;

    struct MapEnv(HashMap<&'static str, String>);

    impl Env for MapEnv {
        fn var(&self, name: &str) -> Option<String> {
            self.0.get(name).cloned()
        }
    }

    fn env(pairs: &[(&'static str, &str)]) -> MapEnv {
        MapEnv(pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect())
    }

    #[test]
    fn xdg_variables_win_over_home_and_relative_ones_are_ignored() {
        let e = env(&[("HOME", "/home/u"), ("XDG_DATA_HOME", "/data")]);
        assert_eq!(data_dir(&e).unwrap(), PathBuf::from("/data/tgdl"));
        let e = env(&[("HOME", "/home/u"), ("XDG_CONFIG_HOME", "rel")]);
        assert_eq!(
            config_file(&e).unwrap(),
            PathBuf::from("/home/u/.config/tgdl/config.toml")
        );
        assert!(data_dir(&env(&[])).is_err());
    }

    #[test]
    fn credentials_come_from_the_environment_then_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap();
        let e = env(&[
            ("XDG_CONFIG_HOME", root),
            (API_ID_VAR, "42"),
            (API_HASH_VAR, "abc"),
        ]);
        assert_eq!(
            credentials(&e).unwrap(),
            Credentials {
                api_id: 42,
                api_hash: "abc".into()
            }
        );
        let e = env(&[("XDG_CONFIG_HOME", root)]);
        let missing = format!("{:#}", credentials(&e).unwrap_err());
        assert!(missing.contains("my.telegram.org/apps"), "{missing}");
        std::fs::create_dir_all(dir.path().join("tgdl")).unwrap();
        std::fs::write(
            dir.path().join("tgdl/config.toml"),
            "api_id = 7\napi_hash = \"fromfile\"\n",
        )
        .unwrap();
        assert_eq!(credentials(&e).unwrap().api_hash, "fromfile");
        let e = env(&[("XDG_CONFIG_HOME", root), (API_ID_VAR, "x")]);
        assert!(credentials(&e).is_err());
    }

    #[test]
    fn the_storage_section_is_read_and_secrets_in_it_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let e = env(&[("XDG_CONFIG_HOME", dir.path().to_str().unwrap())]);
        assert!(storage_settings(&e).unwrap().endpoint.is_none());
        std::fs::create_dir_all(dir.path().join("tgdl")).unwrap();
        let file = dir.path().join("tgdl/config.toml");
        std::fs::write(
            &file,
            "api_id = 7\n[storage]\nendpoint = \"http://127.0.0.1:3900\"\nregion = \"garage\"\n\
             path_style = true\nprofile = \"archive\"\n",
        )
        .unwrap();
        let read = storage_settings(&e).unwrap();
        assert_eq!(read.endpoint.as_deref(), Some("http://127.0.0.1:3900"));
        assert_eq!(read.region.as_deref(), Some("garage"));
        assert_eq!(read.path_style, Some(true));
        assert_eq!(read.profile.as_deref(), Some("archive"));
        assert!(read.credentials.is_none());
        std::fs::write(
            &file,
            "[storage]\nregion = \"garage\"\nSecret_Access_Key = \"hunter2-very-secret\"\n",
        )
        .unwrap();
        let refused = format!("{:#}", storage_settings(&e).unwrap_err());
        assert!(refused.contains("Secret_Access_Key"), "{refused}");
        assert!(refused.contains("AWS_SECRET_ACCESS_KEY"), "{refused}");
        assert!(!refused.contains("hunter2"), "{refused}");
        // The api credentials are refused too while the file holds a secret.
        assert!(credentials(&e).is_err());
        std::fs::write(&file, "[storage]\nendpont = \"x\"\n").unwrap();
        assert!(storage_settings(&e).is_err());
    }

    #[cfg(unix)]
    #[test]
    fn directories_made_for_sessions_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("xdg");
        let e = env(&[("XDG_DATA_HOME", root.to_str().unwrap())]);
        let path = session_path(&e, None, Some("p")).unwrap();
        assert_eq!(path, root.join("tgdl/p.session"));
        assert_eq!(mode(&root), 0o700);
        assert_eq!(mode(&root.join("tgdl")), 0o700);
        let nested = dir.path().join("a/b/s.session");
        assert_eq!(session_path(&e, Some(&nested), None).unwrap(), nested);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
        // A directory that exists is left as it is.
        let shared = dir.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o755)).unwrap();
        session_path(&e, Some(&shared.join("s.session")), None).unwrap();
        assert_eq!(mode(&shared), 0o755);
    }

    #[test]
    fn profiles_are_plain_file_names() {
        for bad in ["", "../x", "a/b", ".hidden", "white space"] {
            assert!(check_profile(bad).is_err(), "{bad}");
        }
        for good in ["default", "work-2", "a.b_c"] {
            assert!(check_profile(good).is_ok(), "{good}");
        }
    }
}
