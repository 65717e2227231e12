//! Where Telegram Desktop keeps its `tdata` folder, as its own code decides (`psAppDataPath`
//! of each platform, then `tdata` inside it):
//!
//! - Linux and other Unix systems: `~/.TelegramDesktop` when it holds data (where versions
//!   before 1.x lived; Desktop still prefers it then), else Qt's application data location
//!   `$XDG_DATA_HOME/TelegramDesktop` (`~/.local/share/TelegramDesktop`); the snap and
//!   flatpak packages keep the same folder inside their own home
//!   (`~/snap/telegram-desktop/current/.local/share`, `~/.var/app/org.telegram.desktop/data`).
//! - macOS: `~/Library/Application Support/Telegram Desktop`.
//! - Windows: `%APPDATA%\Telegram Desktop`, or `Telegram Desktop UWP` for the Store build.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use crate::config::Env;

/// The folder Desktop keeps its data in, inside its working directory.
const TDATA: &str = "tdata";

/// The platforms whose places differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// Linux and the BSDs.
    Unix,
    /// macOS.
    MacOs,
    /// Windows.
    Windows,
}

impl Platform {
    /// The platform tgdl was built for.
    pub fn current() -> Self {
        if cfg!(target_os = "macos") {
            Self::MacOs
        } else if cfg!(windows) {
            Self::Windows
        } else {
            Self::Unix
        }
    }
}

/// The `tdata` folders Desktop may use on `platform`, in the order Desktop looks.
pub fn candidates(platform: Platform, env: &impl Env) -> Vec<PathBuf> {
    let home = env.var("HOME").map(PathBuf::from);
    let under_home = |parts: &[&str]| {
        home.as_ref().map(|home| {
            parts
                .iter()
                .fold(home.clone(), |path, part| path.join(part))
        })
    };
    let places = match platform {
        Platform::Unix => {
            let data_home = env
                .var("XDG_DATA_HOME")
                .map(PathBuf::from)
                // The XDG spec says relative values are invalid and must be ignored.
                .filter(|p| p.is_absolute())
                .or_else(|| under_home(&[".local", "share"]));
            vec![
                under_home(&[".TelegramDesktop"]),
                data_home.map(|dir| dir.join("TelegramDesktop")),
                under_home(&[
                    "snap",
                    "telegram-desktop",
                    "current",
                    ".local",
                    "share",
                    "TelegramDesktop",
                ]),
                under_home(&[
                    ".var",
                    "app",
                    "org.telegram.desktop",
                    "data",
                    "TelegramDesktop",
                ]),
            ]
        }
        Platform::MacOs => vec![under_home(&[
            "Library",
            "Application Support",
            "Telegram Desktop",
        ])],
        Platform::Windows => {
            let app_data = env.var("APPDATA").map(PathBuf::from);
            vec![
                app_data.as_ref().map(|dir| dir.join("Telegram Desktop")),
                app_data.map(|dir| dir.join("Telegram Desktop UWP")),
            ]
        }
    };
    places
        .into_iter()
        .flatten()
        .map(|dir| dir.join(TDATA))
        .collect()
}

/// The first of [`candidates`] that is a folder; the error lists every place tried.
///
/// # Errors
/// None of the places exists (or `$HOME`/`%APPDATA%` is not set).
pub fn find_default(platform: Platform, env: &impl Env) -> Result<PathBuf> {
    let tried = candidates(platform, env);
    if let Some(found) = tried.iter().find(|dir| dir.is_dir()) {
        return Ok(found.clone());
    }
    if tried.is_empty() {
        bail!(
            "cannot tell where Telegram Desktop keeps its data ($HOME or %APPDATA% is not \
             set); give the tdata folder: tgdl login --from-desktop PATH"
        );
    }
    let list: Vec<String> = tried
        .iter()
        .map(|dir| format!("  {}", dir.display()))
        .collect();
    bail!(
        "no Telegram Desktop data folder found; tried:\n{}\ngive the tdata folder: tgdl login \
         --from-desktop PATH",
        list.join("\n")
    )
}

/// The `tdata` folder a path given by the user means: the folder itself, or the `tdata`
/// inside it when it is Desktop's working folder (Desktop never keeps a `tdata` inside its
/// `tdata`).
pub fn resolve_given(given: &Path) -> PathBuf {
    let inner = given.join(TDATA);
    if inner.is_dir() {
        inner
    } else {
        given.to_path_buf()
    }
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

    fn strings(paths: &[PathBuf]) -> Vec<String> {
        paths.iter().map(|p| p.display().to_string()).collect()
    }

    #[test]
    fn unix_places_in_desktops_order() {
        let e = env(&[("HOME", "/home/u")]);
        assert_eq!(
            strings(&candidates(Platform::Unix, &e)),
            [
                "/home/u/.TelegramDesktop/tdata",
                "/home/u/.local/share/TelegramDesktop/tdata",
                "/home/u/snap/telegram-desktop/current/.local/share/TelegramDesktop/tdata",
                "/home/u/.var/app/org.telegram.desktop/data/TelegramDesktop/tdata",
            ]
        );
        let e = env(&[("HOME", "/home/u"), ("XDG_DATA_HOME", "/data")]);
        assert_eq!(
            candidates(Platform::Unix, &e)[1],
            PathBuf::from("/data/TelegramDesktop/tdata")
        );
        // A relative XDG_DATA_HOME is ignored, as the spec says.
        let e = env(&[("HOME", "/home/u"), ("XDG_DATA_HOME", "data")]);
        assert_eq!(
            candidates(Platform::Unix, &e)[1],
            PathBuf::from("/home/u/.local/share/TelegramDesktop/tdata")
        );
    }

    #[test]
    fn macos_and_windows_places() {
        let e = env(&[
            ("HOME", "/Users/u"),
            ("APPDATA", "C:/Users/u/AppData/Roaming"),
        ]);
        assert_eq!(
            strings(&candidates(Platform::MacOs, &e)),
            ["/Users/u/Library/Application Support/Telegram Desktop/tdata"]
        );
        let windows = candidates(Platform::Windows, &e);
        assert_eq!(windows.len(), 2);
        assert!(windows[0].ends_with("Telegram Desktop/tdata"));
        assert!(windows[1].ends_with("Telegram Desktop UWP/tdata"));
        assert!(candidates(Platform::Windows, &env(&[])).is_empty());
    }

    #[test]
    fn the_first_existing_place_is_taken_and_a_miss_lists_the_places_tried() {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().to_str().unwrap();
        let e = env(&[("HOME", home)]);
        let error = find_default(Platform::Unix, &e).unwrap_err().to_string();
        for place in candidates(Platform::Unix, &e) {
            assert!(error.contains(&place.display().to_string()), "{error}");
        }
        assert!(error.contains("--from-desktop PATH"), "{error}");
        let snap = dir
            .path()
            .join("snap/telegram-desktop/current/.local/share/TelegramDesktop/tdata");
        std::fs::create_dir_all(&snap).unwrap();
        assert_eq!(find_default(Platform::Unix, &e).unwrap(), snap);
        let xdg = dir.path().join(".local/share/TelegramDesktop/tdata");
        std::fs::create_dir_all(&xdg).unwrap();
        assert_eq!(find_default(Platform::Unix, &e).unwrap(), xdg);
        assert!(find_default(Platform::Windows, &env(&[])).is_err());
    }

    #[test]
    fn a_given_path_may_be_tdata_or_its_parent() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(resolve_given(dir.path()), dir.path());
        let tdata = dir.path().join("tdata");
        std::fs::create_dir(&tdata).unwrap();
        assert_eq!(resolve_given(dir.path()), tdata);
        assert_eq!(resolve_given(&tdata), tdata);
    }
}
