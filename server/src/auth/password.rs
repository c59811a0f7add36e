//! Password hashing with argon2id, on the blocking thread pool so that a sign-in's hash
//! never stalls the async threads serving other requests, and on all cores but one at most,
//! so that a burst of sign-ins can take neither all the memory nor every core. A bounded
//! number of hashes may wait for a core; beyond that the caller is told the server is busy
//! at once instead of queueing.

use std::sync::{
    LazyLock,
    atomic::{AtomicUsize, Ordering},
};

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

/// Password hashing for one server: the cores given to it, and the hashes waiting for them.
#[derive(Debug)]
pub struct Hashing {
    /// Hashes running at once.
    slots: Semaphore,
    /// Hashes running or waiting for a slot.
    wanted: AtomicUsize,
    /// The most hashes that may run or wait at once.
    max_wanted: usize,
}

/// Too many passwords are being checked right now; the caller should try again shortly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server is busy checking passwords; try again in a moment")]
pub struct Busy;

impl Hashing {
    /// One hash per core, leaving one core to everything else (one on a single core); up
    /// to 16 running or waiting: each takes about a tenth of a second, so a full queue is
    /// about a second of work on a small machine.
    pub fn for_this_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self::new(cores.saturating_sub(1).max(1), 16)
    }

    fn new(slots: usize, max_wanted: usize) -> Self {
        Self {
            slots: Semaphore::new(slots),
            wanted: AtomicUsize::new(0),
            max_wanted,
        }
    }

    /// Runs `work` on the blocking pool once a slot is free, or fails at once when
    /// `max_wanted` hashes are already running or waiting.
    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, Busy> {
        struct Wanted<'a>(&'a AtomicUsize);
        impl Drop for Wanted<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::AcqRel);
            }
        }
        let _wanted = Wanted(&self.wanted);
        if self.wanted.fetch_add(1, Ordering::AcqRel) >= self.max_wanted {
            return Err(Busy);
        }
        let _slot = self
            .slots
            .acquire()
            .await
            .expect("the hashing semaphore is never closed");
        Ok(tokio::task::spawn_blocking(work)
            .await
            .expect("hashing does not panic"))
    }

    /// Hashes `password` into a PHC string.
    pub async fn hash(&self, password: String) -> Result<String, Busy> {
        self.run(move || {
            let salt = SaltString::generate(&mut OsRng);
            argon2()
                .hash_password(password.as_bytes(), &salt)
                .expect("argon2 hashes any password")
                .to_string()
        })
        .await
    }

    /// Whether `password` matches `hash`; `None` as the hash checks against a decoy and
    /// fails, taking as long as for a known account.
    pub async fn verify(&self, hash: Option<String>, password: String) -> Result<bool, Busy> {
        self.run(move || {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hashing = Hashing::for_this_machine();
        let hashed = hashing.hash("correct horse".into()).await.unwrap();
        assert!(hashed.starts_with("$argon2id$"), "{hashed}");
        assert_eq!(
            hashing
                .verify(Some(hashed.clone()), "correct horse".into())
                .await,
            Ok(true)
        );
        assert_eq!(
            hashing.verify(Some(hashed), "wrong horse".into()).await,
            Ok(false)
        );
        assert_eq!(
            hashing.verify(None, "decoy password".into()).await,
            Ok(false)
        );
    }

    #[tokio::test]
    async fn a_full_queue_answers_busy_at_once() {
        let hashing = std::sync::Arc::new(Hashing::new(1, 2));
        let (release, hold) = tokio::sync::oneshot::channel::<()>();
        let running = {
            let hashing = hashing.clone();
            tokio::spawn(async move { hashing.run(move || hold.blocking_recv()).await })
        };
        let waiting = {
            let hashing = hashing.clone();
            tokio::spawn(async move { hashing.run(|| ()).await })
        };
        while hashing.wanted.load(Ordering::Acquire) < 2 {
            tokio::task::yield_now().await;
        }

        assert_eq!(hashing.run(|| ()).await, Err(Busy), "the third is refused");

        release.send(()).unwrap();
        assert!(running.await.unwrap().is_ok());
        assert_eq!(waiting.await.unwrap(), Ok(()));
        assert_eq!(hashing.run(|| ()).await, Ok(()), "room again");
    }
}
