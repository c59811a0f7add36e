//! Users: accounts, the first-run admin, and the built-in admin of developer mode.

use chrono::{DateTime, Utc};
use hatchery_shared::api::{
    accounts::{Role, User},
    audit::AuditAction,
};

use super::{Audit, BeginWrite, Store, StoreError, insert_audit, on_pool};

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    /// The user's id.
    pub id: String,
    /// The email as entered.
    pub email: String,
    /// The name shown in the interface.
    pub display_name: String,
    /// What the user may do.
    pub role: Role,
    /// The argon2id hash of the password; `None` when the account cannot sign in.
    pub password_hash: Option<String>,
    /// When the account was created.
    pub created_at: DateTime<Utc>,
    /// When an admin disabled it, if one did.
    pub disabled_at: Option<DateTime<Utc>>,
}

impl UserRow {
    /// The user as the API shows it.
    pub fn view(&self) -> User {
        User {
            id: self.id.clone(),
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            role: self.role,
            created_at: super::rfc3339(self.created_at),
            disabled: self.disabled_at.is_some(),
        }
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The email as entered (already validated).
    pub email: String,
    /// The name shown in the interface.
    pub display_name: String,
    /// What the user may do.
    pub role: Role,
    /// The argon2id hash of the password, or `None` for an account without one.
    pub password_hash: Option<String>,
}

/// A `users` row as read, before its role is parsed.
#[derive(sqlx::FromRow)]
pub(super) struct RawUser {
    id: String,
    email: String,
    display_name: String,
    role: String,
    password_hash: Option<String>,
    created_at: DateTime<Utc>,
    disabled_at: Option<DateTime<Utc>>,
}

impl TryFrom<RawUser> for UserRow {
    type Error = StoreError;

    fn try_from(raw: RawUser) -> Result<Self, StoreError> {
        Ok(Self {
            role: super::parse_column("users.role", &raw.role)?,
            id: raw.id,
            email: raw.email,
            display_name: raw.display_name,
            password_hash: raw.password_hash,
            created_at: raw.created_at,
            disabled_at: raw.disabled_at,
        })
    }
}

const COLUMNS: &str = "id, email, display_name, role, password_hash, created_at, disabled_at";

/// What ended when an account's credentials were withdrawn: the ids of its sessions and of
/// its API tokens (whose sockets must close).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Withdrawn {
    /// Sessions ended.
    pub sessions: Vec<String>,
    /// API tokens revoked.
    pub tokens: Vec<String>,
}

/// How emails are compared: trimmed and lower-cased.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

impl Store {
    /// Creates a user, with its audit record; [`StoreError::Conflict`] when the email is
    /// taken.
    pub async fn create_user(&self, new: &NewUser, audit: &Audit) -> Result<UserRow, StoreError> {
        self.insert_user(&super::new_id(), new, audit).await
    }

    async fn insert_user(
        &self,
        id: &str,
        new: &NewUser,
        audit: &Audit,
    ) -> Result<UserRow, StoreError> {
        let now = super::now();
        let sql = format!(
            "INSERT INTO users (id, email, email_key, display_name, role, password_hash, \
                                created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING {COLUMNS}"
        );
        let raw = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let raw = sqlx::query_as::<_, RawUser>(&sql)
                .bind(id)
                .bind(new.email.trim())
                .bind(email_key(&new.email))
                .bind(new.display_name.trim())
                .bind(new.role.as_str())
                .bind(&new.password_hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::unique("an account with this email"))?;
            insert_audit!(&mut *tx, audit, "user", id, Some(id))?;
            tx.commit().await?;
            raw
        });
        raw.try_into()
    }

    /// Creates the first admin through the first-run page, once: `None` when an account that
    /// can sign in already exists or the setup was already claimed.
    pub async fn create_first_admin(
        &self,
        new: &NewUser,
        audit: &Audit,
    ) -> Result<Option<UserRow>, StoreError> {
        let now = super::now();
        let id = super::new_id();
        let sql = format!(
            "INSERT INTO users (id, email, email_key, display_name, role, password_hash, \
                                created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 'admin', $5, $6, $6) RETURNING {COLUMNS}"
        );
        let raw = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            // The row lock on `installation` makes the claim atomic on both backends.
            let claimed = sqlx::query(
                "UPDATE installation SET setup_at = $1 WHERE id = 1 AND setup_at IS NULL \
                 AND NOT EXISTS (SELECT 1 FROM users WHERE password_hash IS NOT NULL)",
            )
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected()
                == 1;
            if !claimed {
                return Ok(None);
            }
            let raw = sqlx::query_as::<_, RawUser>(&sql)
                .bind(&id)
                .bind(new.email.trim())
                .bind(email_key(&new.email))
                .bind(new.display_name.trim())
                .bind(&new.password_hash)
                .bind(now)
                .fetch_one(&mut *tx)
                .await
                .map_err(StoreError::unique("an account with this email"))?;
            insert_audit!(&mut *tx, audit, "user", &id, Some(&id))?;
            tx.commit().await?;
            raw
        });
        raw.try_into().map(Some)
    }

    /// The id of the oldest admin who is not disabled, if there is one.
    pub async fn first_admin_id(&self) -> Result<Option<String>, StoreError> {
        let id = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL \
                 ORDER BY created_at, id LIMIT 1",
            )
            .fetch_optional(pool)
            .await?
        });
        Ok(id)
    }

    /// Whether no account can sign in yet (the first-run page is offered).
    pub async fn setup_needed(&self) -> Result<bool, StoreError> {
        let exists: bool = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM users WHERE password_hash IS NOT NULL) \
                 OR EXISTS (SELECT 1 FROM installation WHERE setup_at IS NOT NULL)",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(!exists)
    }

    /// Makes sure the user `id` exists, creating it with `new` when missing (recorded as
    /// done by the server).
    pub async fn ensure_user(&self, id: &str, new: &NewUser) -> Result<UserRow, StoreError> {
        if let Some(user) = self.user(id).await? {
            return Ok(user);
        }
        let audit = Audit::by_system(AuditAction::UserCreated, "by the server's settings");
        self.insert_user(id, new, &audit).await
    }

    /// The user with this id.
    pub async fn user(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
        let raw = on_pool!(self, |pool| {
            sqlx::query_as::<_, RawUser>(&sql)
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        raw.map(TryInto::try_into).transpose()
    }

    /// The user with this email (compared case-insensitively).
    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE email_key = $1");
        let raw = on_pool!(self, |pool| {
            sqlx::query_as::<_, RawUser>(&sql)
                .bind(email_key(email))
                .fetch_optional(pool)
                .await?
        });
        raw.map(TryInto::try_into).transpose()
    }

    /// Up to `limit` users, newest first, after the user id `before` when given.
    pub async fn users(
        &self,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<UserRow>, StoreError> {
        let (clause, limit_param) = super::Conditions::default().add("id <", before).finish();
        let sql =
            format!("SELECT {COLUMNS} FROM users {clause} ORDER BY id DESC LIMIT ${limit_param}");
        let raws = on_pool!(self, |pool| {
            let mut query = sqlx::query_as::<_, RawUser>(&sql);
            if let Some(before) = before {
                query = query.bind(before);
            }
            query.bind(i64::from(limit)).fetch_all(pool).await?
        });
        raws.into_iter().map(TryInto::try_into).collect()
    }

    /// Sets the password hash of `user_id` and ends every session of theirs but `keeping`,
    /// in one transaction; returns what ended (`None` when there is no such user).
    pub async fn set_password(
        &self,
        user_id: &str,
        hash: &str,
        keeping: &str,
        audit: &Audit,
    ) -> Result<Option<Withdrawn>, StoreError> {
        let withdrawn = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let updated =
                sqlx::query("UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1")
                    .bind(user_id)
                    .bind(hash)
                    .bind(super::now())
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            if updated == 0 {
                return Ok(None);
            }
            let sessions = sqlx::query_scalar(
                "DELETE FROM sessions WHERE user_id = $1 AND id <> $2 RETURNING id",
            )
            .bind(user_id)
            .bind(keeping)
            .fetch_all(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, audit, "user", user_id, Some(user_id))?;
            tx.commit().await?;
            Withdrawn {
                sessions,
                tokens: Vec::new(),
            }
        });
        Ok(Some(withdrawn))
    }

    /// Disables `user_id` (ending their sessions and revoking their tokens in the same
    /// transaction) or enables them again; returns the user and what ended.
    pub async fn set_disabled(
        &self,
        user_id: &str,
        disabled: bool,
        audit: &Audit,
    ) -> Result<Option<(UserRow, Withdrawn)>, StoreError> {
        let now = super::now();
        let sql = format!(
            "UPDATE users SET disabled_at = $2, updated_at = $3 WHERE id = $1 RETURNING {COLUMNS}"
        );
        let found = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let raw = sqlx::query_as::<_, RawUser>(&sql)
                .bind(user_id)
                .bind(disabled.then_some(now))
                .bind(now)
                .fetch_optional(&mut *tx)
                .await?;
            let withdrawn = match (&raw, disabled) {
                (Some(_), true) => withdraw(&mut tx, user_id, true).await?,
                _ => Withdrawn::default(),
            };
            if raw.is_some() {
                insert_audit!(&mut *tx, audit, "user", user_id, Some(user_id))?;
                tx.commit().await?;
            }
            raw.map(|raw| (raw, withdrawn))
        });
        found
            .map(|(raw, withdrawn)| Ok((raw.try_into()?, withdrawn)))
            .transpose()
    }

    /// Revokes every API token of `user_id`, with the audit record; returns their ids.
    pub async fn revoke_tokens_of(
        &self,
        user_id: &str,
        audit: &Audit,
    ) -> Result<Vec<String>, StoreError> {
        let withdrawn = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let withdrawn = withdraw(&mut tx, user_id, false).await?;
            insert_audit!(&mut *tx, audit, "user", user_id, Some(user_id))?;
            tx.commit().await?;
            withdrawn
        });
        Ok(withdrawn.tokens)
    }
}

/// Deletes the API tokens of `user_id` and, with `sessions`, their sessions too.
async fn withdraw<'c, DB>(
    tx: &mut sqlx::Transaction<'c, DB>,
    user_id: &str,
    sessions: bool,
) -> Result<Withdrawn, sqlx::Error>
where
    DB: sqlx::Database,
    for<'q> &'q str: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'r> sqlx::Decode<'r, DB> + sqlx::Type<DB>,
    for<'e> &'e mut <DB as sqlx::Database>::Connection: sqlx::Executor<'e, Database = DB>,
    for<'q> <DB as sqlx::Database>::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    (String,): for<'r> sqlx::FromRow<'r, DB::Row>,
{
    let sessions = if sessions {
        sqlx::query_scalar("DELETE FROM sessions WHERE user_id = $1 RETURNING id")
            .bind(user_id)
            .fetch_all(&mut **tx)
            .await?
    } else {
        Vec::new()
    };
    let tokens = sqlx::query_scalar("DELETE FROM api_tokens WHERE user_id = $1 RETURNING id")
        .bind(user_id)
        .fetch_all(&mut **tx)
        .await?;
    Ok(Withdrawn { sessions, tokens })
}
