//! Browser sessions: stored by the hash of their cookie's token, with a sliding expiry.

use chrono::{DateTime, Utc};

use super::{Audit, BeginWrite, Store, StoreError, UserRow, insert_audit, on_pool, users};

/// A live session and its user.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The session's id: the SHA-256 of its token, hex.
    pub id: String,
    /// Who it signs in.
    pub user: UserRow,
    /// When it was last used (updated at most once a minute).
    pub last_seen_at: DateTime<Utc>,
    /// When it ends unless used again.
    pub expires_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct RawSession {
    session_id: String,
    last_seen_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    #[sqlx(flatten)]
    user: users::RawUser,
}

impl Store {
    /// Records a new session of `user_id`, ending at `expires_at` unless extended, with its
    /// audit record (a sign-in).
    pub async fn create_session(
        &self,
        id: &str,
        user_id: &str,
        expires_at: DateTime<Utc>,
        audit: &Audit,
    ) -> Result<(), StoreError> {
        let now = super::now();
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at) \
                 VALUES ($1, $2, $3, $3, $4)",
            )
            .bind(id)
            .bind(user_id)
            .bind(now)
            .bind(expires_at)
            .execute(&mut *tx)
            .await?;
            insert_audit!(&mut *tx, audit, "user", user_id, Some(user_id))?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The session with this id and its user, if it exists and has not expired.
    pub async fn session(&self, id: &str) -> Result<Option<SessionRow>, StoreError> {
        let raw = on_pool!(self, |pool| {
            sqlx::query_as::<_, RawSession>(
                "SELECT s.id AS session_id, s.last_seen_at, s.expires_at, \
                        u.id, u.email, u.display_name, u.role, u.password_hash, u.created_at, \
                        u.disabled_at \
                 FROM sessions s JOIN users u ON u.id = s.user_id \
                 WHERE s.id = $1 AND s.expires_at > $2",
            )
            .bind(id)
            .bind(super::now())
            .fetch_optional(pool)
            .await?
        });
        raw.map(|raw| {
            Ok(SessionRow {
                id: raw.session_id,
                user: raw.user.try_into()?,
                last_seen_at: raw.last_seen_at,
                expires_at: raw.expires_at,
            })
        })
        .transpose()
    }

    /// Extends a session: seen now, ending at `expires_at`.
    pub async fn touch_session(
        &self,
        id: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE sessions SET last_seen_at = $2, expires_at = $3 WHERE id = $1")
                .bind(id)
                .bind(super::now())
                .bind(expires_at)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Ends a session (sign-out), with its audit record; true when it existed.
    pub async fn delete_session(&self, id: &str, audit: &Audit) -> Result<bool, StoreError> {
        let deleted = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let user: Option<String> =
                sqlx::query_scalar("DELETE FROM sessions WHERE id = $1 RETURNING user_id")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            if let Some(user) = &user {
                insert_audit!(&mut *tx, audit, "user", user, Some(user))?;
                tx.commit().await?;
            }
            user.is_some()
        });
        Ok(deleted)
    }

    /// Forgets the sessions that have expired; returns their ids.
    pub async fn take_expired_sessions(&self) -> Result<Vec<String>, StoreError> {
        let ids = on_pool!(self, |pool| {
            sqlx::query_scalar("DELETE FROM sessions WHERE expires_at <= $1 RETURNING id")
                .bind(super::now())
                .fetch_all(pool)
                .await?
        });
        Ok(ids)
    }
}
