//! Deterministic fixture generator for large worlds (`localdc gen-fixture`): the same
//! options and seed always give the same fixture, byte for byte.
//!
//! The world has three phone accounts (`15550001` code `11111` on DC 2; `15550002` code
//! `22222` with 2FA password `secret` on DC 4; `15550003` code `33333` on DC 1), one bot
//! (token `1000:localdc-bot` on DC 2) and twenty more users who write messages. Chats
//! cycle channel / supergroup / basic group; even-numbered chats are public
//! (`chatN`), odd ones private (invite hash `inviteN`). Every account is a member of
//! every chat. About 1% of messages contain the word `needle`, a third carry media
//! (photos, albums, videos, documents, music, voice, round videos, stickers, GIFs) whose
//! sizes are log-uniform and add up to about `media_bytes`; the first document is the
//! largest file, a quarter of `media_bytes` (at most 4 GiB). Each account also has
//! private chats with two writers (the first account with the bot too), a few text
//! messages each (never the needle), numbered in the account's own message box after
//! the basic groups' ids.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use super::fixture::{
    AccountSpec, AttributeSpec, BotSpec, ChatKind, ChatSpec, DocumentSpec, Fixture, FwdSpec,
    MediaSpec, MessageSpec, PhotoSpec, PrivateChatSpec, SizeSpec, UserSpec,
};

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenOptions {
    /// Messages in all, spread over the chats.
    pub messages: usize,
    pub chats: usize,
    /// About how many media bytes in all.
    pub media_bytes: u64,
    pub seed: u64,
    /// Media are spread over DCs `1..=dcs`.
    pub dcs: i32,
}

impl Default for GenOptions {
    fn default() -> Self {
        Self {
            messages: 1000,
            chats: 5,
            media_bytes: 64 << 20,
            seed: 1,
            dcs: 5,
        }
    }
}

/// The largest generated file.
const MAX_FILE: u64 = 4 << 30;
const MIN_FILE: u64 = 1024;
/// The first message's date (2020-09-13).
const EPOCH: i32 = 1_600_000_000;
/// The account users of generated worlds.
pub const ACCOUNTS: [(&str, i64, &str, i32); 3] = [
    ("15550001", 101, "11111", 2),
    ("15550002", 102, "22222", 4),
    ("15550003", 103, "33333", 1),
];
/// The creator of every generated chat (the first account).
const CREATOR: i64 = 101;
/// The 2FA password of the second account.
pub const PASSWORD: &str = "secret";
/// The generated bot's token.
pub const BOT_TOKEN: &str = "1000:localdc-bot";
/// The word planted in about 1% of the messages.
pub const NEEDLE: &str = "needle";

const WORDS: [&str; 24] = [
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet",
    "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo", "sierra", "tango",
    "uniform", "victor", "whiskey", "yankee",
];

/// Parses a size: `4096`, `64K`, `10M`, `4G`, `1GiB`, `512kb`...
pub fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits);
    let number: u64 = number.parse().ok()?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        _ => return None,
    };
    number.checked_mul(1u64 << shift)
}

/// Builds the fixture.
pub fn generate(options: &GenOptions) -> Fixture {
    let mut rng = StdRng::seed_from_u64(options.seed);
    let dcs = options.dcs.max(1);
    let mut fixture = Fixture {
        seed: options.seed,
        ..Fixture::default()
    };
    for (phone, id, code, home_dc) in ACCOUNTS {
        fixture.users.push(UserSpec {
            id,
            first_name: format!("User{id}"),
            last_name: Some("Account".into()),
            username: Some(format!("user{id}")),
            phone: Some(phone.into()),
            ..UserSpec::default()
        });
        fixture.accounts.push(AccountSpec {
            phone: phone.into(),
            user_id: id,
            code: code.into(),
            home_dc,
            password: (id == 102).then(|| PASSWORD.into()),
            hint: (id == 102).then(|| "the usual".into()),
        });
    }
    fixture.users.push(UserSpec {
        id: 1000,
        first_name: "Local Bot".into(),
        username: Some("localdc_bot".into()),
        bot: true,
        ..UserSpec::default()
    });
    fixture.bots.push(BotSpec {
        token: BOT_TOKEN.into(),
        user_id: 1000,
        home_dc: 2,
    });
    let writers: Vec<i64> = (201..=220).collect();
    for id in &writers {
        fixture.users.push(UserSpec {
            id: *id,
            first_name: format!("Writer{id}"),
            username: Some(format!("writer{id}")),
            ..UserSpec::default()
        });
    }

    let chats = options.chats.max(1);
    let mut basic_next = 1;
    let mut media_next = 1_000_000_i64;
    let mut media_sizes = MediaBudget::new(options);
    for index in 0..chats {
        let id = 1 + index as i64;
        let kind = match index % 3 {
            0 => ChatKind::Channel,
            1 => ChatKind::Supergroup,
            _ => ChatKind::Group,
        };
        let count = options.messages / chats + usize::from(index < options.messages % chats);
        let mut members: Vec<i64> = ACCOUNTS.iter().map(|a| a.1).collect();
        members.extend(writers.iter().copied().filter(|_| rng.gen_bool(0.5)));
        let mut chat = ChatSpec {
            id,
            kind,
            title: format!("Chat {id}"),
            username: (index % 2 == 0).then(|| format!("chat{id}")),
            invite_hash: (index % 2 == 1).then(|| format!("invite{id}")),
            about: Some(format!("Generated chat {id}")),
            creator: CREATOR,
            members,
            date: EPOCH - 86_400,
            messages: Vec::with_capacity(count),
        };
        let mut date = EPOCH + index as i32;
        let mut album: Option<(i64, usize)> = None;
        for n in 0..count {
            let message_id = if kind == ChatKind::Group {
                basic_next += 1;
                basic_next - 1
            } else {
                1 + n as i32
            };
            date += rng.gen_range(1..=120);
            let from = if kind == ChatKind::Channel {
                None
            } else {
                chat.members.choose(&mut rng).copied()
            };
            let mut message = MessageSpec {
                id: message_id,
                date,
                from,
                text: text(&mut rng),
                ..MessageSpec::default()
            };
            if let Some((grouped, left)) = album {
                message.grouped_id = Some(grouped);
                message.media = Some(photo(&mut rng, &mut media_next, dcs, &mut media_sizes));
                album = (left > 1).then_some((grouped, left - 1));
            } else if rng.gen_bool(0.02) {
                let grouped = rng.gen_range(1..i64::MAX);
                message.grouped_id = Some(grouped);
                message.media = Some(photo(&mut rng, &mut media_next, dcs, &mut media_sizes));
                album = Some((grouped, rng.gen_range(1..=3)));
            } else if rng.gen_bool(0.3) {
                message.media = Some(media(&mut rng, &mut media_next, dcs, &mut media_sizes));
            }
            if n > 0 && rng.gen_bool(0.1) {
                message.reply_to = chat.messages.choose(&mut rng).map(|m| m.id);
            }
            if rng.gen_bool(0.05) {
                message.fwd_from = Some(FwdSpec {
                    from_user: writers.choose(&mut rng).copied(),
                    from_name: None,
                    date: date - rng.gen_range(60..86_400),
                });
            }
            if rng.gen_bool(0.05) {
                message.edit_date = Some(date + rng.gen_range(1..3600));
            }
            chat.messages.push(message);
        }
        fixture.chats.push(chat);
    }
    private_chats(&mut rng, &mut fixture, &writers, basic_next);
    fixture
}

/// Each account's private chats, ids from `first_id` in each account's own message box.
fn private_chats(rng: &mut StdRng, fixture: &mut Fixture, writers: &[i64], first_id: i32) {
    for (index, (_, account, _, _)) in ACCOUNTS.into_iter().enumerate() {
        let mut next_id = first_id;
        let mut peers: Vec<i64> = writers.choose_multiple(rng, 2).copied().collect();
        if index == 0 {
            peers.push(1000);
        }
        for peer in peers {
            let mut date = EPOCH + rng.gen_range(0..86_400);
            let count = rng.gen_range(3..=12);
            let messages = (0..count)
                .map(|_| {
                    date += rng.gen_range(10..3600);
                    next_id += 1;
                    let words = rng.gen_range(2..=8);
                    let text: Vec<&str> = (0..words)
                        .filter_map(|_| WORDS.choose(rng).copied())
                        .collect();
                    MessageSpec {
                        id: next_id,
                        date,
                        from: Some(if rng.gen_bool(0.5) { account } else { peer }),
                        text: text.join(" "),
                        ..MessageSpec::default()
                    }
                })
                .collect();
            fixture.private_chats.push(PrivateChatSpec {
                user: account,
                peer,
                messages,
            });
        }
    }
}

fn text(rng: &mut StdRng) -> String {
    let words = rng.gen_range(3..=12);
    let mut out: Vec<&str> = (0..words)
        .map(|_| WORDS.choose(rng).copied().unwrap_or(NEEDLE))
        .collect();
    if rng.gen_bool(0.01) {
        let at = rng.gen_range(0..=out.len());
        out.insert(at, NEEDLE);
    }
    let mut text = out.join(" ");
    if rng.gen_bool(0.02) {
        text.push_str(" https://example.com/page");
    }
    text
}

/// Log-uniform file sizes scaled so that they add up to about the budget.
struct MediaBudget {
    /// Bytes per unit of weight.
    scale: f64,
    max_log: f64,
    /// The first document is made the largest file, so that a big world always has one
    /// (a quarter of the budget, up to 4 GiB).
    big: Option<u64>,
}

impl MediaBudget {
    fn new(options: &GenOptions) -> Self {
        // About a third of the messages carry one file; the mean of a log-uniform weight
        // e^U, U ~ [0, L], is (e^L - 1) / L.
        let files = (options.messages as f64 / 3.0).max(1.0);
        let max_file = (options.media_bytes / 4).clamp(MIN_FILE, MAX_FILE) as f64;
        let max_log = (max_file / MIN_FILE as f64).ln().max(0.0);
        let mean = if max_log > 0.0 {
            max_log.exp_m1() / max_log
        } else {
            1.0
        };
        Self {
            scale: options.media_bytes as f64 / (files * mean),
            max_log,
            big: Some((options.media_bytes / 4).clamp(MIN_FILE, MAX_FILE)),
        }
    }

    fn draw_document(&mut self, rng: &mut StdRng) -> u64 {
        self.big.take().unwrap_or_else(|| self.draw(rng))
    }

    fn draw(&mut self, rng: &mut StdRng) -> u64 {
        let weight = rng.gen_range(0.0..=self.max_log).exp();
        ((weight * self.scale) as u64).clamp(MIN_FILE, MAX_FILE)
    }
}

fn media_dc(rng: &mut StdRng, dcs: i32) -> i32 {
    // Half on DC 2 (the first account's home), the rest anywhere.
    if rng.gen_bool(0.5) {
        2.min(dcs)
    } else {
        rng.gen_range(1..=dcs)
    }
}

fn photo(rng: &mut StdRng, next: &mut i64, dcs: i32, budget: &mut MediaBudget) -> MediaSpec {
    *next += 1;
    let large = budget.draw(rng).min(10 << 20);
    MediaSpec::Photo(PhotoSpec {
        id: *next,
        dc: media_dc(rng, dcs),
        sizes: vec![
            SizeSpec {
                kind: "s".into(),
                w: 90,
                h: 67,
                size: rng.gen_range(1000..3000),
            },
            SizeSpec {
                kind: "m".into(),
                w: 320,
                h: 240,
                size: rng.gen_range(10_000..40_000),
            },
            SizeSpec {
                kind: "x".into(),
                w: 1280,
                h: 960,
                size: large.max(50_000),
            },
        ],
    })
}

fn media(rng: &mut StdRng, next: &mut i64, dcs: i32, budget: &mut MediaBudget) -> MediaSpec {
    let kind = rng.gen_range(0..8);
    if kind == 0 {
        return photo(rng, next, dcs, budget);
    }
    *next += 1;
    let id = *next;
    let size = budget.draw_document(rng);
    let name = |ext: &str| AttributeSpec::FileName {
        file_name: format!("file{id}.{ext}"),
    };
    let (mime, attributes) = match kind {
        1 | 2 => (
            "video/mp4",
            vec![
                AttributeSpec::Video {
                    duration: f64::from(rng.gen_range(1..600)),
                    w: 1280,
                    h: 720,
                    round: false,
                    supports_streaming: true,
                },
                name("mp4"),
            ],
        ),
        3 => ("application/zip", vec![name("zip")]),
        4 => (
            "audio/mpeg",
            vec![
                AttributeSpec::Audio {
                    duration: rng.gen_range(60..400),
                    voice: false,
                    title: Some(format!("Track {id}")),
                    performer: Some("Generated".into()),
                },
                name("mp3"),
            ],
        ),
        5 => (
            "audio/ogg",
            vec![AttributeSpec::Audio {
                duration: rng.gen_range(1..60),
                voice: true,
                title: None,
                performer: None,
            }],
        ),
        6 => (
            "video/mp4",
            vec![AttributeSpec::Video {
                duration: f64::from(rng.gen_range(1..60)),
                w: 384,
                h: 384,
                round: true,
                supports_streaming: false,
            }],
        ),
        _ if rng.gen_bool(0.5) => (
            "image/webp",
            vec![
                AttributeSpec::Sticker { alt: "🙂".into() },
                AttributeSpec::ImageSize { w: 512, h: 512 },
            ],
        ),
        _ => (
            "video/mp4",
            vec![
                AttributeSpec::Animated,
                AttributeSpec::Video {
                    duration: 3.0,
                    w: 320,
                    h: 240,
                    round: false,
                    supports_streaming: false,
                },
                name("gif.mp4"),
            ],
        ),
    };
    MediaSpec::Document(DocumentSpec {
        id,
        dc: media_dc(rng, dcs),
        size,
        mime_type: mime.into(),
        attributes,
        thumbs: Vec::new(),
        cdn: false,
    })
}

/// Marks every `every`-th document of `fixture` (in chat and message order) as served
/// through the CDN DC (`cdn: true`); how many were marked. Generated worlds already spread
/// their media over the DCs; this adds CDN downloads on top.
pub fn serve_via_cdn(fixture: &mut Fixture, every: usize) -> usize {
    let mut seen = 0usize;
    let mut marked = 0;
    for chat in &mut fixture.chats {
        for message in &mut chat.messages {
            if let Some(MediaSpec::Document(doc)) = &mut message.media {
                seen += 1;
                if every > 0 && seen.is_multiple_of(every) {
                    doc.cdn = true;
                    marked += 1;
                }
            }
        }
    }
    marked
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::World;

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("64K"), Some(64 << 10));
        assert_eq!(parse_size("10MiB"), Some(10 << 20));
        assert_eq!(parse_size("4g"), Some(4 << 30));
        assert_eq!(parse_size("x"), None);
    }

    #[test]
    fn same_seed_same_world_and_it_loads() {
        let options = GenOptions {
            messages: 2000,
            chats: 7,
            media_bytes: 1 << 30,
            seed: 9,
            dcs: 5,
        };
        let a = generate(&options);
        assert_eq!(a, generate(&options));
        assert_ne!(
            a,
            generate(&GenOptions {
                seed: 10,
                ..options
            })
        );
        let total: usize = a.chats.iter().map(|c| c.messages.len()).sum();
        assert_eq!(total, 2000);
        assert_eq!(a.private_chats.len(), 7);
        assert!(a.private_chats.iter().all(|p| !p.messages.is_empty()));
        World::from_fixture(a).unwrap();
    }
}
