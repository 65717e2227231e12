//! The driver: pushed updates and difference calls through the [`Machine`], out as
//! [`FollowEvent`]s for the followed chats, each once while the process lives.
//!
//! Delivery is at least once across a crash: the state (common box, channel `pts`, newest
//! message per chat) is saved only by [`Follow::commit`], which the consumer calls once it
//! has handled everything [`Follow::next`] returned (the files recorded). A crash before
//! that replays from the last commit, and the download engine skips files it already
//! verified. The alternative, saving delivered messages in a table together with the
//! state, would make the store a second queue to keep in step with the ledger for no gain.

use std::collections::{BTreeMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use mtnet::clock;
use tl_types::Deserialize;
use tl_types::api::{enums, functions, types};
use tokio::sync::mpsc;

use super::convert::{self, FollowEvent, Payload};
use super::machine::{
    CHANNEL_DIFFERENCE_LIMIT_BOT, CHANNEL_DIFFERENCE_LIMIT_USER, Entry, Machine, Output, Request,
};
use crate::policy::ErrorKind;
use crate::store::FollowState;
use crate::{Client, ClientError};

/// How long after a difference call failed (past the client's own retries) it is asked
/// again.
const DIFFERENCE_RETRY: Duration = Duration::from_secs(5);

/// Why following failed.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The peer cannot be followed (an empty peer, or one only known from a message).
    #[error("cannot follow this peer: {0:?}")]
    Peer(Box<enums::InputPeer>),
    /// `channels.getFullChannel` described something else than a channel.
    #[error("channel {0} is not a channel by the server's answer")]
    NotAChannel(i64),
    /// The client stopped delivering updates (it was closed).
    #[error("the client no longer delivers updates")]
    Closed,
}

impl From<crate::StoreError> for FollowError {
    fn from(error: crate::StoreError) -> Self {
        FollowError::Client(error.into())
    }
}

/// A live follow of some chats. See the module documentation for the delivery rules.
#[derive(Debug)]
pub struct Follow {
    client: Client,
    pushed: mpsc::UnboundedReceiver<Vec<u8>>,
    machine: Machine<Payload>,
    /// Followed chats by marked id.
    chats: BTreeMap<i64, enums::InputPeer>,
    /// Access hashes of the followed channels, by bare id.
    channels: BTreeMap<i64, i64>,
    /// The newest message id delivered (or known at the start) per followed chat.
    tops: BTreeMap<i64, i32>,
    /// Edits delivered: chat, message, edit date.
    edits: HashSet<(i64, i32, i32)>,
    /// Events not yet returned, each with the state to save once it has been handled
    /// (on the last event of what one step delivered).
    ready: VecDeque<(FollowEvent, Option<FollowState>)>,
    /// The state covering everything returned so far.
    committable: FollowState,
    /// The state last saved.
    committed: Option<FollowState>,
    /// A step is under way: seen at the start of `next`, it means the previous call was
    /// cancelled or failed halfway, and what that step took from the machine is lost.
    stepping: bool,
    channel_limit: i32,
}

impl Client {
    /// Starts following `chats`. Call it before listing their history: on a first start
    /// it takes the current update state (`updates.getState`, each channel's `pts`) so
    /// that nothing posted while the history is listed is missed; later starts resume
    /// from the state [`Follow::commit`] saved and fetch what was missed.
    pub async fn follow(&self, chats: &[enums::InputPeer]) -> Result<Follow, FollowError> {
        // Listen first: an update pushed while the state is read is not lost.
        let pushed = self.subscribe_updates();
        let saved = self.with_store(|s| s.follow_state())?;
        let now = clock::now();
        let resumed = saved.common.is_some();
        let common = if let Some(common) = saved.common {
            common
        } else {
            convert::state(&self.invoke(&functions::updates::GetState {}).await?)
        };
        let me = self.self_user()?;
        let limit = if me.as_ref().is_some_and(|u| u.bot) {
            CHANNEL_DIFFERENCE_LIMIT_BOT
        } else {
            CHANNEL_DIFFERENCE_LIMIT_USER
        };
        let mut machine = Machine::new(common, limit, now);
        if resumed {
            machine.request_difference(Entry::Common);
        }
        let saved_pts: BTreeMap<i64, i32> = saved.channels.iter().copied().collect();
        let saved_tops: BTreeMap<i64, i32> = saved.marks.iter().copied().collect();
        let mut follow = Follow {
            client: self.clone(),
            pushed,
            machine,
            chats: BTreeMap::new(),
            channels: BTreeMap::new(),
            tops: BTreeMap::new(),
            edits: HashSet::new(),
            ready: VecDeque::new(),
            committable: FollowState::default(),
            committed: None,
            stepping: false,
            channel_limit: limit,
        };
        for peer in chats {
            let chat_id = match peer {
                enums::InputPeer::User(p) => p.user_id,
                enums::InputPeer::Chat(p) => p.chat_id.saturating_neg(),
                enums::InputPeer::Channel(p) => convert::channel_marked_id(p.channel_id),
                enums::InputPeer::InputPeerSelf => match &me {
                    Some(me) => me.id,
                    None => return Err(ClientError::NotLoggedIn.into()),
                },
                other => return Err(FollowError::Peer(Box::new(other.clone()))),
            };
            let top = match saved_tops.get(&chat_id) {
                Some(top) => *top,
                None => self.newest_message_id(peer).await?,
            };
            tracing::debug!(chat_id, top, "following");
            follow.tops.insert(chat_id, top);
            follow.chats.insert(chat_id, peer.clone());
            if let enums::InputPeer::Channel(p) = peer {
                follow.channels.insert(p.channel_id, p.access_hash);
                let pts = match saved_pts.get(&p.channel_id) {
                    Some(pts) => *pts,
                    None => self.channel_pts(p.channel_id, p.access_hash).await?,
                };
                follow.machine.follow_channel(p.channel_id, Some(pts), now);
                // Resumed: what was missed. New: nothing yet, but the answer's `timeout`
                // says how often to poll a channel whose updates are not pushed.
                follow
                    .machine
                    .request_difference(Entry::Channel(p.channel_id));
            }
        }
        follow.committable = follow.state();
        Ok(follow)
    }

    async fn newest_message_id(&self, peer: &enums::InputPeer) -> Result<i32, ClientError> {
        let newest = self.history(peer.clone()).limit(1).next().await?;
        Ok(newest.as_ref().map_or(0, convert::message_id))
    }

    /// A channel's current `pts` (`channels.getFullChannel`).
    async fn channel_pts(&self, channel_id: i64, access_hash: i64) -> Result<i32, FollowError> {
        let request = functions::channels::GetFullChannel {
            channel: input_channel(channel_id, access_hash),
        };
        let enums::messages::ChatFull::ChatFull(answer) = self.invoke(&request).await?;
        self.cache_peers(&answer.users, &answer.chats)?;
        match answer.full_chat {
            enums::ChatFull::ChannelFull(full) => Ok(full.pts),
            _ => Err(FollowError::NotAChannel(channel_id)),
        }
    }
}

fn input_channel(channel_id: i64, access_hash: i64) -> enums::InputChannel {
    types::InputChannel {
        channel_id,
        access_hash,
    }
    .into()
}

fn is_channel(chat_id: i64) -> bool {
    chat_id < -1_000_000_000_000
}

impl Follow {
    /// The next event of a followed chat, waiting for it as long as it takes.
    ///
    /// Cancelling the future (a `select!` on a shutdown signal), or an error, may drop
    /// events it was fetching: the next call then goes back to the state covering what
    /// was returned and fetches the differences from there (what comes again is not
    /// returned twice), and the state saved by [`Follow::commit`] never covers them.
    pub async fn next(&mut self) -> Result<FollowEvent, FollowError> {
        loop {
            if let Some(event) = self.try_next() {
                return Ok(event);
            }
            if self.stepping {
                self.rewind();
            }
            self.step().await?;
        }
    }

    /// The next event already fetched, if there is one (no waiting, no call).
    pub fn try_next(&mut self) -> Option<FollowEvent> {
        let (event, state) = self.ready.pop_front()?;
        if let Some(state) = state {
            self.committable = state;
        }
        Some(event)
    }

    /// Saves the state covering every event [`Follow::next`] returned so far. Call it once
    /// they are handled: a crash after it does not deliver them again.
    pub fn commit(&mut self) -> Result<(), FollowError> {
        if self.committed.as_ref() != Some(&self.committable) {
            self.client
                .with_store(|s| s.save_follow_state(&self.committable))?;
            self.committed = Some(self.committable.clone());
        }
        Ok(())
    }

    /// Goes back to the state covering what was returned, after a step that did not
    /// finish: the machine starts again from it and fetches every difference.
    fn rewind(&mut self) {
        tracing::debug!("a follow step did not finish; fetching again from the last state");
        let now = clock::now();
        let state = &self.committable;
        let mut machine = Machine::new(state.common.unwrap_or_default(), self.channel_limit, now);
        machine.request_difference(Entry::Common);
        for (channel_id, pts) in &state.channels {
            machine.follow_channel(*channel_id, Some(*pts), now);
            machine.request_difference(Entry::Channel(*channel_id));
        }
        self.machine = machine;
        self.tops = state.marks.iter().copied().collect();
        // Edits not returned yet come again with the differences.
        for (event, _) in self.ready.drain(..) {
            if let FollowEvent::Edited { chat_id, message } = &event {
                self.edits.remove(&edit_key(*chat_id, message));
            }
        }
    }

    /// How many chats are followed.
    pub fn chats(&self) -> usize {
        self.chats.len()
    }

    /// Fetches the differences wanted now, or waits for a pushed update or the machine's
    /// next deadline, and queues what that delivers.
    async fn step(&mut self) -> Result<(), FollowError> {
        let now = clock::now();
        self.machine.check_deadlines(now);
        if let Some(request) = self.machine.next_request() {
            // From here until its events are queued, stopping halfway loses them.
            self.stepping = true;
            let outputs = self.fetch(request).await?;
            self.enqueue(outputs).await?;
            self.stepping = false;
            return Ok(());
        }
        let deadline = self.machine.next_deadline();
        // Waiting can be cancelled safely: nothing is taken yet.
        tokio::select! {
            body = self.pushed.recv() => {
                let body = body.ok_or(FollowError::Closed)?;
                self.stepping = true;
                self.take_pushed(&body).await?;
                self.stepping = false;
                Ok(())
            }
            () = sleep_until(deadline) => Ok(()),
        }
    }

    async fn take_pushed(&mut self, body: &[u8]) -> Result<(), FollowError> {
        let Ok(updates) = enums::Updates::from_bytes(body) else {
            return Ok(());
        };
        let (incoming, users, chats) = convert::incoming(updates);
        self.client.cache_peers(&users, &chats)?;
        let outputs = self.machine.handle_incoming(incoming, clock::now());
        self.enqueue(outputs).await
    }

    async fn fetch(&mut self, request: Request) -> Result<Vec<Output<Payload>>, FollowError> {
        match request {
            Request::Difference(state) => {
                let call = functions::updates::GetDifference {
                    pts: state.pts,
                    pts_limit: None,
                    pts_total_limit: None,
                    date: state.date,
                    qts: state.qts,
                    qts_limit: None,
                };
                match self.client.invoke(&call).await {
                    Ok(answer) => {
                        let (difference, users, chats) = convert::difference(answer);
                        self.client.cache_peers(&users, &chats)?;
                        tracing::debug!(pts = state.pts, "updates.getDifference answered");
                        Ok(self.machine.handle_difference(difference, clock::now()))
                    }
                    Err(error) => self.failed(Entry::Common, error),
                }
            }
            Request::ChannelDifference {
                channel_id,
                pts,
                limit,
            } => {
                let access_hash = self.channels.get(&channel_id).copied().unwrap_or_default();
                let call = functions::updates::GetChannelDifference {
                    force: false,
                    channel: input_channel(channel_id, access_hash),
                    filter: enums::ChannelMessagesFilter::Empty,
                    pts,
                    limit,
                };
                let entry = Entry::Channel(channel_id);
                match self.client.invoke(&call).await {
                    Ok(answer) => {
                        let Some((difference, users, chats)) = convert::channel_difference(answer)
                        else {
                            tracing::warn!(
                                channel_id,
                                "channel difference without the dialog's pts"
                            );
                            self.machine
                                .difference_failed(entry, clock::now() + DIFFERENCE_RETRY);
                            return Ok(Vec::new());
                        };
                        self.client.cache_peers(&users, &chats)?;
                        tracing::debug!(channel_id, pts, "updates.getChannelDifference answered");
                        Ok(self.machine.handle_channel_difference(
                            channel_id,
                            difference,
                            clock::now(),
                        ))
                    }
                    Err(error) if error.kind() == Some(ErrorKind::NoAccess) => {
                        tracing::warn!(channel_id, %error, "the channel cannot be read any more; no longer following it");
                        self.machine.unfollow_channel(channel_id);
                        self.client
                            .with_store(|s| s.forget_channel_state(channel_id))?;
                        Ok(Vec::new())
                    }
                    Err(error) => self.failed(entry, error),
                }
            }
        }
    }

    /// A difference call failed past the client's own retries: a lost login ends the
    /// follow, anything else is asked again a little later.
    fn failed(
        &mut self,
        entry: Entry,
        error: ClientError,
    ) -> Result<Vec<Output<Payload>>, FollowError> {
        if error.kind() == Some(ErrorKind::LostLogin) {
            return Err(error.into());
        }
        tracing::warn!(%error, ?entry, "could not fetch the update difference; trying again");
        self.machine
            .difference_failed(entry, clock::now() + DIFFERENCE_RETRY);
        Ok(Vec::new())
    }

    /// Queues the events of `outputs` (listing history again where the machine says
    /// updates were lost for good) and the state that covers them.
    async fn enqueue(&mut self, outputs: Vec<Output<Payload>>) -> Result<(), FollowError> {
        for output in outputs {
            match output {
                Output::Apply(Some(event)) => self.push(event),
                Output::Apply(None) => {}
                Output::Relist { entry, .. } => {
                    let chats: Vec<i64> = match entry {
                        Entry::Channel(id) => vec![convert::channel_marked_id(id)],
                        Entry::Common => self
                            .chats
                            .keys()
                            .copied()
                            .filter(|c| !is_channel(*c))
                            .collect(),
                    };
                    for chat_id in chats {
                        self.relist(chat_id).await?;
                    }
                }
            }
        }
        let state = self.state();
        match self.ready.back_mut() {
            Some(last) => last.1 = Some(state),
            None => self.committable = state,
        }
        Ok(())
    }

    /// Lists `chat_id`'s history newer than the newest message known there, oldest first.
    async fn relist(&mut self, chat_id: i64) -> Result<(), FollowError> {
        let Some(peer) = self.chats.get(&chat_id).cloned() else {
            return Ok(());
        };
        let from = self
            .tops
            .get(&chat_id)
            .copied()
            .unwrap_or(0)
            .saturating_add(1);
        tracing::info!(
            chat_id,
            from,
            "updates were lost; listing the history again"
        );
        let mut messages = self.client.history(peer).min_id(from).collect().await?;
        messages.reverse();
        for message in messages {
            self.push(FollowEvent::New { chat_id, message });
        }
        Ok(())
    }

    /// Queues `event` if it is about a followed chat and new.
    fn push(&mut self, event: FollowEvent) {
        match &event {
            FollowEvent::New { chat_id, message } => {
                let Some(top) = self.tops.get_mut(chat_id) else {
                    return;
                };
                let id = convert::message_id(message);
                if id <= *top {
                    return;
                }
                *top = id;
            }
            FollowEvent::Edited { chat_id, message } => {
                if !self.chats.contains_key(chat_id) {
                    return;
                }
                if !self.edits.insert(edit_key(*chat_id, message)) {
                    return;
                }
            }
            FollowEvent::Deleted { chat_id, .. } => {
                if chat_id.is_some_and(|c| !self.chats.contains_key(&c)) {
                    return;
                }
            }
        }
        self.ready.push_back((event, None));
    }

    fn state(&self) -> FollowState {
        let snapshot = self.machine.snapshot();
        FollowState {
            common: Some(snapshot.common),
            channels: snapshot
                .channels
                .into_iter()
                .filter_map(|(id, pts)| Some((id, pts?)))
                .collect(),
            marks: self.tops.iter().map(|(c, t)| (*c, *t)).collect(),
        }
    }
}

/// An edit, once: chat, message, edit date.
fn edit_key(chat_id: i64, message: &enums::Message) -> (i64, i32, i32) {
    let edit_date = match message {
        enums::Message::Message(m) => m.edit_date.unwrap_or(m.date),
        _ => 0,
    };
    (chat_id, convert::message_id(message), edit_date)
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => clock::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
