//! Lazy message iterators: a chat's history, a search in one chat, a global search.
//!
//! Each is a [`Messages`] value whose [`Messages::next`] fetches a page of up to 100 only
//! when the previous one is used up. Paging follows <https://core.telegram.org/api/offsets>:
//! history and per-chat search continue from the last message's id; global search from the
//! last result's rate, peer and id. Messages at or past the cursor that a server returns
//! again are skipped, so no message is yielded twice, and paging stops only at an empty
//! page (or a complete answer), so none is skipped. Flood waits go through the client's
//! [`crate::FloodPolicy`] like every request; a wait delays only this iterator's call.
//!
//! One page is always on its way: as soon as a page arrives, the request for the next one
//! (its cursor is the page's last message) goes out while the caller works through the
//! page, so a listing runs at one page per round trip however slow the caller is, and never
//! with more than one request of a listing in flight: Telegram's flood limits on
//! `messages.getHistory` are per account and method (about 30 pages in 30 seconds before
//! waits start, from Telethon's experience), so parallel pages of one chat would only meet
//! them sooner. Inside a takeout session ([`Messages::in_takeout`]) the limits are looser.
//!
//! Builder methods narrow a listing: [`Messages::limit`], [`Messages::offset_date`],
//! [`Messages::min_date`], [`Messages::max_date`], [`Messages::min_id`],
//! [`Messages::max_id`], [`Messages::from_user`], and [`Messages::in_takeout`] to page
//! inside a takeout session.

use std::collections::{HashSet, VecDeque};

use tl_types::api::{enums, functions};

use tl_types::RemoteCall;

use crate::client::{Client, Route};
use crate::error::ClientError;
use crate::peers::peer_key;
use crate::store::PeerKind;
use crate::takeout::Takeout;

/// The largest page Telegram serves.
const PAGE: usize = 100;

/// The "no media filter" filter.
const EMPTY_FILTER: enums::MessagesFilter = enums::MessagesFilter::InputMessagesFilterEmpty;

/// What is being listed.
#[derive(Debug, Clone)]
enum Source {
    History {
        peer: enums::InputPeer,
    },
    Search {
        peer: enums::InputPeer,
        query: String,
        filter: enums::MessagesFilter,
    },
    Global {
        query: String,
        filter: enums::MessagesFilter,
    },
}

/// The position after the last message yielded.
#[derive(Debug, Clone, Default)]
struct Cursor {
    /// The last message's id (0 before the first page).
    id: i32,
    /// Global search: the rate (date) and peer of the last result.
    rate: i32,
    peer: Option<enums::InputPeer>,
}

/// A lazy stream of messages, newest first. Get one from [`Client::history`],
/// [`Client::search`] or [`Client::search_global`], then call [`Messages::next`] until it
/// returns `None`.
#[derive(Debug)]
pub struct Messages {
    client: Client,
    source: Source,
    limit: Option<usize>,
    yielded: usize,
    buffer: VecDeque<enums::Message>,
    cursor: Cursor,
    /// (peer, id) of every message yielded, so a repeated one is never yielded again.
    seen: HashSet<((PeerKind, i64), i32)>,
    /// The server's total, when it said.
    total: Option<usize>,
    done: bool,
    /// History: start at messages sent before this date (0 = no bound).
    offset_date: i32,
    /// Oldest date wanted, inclusive (0 = no bound).
    min_date: i32,
    /// Newest date wanted, inclusive (0 = no bound).
    max_date: i32,
    /// Per-chat search: only messages sent by this user.
    from_user: Option<enums::InputPeer>,
    /// The takeout session every page is fetched in, if any.
    takeout: Option<i64>,
    /// Lowest message id wanted, inclusive (0 = no bound).
    min_id: i32,
    /// Highest message id wanted, inclusive (0 = no bound).
    max_id: i32,
    /// The next page, already requested.
    pending: Option<tokio::task::JoinHandle<Result<enums::messages::Messages, ClientError>>>,
}

impl Drop for Messages {
    fn drop(&mut self) {
        // A listing dropped early does not wait for, nor keep, its next page.
        if let Some(pending) = self.pending.take() {
            pending.abort();
        }
    }
}

/// One page's request.
#[derive(Debug)]
enum PageRequest {
    History(functions::messages::GetHistory),
    Search(functions::messages::Search),
    Global(functions::messages::SearchGlobal),
}

impl PageRequest {
    /// Sends the request on the home DC, inside `takeout` if given.
    async fn send(
        self,
        client: Client,
        takeout: Option<i64>,
    ) -> Result<enums::messages::Messages, ClientError> {
        match self {
            Self::History(request) => call(&client, takeout, &request).await,
            Self::Search(request) => call(&client, takeout, &request).await,
            Self::Global(request) => call(&client, takeout, &request).await,
        }
    }
}

/// Calls `request` on the home DC, inside the takeout session if there is one.
async fn call<R: RemoteCall>(
    client: &Client,
    takeout: Option<i64>,
    request: &R,
) -> Result<R::Return, ClientError> {
    client
        .invoke_in_takeout(Route::Home, takeout, request)
        .await
}

impl Client {
    /// The history of `peer`, newest message first.
    pub fn history(&self, peer: enums::InputPeer) -> Messages {
        Messages::new(self.clone(), Source::History { peer })
    }

    /// The messages of `peer` that match `query` (words, may be empty) and `filter`
    /// (`InputMessagesFilterEmpty` for all), newest first.
    pub fn search(
        &self,
        peer: enums::InputPeer,
        query: impl Into<String>,
        filter: enums::MessagesFilter,
    ) -> Messages {
        let query = query.into();
        Messages::new(
            self.clone(),
            Source::Search {
                peer,
                query,
                filter,
            },
        )
    }

    /// The messages of all the account's chats that match `query` and `filter`, newest
    /// first (Telegram refuses an empty query with no filter).
    pub fn search_global(
        &self,
        query: impl Into<String>,
        filter: enums::MessagesFilter,
    ) -> Messages {
        let query = query.into();
        Messages::new(self.clone(), Source::Global { query, filter })
    }
}

impl Messages {
    fn new(client: Client, source: Source) -> Self {
        Self {
            client,
            source,
            limit: None,
            yielded: 0,
            buffer: VecDeque::new(),
            cursor: Cursor::default(),
            seen: HashSet::new(),
            total: None,
            done: false,
            offset_date: 0,
            min_date: 0,
            max_date: 0,
            from_user: None,
            takeout: None,
            min_id: 0,
            max_id: 0,
            pending: None,
        }
    }

    /// Yields at most `limit` messages.
    #[must_use]
    pub fn limit(mut self, limit: usize) -> Self {
        self.limit = Some(limit);
        self
    }

    /// Starts at the messages sent strictly before `date` (a Unix time), like Telegram's
    /// `offset_date`. History sends it with the first page; searches turn it into a
    /// `max_date` of `date - 1`. 0 (the default) starts at the newest message.
    #[must_use]
    pub fn offset_date(mut self, date: i32) -> Self {
        self.offset_date = date.max(0);
        self
    }

    /// Yields only messages sent at or after `date` (a Unix time, inclusive). History stops
    /// paging at the first message older than `date`; searches pass it to the server as
    /// `min_date`. 0 (the default) means no bound.
    #[must_use]
    pub fn min_date(mut self, date: i32) -> Self {
        self.min_date = date.max(0);
        self
    }

    /// Yields only messages sent at or before `date` (a Unix time, inclusive). History
    /// starts at `date + 1` through `offset_date` (combined with [`Messages::offset_date`],
    /// the earlier wins); searches pass it to the server as `max_date`. 0 (the default)
    /// means no bound.
    #[must_use]
    pub fn max_date(mut self, date: i32) -> Self {
        self.max_date = date.max(0);
        self
    }

    /// Yields only messages sent by `user` (`messages.search`'s `from_id`). For a per-chat
    /// search it is passed as is; for a history the listing becomes a `messages.search`
    /// with an empty query, which Telegram answers with the chat's messages from that user;
    /// a global search has no such parameter and ignores it.
    #[must_use]
    pub fn from_user(mut self, user: enums::InputPeer) -> Self {
        self.from_user = Some(user);
        self
    }

    /// Fetches every page inside `takeout` (`invokeWithTakeout`), as an export does.
    #[must_use]
    pub fn in_takeout(mut self, takeout: &Takeout) -> Self {
        self.takeout = Some(takeout.id());
        self
    }

    /// Yields only messages with an id of at least `id` (inclusive); paging stops below it.
    /// History and per-chat search pass it to the server as `min_id`; a global search
    /// spans chats, whose ids are unrelated, and ignores it. 0 (the default) means no bound.
    #[must_use]
    pub fn min_id(mut self, id: i32) -> Self {
        self.min_id = id.max(0);
        self
    }

    /// Yields only messages with an id of at most `id` (inclusive): history and per-chat
    /// search start paging right below `id + 1` instead of at the newest message. A global
    /// search ignores it. 0 (the default) means no bound.
    #[must_use]
    pub fn max_id(mut self, id: i32) -> Self {
        self.max_id = id.max(0);
        self
    }

    /// The exclusive upper date bound (a message must be sent before it), 0 = none.
    fn before_date(&self) -> i32 {
        let from_max = if self.max_date > 0 {
            self.max_date.saturating_add(1)
        } else {
            0
        };
        match (self.offset_date, from_max) {
            (0, bound) | (bound, 0) => bound,
            (a, b) => a.min(b),
        }
    }

    /// The inclusive upper date bound for the server's `max_date`, 0 = none.
    fn search_max_date(&self) -> i32 {
        match self.before_date() {
            0 => 0,
            before => before.saturating_sub(1).max(1),
        }
    }

    /// Whether `date` is inside the requested bounds.
    fn in_range(&self, date: i32) -> bool {
        let before = self.before_date();
        (self.min_date == 0 || date >= self.min_date) && (before == 0 || date < before)
    }

    /// The total the server reported with the last page, if it did.
    pub fn total(&self) -> Option<usize> {
        self.total
    }

    /// The next message, fetching a page when needed; `None` at the end.
    pub async fn next(&mut self) -> Result<Option<enums::Message>, ClientError> {
        if self.limit.is_some_and(|limit| self.yielded >= limit) {
            return Ok(None);
        }
        while self.buffer.is_empty() && !self.done {
            let prefetched = match self.pending.take() {
                Some(pending) => pending.await.ok(),
                None => None,
            };
            // A prefetch whose task died is asked again: the cursor has not moved since.
            let answer = match prefetched {
                Some(answer) => answer?,
                None => {
                    self.request()
                        .send(self.client.clone(), self.takeout)
                        .await?
                }
            };
            self.absorb(answer)?;
            self.prefetch();
        }
        let message = self.buffer.pop_front();
        if message.is_some() {
            self.yielded += 1;
        }
        Ok(message)
    }

    /// Every remaining message.
    pub async fn collect(mut self) -> Result<Vec<enums::Message>, ClientError> {
        let mut all = Vec::new();
        while let Some(message) = self.next().await? {
            all.push(message);
        }
        Ok(all)
    }

    /// How many more messages the limit allows beyond those yielded or buffered.
    fn wanted(&self) -> usize {
        self.limit.map_or(PAGE, |limit| {
            limit.saturating_sub(self.yielded + self.buffer.len())
        })
    }

    /// The size of the next page.
    fn page_size(&self) -> i32 {
        i32::try_from(self.wanted().clamp(1, PAGE)).unwrap_or(100)
    }

    /// Requests the next page now, unless the listing is over or the limit is reached.
    fn prefetch(&mut self) {
        if self.done || self.pending.is_some() || self.wanted() == 0 {
            return;
        }
        let request = self.request();
        self.pending = Some(tokio::spawn(
            request.send(self.client.clone(), self.takeout),
        ));
    }

    /// The id the next history or per-chat search page starts below.
    fn offset_id(&self) -> i32 {
        if self.cursor.id == 0 && self.max_id > 0 {
            self.max_id.saturating_add(1)
        } else {
            self.cursor.id
        }
    }

    /// The server's exclusive `min_id` for the lowest id wanted.
    fn server_min_id(&self) -> i32 {
        self.min_id.saturating_sub(1).max(0)
    }

    /// The request for the page at the cursor.
    fn request(&self) -> PageRequest {
        let limit = self.page_size();
        match &self.source {
            Source::History { peer } if self.from_user.is_none() => {
                PageRequest::History(functions::messages::GetHistory {
                    peer: peer.clone(),
                    offset_id: self.offset_id(),
                    // The date only places the first page; after it the id cursor rules.
                    offset_date: if self.cursor.id == 0 {
                        self.before_date()
                    } else {
                        0
                    },
                    add_offset: 0,
                    limit,
                    max_id: 0,
                    min_id: self.server_min_id(),
                    hash: 0,
                })
            }
            Source::History { peer } => {
                PageRequest::Search(self.search_request(peer, "", &EMPTY_FILTER, limit))
            }
            Source::Search {
                peer,
                query,
                filter,
            } => PageRequest::Search(self.search_request(peer, query, filter, limit)),
            Source::Global { query, filter } => {
                PageRequest::Global(functions::messages::SearchGlobal {
                    broadcasts_only: false,
                    groups_only: false,
                    users_only: false,
                    folder_id: None,
                    community: None,
                    q: query.clone(),
                    filter: filter.clone(),
                    min_date: self.min_date,
                    max_date: self.search_max_date(),
                    offset_rate: self.cursor.rate,
                    offset_peer: self.cursor.peer.clone().unwrap_or(enums::InputPeer::Empty),
                    offset_id: self.cursor.id,
                    limit,
                })
            }
        }
    }

    /// A per-chat `messages.search` page at the cursor.
    fn search_request(
        &self,
        peer: &enums::InputPeer,
        query: &str,
        filter: &enums::MessagesFilter,
        limit: i32,
    ) -> functions::messages::Search {
        functions::messages::Search {
            peer: peer.clone(),
            q: query.to_owned(),
            from_id: self.from_user.clone(),
            saved_peer_id: None,
            saved_reaction: None,
            top_msg_id: None,
            filter: filter.clone(),
            min_date: self.min_date,
            max_date: self.search_max_date(),
            offset_id: self.offset_id(),
            add_offset: 0,
            limit,
            max_id: 0,
            min_id: self.server_min_id(),
            hash: 0,
        }
    }

    /// Takes a page: caches its peers, keeps the messages not seen yet, moves the cursor.
    fn absorb(&mut self, answer: enums::messages::Messages) -> Result<(), ClientError> {
        let (messages, users, chats, total, next_rate, complete) = match answer {
            enums::messages::Messages::Messages(m) => {
                let m = *m;
                (m.messages, m.users, m.chats, None, None, true)
            }
            enums::messages::Messages::Slice(m) => {
                let m = *m;
                (
                    m.messages,
                    m.users,
                    m.chats,
                    Some(m.count),
                    m.next_rate,
                    false,
                )
            }
            enums::messages::Messages::ChannelMessages(m) => {
                let m = *m;
                (m.messages, m.users, m.chats, Some(m.count), None, false)
            }
            enums::messages::Messages::NotModified(m) => (
                Vec::new(),
                Vec::new(),
                Vec::new(),
                Some(m.count),
                None,
                true,
            ),
        };
        self.client.cache_peers(&users, &chats)?;
        if let Some(total) = total {
            self.total = usize::try_from(total).ok();
        }
        let Some(last) = messages.last() else {
            self.done = true;
            return Ok(());
        };
        let (last_id, last_date, last_peer) = message_key(last);
        let global = matches!(self.source, Source::Global { .. });
        if global {
            self.cursor.rate = next_rate.unwrap_or(last_date);
            self.cursor.peer = match last_peer {
                Some((kind, id)) => self.client.cached_input_peer(kind, id)?,
                None => None,
            };
        }
        let previous_offset = self.cursor.id;
        self.cursor.id = last_id;
        let mut fresh = 0_usize;
        // Newest first: past the lowest date or id wanted, everything after is older still.
        let mut past_min = false;
        for message in messages {
            let (id, date, peer) = message_key(&message);
            // Within one chat, paging goes strictly down: anything at or above the previous
            // cursor was already yielded.
            if !global && previous_offset != 0 && id >= previous_offset {
                continue;
            }
            let key = (peer.unwrap_or((PeerKind::User, 0)), id);
            if !self.seen.insert(key) {
                continue;
            }
            fresh += 1;
            if !global && self.min_id > 0 && id < self.min_id {
                past_min = true;
                continue;
            }
            if !global && self.max_id > 0 && id > self.max_id {
                continue;
            }
            // Empty messages carry no date; keep them only without date bounds.
            let dated = !matches!(message, enums::Message::Empty(_));
            if self.min_date > 0 && dated && date < self.min_date {
                past_min = true;
                continue;
            }
            let wanted = if dated {
                self.in_range(date)
            } else {
                self.min_date == 0 && self.before_date() == 0
            };
            if wanted {
                self.buffer.push_back(message);
            }
        }
        let exhausted = self
            .total
            .is_some_and(|total| self.seen.len() >= total && !global);
        if complete || fresh == 0 || exhausted || past_min {
            self.done = true;
        }
        Ok(())
    }
}

/// (id, date, peer) of a message.
fn message_key(message: &enums::Message) -> (i32, i32, Option<(PeerKind, i64)>) {
    match message {
        enums::Message::Message(m) => (m.id, m.date, Some(peer_key(&m.peer_id))),
        enums::Message::Service(m) => (m.id, m.date, Some(peer_key(&m.peer_id))),
        enums::Message::Empty(m) => (m.id, 0, m.peer_id.as_ref().map(peer_key)),
    }
}
