//! The audit log: who changed what, when and from where (`GET /api/audit`).

use serde::{Deserialize, Serialize};

wire_enum! {
    /// What a person, a token or the server itself did.
    pub enum AuditAction {
        /// Signed in with a password.
        SignedIn,
        /// A sign-in was refused (wrong password, unknown or disabled account).
        SignInFailed,
        /// Signed out.
        SignedOut,
        /// Created the first admin on the first-run page.
        SetUp,
        /// Signed up.
        SignedUp,
        /// Changed their password.
        PasswordChanged,
        /// An admin created an account.
        UserCreated,
        /// An admin disabled or enabled an account.
        UserUpdated,
        /// An admin revoked every token of an account.
        UserTokensRevoked,
        /// Created a personal API token.
        TokenCreated,
        /// Revoked a personal API token.
        TokenRevoked,
        /// Created an agent.
        AgentCreated,
        /// Changed an agent's settings.
        AgentUpdated,
        /// Deleted an agent.
        AgentDeleted,
        /// Started a thread.
        ThreadCreated,
        /// Renamed a thread.
        ThreadRenamed,
        /// Deleted a thread.
        ThreadDeleted,
        /// Created a room.
        RoomCreated,
        /// Changed a room's settings.
        RoomUpdated,
        /// Deleted a room.
        RoomDeleted,
        /// Added an agent to a room or changed its role there.
        RoomMemberPut,
        /// Took an agent out of a room.
        RoomMemberRemoved,
        /// Paused, resumed or stopped a room's conversation.
        RoomControlled,
        /// Created a webhook trigger.
        TriggerCreated,
        /// Rotated a webhook trigger's secret.
        TriggerRotated,
        /// Deleted a webhook trigger.
        TriggerDeleted,
        /// Started a run by hand ("Run now").
        RunStarted,
        /// Cancelled a run.
        RunCancelled,
        /// An admin published an event on a topic.
        EventPublished,
    }
}

/// One record of the audit log.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// The record's id (UUIDv7: records sort by it as by time).
    pub id: String,
    /// When it happened (RFC 3339, UTC).
    pub at: String,
    /// The account that acted; absent for the server itself (`system`) and for sign-ins
    /// by an unknown email.
    pub actor_user_id: Option<String>,
    /// The personal API token it acted with, when it was not a browser session.
    pub actor_token_id: Option<String>,
    /// What was done.
    pub action: AuditAction,
    /// What kind of object it was done to: `user`, `token`, `agent`, `thread`, `room`,
    /// `trigger`, `run` or `topic`.
    pub target_kind: String,
    /// The object's id (a topic's name for `topic`).
    pub target_id: String,
    /// What changed, in a few words: field names, never secrets or passwords.
    pub summary: String,
    /// The client's address, as the server sees it (behind trusted proxies, the
    /// forwarded one).
    pub client_address: Option<String>,
    /// The request that did it (`X-Request-Id`), to find it in the system log.
    pub request_id: Option<String>,
}

/// `GET /api/audit` filters, all optional: records matching every one given, newest first.
#[cfg_attr(feature = "schema", derive(utoipa::IntoParams), into_params(parameter_in = Query))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only what this account did.
    pub actor: Option<String>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only records about objects of this kind.
    pub target_kind: Option<String>,
    /// Only records about this object.
    pub target_id: Option<String>,
    /// Only records at or after this time (RFC 3339).
    pub from: Option<String>,
    /// Only records before this time (RFC 3339).
    pub to: Option<String>,
    /// Page size (1–200, default 50).
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}
