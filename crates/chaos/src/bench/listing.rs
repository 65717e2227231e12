//! `--listing N`: how fast a long channel is listed. The bench channel holds N messages,
//! each with a small file; it is paged through twice, as `tgdl history` does (every
//! message turned into its JSON line) and as `tgdl download` plans (every file named by the
//! default template), and each pass is timed. The yardstick is one `messages.getHistory`
//! page of 100 per round trip of the emulated network: a listing cannot be faster with one
//! page in flight, which is all Telegram's flood limits on history leave room for.

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use localdc::world::Fixture;
use serde::Serialize;
use tgclient::Client;
use tgdl::commands::download::Plan;
use tgdl::filters::Filters;
use tgdl::naming::{DEFAULT_TEMPLATE, Template};
use tgdl::{errors, output};

use super::{BenchArgs, server};

/// Each message's file: small, the listing is what is measured.
const FILE_SIZE: u64 = 1024;
/// Messages per `messages.getHistory` page.
const PAGE: usize = 100;

/// The listing benchmark's world: the bench channel with `messages` messages.
pub fn fixture(messages: usize) -> Fixture {
    server::fixture(messages, FILE_SIZE, 1)
}

/// What one listing run measured (the `--json` object).
#[derive(Debug, Serialize)]
pub struct ListingReport {
    pub network: String,
    pub messages: usize,
    /// The emulated round trip.
    pub rtt_ms: u64,
    /// One page of 100 per round trip, in messages per second (none on lan: no RTT).
    pub page_per_rtt_messages_per_s: Option<f64>,
    pub history: Pass,
    pub planner: Pass,
}

/// One pass over the channel.
#[derive(Debug, Serialize)]
pub struct Pass {
    /// Messages (history) or files (planner) seen.
    pub count: usize,
    pub seconds: f64,
    pub messages_per_s: f64,
    /// Against one page per round trip (1.0: as fast as that allows).
    pub page_per_rtt_ratio: Option<f64>,
}

impl Pass {
    fn new(count: usize, elapsed: Duration, ideal: Option<f64>) -> Self {
        let seconds = elapsed.as_secs_f64().max(1e-6);
        let rate = count as f64 / seconds;
        Self {
            count,
            seconds,
            messages_per_s: rate,
            page_per_rtt_ratio: ideal.map(|ideal| rate / ideal),
        }
    }
}

/// Lists the bench channel both ways and prints the report.
pub async fn run(client: &Client, args: &BenchArgs, dir: &Path) -> Result<()> {
    let Some(messages) = args.listing else {
        bail!("not a listing run");
    };
    let rtt = args.network.settings().rtt;
    let ideal = (!rtt.is_zero()).then(|| PAGE as f64 / rtt.as_secs_f64());
    let peer = tgdl::commands::resolve_chat(client, &format!("@{}", server::CHANNEL)).await?;

    let started = Instant::now();
    let mut history = client.history(peer.clone());
    let mut sink = std::io::sink();
    let mut printed = 0;
    while let Some(message) = history.next().await.map_err(errors::client_error)? {
        if let Some(json) = output::message_json(&message, 0) {
            output::write_json_line(&mut sink, &json).context("formatting a message")?;
            printed += 1;
        }
    }
    let history = Pass::new(printed, started.elapsed(), ideal);

    let out = dir.join("planned");
    std::fs::create_dir_all(&out).context("cannot create the planner's directory")?;
    let started = Instant::now();
    let mut plan = Plan::new(Template::parse(DEFAULT_TEMPLATE)?, out, None);
    plan.add_chat(client, &peer, server::CHANNEL, None, &Filters::default())
        .await
        .context("planning the channel")?;
    let planner = Pass::new(plan.files.len(), started.elapsed(), ideal);

    if history.count != messages || planner.count != messages {
        bail!(
            "the channel has {messages} messages, but history listed {} and the planner {}",
            history.count,
            planner.count
        );
    }
    let report = ListingReport {
        network: args.network.name().to_owned(),
        messages,
        rtt_ms: u64::try_from(rtt.as_millis()).unwrap_or(u64::MAX),
        page_per_rtt_messages_per_s: ideal,
        history,
        planner,
    };
    output::to_stdout(|out| {
        if args.json {
            output::write_json_line(out, &report)
        } else {
            write_table(out, &report)
        }
    })
}

fn write_table(out: &mut impl Write, report: &ListingReport) -> std::io::Result<()> {
    writeln!(
        out,
        "tgdl-bench listing: a channel of {} messages, network {} (RTT {} ms)",
        report.messages, report.network, report.rtt_ms
    )?;
    if let Some(ideal) = report.page_per_rtt_messages_per_s {
        writeln!(
            out,
            "  one page of 100 per round trip: {ideal:.0} messages/s"
        )?;
    }
    for (name, pass) in [("history", &report.history), ("planner", &report.planner)] {
        let ratio = pass
            .page_per_rtt_ratio
            .map_or_else(String::new, |r| format!(" ({:.0}% of that)", r * 100.0));
        writeln!(
            out,
            "  {name}: {} in {:.2} s, {:.0} messages/s{ratio}",
            pass.count, pass.seconds, pass.messages_per_s
        )?;
    }
    Ok(())
}
