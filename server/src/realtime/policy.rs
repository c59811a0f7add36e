//! Who may follow which topic: the one place that decides, for subscriptions and for the
//! history endpoint alike.

use hatchery_shared::realtime::{SubscribeErrorCode, Topic, TopicKind};

use crate::auth::Identity;

/// Whether `identity` may receive `topic`'s events, or the code to refuse with.
pub fn may_follow(identity: &Identity, topic: &Topic) -> Result<(), (SubscribeErrorCode, String)> {
    let forbidden = |message: &str| Err((SubscribeErrorCode::Forbidden, message.to_owned()));
    match topic.kind() {
        TopicKind::User if topic.id() == Some(identity.user_id.as_str()) => Ok(()),
        _ if identity.is_admin() => Ok(()),
        TopicKind::User => forbidden("only that user may follow a user topic"),
        TopicKind::Ops => forbidden("only admins may follow the ops topic"),
        TopicKind::Agent | TopicKind::Thread | TopicKind::Room => Err((
            SubscribeErrorCode::NotFound,
            format!("there is no {}", topic.as_str()),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Role;

    fn who(user_id: &str, role: Role) -> Identity {
        Identity {
            user_id: user_id.into(),
            role,
        }
    }

    fn topic(name: &str) -> Topic {
        Topic::parse(name).unwrap()
    }

    #[test]
    fn a_user_follows_their_own_topic_only() {
        let alice = who("alice", Role::User);
        assert!(may_follow(&alice, &topic("user:alice")).is_ok());
        assert_eq!(
            may_follow(&alice, &topic("user:bob")).unwrap_err().0,
            SubscribeErrorCode::Forbidden
        );
        assert_eq!(
            may_follow(&alice, &topic("ops")).unwrap_err().0,
            SubscribeErrorCode::Forbidden
        );
    }

    #[test]
    fn admins_follow_everything() {
        let root = who("root", Role::Admin);
        for name in ["user:alice", "ops", "agent:7"] {
            assert!(may_follow(&root, &topic(name)).is_ok(), "{name}");
        }
    }

    #[test]
    fn topics_of_things_a_user_cannot_own_yet_are_not_found() {
        let alice = who("alice", Role::User);
        assert_eq!(
            may_follow(&alice, &topic("agent:7")).unwrap_err().0,
            SubscribeErrorCode::NotFound
        );
    }
}
