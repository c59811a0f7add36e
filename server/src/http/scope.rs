//! `?scope=mine|all` of the lists and sums that can cover everyone's things.

use serde::Deserialize;

use super::ApiError;
use crate::auth::Identity;

/// Whose things a list or a sum covers.
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// The caller's own.
    #[default]
    Mine,
    /// Everyone's (admins only).
    All,
}

impl Scope {
    /// The owner to filter by: the caller for `mine`, nobody for `all` (403 unless the
    /// caller is an admin). `what` names the things, for the error.
    pub fn owner(self, identity: &Identity, what: &str) -> Result<Option<String>, ApiError> {
        match self {
            Self::Mine => Ok(Some(identity.user_id.clone())),
            Self::All if identity.is_admin() => Ok(None),
            Self::All => Err(ApiError::Forbidden(format!(
                "only admins may see everyone's {what}"
            ))),
        }
    }
}
