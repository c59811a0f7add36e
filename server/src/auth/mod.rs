//! Who is making a request: users, sessions, API tokens and passwords, and the
//! [`Identity`] a request acts as (the `http` layer extracts it with [`Auth::authenticate`]).
//!
//! A request is authenticated by, in order: developer mode (everyone is the built-in
//! admin), `Authorization: Bearer <token>` (or `?token=` on the WebSocket only), or the
//! session cookie. Cookie-authenticated mutations must come from an allowed origin (CSRF).

mod accounts;
pub mod client_address;
pub mod limiter;
pub mod origin;
pub mod password;
pub mod secret;

use std::{
    collections::HashSet,
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use axum::http::{Method, header, request::Parts};
use axum_extra::extract::CookieJar;
use chrono::Utc;
pub use hatchery_shared::api::accounts::{AuthMode, Role};
use hatchery_shared::api::{
    accounts::{NewAccount, PasswordChange},
    audit::AuditAction,
};

use self::accounts::check_password;
pub use self::accounts::{AccountError, FieldErrors, validated_account};
use self::limiter::{AttemptLimiter, address_key};
use crate::{
    realtime::{Peer, Realtime},
    store::{
        Actor, ApiTokenRow, Audit, NewApiToken, NewUser, Store, StoreError, UserRow, Withdrawn,
    },
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// The name of the browser's session cookie.
pub const SESSION_COOKIE: &str = "hatchery_session";
/// What every session cookie's token starts with.
const SESSION_PREFIX: &str = "hss_";
/// What every API token starts with (so secret scanners can recognise one).
pub const TOKEN_PREFIX: &str = "hat_";

/// Sign-in and session settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Accounts, or developer mode (`HATCHERY_AUTH=disabled`).
    pub mode: AuthMode,
    /// Whether anyone may create an account (`HATCHERY_SIGNUP=open`).
    pub signup_open: bool,
    /// How long a session lasts without use; each use extends it
    /// (`HATCHERY_SESSION_TTL_SECS`, default 14 days).
    pub session_ttl: Duration,
    /// Failed sign-ins allowed per account in 15 minutes, and ten times as many per client
    /// address (`HATCHERY_SIGNIN_MAX_FAILURES`, default 5).
    pub max_failures: u32,
    /// Reverse proxies whose `X-Forwarded-For` names the client
    /// (`HATCHERY_TRUSTED_PROXIES`, default none).
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for AuthConfig {
    fn default() -> Self {
        Self {
            mode: AuthMode::Accounts,
            signup_open: false,
            session_ttl: Duration::from_secs(14 * 24 * 3600),
            max_failures: 5,
            trusted_proxies: Vec::new(),
        }
    }
}

/// The user a request acts as, and the credential it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The user's id (as it appears in topics such as `user:{id}`).
    pub user_id: String,
    /// What the user may do.
    pub role: Role,
    /// What proved it.
    pub credential: Credential,
}

/// What proved a request's identity; revoking it closes the sockets it opened.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Credential {
    /// A browser session (its id: the hash of its token).
    Session(String),
    /// A personal API token (its id).
    Token(String),
    /// Developer mode: no credential at all.
    BuiltIn,
}

impl Credential {
    /// The credential as the real-time hub keys connections by it (`session:…`,
    /// `token:…`): distinct for every credential.
    pub fn key(&self) -> String {
        match self {
            Self::Session(id) => format!("session:{id}"),
            Self::Token(id) => format!("token:{id}"),
            Self::BuiltIn => "built-in".to_owned(),
        }
    }
}

/// Why a request could not be authenticated, or a sign-in was refused.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No valid credential: none given, or an ended session or revoked token.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// A cookie-authenticated change from another site.
    #[error(
        "cross-site request refused: changes with a session cookie must come from this \
         site's own pages"
    )]
    CrossSite,
    /// The email or the password is wrong.
    #[error("the email or the password is wrong")]
    WrongPassword,
    /// Too many failed attempts (or attempts in flight); wait this long.
    #[error("too many failed attempts; wait before trying again")]
    TooManyFailures(Duration),
    /// Too many passwords are being checked right now.
    #[error(transparent)]
    Busy(#[from] password::Busy),
    /// The fields of a new account are wrong.
    #[error("invalid account fields")]
    Invalid(FieldErrors),
    /// First-run setup was asked for once an account could sign in.
    #[error("this installation already has an admin; sign in instead")]
    AlreadySetUp,
    /// The account was disabled by an admin.
    #[error("this account is disabled; ask an admin to enable it")]
    Disabled,
    /// Only a browser session may do this (not an API token).
    #[error("{0} only from a signed-in browser session, not with an API token")]
    SessionOnly(&'static str),
    /// An admin's own account, which they may not lock themselves out of.
    #[error("you cannot disable your own account")]
    OwnAccount,
    /// No user has this id.
    #[error("there is no user {0}")]
    NoSuchUser(String),
    /// Sign-up is not open on this server.
    #[error("sign-up is closed on this server; ask an admin for an account")]
    SignUpClosed,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AccountError> for AuthError {
    fn from(err: AccountError) -> Self {
        match err {
            AccountError::Invalid(fields) => Self::Invalid(fields),
            AccountError::Busy(busy) => Self::Busy(busy),
        }
    }
}

impl Identity {
    /// The identity as the real-time hub sees a connection's owner.
    pub fn peer(&self) -> Peer {
        Peer {
            user_id: self.user_id.clone(),
            is_admin: self.is_admin(),
            credential: self.credential.key(),
        }
    }

    /// Whether this identity is an admin.
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// Whether this identity may see and change things owned by `owner_id`.
    pub fn may_manage(&self, owner_id: &str) -> bool {
        self.is_admin() || self.user_id == owner_id
    }
}

/// The window in which failed sign-ins are counted.
const FAILURE_WINDOW: Duration = Duration::from_secs(15 * 60);
/// How many accounts and addresses the failure counters remember at most.
const FAILURE_KEYS: usize = 100_000;
/// The longest wait between two sweeps for expired sessions.
const EXPIRY_SWEEP_EVERY: Duration = Duration::from_secs(60);

/// How stale `last_seen_at` / `last_used_at` may get before a request writes it again.
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Authentication: decides identities, signs people in and out. Cheap to clone.
#[derive(Clone)]
pub struct Auth {
    inner: Arc<Inner>,
}

struct Inner {
    config: AuthConfig,
    store: Store,
    realtime: Realtime,
    allowed_origins: Vec<String>,
    per_account: AttemptLimiter,
    per_address: AttemptLimiter,
    hashing: password::Hashing,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

/// A successful sign-in: the user and the session token for the cookie.
#[derive(Debug)]
pub struct SignedIn {
    /// Who signed in.
    pub user: UserRow,
    /// The session cookie's value.
    pub token: String,
}

/// The built-in admin of developer mode.
pub const BUILT_IN_ADMIN_ID: &str = "dev";

impl Auth {
    /// Authentication over `store`, closing revoked sockets through `realtime`. In
    /// developer mode, makes sure the built-in admin exists.
    pub async fn new(
        config: AuthConfig,
        store: Store,
        realtime: Realtime,
    ) -> Result<Self, StoreError> {
        if config.mode == AuthMode::Disabled {
            tracing::warn!(
                user = BUILT_IN_ADMIN_ID,
                "HATCHERY_AUTH=disabled: NO SIGN-IN — every request acts as the built-in admin; \
                 never expose this server"
            );
            store
                .ensure_user(
                    BUILT_IN_ADMIN_ID,
                    &NewUser {
                        email: "dev@localhost".into(),
                        display_name: "Developer".into(),
                        role: Role::Admin,
                        password_hash: None,
                    },
                )
                .await?;
        }
        let allowed_origins = realtime.config().allowed_origins.clone();
        let max = config.max_failures;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                store,
                realtime,
                allowed_origins,
                per_account: AttemptLimiter::new(max, FAILURE_WINDOW, FAILURE_KEYS),
                per_address: AttemptLimiter::new(max * 10, FAILURE_WINDOW, FAILURE_KEYS),
                hashing: password::Hashing::for_this_machine(),
            }),
        })
    }

    /// The settings.
    pub fn config(&self) -> &AuthConfig {
        &self.inner.config
    }

    /// The identity of a request, or why it has none.
    pub async fn authenticate(&self, parts: &Parts) -> Result<Identity, AuthError> {
        if self.inner.config.mode == AuthMode::Disabled {
            return Ok(Identity {
                user_id: BUILT_IN_ADMIN_ID.into(),
                role: Role::Admin,
                credential: Credential::BuiltIn,
            });
        }
        if let Some(token) = bearer(parts) {
            return self.token_identity(token).await;
        }
        let jar = CookieJar::from_headers(&parts.headers);
        let Some(cookie) = jar.get(SESSION_COOKIE) else {
            return Err(AuthError::Unauthenticated("sign in first"));
        };
        let identity = self.session_identity(cookie.value()).await?;
        if !is_safe(&parts.method)
            && !origin::same_origin(&parts.headers, &self.inner.allowed_origins)
        {
            return Err(AuthError::CrossSite);
        }
        Ok(identity)
    }

    async fn token_identity(&self, token: &str) -> Result<Identity, AuthError> {
        let found = self
            .inner
            .store
            .api_token_user(&secret::hash(token))
            .await?;
        let Some((token_id, user, last_used)) = found else {
            return Err(AuthError::Unauthenticated(
                "the API token is not valid or was revoked",
            ));
        };
        if last_used.is_none_or(|at| stale(at, TOUCH_EVERY)) {
            self.inner.store.touch_api_token(&token_id).await?;
        }
        Ok(Identity {
            user_id: user.id,
            role: user.role,
            credential: Credential::Token(token_id),
        })
    }

    async fn session_identity(&self, token: &str) -> Result<Identity, AuthError> {
        let id = secret::hash(token);
        let Some(session) = self.inner.store.session(&id).await? else {
            return Err(AuthError::Unauthenticated(
                "your session has ended; sign in again",
            ));
        };
        let ttl = self.inner.config.session_ttl;
        if stale(session.last_seen_at, TOUCH_EVERY.min(ttl / 10)) {
            self.inner.store.touch_session(&id, expiry(ttl)).await?;
        }
        Ok(Identity {
            user_id: session.user.id,
            role: session.user.role,
            credential: Credential::Session(id),
        })
    }

    /// Signs in with email and password from `address`: one argon2 verification, whether
    /// or not the account exists. Each attempt counts against the account and the address
    /// as it starts and is given back if it succeeds, so that however many run at once, at
    /// most the allowed number of wrong passwords is ever checked; beyond it, 429 with how
    /// long to wait.
    /// Both outcomes are in the audit log, with `actor`'s address and request.
    pub async fn sign_in(
        &self,
        actor: &Actor,
        email: &str,
        password: String,
        address: IpAddr,
    ) -> Result<SignedIn, AuthError> {
        let account_key = crate::store::email_key(email);
        let now = Instant::now();
        let by_address = self.address_attempt(address, now)?;
        let by_account = match self.inner.per_account.attempt(&account_key, now) {
            Ok(attempt) => attempt,
            Err(wait) => {
                self.inner.per_address.succeeded(by_address);
                return Err(AuthError::TooManyFailures(wait));
            }
        };
        let user = self.inner.store.user_by_email(email).await?;
        let hash = user.as_ref().and_then(|user| user.password_hash.clone());
        let matches = match self.inner.hashing.verify(hash, password).await {
            Ok(matches) => matches,
            Err(busy) => {
                // Not checked, so not a failure.
                self.inner.per_address.succeeded(by_address);
                self.inner.per_account.succeeded(by_account);
                return Err(busy.into());
            }
        };
        let refused = match user {
            Some(user) if matches => {
                self.inner.per_address.succeeded(by_address);
                self.inner.per_account.clear(&account_key);
                if user.disabled_at.is_none() {
                    let token = self.start_session(actor, &user.id).await?;
                    return Ok(SignedIn { user, token });
                }
                (Some(user), "the account is disabled", AuthError::Disabled)
            }
            user => (
                user,
                "wrong password or no such account",
                AuthError::WrongPassword,
            ),
        };
        let (user, why, error) = refused;
        let audit = Audit::new(actor, AuditAction::SignInFailed, why);
        match &user {
            Some(user) => {
                self.inner
                    .store
                    .record_audit(&audit, "user", &user.id, Some(&user.id))
                    .await?;
            }
            None => {
                self.inner
                    .store
                    .record_audit(&audit, "email", &account_key, None)
                    .await?;
            }
        }
        Err(error)
    }

    /// Counts an attempt from `address` (IPv6 per /64) against its limit.
    fn address_attempt(
        &self,
        address: IpAddr,
        now: Instant,
    ) -> Result<limiter::Attempt, AuthError> {
        self.inner
            .per_address
            .attempt(&address_key(address), now)
            .map_err(AuthError::TooManyFailures)
    }

    /// First-run setup from `address`: creates the first admin. Refused at once (before any
    /// password is hashed) once an account can sign in, and counted against the address
    /// like a sign-in.
    pub async fn set_up(
        &self,
        actor: &Actor,
        body: NewAccount,
        address: IpAddr,
    ) -> Result<UserRow, AuthError> {
        if !self.inner.store.setup_needed().await? {
            return Err(AuthError::AlreadySetUp);
        }
        let attempt = self.address_attempt(address, Instant::now())?;
        let new = self.new_account(body, Role::Admin).await?;
        let user = self
            .inner
            .store
            .create_first_admin(&new, &Audit::new(actor, AuditAction::SetUp, "first admin"))
            .await?
            .ok_or(AuthError::AlreadySetUp)?;
        self.inner.per_address.succeeded(attempt);
        Ok(user)
    }

    /// Changes the password of the signed-in `identity` (a browser session only), checking
    /// the current one like a sign-in, and ends every other session of the account,
    /// closing their sockets.
    pub async fn change_password(
        &self,
        actor: &Actor,
        identity: &Identity,
        change: PasswordChange,
    ) -> Result<(), AuthError> {
        let Credential::Session(session) = &identity.credential else {
            return Err(AuthError::SessionOnly("a password can be changed"));
        };
        check_password(&change.new_password).map_err(|message| {
            AuthError::Invalid(FieldErrors::from([("new_password".into(), message)]))
        })?;
        let user = self
            .inner
            .store
            .user(&identity.user_id)
            .await?
            .ok_or(AuthError::Unauthenticated("sign in first"))?;
        let key = crate::store::email_key(&user.email);
        let attempt = self
            .inner
            .per_account
            .attempt(&key, Instant::now())
            .map_err(AuthError::TooManyFailures)?;
        let matches = match self
            .inner
            .hashing
            .verify(user.password_hash.clone(), change.current_password)
            .await
        {
            Ok(matches) => matches,
            Err(busy) => {
                self.inner.per_account.succeeded(attempt);
                return Err(busy.into());
            }
        };
        if !matches {
            return Err(AuthError::Invalid(FieldErrors::from([(
                "current_password".into(),
                "this is not your current password".into(),
            )])));
        }
        self.inner.per_account.succeeded(attempt);
        let hash = self.inner.hashing.hash(change.new_password).await?;
        let withdrawn = self
            .inner
            .store
            .set_password(
                &user.id,
                &hash,
                session,
                &Audit::new(actor, AuditAction::PasswordChanged, "other sessions ended"),
            )
            .await?
            .ok_or(AuthError::Unauthenticated("sign in first"))?;
        self.close_sockets(&withdrawn);
        Ok(())
    }

    /// Disables the account `user_id` (its sessions end, its tokens are revoked, their
    /// sockets close) or enables it again, as the admin `by` (`actor`) asks.
    pub async fn set_disabled(
        &self,
        actor: &Actor,
        by: &Identity,
        user_id: &str,
        disabled: bool,
    ) -> Result<UserRow, AuthError> {
        if disabled && by.user_id == user_id {
            return Err(AuthError::OwnAccount);
        }
        let summary = if disabled { "disabled" } else { "enabled" };
        let (user, withdrawn) = self
            .inner
            .store
            .set_disabled(
                user_id,
                disabled,
                &Audit::new(actor, AuditAction::UserUpdated, summary),
            )
            .await?
            .ok_or_else(|| AuthError::NoSuchUser(user_id.to_owned()))?;
        self.close_sockets(&withdrawn);
        Ok(user)
    }

    /// Revokes every API token of `user_id` and closes their sockets, as `actor` asks;
    /// returns how many.
    pub async fn revoke_tokens_of(&self, actor: &Actor, user_id: &str) -> Result<usize, AuthError> {
        if self.inner.store.user(user_id).await?.is_none() {
            return Err(AuthError::NoSuchUser(user_id.to_owned()));
        }
        let audit = Audit::new(actor, AuditAction::UserTokensRevoked, "every token");
        let tokens = self.inner.store.revoke_tokens_of(user_id, &audit).await?;
        let revoked = tokens.len();
        self.close_sockets(&Withdrawn {
            sessions: Vec::new(),
            tokens,
        });
        Ok(revoked)
    }

    /// Closes the sockets opened with credentials that ended (4401).
    fn close_sockets(&self, withdrawn: &Withdrawn) {
        let ended: HashSet<String> = withdrawn
            .sessions
            .iter()
            .map(|id| Credential::Session(id.clone()).key())
            .chain(
                withdrawn
                    .tokens
                    .iter()
                    .map(|id| Credential::Token(id.clone()).key()),
            )
            .collect();
        if !ended.is_empty() {
            self.inner
                .realtime
                .disconnect(|credential| ended.contains(credential));
        }
    }

    /// Open sign-up from `address`: creates a user unless the email already has an account,
    /// and answers the same either way, so that sign-up does not tell anyone which emails
    /// have accounts. The password is hashed in both cases (the answer takes as long), and
    /// every attempt counts against the address like a failed sign-in. Whoever signs up then
    /// signs in: with a taken email, only the account's own password does that.
    pub async fn sign_up(
        &self,
        actor: &Actor,
        body: NewAccount,
        address: IpAddr,
    ) -> Result<(), AuthError> {
        if !self.inner.config.signup_open {
            return Err(AuthError::SignUpClosed);
        }
        self.address_attempt(address, Instant::now())?;
        let new = self.new_account(body, Role::User).await?;
        let audit = Audit::new(actor, AuditAction::SignedUp, "open sign-up");
        match self.inner.store.create_user(&new, &audit).await {
            Ok(user) => {
                tracing::info!(user = %user.id, "account created by sign-up");
                Ok(())
            }
            Err(StoreError::Conflict(_)) => Ok(()),
            Err(err) => Err(err.into()),
        }
    }

    /// A new account with `role`, created by an admin (`actor`).
    pub async fn create_user(
        &self,
        actor: &Actor,
        body: NewAccount,
        role: Role,
    ) -> Result<UserRow, AuthError> {
        let new = validated_account(body, role, &self.inner.hashing).await?;
        let audit = Audit::new(
            actor,
            AuditAction::UserCreated,
            format!("as {}", role.as_str()),
        );
        Ok(self.inner.store.create_user(&new, &audit).await?)
    }

    /// A new account with `role`, its fields checked and its password hashed, ready to store.
    pub async fn new_account(&self, body: NewAccount, role: Role) -> Result<NewUser, AccountError> {
        validated_account(body, role, &self.inner.hashing).await
    }

    /// A new personal API token named `name` for the signed-in `identity` (from a browser
    /// session only: a leaked token cannot make itself others that outlive its revocation),
    /// and its secret, shown this once.
    pub async fn create_token(
        &self,
        actor: &Actor,
        identity: &Identity,
        name: &str,
    ) -> Result<(ApiTokenRow, String), AuthError> {
        if matches!(identity.credential, Credential::Token(_)) {
            return Err(AuthError::SessionOnly("API tokens can be created"));
        }
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 {
            return Err(AuthError::Invalid(FieldErrors::from([(
                "name".into(),
                "enter a name of 1 to 100 characters".into(),
            )])));
        }
        let secret = secret::generate(TOKEN_PREFIX);
        let prefix: String = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
        let new = NewApiToken {
            user_id: &identity.user_id,
            name,
            hash: &secret::hash(&secret),
            prefix: &prefix,
        };
        let audit = Audit::new(actor, AuditAction::TokenCreated, format!("named {name:?}"));
        let row = self.inner.store.create_api_token(&new, &audit).await?;
        Ok((row, secret))
    }

    /// Starts a session for `user_id` (a sign-in by `actor`) and returns its cookie token.
    pub async fn start_session(&self, actor: &Actor, user_id: &str) -> Result<String, StoreError> {
        let token = secret::generate(SESSION_PREFIX);
        let actor = Actor {
            user_id: Some(user_id.to_owned()),
            ..actor.clone()
        };
        self.inner
            .store
            .create_session(
                &secret::hash(&token),
                user_id,
                expiry(self.inner.config.session_ttl),
                &Audit::new(&actor, AuditAction::SignedIn, "with a password"),
            )
            .await?;
        Ok(token)
    }

    /// Ends the sessions that have expired and closes the sockets they opened (4401);
    /// returns how many ended.
    pub async fn end_expired_sessions(&self) -> Result<usize, StoreError> {
        let ended: HashSet<String> = self
            .inner
            .store
            .take_expired_sessions()
            .await?
            .into_iter()
            .map(|id| Credential::Session(id).key())
            .collect();
        if !ended.is_empty() {
            self.inner
                .realtime
                .disconnect(|credential| ended.contains(credential));
        }
        Ok(ended.len())
    }

    /// Starts the tracked task that ends expired sessions (see
    /// [`Auth::end_expired_sessions`]) every minute, or sooner for short session lifetimes,
    /// until `stop`.
    pub fn start_expiry(&self, tasks: &TaskTracker, stop: CancellationToken) {
        let auth = self.clone();
        let every = (self.inner.config.session_ttl / 4)
            .clamp(Duration::from_millis(250), EXPIRY_SWEEP_EVERY);
        tasks.spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = stop.cancelled() => return,
                    _ = ticks.tick() => {}
                }
                match auth.end_expired_sessions().await {
                    Ok(0) => {}
                    Ok(ended) => tracing::info!(ended, "expired sessions ended"),
                    Err(err) => tracing::error!(error = %err, "cannot end expired sessions"),
                }
            }
        });
    }

    /// Ends what proved `identity` if it is a session, and closes the sockets it opened.
    pub async fn sign_out(&self, actor: &Actor, identity: &Identity) -> Result<(), StoreError> {
        if let Credential::Session(id) = &identity.credential {
            let audit = Audit::new(actor, AuditAction::SignedOut, "the session ended");
            self.inner.store.delete_session(id, &audit).await?;
            let ended = identity.credential.key();
            self.inner
                .realtime
                .disconnect(|credential| credential == ended);
        }
        Ok(())
    }

    /// Revokes one of `user_id`'s API tokens and closes the sockets it opened, as `actor`
    /// asks; false when there is no such token.
    pub async fn revoke_token(
        &self,
        actor: &Actor,
        user_id: &str,
        token_id: &str,
    ) -> Result<bool, StoreError> {
        let audit = Audit::new(actor, AuditAction::TokenRevoked, "revoked");
        let deleted = self
            .inner
            .store
            .delete_api_token(user_id, token_id, &audit)
            .await?;
        if deleted {
            let revoked = Credential::Token(token_id.to_owned()).key();
            self.inner
                .realtime
                .disconnect(|credential| credential == revoked);
        }
        Ok(deleted)
    }
}

/// The token of `Authorization: Bearer …`, or of `?token=` on the WebSocket endpoint.
fn bearer(parts: &Parts) -> Option<&str> {
    let from_header = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    let from_query = || {
        (parts.uri.path() == "/api/ws")
            .then(|| parts.uri.query())
            .flatten()?
            .split('&')
            .find_map(|pair| pair.strip_prefix("token="))
    };
    from_header.or_else(from_query)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn stale(at: chrono::DateTime<Utc>, after: Duration) -> bool {
    Utc::now()
        .signed_duration_since(at)
        .to_std()
        .unwrap_or_default()
        >= after
}

fn expiry(ttl: Duration) -> chrono::DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(ttl).expect("session lifetimes are capped at a year")
}
