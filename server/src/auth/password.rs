//! Password hashing with argon2id, on the blocking thread pool so that a sign-in's hash
//! never stalls the async threads serving other requests.

use std::sync::LazyLock;

use argon2::{
    Argon2, PasswordHash, PasswordHasher, PasswordVerifier,
    password_hash::{SaltString, rand_core::OsRng},
};

/// Hashes `password` into a PHC string (argon2id, the crate's recommended parameters).
pub async fn hash(password: String) -> String {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 hashes any password with default parameters")
            .to_string()
    })
    .await
    .expect("hashing does not panic")
}

/// A hash of no one's password, verified when an email is unknown so that the answer takes
/// as long as for a known one and never reveals whether the account exists.
static DECOY: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(b"decoy password", &salt)
        .expect("argon2 hashes the decoy")
        .to_string()
});

/// Whether `password` matches `hash`; `None` as the hash checks against a decoy and fails.
pub async fn verify(hash: Option<String>, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DECOY.clone());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            tracing::error!("a stored password hash is not a PHC string");
            return false;
        };
        let matches = Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        known && matches
    })
    .await
    .expect("verifying does not panic")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hashed = hash("correct horse".into()).await;
        assert!(hashed.starts_with("$argon2id$"), "{hashed}");
        assert!(verify(Some(hashed.clone()), "correct horse".into()).await);
        assert!(!verify(Some(hashed), "wrong horse".into()).await);
        assert!(!verify(None, "decoy password".into()).await);
    }
}
