//! The follow state (M9): the common update box, each followed channel's `pts`, and the
//! newest message handled per followed chat.

use rusqlite::{OptionalExtension, params};

use super::{SessionStore, StoreError};
use crate::updates::machine::CommonState;

/// What a follower saved, read back as one value.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FollowState {
    /// The common box (`None` before the first `updates.getState`).
    pub common: Option<CommonState>,
    /// Channel id (bare) and its `pts`.
    pub channels: Vec<(i64, i32)>,
    /// Chat (marked peer id) and the newest message id handled there.
    pub marks: Vec<(i64, i32)>,
}

impl SessionStore {
    /// The saved follow state.
    pub fn follow_state(&self) -> Result<FollowState, StoreError> {
        let common = self
            .conn
            .query_row(
                "SELECT pts, qts, seq, date FROM update_state WHERE id = 0",
                [],
                |r| {
                    Ok(CommonState {
                        pts: r.get(0)?,
                        qts: r.get(1)?,
                        seq: r.get(2)?,
                        date: r.get(3)?,
                    })
                },
            )
            .optional()?;
        let channels = self
            .conn
            .prepare("SELECT channel_id, pts FROM channel_state ORDER BY channel_id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let marks = self
            .conn
            .prepare("SELECT chat_id, top_id FROM follow_marks ORDER BY chat_id")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        Ok(FollowState {
            common,
            channels,
            marks,
        })
    }

    /// Saves `state` in one transaction: the common box is replaced, the channels and
    /// marks given are updated (others stay; a mark never moves back).
    pub fn save_follow_state(&mut self, state: &FollowState) -> Result<(), StoreError> {
        let tx = self.conn.transaction()?;
        if let Some(common) = state.common {
            tx.execute(
                "INSERT INTO update_state (id, pts, qts, seq, date) VALUES (0, ?1, ?2, ?3, ?4)
                 ON CONFLICT (id) DO UPDATE SET pts = excluded.pts, qts = excluded.qts,
                     seq = excluded.seq, date = excluded.date",
                params![common.pts, common.qts, common.seq, common.date],
            )?;
        }
        {
            let mut channel = tx.prepare_cached(
                "INSERT INTO channel_state (channel_id, pts) VALUES (?1, ?2)
                 ON CONFLICT (channel_id) DO UPDATE SET pts = excluded.pts",
            )?;
            for (id, pts) in &state.channels {
                channel.execute(params![id, pts])?;
            }
            let mut mark = tx.prepare_cached(
                "INSERT INTO follow_marks (chat_id, top_id) VALUES (?1, ?2)
                 ON CONFLICT (chat_id) DO UPDATE SET top_id = max(top_id, excluded.top_id)",
            )?;
            for (chat, top) in &state.marks {
                mark.execute(params![chat, top])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets a channel's `pts` (it became private, or the state was reset).
    pub fn forget_channel_state(&self, channel_id: i64) -> Result<(), StoreError> {
        self.conn.execute(
            "DELETE FROM channel_state WHERE channel_id = ?1",
            [channel_id],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn follow_state_round_trips_and_marks_never_move_back() {
        let mut store = SessionStore::in_memory().unwrap();
        assert_eq!(store.follow_state().unwrap(), FollowState::default());
        let common = CommonState {
            pts: 10,
            qts: 2,
            seq: 3,
            date: 4,
        };
        store
            .save_follow_state(&FollowState {
                common: Some(common),
                channels: vec![(5, 100), (6, 7)],
                marks: vec![(-1_000_000_000_005, 40)],
            })
            .unwrap();
        store
            .save_follow_state(&FollowState {
                common: None,
                channels: vec![(5, 120)],
                marks: vec![(-1_000_000_000_005, 30), (42, 1)],
            })
            .unwrap();
        store.forget_channel_state(6).unwrap();
        assert_eq!(
            store.follow_state().unwrap(),
            FollowState {
                common: Some(common),
                channels: vec![(5, 120)],
                marks: vec![(-1_000_000_000_005, 40), (42, 1)],
            }
        );
    }
}
