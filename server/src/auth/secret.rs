//! Random secrets for session cookies and API tokens, and the hashes they are stored by.
//!
//! A secret carries 256 random bits, so a fast hash (SHA-256) is enough to keep the stored
//! value useless to someone who reads the database.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

/// A new secret: `prefix` followed by 64 hex digits of randomness.
pub fn generate(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// The hash a secret is stored and looked up by (SHA-256, hex).
pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_random_and_hash_stably() {
        let a = generate("hat_");
        let b = generate("hat_");
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 64);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
    }
}
