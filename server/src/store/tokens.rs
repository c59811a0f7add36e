//! Personal API tokens: stored by the hash of their secret, listed by their prefix.

use chrono::{DateTime, Utc};
use hatchery_shared::api::accounts::ApiToken;

use super::{Audit, BeginWrite, Store, StoreError, UserRow, insert_audit, on_pool, users};

/// A token as stored (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ApiTokenRow {
    /// The token's id.
    pub id: String,
    /// Its owner.
    pub user_id: String,
    /// What the owner called it.
    pub name: String,
    /// The first characters of the secret.
    pub prefix: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last used.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiTokenRow {
    /// The token as the API lists it.
    pub fn view(&self) -> ApiToken {
        ApiToken {
            id: self.id.clone(),
            name: self.name.clone(),
            prefix: self.prefix.clone(),
            created_at: super::rfc3339(self.created_at),
            last_used_at: self.last_used_at.map(super::rfc3339),
        }
    }
}

/// A token to store.
#[derive(Debug, Clone)]
pub struct NewApiToken<'a> {
    /// Its owner.
    pub user_id: &'a str,
    /// What the owner called it.
    pub name: &'a str,
    /// SHA-256 of the secret, hex.
    pub hash: &'a str,
    /// The first characters of the secret.
    pub prefix: &'a str,
}

#[derive(sqlx::FromRow)]
struct RawTokenUser {
    token_id: String,
    last_used_at: Option<DateTime<Utc>>,
    #[sqlx(flatten)]
    user: users::RawUser,
}

const COLUMNS: &str = "id, user_id, name, prefix, created_at, last_used_at";

impl Store {
    /// Stores a new token, with its audit record.
    pub async fn create_api_token(
        &self,
        new: &NewApiToken<'_>,
        audit: &Audit,
    ) -> Result<ApiTokenRow, StoreError> {
        let sql = format!(
            "INSERT INTO api_tokens (id, user_id, name, token_hash, prefix, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING {COLUMNS}"
        );
        let row = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let row = sqlx::query_as::<_, ApiTokenRow>(&sql)
                .bind(super::new_id())
                .bind(new.user_id)
                .bind(new.name)
                .bind(new.hash)
                .bind(new.prefix)
                .bind(super::now())
                .fetch_one(&mut *tx)
                .await?;
            insert_audit!(&mut *tx, audit, "token", &row.id, Some(new.user_id))?;
            tx.commit().await?;
            row
        });
        Ok(row)
    }

    /// The token whose secret hashes to `hash`, with its owner, and when it was last used.
    pub async fn api_token_user(
        &self,
        hash: &str,
    ) -> Result<Option<(String, UserRow, Option<DateTime<Utc>>)>, StoreError> {
        let raw = on_pool!(self, |pool| {
            sqlx::query_as::<_, RawTokenUser>(
                "SELECT t.id AS token_id, t.last_used_at, \
                        u.id, u.email, u.display_name, u.role, u.password_hash, u.created_at, \
                        u.disabled_at \
                 FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
            )
            .bind(hash)
            .fetch_optional(pool)
            .await?
        });
        raw.map(|raw| Ok((raw.token_id, raw.user.try_into()?, raw.last_used_at)))
            .transpose()
    }

    /// Records that a token was used now.
    pub async fn touch_api_token(&self, id: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                .bind(id)
                .bind(super::now())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Up to `limit` of a user's tokens, newest first, after the token id `before`.
    pub async fn api_tokens(
        &self,
        user_id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<ApiTokenRow>, StoreError> {
        let (clause, limit_param) = super::Conditions::default()
            .add("user_id =", Some(user_id))
            .add("id <", before)
            .finish();
        let sql = format!(
            "SELECT {COLUMNS} FROM api_tokens {clause} ORDER BY id DESC LIMIT ${limit_param}"
        );
        let rows = on_pool!(self, |pool| {
            let mut query = sqlx::query_as::<_, ApiTokenRow>(&sql).bind(user_id);
            if let Some(before) = before {
                query = query.bind(before);
            }
            query.bind(i64::from(limit)).fetch_all(pool).await?
        });
        Ok(rows)
    }

    /// Deletes one of a user's tokens, with its audit record; true when it existed.
    pub async fn delete_api_token(
        &self,
        user_id: &str,
        id: &str,
        audit: &Audit,
    ) -> Result<bool, StoreError> {
        let deleted = on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let deleted = sqlx::query("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
                .bind(id)
                .bind(user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if deleted {
                insert_audit!(&mut *tx, audit, "token", id, Some(user_id))?;
                tx.commit().await?;
            }
            deleted
        });
        Ok(deleted)
    }
}
