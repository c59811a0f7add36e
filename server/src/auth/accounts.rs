//! A new account's fields, checked, with its password hashed.

pub use hatchery_shared::api::FieldErrors;
use hatchery_shared::api::accounts::{MIN_PASSWORD_CHARS, NewAccount, Role};

use super::password;
use crate::store::NewUser;

/// The longest email address (RFC 5321's limit on a path).
const MAX_EMAIL_LEN: usize = 254;
/// The longest display name, in characters.
const MAX_NAME_CHARS: usize = 100;
/// The longest password, in characters (argon2 takes any length; this bounds the work).
const MAX_PASSWORD_CHARS: usize = 1024;

/// Why a new account was not made ready to store.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// A field is wrong (one message per field).
    #[error("invalid account fields")]
    Invalid(FieldErrors),
    /// The password could not be hashed now.
    #[error(transparent)]
    Busy(#[from] password::Busy),
}

/// Whether `password` is one Hatchery takes: `MIN_PASSWORD_CHARS` to 1,024 characters.
pub fn check_password(password: &str) -> Result<(), String> {
    let length = password.chars().count();
    if (MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&length) {
        Ok(())
    } else {
        Err(format!(
            "use {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters"
        ))
    }
}

/// Checks a new account's fields (an error for each bad one) and hashes its password with
/// `hashing`, for an account with `role`.
pub async fn validated_account(
    body: NewAccount,
    role: Role,
    hashing: &password::Hashing,
) -> Result<NewUser, AccountError> {
    let mut errors = FieldErrors::new();
    let email = body.email.trim();
    let looks_like_email = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty() && (domain.contains('.') || domain == "localhost")
    });
    if !looks_like_email || email.len() > MAX_EMAIL_LEN || email.contains(char::is_whitespace) {
        errors.insert(
            "email".into(),
            "enter an email address like ada@example.com".into(),
        );
    }
    let name = body.display_name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        errors.insert(
            "display_name".into(),
            format!("enter a name of 1 to {MAX_NAME_CHARS} characters"),
        );
    }
    if let Err(message) = check_password(&body.password) {
        errors.insert("password".into(), message);
    }
    if !errors.is_empty() {
        return Err(AccountError::Invalid(errors));
    }
    Ok(NewUser {
        email: email.to_owned(),
        display_name: name.to_owned(),
        role,
        password_hash: Some(hashing.hash(body.password).await?),
    })
}
