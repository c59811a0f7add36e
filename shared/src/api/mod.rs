//! Bodies of the REST API (`/api/...`): what the server sends and accepts, shared with the
//! browser so both sides agree at compile time.

/// Declares an enum that is sent and stored by its snake_case name: serde and strum agree on
/// the names, and `as_str` gives one.
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        pub enum $name:ident {
            $($(#[$variant_meta:meta])* $variant:ident,)*
        }
    ) => {
        $(#[$meta])*
        #[derive(
            Debug,
            Clone,
            Copy,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            serde::Serialize,
            serde::Deserialize,
            strum::EnumString,
            strum::IntoStaticStr,
            strum::EnumIter,
        )]
        #[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
        #[serde(rename_all = "snake_case")]
        #[strum(serialize_all = "snake_case")]
        pub enum $name {
            $($(#[$variant_meta])* $variant,)*
        }

        impl $name {
            /// The name, as stored and sent.
            pub fn as_str(self) -> &'static str {
                self.into()
            }
        }
    };
}

pub mod accounts;
pub mod agents;
pub mod audit;
pub mod logs;
pub mod rooms;
pub mod runs;
pub mod threads;
pub mod triggers;
pub mod usage;

use serde::{Deserialize, Serialize};

/// One page of a list, newest first, and the cursor of the next page (`None` on the last).
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
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

/// What is wrong with each field of a request that did not validate, by field name.
pub type FieldErrors = std::collections::BTreeMap<String, String>;

/// The body of every API error: `{"error": {"code", "message", "fields"}}`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, for programs (`code`) and people (`message`, `fields`).
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// A stable, machine-readable code such as `not_found` or `validation_failed`.
    pub code: String,
    /// A sentence a person can act on.
    pub message: String,
    /// For validation errors: what is wrong with each field, by field name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    #[cfg_attr(feature = "schema", schema(inline))]
    pub fields: FieldErrors,
}
