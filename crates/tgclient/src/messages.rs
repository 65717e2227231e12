//! Reading given messages by id (`messages.getMessages`, or `channels.getMessages` for
//! channels and supergroups, whose message ids are their own).

use tl_types::api::{enums, functions, types};

use crate::Client;
use crate::error::ClientError;

impl Client {
    /// Messages `ids` of `peer`, in the server's order; a deleted one reads as
    /// `messageEmpty`.
    pub async fn messages_by_id(
        &self,
        peer: &enums::InputPeer,
        ids: &[i32],
    ) -> Result<Vec<enums::Message>, ClientError> {
        let id: Vec<enums::InputMessage> = ids
            .iter()
            .map(|&id| enums::InputMessage::ID(Box::new(types::InputMessageID { id })))
            .collect();
        let answer = match peer {
            enums::InputPeer::Channel(channel) => {
                let channel = enums::InputChannel::InputChannel(Box::new(types::InputChannel {
                    channel_id: channel.channel_id,
                    access_hash: channel.access_hash,
                }));
                self.invoke(&functions::channels::GetMessages { channel, id })
                    .await?
            }
            _ => {
                self.invoke(&functions::messages::GetMessages { id })
                    .await?
            }
        };
        Ok(match answer {
            enums::messages::Messages::Messages(m) => m.messages,
            enums::messages::Messages::Slice(m) => m.messages,
            enums::messages::Messages::ChannelMessages(m) => m.messages,
            enums::messages::Messages::NotModified(_) => Vec::new(),
        })
    }
}
