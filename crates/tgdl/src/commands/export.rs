//! `tgdl export CHAT -o DIR [--media]`: the chat's history as Telegram Desktop's
//! `result.json` (the shape of Desktop's "Export chat history" in JSON), with the media in
//! Desktop's folders through the download engine (verified, resumable) with `--media`.
//!
//! A rerun reads the `result.json` already there, keeps it as it is and appends the
//! messages newer than its newest; the file is replaced atomically (temp file + rename),
//! so a killed run leaves the previous export intact and the next run downloads (or
//! resumes) the same files under the same names.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use tgclient::download::{DownloadJob, DownloadOptions, FileOutcome};
use tgclient::media::MediaFile;
use tgclient::{Client, PeerInfo, PeerKind};
use tl_types::api::enums;

use super::download::{Planned, execute, leasing, run_name};
use super::{require_login, resolve_chat};
use crate::cli::{DEFAULT_CONNECTIONS, DEFAULT_PARTS_IN_FLIGHT, ExportArgs};
use crate::desktop_export::json::{Json, to_desktop_text};
use crate::desktop_export::media::{DesktopMedia, NOT_INCLUDED, Namer, TOO_LARGE, UNAVAILABLE};
use crate::desktop_export::message::{FileField, Peers, mentioned_peers, message_entry};
use crate::desktop_export::model::{Export, ExportKind, PeerCandidates, marked_id};
use crate::desktop_export::{reader, source};
use crate::destination::Opened;
use crate::filters::Filters;
use crate::manifest::Manifest;
use crate::storage::retrying;
use crate::{dates, errors, output};

/// The file Desktop writes, in the export directory.
pub const RESULT_FILE: &str = "result.json";

/// Runs `tgdl export`.
pub async fn run(client: &Client, args: &ExportArgs) -> Result<()> {
    let me = require_login(client)?;
    let filters = args.filters.filters();
    let output = args.output.open().await?;
    let dir = output.root();
    let result_path = match &output {
        Opened::Local(dir) => dir.join(RESULT_FILE),
        Opened::Object(target) => PathBuf::from(format!("{}/{RESULT_FILE}", target.url())),
    };
    // An export already there is read whole first: a damaged one stops the run untouched.
    let existing = Existing::find(&output, &result_path).await?;
    let peer = resolve_chat(client, &args.chat).await?;
    let (kind, bare) = peer_key(&peer, me.id)?;
    if let Some(existing) = &existing {
        existing.check_chat(kind, bare)?;
    }
    let newest_kept = existing.as_ref().map_or(0, |e| e.max_id);
    let messages = list_newer(client, &peer, &filters, newest_kept).await?;
    // Files an earlier run could not download ("try again later") are tried again.
    let retried = match &existing {
        Some(existing) if args.media => {
            source::fetch_by_id(client, &peer, &existing.unavailable_ids()).await?
        }
        _ => Vec::new(),
    };
    if messages.is_empty() && retried.is_empty() && existing.is_some() {
        output::note(format_args!("{}: no new messages", result_path.display()));
        return Ok(());
    }

    let mut wanted: Vec<(PeerKind, i64)> = messages.iter().flat_map(mentioned_peers).collect();
    wanted.push((kind, bare));
    let mut seen = HashSet::new();
    wanted.retain(|key| seen.insert(*key));
    let peers = client
        .peer_info(&wanted)
        .await
        .map_err(errors::client_error)?;

    let taken = existing
        .as_ref()
        .map(Existing::file_paths)
        .unwrap_or_default();
    let mut files = FilePlan::new(&dir, &peer, Namer::new(taken), &output);
    let fields: Vec<Option<FileField>> = messages
        .iter()
        .map(|message| files.field(message, args.media, &filters))
        .collect();
    let retried_fields: Vec<Option<FileField>> = retried
        .iter()
        .map(|message| files.field(message, true, &filters))
        .collect();
    let failed = files.download(client, args, &output).await?;
    let fields = mark_failed(fields, &failed);
    let retried_fields = mark_failed(retried_fields, &failed);

    let entries: Vec<Json> = messages
        .iter()
        .zip(&fields)
        .filter_map(|(message, file)| message_entry(message, &peers, file.as_ref()))
        .collect();
    let added = entries.len();
    let mut recovered = 0usize;
    let root = match existing {
        Some(mut existing) => {
            for (message, field) in retried.iter().zip(retried_fields) {
                if let Some(path) = field.filter(|f| !f.starts_with('(')) {
                    existing.set_unavailable_file(message_id(message), path);
                    recovered += 1;
                }
            }
            existing.with_more(entries)?
        }
        None => new_root(kind, bare, me.id, &peers, entries),
    };
    match &output {
        Opened::Local(_) => write_atomically(&result_path, &root)?,
        // One PUT: the object appears whole or not at all, after the media.
        Opened::Object(target) => {
            let text = to_desktop_text(&root).context("cannot lay out result.json")?;
            let text = String::from_utf8(text).context("result.json is not UTF-8")?;
            retrying("writing result.json", || {
                target.put_text(RESULT_FILE, &text)
            })
            .await
            .with_context(|| format!("cannot write {}", result_path.display()))?;
        }
    }
    output::note(format_args!(
        "{}: {added} messages added{}{}",
        result_path.display(),
        if newest_kept > 0 {
            " to the existing export"
        } else {
            ""
        },
        if recovered > 0 {
            format!(", {recovered} files an earlier run could not download are there now")
        } else {
            String::new()
        }
    ));
    if !failed.is_empty() {
        bail!(
            "{} files could not be downloaded; result.json says \"{UNAVAILABLE}\" for them",
            failed.len()
        );
    }
    Ok(())
}

/// The kind and bare id of a resolved chat.
fn peer_key(peer: &enums::InputPeer, self_id: i64) -> Result<(PeerKind, i64)> {
    Ok(match peer {
        enums::InputPeer::User(u) => (PeerKind::User, u.user_id),
        enums::InputPeer::Chat(c) => (PeerKind::Chat, c.chat_id),
        enums::InputPeer::Channel(c) => (PeerKind::Channel, c.channel_id),
        enums::InputPeer::InputPeerSelf => (PeerKind::User, self_id),
        _ => bail!("this kind of chat cannot be exported"),
    })
}

/// The chat's messages newer than `after` that the date and id filters allow, oldest
/// first (Desktop's order).
async fn list_newer(
    client: &Client,
    peer: &enums::InputPeer,
    filters: &Filters,
    after: i32,
) -> Result<Vec<enums::Message>> {
    let mut history = client.history(peer.clone());
    let min_id = filters.min_id.unwrap_or(0).max(after.saturating_add(1));
    if min_id > 0 {
        history = history.min_id(min_id);
    }
    if let Some(max) = filters.max_id {
        history = history.max_id(max);
    }
    if let Some(min) = filters.min_date {
        history = history.min_date(dates::to_api_date(min));
    }
    if let Some(max) = filters.max_date {
        history = history.max_date(dates::to_api_date(max));
    }
    let mut messages = Vec::new();
    while let Some(message) = history.next().await.map_err(errors::client_error)? {
        if message_id(&message) > after {
            messages.push(message);
        }
    }
    messages.reverse();
    Ok(messages)
}

fn message_id(message: &enums::Message) -> i32 {
    match message {
        enums::Message::Message(m) => m.id,
        enums::Message::Service(m) => m.id,
        enums::Message::Empty(m) => m.id,
    }
}

/// The files of one run: named the Desktop way, downloaded by the engine.
struct FilePlan<'a> {
    dir: &'a Path,
    /// With object storage: its URL, which keys the engine's records of the files.
    object_url: Option<String>,
    peer: &'a enums::InputPeer,
    namer: Namer,
    planned: Vec<Planned>,
}

impl<'a> FilePlan<'a> {
    fn new(dir: &'a Path, peer: &'a enums::InputPeer, namer: Namer, output: &Opened) -> Self {
        Self {
            dir,
            object_url: output.target().map(|t| t.url().to_string()),
            peer,
            namer,
            planned: Vec::new(),
        }
    }

    /// What `message`'s file field says: a path (its file planned), or why it is left
    /// out. `None` for a message without a file.
    fn field(
        &mut self,
        message: &enums::Message,
        media: bool,
        filters: &Filters,
    ) -> Option<FileField> {
        let enums::Message::Message(m) = message else {
            return None;
        };
        let desktop = DesktopMedia::of(m.media.as_ref()?)?;
        let Some(file) = MediaFile::from_message(message) else {
            return Some(NOT_INCLUDED.to_owned());
        };
        if !media || !filters.accepts(message, &file) {
            let too_large = filters.max_size.is_some_and(|max| file.size > max);
            return Some(if too_large { TOO_LARGE } else { NOT_INCLUDED }.to_owned());
        }
        let relative = self.namer.name(&desktop, i64::from(m.date));
        let mut job =
            DownloadJob::from_message(file, self.dir.join(&relative), self.peer.clone(), m.id);
        if let Some(url) = &self.object_url {
            job.key = format!("{url}/{}", job.key);
        }
        self.planned.push(Planned {
            job,
            chat_id: output::marked_id(&m.peer_id),
            msg_id: m.id,
            shown: relative.clone(),
        });
        Some(relative)
    }

    /// Downloads the planned files; the paths of those that failed.
    async fn download(
        &self,
        client: &Client,
        args: &ExportArgs,
        output: &Opened,
    ) -> Result<HashSet<String>> {
        if self.planned.is_empty() {
            return Ok(HashSet::new());
        }
        let manifest = output.manifest(args.manifest.as_deref(), &run_name());
        let leasing = leasing(output, client)?;
        let options = DownloadOptions {
            output: output.engine_output(),
            parts_in_flight: DEFAULT_PARTS_IN_FLIGHT,
            connections_per_dc: DEFAULT_CONNECTIONS,
            verify_server_hashes: !args.no_server_hashes,
            ..DownloadOptions::default()
        };
        let executed = execute(
            client,
            &self.planned,
            options,
            args.json,
            &mut Manifest::open(&manifest)?,
            leasing.as_ref(),
        )
        .await?;
        executed.summary.print(executed.elapsed, &manifest);
        if let Some(error) = executed.progress_failure {
            return Err(output::stdout_error(error));
        }
        Ok(self
            .planned
            .iter()
            .zip(&executed.outcomes)
            .filter(|(_, outcome)| {
                !matches!(
                    outcome,
                    FileOutcome::Done { .. } | FileOutcome::AlreadyDone { .. }
                )
            })
            .map(|(planned, _)| planned.shown.clone())
            .collect())
    }
}

/// The fields with Desktop's "unavailable" text where the download failed.
fn mark_failed(fields: Vec<Option<FileField>>, failed: &HashSet<String>) -> Vec<Option<FileField>> {
    fields
        .into_iter()
        .map(|field| match field {
            Some(path) if failed.contains(&path) => Some(UNAVAILABLE.to_owned()),
            other => other,
        })
        .collect()
}

/// The `result.json` already in the export directory.
struct Existing {
    path: PathBuf,
    root: Json,
    export: Export,
    /// The newest message id it has (service messages included).
    max_id: i32,
}

impl Existing {
    /// The export at `path` in `output`, if there is one.
    async fn find(output: &Opened, path: &Path) -> Result<Option<Self>> {
        match output {
            Opened::Local(_) if path.exists() => {
                let (root, export) = reader::read_keeping_text(path)?;
                Self::of(path, root, export).map(Some)
            }
            Opened::Local(_) => Ok(None),
            Opened::Object(target) => {
                if retrying("looking for result.json", || target.stat(RESULT_FILE))
                    .await?
                    .is_none()
                {
                    return Ok(None);
                }
                let bytes = retrying("reading result.json", || target.read(RESULT_FILE)).await?;
                let (root, export) = reader::bytes_keeping_text(&bytes, path)?;
                Self::of(path, root, export).map(Some)
            }
        }
    }

    fn of(path: &Path, root: Json, export: Export) -> Result<Self> {
        if export.kind != ExportKind::DesktopChat {
            bail!(
                "{} is a {}, not a single chat's export: choose another directory",
                path.display(),
                export.kind.describe()
            );
        }
        let max_id = messages_of(&root)
            .iter()
            .filter_map(|m| m.get("id").and_then(Json::as_i64))
            .filter_map(|id| i32::try_from(id).ok())
            .max()
            .unwrap_or(0);
        Ok(Self {
            path: path.to_owned(),
            root,
            export,
            max_id,
        })
    }

    /// Fails unless the export is of the chat `kind`/`bare`.
    fn check_chat(&self, kind: PeerKind, bare: i64) -> Result<()> {
        let chat = self
            .export
            .chats
            .first()
            .ok_or_else(|| anyhow!("{} has no chat", self.path.display()))?;
        let same = match chat.candidates() {
            PeerCandidates::Known(k, b) => (k, b) == (kind, bare),
            PeerCandidates::Guess(id) => id == bare || id == marked_id(kind, bare),
        };
        if !same {
            bail!(
                "{} is an export of another chat ({}): choose another directory",
                self.path.display(),
                chat.describe()
            );
        }
        Ok(())
    }

    /// The files its messages name (so that new files get other names).
    fn file_paths(&self) -> Vec<String> {
        messages_of(&self.root)
            .iter()
            .flat_map(|m| ["photo", "file", "thumbnail"].map(|key| m.get(key)))
            .flatten()
            .filter_map(Json::as_str)
            .filter(|path| !path.starts_with('('))
            .map(str::to_owned)
            .collect()
    }

    /// The messages whose file an earlier run could not download.
    fn unavailable_ids(&self) -> Vec<i32> {
        messages_of(&self.root)
            .iter()
            .filter(|m| {
                ["photo", "file"]
                    .iter()
                    .any(|key| m.get(key).and_then(Json::as_str) == Some(UNAVAILABLE))
            })
            .filter_map(|m| m.get("id").and_then(Json::as_i64))
            .filter_map(|id| i32::try_from(id).ok())
            .collect()
    }

    /// Puts `path` in the file field of message `id` that says the file was unavailable.
    fn set_unavailable_file(&mut self, id: i32, path: String) {
        let Json::Object(fields) = &mut self.root else {
            return;
        };
        let Some((_, Json::Array(messages))) = fields.iter_mut().find(|(key, _)| key == "messages")
        else {
            return;
        };
        let message = messages
            .iter_mut()
            .find(|m| m.get("id").and_then(Json::as_i64) == Some(i64::from(id)));
        if let Some(Json::Object(entry)) = message
            && let Some((_, value)) = entry.iter_mut().find(|(key, value)| {
                (key == "photo" || key == "file") && value.as_str() == Some(UNAVAILABLE)
            })
        {
            *value = Json::String(path);
        }
    }

    /// The export with `entries` appended to its messages, the rest as it was.
    fn with_more(self, entries: Vec<Json>) -> Result<Json> {
        let Json::Object(mut fields) = self.root else {
            bail!("{} is not an object", self.path.display());
        };
        let messages = fields
            .iter_mut()
            .find(|(key, _)| key == "messages")
            .map(|(_, value)| value);
        match messages {
            Some(Json::Array(items)) => items.extend(entries),
            _ => bail!("{} has no message list", self.path.display()),
        }
        Ok(Json::Object(fields))
    }
}

fn messages_of(root: &Json) -> &[Json] {
    match root.get("messages") {
        Some(Json::Array(items)) => items,
        _ => &[],
    }
}

/// A new single-chat export: `name`, `type`, `id`, `messages`, as Desktop starts one.
fn new_root(kind: PeerKind, bare: i64, self_id: i64, peers: &Peers, messages: Vec<Json>) -> Json {
    let info = peers.get(&(kind, bare));
    let chat_type = chat_type(kind, bare, self_id, info);
    let mut fields = Vec::new();
    // Desktop writes no name for saved messages.
    if chat_type != Some("saved_messages") {
        let name = info
            .map(|i| i.name.as_str())
            .filter(|n| !n.is_empty())
            .map_or(Json::Null, Json::from);
        fields.push(("name".to_owned(), name));
    }
    fields.push(("type".to_owned(), chat_type.map_or(Json::Null, Json::from)));
    fields.push(("id".to_owned(), Json::from(bare)));
    fields.push(("messages".to_owned(), Json::Array(messages)));
    Json::Object(fields)
}

/// Desktop's chat type.
fn chat_type(
    kind: PeerKind,
    bare: i64,
    self_id: i64,
    info: Option<&PeerInfo>,
) -> Option<&'static str> {
    Some(match kind {
        PeerKind::User if bare == self_id => "saved_messages",
        PeerKind::User if info?.bot => "bot_chat",
        PeerKind::User => "personal_chat",
        PeerKind::Chat => "private_group",
        PeerKind::Channel => match (info?.broadcast, info?.public) {
            (true, true) => "public_channel",
            (true, false) => "private_channel",
            (false, true) => "public_supergroup",
            (false, false) => "private_supergroup",
        },
    })
}

/// Writes `root` to `path` through a temporary file in the same directory, synced, then
/// renamed over it: readers see the old export or the new one, never half of one.
fn write_atomically(path: &Path, root: &Json) -> Result<()> {
    let text = to_desktop_text(root).context("cannot lay out result.json")?;
    let temp = path.with_file_name(format!(".{RESULT_FILE}.tmp-{}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(error).with_context(|| format!("cannot write {}", path.display()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn chat_types_follow_desktop() {
        let channel = PeerInfo {
            broadcast: true,
            public: true,
            ..PeerInfo::default()
        };
        let group = PeerInfo::default();
        let bot = PeerInfo {
            bot: true,
            ..PeerInfo::default()
        };
        assert_eq!(
            chat_type(PeerKind::Channel, 1, 9, Some(&channel)),
            Some("public_channel")
        );
        assert_eq!(
            chat_type(PeerKind::Channel, 1, 9, Some(&group)),
            Some("private_supergroup")
        );
        assert_eq!(
            chat_type(PeerKind::User, 9, 9, None),
            Some("saved_messages")
        );
        assert_eq!(
            chat_type(PeerKind::User, 3, 9, Some(&bot)),
            Some("bot_chat")
        );
        assert_eq!(chat_type(PeerKind::Chat, 3, 9, None), Some("private_group"));
        assert_eq!(chat_type(PeerKind::Channel, 3, 9, None), None);
    }

    #[test]
    fn a_new_export_starts_like_desktop_and_saved_messages_have_no_name() {
        let root = new_root(PeerKind::User, 9, 9, &Peers::new(), Vec::new());
        let text = String::from_utf8(to_desktop_text(&root).unwrap()).unwrap();
        assert_eq!(
            text,
            "{\n \"type\": \"saved_messages\",\n \"id\": 9,\n \"messages\": []\n}\n"
        );
    }
}
