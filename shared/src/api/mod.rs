//! Bodies of the REST API (`/api/...`): what the server sends and accepts, shared with the
//! browser so both sides agree at compile time.

pub mod accounts;
pub mod agents;

use serde::{Deserialize, Serialize};

/// One page of a list, newest first, and the cursor of the next page (`None` on the last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass as `cursor=` to get the next page; absent on the last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// The most items one page may hold; larger `limit`s are clamped to it.
pub const MAX_PAGE_SIZE: u32 = 200;

/// Deserializes a field that may be absent (left as is), `null` (cleared) or a value (set),
/// as `None`, `Some(None)` and `Some(Some(value))`. Use with `#[serde(default)]`.
pub fn absent_null_or_value<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
