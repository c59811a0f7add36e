//! Accounts: users, sign-in, sessions and personal API tokens.

use serde::{Deserialize, Serialize};

wire_enum! {
    /// What a user may do.
    pub enum Role {
        /// Sees and changes their own things.
        User,
        /// Sees and changes everything, and manages users.
        Admin,
    }
}

/// A user as the API shows it (never with a password hash).
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// The user's id.
    pub id: String,
    /// The email the user signs in with.
    pub email: String,
    /// The name shown in the interface.
    pub display_name: String,
    /// What the user may do.
    pub role: Role,
    /// When the account was created (RFC 3339, UTC).
    pub created_at: String,
    /// An admin disabled the account: it cannot sign in.
    #[serde(default)]
    pub disabled: bool,
}

/// `PATCH /api/users/{id}` (admins): enable or disable an account.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    /// Disabled accounts cannot sign in; disabling one ends its sessions and revokes its
    /// tokens (their sockets close).
    pub disabled: bool,
}

/// `POST /api/auth/password`: change one's own password. Every other session of the
/// account ends; the one that asked stays signed in.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now.
    pub current_password: String,
    /// The new one.
    pub new_password: String,
}

/// How the server decides who a request comes from.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMode {
    /// Email and password sign-in, session cookies and API tokens.
    Accounts,
    /// Developer mode: every request acts as the built-in admin.
    Disabled,
}

/// `GET /api/auth/session`: who the caller is, or what to do to become someone.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    /// The signed-in user, if any.
    pub user: Option<User>,
    /// How this server authenticates.
    pub mode: AuthMode,
    /// True while no account can sign in: the first-run page creates the admin.
    pub setup_needed: bool,
    /// Whether anyone may create an account (`HATCHERY_SIGNUP=open`).
    pub signup_open: bool,
}

/// `POST /api/auth/sign-in`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignIn {
    /// The account's email (compared case-insensitively).
    pub email: String,
    /// The account's password.
    pub password: String,
}

/// `POST /api/auth/setup` (the first admin), `POST /api/auth/sign-up` (open sign-up) and
/// `POST /api/users` (an admin creating a user).
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAccount {
    /// The email to sign in with; unique, case-insensitively.
    pub email: String,
    /// The name shown in the interface.
    pub display_name: String,
    /// At least [`MIN_PASSWORD_CHARS`] characters.
    pub password: String,
    /// The new user's role; only admins creating users may choose (default `user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
}

/// The shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// A personal API token as listed (never with its secret).
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// The token's id (used to revoke it).
    pub id: String,
    /// What the owner called it.
    pub name: String,
    /// The first characters of the secret, to recognise it.
    pub prefix: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: String,
    /// When it was last used, if ever (RFC 3339, UTC; updated at most once a minute).
    pub last_used_at: Option<String>,
}

/// `POST /api/tokens`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewApiToken {
    /// A name to recognise the token by, 1–100 characters.
    pub name: String,
}

/// The answer to `POST /api/tokens`: the only time the secret is shown.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiToken {
    /// The token as it will be listed.
    pub token: ApiToken,
    /// The secret to send as `Authorization: Bearer …`; it cannot be shown again.
    pub secret: String,
}
