//! Who may follow which topic: the one place that decides, for subscriptions and for the
//! history endpoint alike.

use hatchery_shared::realtime::{SubscribeErrorCode, Topic, TopicKind};

use super::Peer;
use crate::store::Store;

/// Whether `peer` may receive `topic`'s events, or the code to refuse with. Things the
/// user may not see are "not found", so a refusal never reveals that they exist.
pub async fn may_follow(
    store: &Store,
    peer: &Peer,
    topic: &Topic,
) -> Result<(), (SubscribeErrorCode, String)> {
    let forbidden = |message: &str| Err((SubscribeErrorCode::Forbidden, message.to_owned()));
    let not_found = || {
        Err((
            SubscribeErrorCode::NotFound,
            format!("there is no {}", topic.as_str()),
        ))
    };
    match topic.kind() {
        TopicKind::User if topic.id() == Some(peer.user_id.as_str()) => Ok(()),
        TopicKind::User => forbidden("only that user may follow a user topic"),
        _ if peer.is_admin => Ok(()),
        TopicKind::Ops | TopicKind::Logs => forbidden(&format!(
            "only admins may follow the {} topic",
            topic.as_str()
        )),
        TopicKind::Agent | TopicKind::Thread | TopicKind::Room => {
            let id = topic.id().unwrap_or_default();
            let owner = match topic.kind() {
                TopicKind::Agent => store.agent(id).await.map(|agent| agent.map(|a| a.owner_id)),
                TopicKind::Thread => store
                    .thread(id)
                    .await
                    .map(|thread| thread.map(|t| t.owner_id)),
                _ => store.room(id).await.map(|room| room.map(|r| r.owner_id)),
            };
            match owner {
                Ok(Some(owner)) if owner == peer.user_id => Ok(()),
                Ok(_) => not_found(),
                Err(err) => {
                    tracing::error!(error = %err, "cannot check who owns a topic's subject");
                    Err((
                        SubscribeErrorCode::NotFound,
                        "cannot check this topic right now; try again".into(),
                    ))
                }
            }
        }
    }
}
