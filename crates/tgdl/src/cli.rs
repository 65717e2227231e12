//! The command line: global options shared by every subcommand, and one argument struct per
//! subcommand. New subcommands are a variant of [`Command`] and a module in
//! [`crate::commands`].

use std::fmt;
use std::path::PathBuf;

use anyhow::{Result, bail};
use clap::{ArgAction, ArgGroup, Args, Parser, Subcommand, ValueEnum};
use tgclient::media::MediaKind;

use crate::dates::{self, DateArg};
use crate::destination::{Destination, destination_arg};
use crate::filters;
use crate::naming::{self, Template};

/// Download media and message history from Telegram.
#[derive(Debug, Parser)]
#[command(name = "tgdl", version, about, propagate_version = true)]
pub struct Cli {
    /// Options every subcommand accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every subcommand accepts (placed before or after the subcommand).
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// The session file to use (default: the profile's file in the data directory).
    #[arg(long, global = true, value_name = "PATH", conflicts_with = "profile")]
    pub session: Option<PathBuf>,
    /// The profile whose session to use: $XDG_DATA_HOME/tgdl/<NAME>.session.
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Talk to another server than Telegram: a localdc ready file (JSON with the DC
    /// addresses and the server's RSA public key).
    #[arg(long, global = true, value_name = "FILE", conflicts_with = "test_dc")]
    pub server: Option<PathBuf>,
    /// Talk to Telegram's test DCs.
    #[arg(long, global = true)]
    pub test_dc: bool,
    /// Connect through a proxy: socks5://[user:pass@]host:port, or an MTProxy link
    /// (tg://proxy?server=HOST&port=PORT&secret=HEX or https://t.me/proxy?...).
    #[arg(long, global = true, value_name = "URL")]
    pub proxy: Option<Secret>,
    /// How to frame the connection (default: obfuscated padded intermediate, then plain
    /// intermediate).
    #[arg(long, global = true, value_enum, value_name = "KIND")]
    pub transport: Option<TransportArg>,
    /// Obfuscate the TCP stream (with --transport abridged, intermediate or padded).
    #[arg(long, global = true, requires = "transport")]
    pub obfuscated: bool,
    /// More logging on stderr: -v info, -vv debug, -vvv trace.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
}

/// The framings and carriers `--transport` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TransportArg {
    /// Abridged framing over TCP.
    Abridged,
    /// Intermediate framing over TCP.
    Intermediate,
    /// Padded intermediate framing over TCP.
    Padded,
    /// Full framing (length, sequence number, CRC32) over TCP.
    Full,
    /// Obfuscated padded intermediate inside a WebSocket.
    Websocket,
    /// MTProto over HTTP.
    Http,
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Log in with a phone number, a bot token or a QR code, or with the login of Telegram
    /// Desktop, a Telethon or a Pyrogram session (as a new device of its own).
    Login(LoginArgs),
    /// Log out on the server and forget the login (of `--profile NAME` only, when given).
    Logout,
    /// List the profiles (sessions in the data directory) and the account each is logged in
    /// as; `*` marks the one this command line selects.
    Profiles(ProfilesArgs),
    /// List the account's chats.
    Chats(ChatsArgs),
    /// Print a chat's messages as JSON lines, newest first.
    History(HistoryArgs),
    /// Search messages in one chat or in all chats, as JSON lines.
    Search(SearchArgs),
    /// Download the media of chats, message links or id ranges; resumes where an earlier
    /// run stopped and verifies every file. A rerun lists only messages newer than what
    /// earlier runs with the same filters archived (and re-checks the newest for edits).
    Download(Box<DownloadArgs>),
    /// Write a chat's history as Telegram Desktop's export (result.json), with its media
    /// in Desktop's folders with --media; a rerun appends what is new.
    Export(Box<ExportArgs>),
    /// Download the media of chats, then stay connected and download each new one as it
    /// is posted (the same as `download --follow`). Prints a line per file as it lands
    /// (with --json one JSON object per file: event "file", chat_id, msg_id, path, size,
    /// sha256, status, server_hashes, error); SIGINT or SIGTERM stops it cleanly, and the
    /// next start fetches what was posted meanwhile.
    Watch(Box<DownloadArgs>),
    /// Try tgdl with no account and no network: start a local Telegram server with a demo
    /// world, log in, download every file of its chats with progress, verify each one.
    #[cfg(feature = "demo")]
    Demo(DemoArgs),
}

impl Command {
    /// The checks across flags that clap cannot make: empty ranges, a `--passcode` other
    /// than `-`. Run before any session is opened, like clap's own.
    ///
    /// # Errors
    /// A range whose lower end is above its upper end; a passcode on the command line.
    pub fn check(&self) -> Result<()> {
        match self {
            Self::Download(args) | Self::Watch(args) => {
                args.filters.check()?;
                if args.follow || matches!(self, Self::Watch(_)) {
                    crate::commands::watch::check_targets(&args.targets)?;
                }
                Ok(())
            }
            Self::Export(args) => args.filters.check(),
            Self::History(args) => dates::check_range(args.from_date, args.to_date),
            Self::Login(args) => args.check(),
            _ => Ok(()),
        }
    }
}

/// 1 MiB parts in flight: enough to fill 64 MiB/s at 100 ms RTT with room to spare.
pub const DEFAULT_PARTS_IN_FLIGHT: usize = 16;
/// Connections per DC: Telegram throttles each connection, so parts are spread over several.
pub const DEFAULT_CONNECTIONS: usize = 8;

/// `tgdl download`.
// On/off flags of a command line are bools, one per flag.
#[allow(clippy::struct_excessive_bools)]
#[derive(Debug, Clone, Args)]
pub struct DownloadArgs {
    /// Chats (@username, id, t.me link, invite link), message links (t.me/name/123) or id
    /// ranges (t.me/name/100-200).
    #[arg(
        required_unless_present = "from_export",
        allow_negative_numbers = true,
        value_name = "TARGET"
    )]
    pub targets: Vec<String>,
    /// Download the media of exactly the messages a Telegram Desktop export lists
    /// (result.json of one chat or of the whole account) or a tdl `chat export` file;
    /// repeatable. Each file is read whole before anything is fetched.
    #[arg(long = "from-export", value_name = "FILE")]
    pub from_export: Vec<PathBuf>,
    /// Where files go: a directory, or s3://bucket/prefix (object storage: the config
    /// file's [storage] section and the AWS environment variables or profile files say how
    /// to reach it).
    #[arg(long, short = 'o', value_name = "DIR|URL", default_value = ".", value_parser = destination_arg)]
    pub output: Destination,
    /// Which messages and files.
    #[command(flatten)]
    pub filters: FilterArgs,
    /// At most this many files.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// How files are named, relative to the output directory. Fields: {chat} {chat_id}
    /// {msg_id} {date} {date:%Y%m%d} {sender} {type} {file_name} {stem} {ext} {media_id}
    /// {edit} (empty for the media a message was first archived with; for a media an edit
    /// put in its place, its edit date: it lands beside the old file, never over it).
    #[arg(long, value_name = "TEMPLATE", default_value = naming::DEFAULT_TEMPLATE, value_parser = naming::template_arg)]
    pub template: Template,
    /// At most this many files at once (default: as many as the parts budget allows, so
    /// small files run many at once).
    #[arg(long, value_name = "N")]
    pub parallel_files: Option<usize>,
    /// The budget of requests in flight, in 1 MiB parts (memory is about this many MiB); a
    /// part of a small file takes only its size from it.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_PARTS_IN_FLIGHT)]
    pub parts_in_flight: usize,
    /// Connections per DC for file parts.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CONNECTIONS)]
    pub connections: usize,
    /// Progress as JSON lines on stdout instead of bars.
    #[arg(long)]
    pub json: bool,
    /// Where to write the run's manifest (default: tgdl-manifest-<time>.jsonl in the
    /// output directory; with s3:// output, .tgdl/manifests/<time>.jsonl under the prefix,
    /// and this local copy too when given).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Do not check parts against the server's hashes (size and MTProto's integrity only).
    #[arg(long)]
    pub no_server_hashes: bool,
    /// List the chats inside a takeout (export) session, which Telegram asks you to
    /// confirm in another app: its flood limits on long histories are looser.
    #[arg(long)]
    pub takeout: bool,
    /// List every message again, not only those newer than what earlier runs with the same
    /// filters archived (files already downloaded and verified are still skipped). Needed
    /// to fill another output directory, or a new template, with what is already archived.
    #[arg(long)]
    pub full: bool,
    /// After downloading, stay connected and download new media as it is posted (see
    /// `tgdl watch`).
    #[arg(long, conflicts_with = "from_export")]
    pub follow: bool,
}

/// `tgdl export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The chat: @username, a numeric id, a t.me link or an invite link.
    #[arg(allow_negative_numbers = true)]
    pub chat: String,
    /// The export directory (or s3://bucket/prefix): result.json and the media folders go
    /// there.
    #[arg(long, short = 'o', value_name = "DIR|URL", value_parser = destination_arg)]
    pub output: Destination,
    /// Download the media too (into photos/, files/, video_files/, ...); without it the
    /// media fields say the file was not included, as Desktop writes them.
    #[arg(long)]
    pub media: bool,
    /// Which messages and files.
    #[command(flatten)]
    pub filters: FilterArgs,
    /// Progress as JSON lines on stdout instead of bars.
    #[arg(long)]
    pub json: bool,
    /// Where to write the run's manifest (default: tgdl-manifest-<time>.jsonl in the
    /// export directory).
    #[arg(long, value_name = "FILE")]
    pub manifest: Option<PathBuf>,
    /// Do not check parts against the server's hashes (size and MTProto's integrity only).
    #[arg(long)]
    pub no_server_hashes: bool,
}

/// The message and file filters of `tgdl download`, `watch` and `export` (where the dates
/// and ids choose the messages written, the rest which of their files are downloaded).
#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// Only download these media types, comma-separated: photo, video, round, audio,
    /// voice, sticker, animation, document.
    #[arg(long = "type", value_name = "TYPES", value_delimiter = ',', value_parser = filters::kind_arg)]
    pub types: Vec<MediaKind>,
    /// Only messages sent at or after this date (YYYY-MM-DD, UTC, or RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = dates::date_arg)]
    pub from_date: Option<DateArg>,
    /// Only messages sent at or before this date (a YYYY-MM-DD day is included whole).
    #[arg(long, value_name = "DATE", value_parser = dates::date_arg)]
    pub to_date: Option<DateArg>,
    /// Only download files at least this large (500K, 10MB, 1.5GiB).
    #[arg(long, value_name = "SIZE", value_parser = filters::size_arg)]
    pub min_size: Option<u64>,
    /// Only download files at most this large.
    #[arg(long, value_name = "SIZE", value_parser = filters::size_arg)]
    pub max_size: Option<u64>,
    /// Only messages with at least this id.
    #[arg(long, value_name = "ID")]
    pub min_id: Option<i32>,
    /// Only messages with at most this id.
    #[arg(long, value_name = "ID")]
    pub max_id: Option<i32>,
    /// Only download files of messages whose text or file name contains this
    /// (case-insensitive).
    #[arg(long = "match", value_name = "TEXT")]
    pub text: Option<String>,
}

impl FilterArgs {
    /// The filters these flags describe.
    pub fn filters(&self) -> filters::Filters {
        filters::Filters {
            kinds: self.types.clone(),
            min_date: self.from_date.map(DateArg::lower),
            max_date: self.to_date.map(DateArg::upper),
            min_size: self.min_size,
            max_size: self.max_size,
            min_id: self.min_id,
            max_id: self.max_id,
            text: self.text.clone(),
        }
    }

    /// Empty ranges, which clap cannot see.
    pub fn check(&self) -> Result<()> {
        dates::check_range(self.from_date, self.to_date)?;
        if let (Some(min), Some(max)) = (self.min_size, self.max_size)
            && min > max
        {
            bail!("--min-size is larger than --max-size");
        }
        Ok(())
    }
}

/// `tgdl demo`.
#[cfg(feature = "demo")]
#[derive(Debug, Clone, Args)]
pub struct DemoArgs {
    /// Where the files go (the demo's session and manifest too).
    #[arg(long, short = 'o', value_name = "DIR", default_value = "tgdl-demo")]
    pub output: PathBuf,
    /// Progress as JSON lines on stdout instead of bars, then a summary line.
    #[arg(long)]
    pub json: bool,
    /// The network the local server emulates: lan (as fast as the machine goes), wan
    /// (100 ms RTT, 8 MiB/s per connection) or mobile (300 ms RTT, 1 MiB/s per
    /// connection, dropped connections).
    #[arg(long, value_enum, value_name = "PROFILE", default_value = "lan")]
    pub wan: WanArg,
}

/// The network profiles of `tgdl demo --wan`.
#[cfg(feature = "demo")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WanArg {
    /// No added latency or limits.
    Lan,
    /// 100 ms RTT, 8 MiB/s per connection, 64 MiB/s per account.
    Wan,
    /// 300 ms RTT, 1 MiB/s per connection, 2% of connections dropped per minute.
    Mobile,
}

/// `tgdl login`.
#[derive(Debug, Clone, Args)]
#[command(group(ArgGroup::new("import").args(["from_desktop", "from_telethon", "from_pyrogram"])))]
pub struct LoginArgs {
    /// The phone number, in international format (asked for when left out).
    #[arg(long, value_name = "PHONE", conflicts_with_all = ["bot_token", "qr", "import"])]
    pub phone: Option<String>,
    /// Log in as a bot with its token from @BotFather. `-` reads it from stdin; without
    /// --phone or --qr it is also taken from $TGDL_BOT_TOKEN. Both keep the token out of the
    /// process list (`ps`), where a token on the command line is visible to every user of
    /// the machine.
    #[arg(long, value_name = "TOKEN", conflicts_with_all = ["qr", "import"])]
    pub bot_token: Option<Secret>,
    /// Log in by scanning a QR code with a logged-in Telegram app.
    #[arg(long, conflicts_with = "import")]
    pub qr: bool,
    /// Log in with Telegram Desktop's login: its `tdata` folder (or the folder holding it;
    /// default: where Desktop keeps it on this system). tgdl makes a login of its own with
    /// it, a new device; Desktop stays logged in and its key is not used again.
    #[arg(long, value_name = "PATH", num_args = 0..=1)]
    pub from_desktop: Option<Option<PathBuf>>,
    /// With --from-desktop, when Desktop has a local passcode: `-` reads it from stdin (one
    /// line) instead of asking at the terminal. Nothing else is accepted: a passcode on the
    /// command line is visible in `ps`.
    // clap takes `requires` as met by any member of the arg's group: the other sources are
    // refused by name.
    #[arg(long, value_name = "-", requires = "from_desktop", conflicts_with_all = ["from_telethon", "from_pyrogram"])]
    pub passcode: Option<Secret>,
    /// With --from-desktop, when the folder has several accounts: which one, by its number
    /// in the list tgdl prints or its user id.
    #[arg(long, value_name = "N|USER_ID", requires = "from_desktop", conflicts_with_all = ["from_telethon", "from_pyrogram"])]
    pub account: Option<u64>,
    /// Log in with a Telethon session: a .session file, a StringSession, or `-` to read
    /// the string from stdin (a string on the command line is visible in `ps`). tgdl makes
    /// a login of its own with it; the session keeps working.
    #[arg(long, value_name = "FILE|STRING|-")]
    pub from_telethon: Option<Secret>,
    /// Log in with a Pyrogram session: a .session file, a session string, or `-` to read
    /// the string from stdin. tgdl makes a login of its own with it; the session keeps
    /// working.
    #[arg(long, value_name = "FILE|STRING|-")]
    pub from_pyrogram: Option<Secret>,
    /// With --from-*: use the other app's auth key itself instead of making a login of
    /// tgdl's own. Two programs then share one key: Telegram may end both sessions
    /// (AUTH_KEY_DUPLICATED), and `tgdl logout` logs the other app out too.
    #[arg(long, requires = "import")]
    pub share_key: bool,
}

impl LoginArgs {
    /// Whether the login comes from another app's session (`--from-*`).
    pub fn imports(&self) -> bool {
        self.from_desktop.is_some() || self.from_telethon.is_some() || self.from_pyrogram.is_some()
    }

    /// What clap cannot check without printing the value: `--passcode` takes only `-`.
    ///
    /// # Errors
    /// A `--passcode` other than `-`.
    pub fn check(&self) -> Result<()> {
        if self
            .passcode
            .as_ref()
            .is_some_and(|given| given.expose() != STDIN_TOKEN)
        {
            // The value is not repeated: it may be the passcode itself.
            bail!(
                "--passcode takes only `-` (read the passcode from stdin); a passcode on the \
                 command line is visible to every user of the machine in `ps`"
            );
        }
        Ok(())
    }
}

/// The `--bot-token` that means "read it from stdin".
pub const STDIN_TOKEN: &str = "-";

/// A value that must not be seen: a token, or a proxy URL with a password or an MTProxy
/// secret. Its Debug form is redacted, so the argument structs can derive Debug.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    /// The value itself, for the code that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// `tgdl profiles`.
#[derive(Debug, Clone, Args)]
pub struct ProfilesArgs {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `tgdl chats`.
#[derive(Debug, Clone, Args)]
pub struct ChatsArgs {
    /// One JSON object per line instead of a table.
    #[arg(long)]
    pub json: bool,
    /// At most this many chats.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// `tgdl history`.
#[derive(Debug, Clone, Args)]
pub struct HistoryArgs {
    /// The chat: @username, a numeric id, a t.me link or an invite link.
    #[arg(allow_negative_numbers = true)]
    pub chat: String,
    /// At most this many messages.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Only messages sent at or after this date (YYYY-MM-DD, UTC, or RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = dates::date_arg)]
    pub from_date: Option<DateArg>,
    /// Only messages sent at or before this date (YYYY-MM-DD includes that whole day, UTC;
    /// or RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = dates::date_arg)]
    pub to_date: Option<DateArg>,
    /// List inside a takeout (export) session, which Telegram asks you to confirm in
    /// another app: its flood limits on long histories are looser.
    #[arg(long)]
    pub takeout: bool,
}

/// `tgdl search`.
#[derive(Debug, Clone, Args)]
pub struct SearchArgs {
    /// The words to look for (may be empty with --chat or --type).
    pub query: String,
    /// Search this chat only (@username, id, t.me link or invite link).
    #[arg(long, value_name = "CHAT", allow_negative_numbers = true)]
    pub chat: Option<String>,
    /// Only messages with this kind of media.
    #[arg(long = "type", value_enum, value_name = "TYPE")]
    pub media_type: Option<MediaFilterArg>,
    /// At most this many messages.
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

/// The media filters of `tgdl search --type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MediaFilterArg {
    /// Photos.
    Photo,
    /// Videos.
    Video,
    /// Photos and videos.
    PhotoVideo,
    /// Files that are not photos, videos, audio or GIFs.
    Document,
    /// Audio files (the same as `music`).
    Audio,
    /// Voice messages.
    Voice,
    /// GIFs.
    Gif,
    /// Music.
    Music,
    /// Messages with links.
    Url,
    /// Round video messages.
    Round,
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_and_intact_for_use() {
        let proxy = "socks5://ann:hunter2@proxy.example:1080";
        let token = "7001:AAHk9Zq2xWvR7sYtU3pLmN0bC4dE5fG6hI";
        let cli =
            Cli::try_parse_from(["tgdl", "--proxy", proxy, "login", "--bot-token", token]).unwrap();
        let debug = format!("{cli:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(!debug.contains("AAHk9Zq2"), "{debug}");
        assert!(debug.contains("redacted"), "{debug}");
        assert_eq!(cli.global.proxy.as_ref().map(Secret::expose), Some(proxy));
        let Command::Login(login) = &cli.command else {
            panic!("not a login: {debug}");
        };
        assert_eq!(login.bot_token.as_ref().map(Secret::expose), Some(token));
    }

    fn login(args: &[&str]) -> Result<LoginArgs, clap::Error> {
        let cli = Cli::try_parse_from(["tgdl", "login"].iter().chain(args))?;
        let Command::Login(login) = cli.command else {
            panic!("not a login");
        };
        Ok(login)
    }

    #[test]
    fn import_flags_take_one_source_and_their_options_need_it() {
        let desktop = login(&["--from-desktop"]).unwrap();
        assert_eq!(desktop.from_desktop, Some(None));
        assert!(desktop.imports());
        let given = login(&[
            "--from-desktop",
            "/t/tdata",
            "--passcode",
            "-",
            "--account",
            "1",
        ])
        .unwrap();
        assert_eq!(given.from_desktop, Some(Some(PathBuf::from("/t/tdata"))));
        assert_eq!(given.account, Some(1));
        given.check().unwrap();
        let shared = login(&["--from-telethon", "-", "--share-key"]).unwrap();
        assert!(shared.share_key && shared.imports());
        assert!(!login(&["--qr"]).unwrap().imports());

        for refused in [
            &["--from-telethon", "a", "--from-pyrogram", "b"][..],
            &["--from-desktop", "--qr"],
            &["--from-pyrogram", "s", "--phone", "+1555"],
            &["--from-telethon", "s", "--bot-token", "1:x"],
            &["--share-key"],
            &["--share-key", "--qr"],
            &["--passcode", "-"],
            &["--account", "1"],
            &["--from-telethon", "s", "--passcode", "-"],
            &["--from-pyrogram", "s", "--account", "1"],
        ] {
            assert!(login(refused).is_err(), "{refused:?} was accepted");
        }
    }

    #[test]
    fn a_passcode_on_the_command_line_is_refused_without_being_repeated() {
        let given = login(&["--from-desktop", "--passcode", "hunter2"]).unwrap();
        let error = given.check().unwrap_err().to_string();
        assert!(error.contains("only `-`"), "{error}");
        assert!(!error.contains("hunter2"), "{error}");
        assert!(!format!("{given:?}").contains("hunter2"));
    }
}
