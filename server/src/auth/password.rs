//! Password hashing with argon2id, on the blocking thread pool so that a sign-in's hash
//! never stalls the async threads serving other requests, and on all cores but one at most,
//! so that a burst of sign-ins can take neither all the memory nor every core.

use std::sync::LazyLock;

use argon2::{
    Algorithm, Argon2, Params, PasswordHash, PasswordHasher, PasswordVerifier, Version,
    password_hash::{SaltString, rand_core::OsRng},
};
use tokio::sync::Semaphore;

/// argon2id with 64 MiB of memory and 3 passes (RFC 9106's second recommended setting, with
/// one lane): about 100 ms per hash on a current server core. Hashes keep their parameters,
/// so changing these applies to passwords set afterwards; old hashes still verify.
fn argon2() -> Argon2<'static> {
    let params = Params::new(64 * 1024, 3, 1, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes running at once: one per core, leaving one core to everything else (one on a
/// single core).
static HASHING: LazyLock<Semaphore> = LazyLock::new(|| {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    Semaphore::new(cores.saturating_sub(1).max(1))
});

/// Runs `work` on the blocking pool once a hashing slot is free.
async fn on_hashing_slot<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    let _slot = HASHING
        .acquire()
        .await
        .expect("the hashing semaphore is never closed");
    tokio::task::spawn_blocking(work)
        .await
        .expect("hashing does not panic")
}

/// Hashes `password` into a PHC string.
pub async fn hash(password: String) -> String {
    on_hashing_slot(move || {
        let salt = SaltString::generate(&mut OsRng);
        argon2()
            .hash_password(password.as_bytes(), &salt)
            .expect("argon2 hashes any password")
            .to_string()
    })
    .await
}

/// A hash of no one's password, verified when an email is unknown so that the answer takes
/// as long as for a known one and never reveals whether the account exists.
static DECOY: LazyLock<String> = LazyLock::new(|| {
    let salt = SaltString::generate(&mut OsRng);
    argon2()
        .hash_password(b"decoy password", &salt)
        .expect("argon2 hashes the decoy")
        .to_string()
});

/// Whether `password` matches `hash`; `None` as the hash checks against a decoy and fails.
pub async fn verify(hash: Option<String>, password: String) -> bool {
    on_hashing_slot(move || {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| DECOY.clone());
        let Ok(parsed) = PasswordHash::new(&hash) else {
            tracing::error!("a stored password hash is not a PHC string");
            return false;
        };
        let matches = argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        known && matches
    })
    .await
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
