//! A control port for a runner driving localdc from another process: a line-based protocol
//! over TCP on loopback. Each line is one command; each gets one line back, `ok` (sometimes
//! followed by a value) or `error <why>`. `<dcs>` is `all`, a DC id, or ids separated by
//! commas (`2,4`).
//!
//! ```text
//! ping                                  ok pong
//! stall <dcs> on|off                    Faults::set_stall
//! drop-mid-frame <dcs>                  Faults::drop_mid_frame_once
//! disconnect <dcs>                      Faults::disconnect_all (FIN)
//! reset <dcs>                           Faults::reset_all (RST)
//! rotate-salt <dcs>                     Faults::rotate_salt
//! storm <dcs> <n>                       Faults::bad_msg_storm
//! spurious-404 <dcs> <n>                 Faults::spurious_key_errors
//! skew <dcs> <seconds>                  Faults::set_clock_skew (negative: behind)
//! forget-keys <dcs>                     Faults::forget_keys
//! block <dcs> tcp|websocket|http|all none|refuse|blackhole    Faults::set_block
//! mtproxy down|up                       Faults::set_mtproxy_down on every DC
//! refuse <dcs> on|off                   Faults::set_refuse_connections
//! delay <dcs> <ms>                      Faults::set_response_delay
//! drop-after-bytes <dcs> <n>|off        Faults::set_drop_after_bytes
//! drop-after-messages <dcs> <n>|off     Faults::set_drop_after_messages
//! clear <dcs>                           every knob above back to off
//! status <dc>                           ok keys=N storm_left=N skew=S stalled=B
//! expire-refs [<media_id>]              World::rotate_file_references / rotate_file_reference
//! corrupt-cdn <media_id> <offset>       World::corrupt_cdn_chunk_once
//! cdn-missing <media_id> [on|off]       World::set_cdn_missing (default on)
//! flood <method> <max_calls> <per_seconds> [<user_id>]   adds a flood rule
//! flood clear                           removes every flood rule
//! drop-updates <dcs> next <n>           Faults::drop_next_updates (pushed world updates)
//! drop-updates <dcs> rate <fraction> [<seed>]   Faults::set_update_drop_rate (0.0..1.0)
//! drop-updates <dcs> off                both back to off
//! post <chat> [photo|document <size>] [<text>]        World::post: ok <message id>
//! edit <chat> <id> [photo|document <size>] [<text>]   World::edit (text and/or media)
//! delete <chat> <id>...                 World::delete: ok <messages deleted>
//! pts <chat>|user:<user_id>             ok <pts> of a channel's or an account's box
//! update-limits [<name> <value>]        World::set_update_limits, one field (channel_too_long,
//!                                       difference_slice, difference_too_long, keep,
//!                                       channel_timeout); ok <all five> without arguments
//! shutdown                              stops the server (state saved), answers ok first
//! ```

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::error::Error;
use crate::faults::{Block, Faults, TransportClass};
use crate::server::{DcHandle, RunningServer, ShutdownHandle};
use crate::world::World;
use crate::world::fixture::{EditSpec, FloodRule, NewMedia, PostSpec};
use crate::world::posting::{ChatRef, LiveError};

/// Longest command line accepted.
const MAX_LINE: u64 = 1024;
/// Control connections served at once.
const MAX_CLIENTS: usize = 16;

/// What the commands act on.
#[derive(Debug, Clone)]
pub struct Control {
    dcs: Vec<DcHandle>,
    world: Option<Arc<World>>,
    shutdown: ShutdownHandle,
}

impl Control {
    /// Commands on `server`'s DCs and, when given, `world`.
    pub fn new(server: &RunningServer, world: Option<Arc<World>>) -> Self {
        Self {
            dcs: server.dcs().to_vec(),
            world,
            shutdown: server.shutdown_handle(),
        }
    }

    /// Listens on loopback port `port` (0: any free port) and serves control connections
    /// from a task of its own, for the life of the runtime. Returns the address bound.
    pub async fn listen(self, port: u16) -> Result<SocketAddr, Error> {
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| Error::Bind {
                dc: 0,
                addr,
                source,
            })?;
        let bound = listener.local_addr().map_err(|source| Error::Bind {
            dc: 0,
            addr,
            source,
        })?;
        tracing::info!(addr = %bound, "control port listening");
        let control = Arc::new(self);
        tokio::spawn(accept_loop(control, listener));
        Ok(bound)
    }

    /// Runs one command line; the answer line (without the newline).
    pub fn execute(&self, line: &str) -> String {
        match self.run(line) {
            Ok(None) => "ok".to_owned(),
            Ok(Some(value)) => format!("ok {value}"),
            Err(error) => format!("error {error}"),
        }
    }

    fn run(&self, line: &str) -> Result<Option<String>, String> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&command, args)) = words.split_first() else {
            return Err("empty command".into());
        };
        if matches!(command, "post" | "edit" | "delete") {
            let rest = line
                .trim_start()
                .split_once(char::is_whitespace)
                .map_or("", |(_, rest)| rest);
            return self.change(command, rest);
        }
        let arg = |i: usize| {
            args.get(i)
                .copied()
                .ok_or_else(|| format!("{command}: missing argument {}", i + 1))
        };
        if args.len() > 5 {
            return Err(format!("{command}: too many arguments"));
        }
        match command {
            "ping" => return Ok(Some("pong".into())),
            "stall" => {
                let on = on_off(arg(1)?)?;
                self.each(arg(0)?, |f| f.set_stall(on))?;
            }
            "drop-mid-frame" => self.each(arg(0)?, Faults::drop_mid_frame_once)?,
            "disconnect" => self.each(arg(0)?, Faults::disconnect_all)?,
            "reset" => self.each(arg(0)?, Faults::reset_all)?,
            "rotate-salt" => self.each(arg(0)?, Faults::rotate_salt)?,
            "storm" => {
                let n = number::<u64>(arg(1)?)?;
                self.each(arg(0)?, |f| f.bad_msg_storm(n))?;
            }
            "spurious-404" => {
                let n = number::<u64>(arg(1)?)?;
                self.each(arg(0)?, |f| f.spurious_key_errors(n))?;
            }
            "skew" => {
                let secs = number::<i64>(arg(1)?)?;
                if secs.unsigned_abs() > 10 * 365 * 86_400 {
                    return Err("skew: at most ten years".into());
                }
                self.each(arg(0)?, |f| f.set_clock_skew(secs))?;
            }
            "forget-keys" => self.each(arg(0)?, Faults::forget_keys)?,
            "block" => {
                let classes = match arg(1)? {
                    "all" => TransportClass::ALL.to_vec(),
                    class => vec![class.parse::<TransportClass>()?],
                };
                let block = arg(2)?.parse::<Block>()?;
                self.each(arg(0)?, |f| {
                    for class in &classes {
                        f.set_block(*class, block);
                    }
                })?;
            }
            "mtproxy" => {
                let down = match arg(0)? {
                    "down" => true,
                    "up" => false,
                    other => return Err(format!("mtproxy: {other:?} is not down or up")),
                };
                self.each("all", |f| f.set_mtproxy_down(down))?;
            }
            "refuse" => {
                let on = on_off(arg(1)?)?;
                self.each(arg(0)?, |f| f.set_refuse_connections(on))?;
            }
            "delay" => {
                let ms = number::<u64>(arg(1)?)?;
                self.each(arg(0)?, |f| f.set_response_delay(Duration::from_millis(ms)))?;
            }
            "drop-after-bytes" => {
                let n = optional_number(arg(1)?)?;
                self.each(arg(0)?, |f| f.set_drop_after_bytes(n))?;
            }
            "drop-after-messages" => {
                let n = optional_number(arg(1)?)?;
                self.each(arg(0)?, |f| f.set_drop_after_messages(n))?;
            }
            "clear" => self.each(arg(0)?, clear)?,
            "status" => {
                let id = number::<i32>(arg(0)?)?;
                let dc = self
                    .dcs
                    .iter()
                    .find(|dc| dc.id() == id)
                    .ok_or_else(|| format!("no DC {id}"))?;
                let f = dc.faults();
                return Ok(Some(format!(
                    "keys={} storm_left={} skew={} stalled={}",
                    dc.keys().len(),
                    f.storm_left(),
                    f.clock_skew(),
                    f.stalled()
                )));
            }
            "expire-refs" => {
                let world = self.world()?;
                match args.first() {
                    Some(media) => world.rotate_file_reference(number(media)?),
                    None => world.rotate_file_references(),
                }
            }
            "corrupt-cdn" => {
                let world = self.world()?;
                world.corrupt_cdn_chunk_once(number(arg(0)?)?, number(arg(1)?)?);
            }
            "cdn-missing" => {
                let world = self.world()?;
                let missing = match args.get(1) {
                    Some(value) => on_off(value)?,
                    None => true,
                };
                world.set_cdn_missing(number(arg(0)?)?, missing);
            }
            "flood" => {
                let world = self.world()?;
                if arg(0)? == "clear" {
                    world.flood().set_rules(Vec::new());
                } else {
                    let mut rules = world.flood().rules();
                    rules.push(FloodRule {
                        method: arg(0)?.to_owned(),
                        max_calls: number(arg(1)?)?,
                        per_seconds: number(arg(2)?)?,
                        user_id: args.get(3).map(|user| number(user)).transpose()?,
                    });
                    world.flood().set_rules(rules);
                }
            }
            "drop-updates" => {
                let seed = args.get(3).map(|s| number::<u64>(s)).transpose()?;
                let (next, rate) = match arg(1)? {
                    "next" => (Some(number::<u64>(arg(2)?)?), None),
                    "rate" => {
                        let rate = number::<f64>(arg(2)?)?;
                        if !(0.0..=1.0).contains(&rate) {
                            return Err("drop-updates: a rate is from 0 to 1".into());
                        }
                        (None, Some(rate))
                    }
                    "off" => (Some(0), Some(0.0)),
                    other => {
                        return Err(format!("drop-updates: {other:?} is not next, rate or off"));
                    }
                };
                self.each(arg(0)?, |f| {
                    if let Some(n) = next {
                        f.drop_next_updates(n);
                    }
                    if let Some(seed) = seed {
                        f.set_update_drop_seed(seed);
                    }
                    if let Some(rate) = rate {
                        f.set_update_drop_rate(rate);
                    }
                })?;
            }
            "pts" => {
                let world = self.world()?;
                let target = arg(0)?;
                let pts = match target.strip_prefix("user:") {
                    Some(user) => world.user_pts(number(user)?),
                    None => world.channel_pts(number(target)?),
                };
                return pts
                    .map(|pts| Some(pts.to_string()))
                    .ok_or_else(|| format!("no update box for {target}"));
            }
            "update-limits" => {
                let world = self.world()?;
                let mut limits = world.update_limits();
                if let Some(name) = args.first() {
                    let value = arg(1)?;
                    match *name {
                        "channel_too_long" => limits.channel_too_long = number(value)?,
                        "difference_slice" => limits.difference_slice = number(value)?,
                        "difference_too_long" => limits.difference_too_long = number(value)?,
                        "keep" => limits.keep = number(value)?,
                        "channel_timeout" => limits.channel_timeout = number(value)?,
                        other => return Err(format!("update-limits: no limit {other:?}")),
                    }
                    world.set_update_limits(limits.clone());
                }
                return Ok(Some(format!(
                    "channel_too_long={} difference_slice={} difference_too_long={} keep={} \
                     channel_timeout={}",
                    limits.channel_too_long,
                    limits.difference_slice,
                    limits.difference_too_long,
                    limits.keep,
                    limits.channel_timeout
                )));
            }
            "shutdown" => self.shutdown.shutdown(),
            other => return Err(format!("unknown command {other:?}")),
        }
        Ok(None)
    }

    /// Applies `change` to the faults of every DC `selector` names.
    fn each(&self, selector: &str, change: impl Fn(&Faults)) -> Result<(), String> {
        let chosen: Vec<&DcHandle> = if selector == "all" {
            self.dcs.iter().collect()
        } else {
            let mut chosen = Vec::new();
            for id in selector.split(',') {
                let id = number::<i32>(id)?;
                let dc = self
                    .dcs
                    .iter()
                    .find(|dc| dc.id() == id)
                    .ok_or_else(|| format!("no DC {id}"))?;
                chosen.push(dc);
            }
            chosen
        };
        for dc in chosen {
            change(dc.faults());
        }
        Ok(())
    }

    /// `post`, `edit` and `delete`: `rest` is the line after the command.
    fn change(&self, command: &str, rest: &str) -> Result<Option<String>, String> {
        let world = self.world()?;
        let (chat, rest) = next_word(rest).ok_or_else(|| format!("{command}: missing chat"))?;
        let chat = chat_ref(chat)?;
        let refused = |e: LiveError| format!("{command}: {e}");
        match command {
            "post" => {
                let (media, text) = media_and_text(rest)?;
                let post = PostSpec {
                    text,
                    media,
                    ..PostSpec::default()
                };
                let id = world.post(chat, &post).map_err(refused)?;
                Ok(Some(id.to_string()))
            }
            "edit" => {
                let (id, rest) = next_word(rest).ok_or("edit: missing message id")?;
                let (media, text) = media_and_text(rest)?;
                if media.is_none() && text.is_empty() {
                    return Err("edit: give new text, new media or both".into());
                }
                let edit = EditSpec {
                    id: number(id)?,
                    text: (!text.is_empty()).then_some(text),
                    media,
                };
                world.edit(chat, &edit).map_err(refused)?;
                Ok(None)
            }
            _ => {
                let ids = rest
                    .split_whitespace()
                    .map(number::<i32>)
                    .collect::<Result<Vec<_>, _>>()?;
                if ids.is_empty() {
                    return Err("delete: missing message ids".into());
                }
                let deleted = world.delete(chat, &ids).map_err(refused)?;
                Ok(Some(deleted.to_string()))
            }
        }
    }

    fn world(&self) -> Result<&World, String> {
        self.world
            .as_deref()
            .ok_or_else(|| "no world is served (start with --fixture)".to_owned())
    }
}

/// Every chaos knob of a DC back to off.
fn clear(faults: &Faults) {
    faults.set_stall(false);
    faults.bad_msg_storm(0);
    faults.spurious_key_errors(0);
    faults.set_clock_skew(0);
    for class in TransportClass::ALL {
        faults.set_block(class, Block::None);
    }
    faults.set_mtproxy_down(false);
    faults.set_refuse_connections(false);
    faults.set_response_delay(Duration::ZERO);
    faults.set_drop_after_bytes(None);
    faults.set_drop_after_messages(None);
    faults.drop_next_updates(0);
    faults.set_update_drop_rate(0.0);
}

/// The first word of `text` and what follows it.
fn next_word(text: &str) -> Option<(&str, &str)> {
    let text = text.trim_start();
    (!text.is_empty()).then(|| text.split_once(char::is_whitespace).unwrap_or((text, "")))
}

/// A chat id, or `user:peer` for a private chat.
fn chat_ref(word: &str) -> Result<ChatRef, String> {
    match word.split_once(':') {
        Some((user, peer)) => Ok(ChatRef::Private {
            user: number(user)?,
            peer: number(peer)?,
        }),
        None => Ok(ChatRef::Chat(number(word)?)),
    }
}

/// An optional `photo <size>` or `document <size>`, then the text (the rest).
fn media_and_text(rest: &str) -> Result<(Option<NewMedia>, String), String> {
    let Some((first, after)) = next_word(rest) else {
        return Ok((None, String::new()));
    };
    let kind = match first {
        "photo" | "document" => first,
        _ => return Ok((None, rest.trim().to_owned())),
    };
    let (size, text) = next_word(after).ok_or_else(|| format!("{kind}: missing size"))?;
    let size = number::<u64>(size)?;
    let media = if kind == "photo" {
        NewMedia::Photo { size, dc: None }
    } else {
        NewMedia::Document {
            size,
            file_name: None,
            mime_type: None,
            dc: None,
        }
    };
    Ok((Some(media), text.trim().to_owned()))
}

fn on_off(word: &str) -> Result<bool, String> {
    match word {
        "on" | "true" | "1" => Ok(true),
        "off" | "false" | "0" => Ok(false),
        other => Err(format!("{other:?} is not on or off")),
    }
}

fn number<T: std::str::FromStr>(word: &str) -> Result<T, String> {
    word.parse()
        .map_err(|_| format!("{word:?} is not a number in range"))
}

fn optional_number(word: &str) -> Result<Option<u64>, String> {
    match word {
        "off" | "none" => Ok(None),
        word => number(word).map(Some),
    }
}

async fn accept_loop(control: Arc<Control>, listener: TcpListener) {
    let slots = Arc::new(Semaphore::new(MAX_CLIENTS));
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tracing::warn!(%peer, "control port: too many clients");
            continue;
        };
        let control = Arc::clone(&control);
        tokio::spawn(async move {
            if let Err(error) = serve(&control, stream).await {
                tracing::debug!(%peer, %error, "control connection ended");
            }
            drop(slot);
        });
    }
}

async fn serve(control: &Control, stream: TcpStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut line)
            .await?;
        if read == 0 {
            return Ok(());
        }
        if line.last() != Some(&b'\n') && read as u64 >= MAX_LINE {
            write.write_all(b"error line too long\n").await?;
            return Ok(());
        }
        let answer = match std::str::from_utf8(&line) {
            Ok(text) if text.trim().is_empty() => continue,
            Ok(text) => {
                tracing::info!(command = text.trim(), "control");
                control.execute(text)
            }
            Err(_) => "error not UTF-8".to_owned(),
        };
        write.write_all(answer.as_bytes()).await?;
        write.write_all(b"\n").await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_parse() {
        assert_eq!(on_off("on"), Ok(true));
        assert!(on_off("maybe").is_err());
        assert_eq!(optional_number("off"), Ok(None));
        assert_eq!(optional_number("12"), Ok(Some(12)));
        assert!(number::<i32>("99999999999").is_err());
        assert_eq!(chat_ref("501"), Ok(ChatRef::Chat(501)));
        assert_eq!(
            chat_ref("1001:2001"),
            Ok(ChatRef::Private {
                user: 1001,
                peer: 2001
            })
        );
        let (media, text) = media_and_text(" photo 5000 two  words ").unwrap();
        assert_eq!(
            media,
            Some(NewMedia::Photo {
                size: 5000,
                dc: None
            })
        );
        assert_eq!(text, "two  words");
        assert_eq!(
            media_and_text("just text").unwrap(),
            (None, "just text".into())
        );
        assert!(media_and_text("document").is_err());
    }
}
