//! The binary's world commands: `gen-fixture`, serving a `--fixture`, and printing
//! `--mint-session` sessions once the server listens.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};
use localdc::RunningServer;
use localdc::world::generate::{GenOptions, generate, parse_size};
use localdc::world::{World, mint_session};

/// Commands that do not start a server.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Write a generated fixture (deterministic: same options, same file).
    GenFixture {
        /// Messages in all, spread over the chats.
        #[arg(long, default_value_t = 1000)]
        messages: usize,
        /// Chats (channel, supergroup, basic group in turn).
        #[arg(long, default_value_t = 5)]
        chats: usize,
        /// About how many media bytes in all: 4096, 64K, 10M, 4G...
        #[arg(long, default_value = "64M", value_parser = size)]
        media_bytes: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Media are spread over DCs 1..=N.
        #[arg(long, default_value_t = 5)]
        dcs: i32,
        /// Where to write the JSON ("-" for standard output).
        #[arg(long, value_name = "PATH")]
        out: PathBuf,
    },
}

fn size(text: &str) -> Result<u64, String> {
    parse_size(text).ok_or_else(|| format!("{text:?} is not a size (e.g. 4096, 64K, 10M, 4G)"))
}

/// Runs a subcommand.
pub fn run_command(command: &Command) -> Result<()> {
    match command {
        Command::GenFixture {
            messages,
            chats,
            media_bytes,
            seed,
            dcs,
            out,
        } => {
            let fixture = generate(&GenOptions {
                messages: *messages,
                chats: *chats,
                media_bytes: *media_bytes,
                seed: *seed,
                dcs: *dcs,
            });
            let json = fixture.to_json().context("serializing the fixture")?;
            if out.as_os_str() == "-" {
                println!("{json}");
            } else {
                std::fs::write(out, json)
                    .with_context(|| format!("writing the fixture to {}", out.display()))?;
            }
            Ok(())
        }
    }
}

/// Loads the world of `--fixture`, if given.
pub fn load(path: Option<&Path>) -> Result<Option<Arc<World>>> {
    path.map(|path| {
        World::load(path)
            .map(Arc::new)
            .with_context(|| format!("loading the fixture {}", path.display()))
    })
    .transpose()
}

/// Mints and prints a logged-in session for each phone.
pub fn print_minted(
    server: &RunningServer,
    world: Option<&Arc<World>>,
    phones: &[String],
) -> Result<()> {
    let Some(world) = world else {
        return Ok(());
    };
    for phone in phones {
        let minted = mint_session(server, world, phone, None)
            .with_context(|| format!("minting a session for {phone}"))?;
        println!(
            "session {phone}: dc {} user {} auth_key {}",
            minted.dc,
            minted.user_id,
            hex::encode(minted.auth_key)
        );
        println!("session {phone}: telethon {}", minted.string_session);
    }
    Ok(())
}
