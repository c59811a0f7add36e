//! Secrets sealed at rest: encrypted and authenticated with XChaCha20-Poly1305 under the
//! server's key, each bound to the row it belongs to (a sealed secret copied to another row
//! does not open).

use std::{io, path::Path};

use chacha20poly1305::{
    XChaCha20Poly1305, XNonce,
    aead::{Aead, AeadCore, KeyInit, OsRng, Payload},
};

/// Seals and opens secrets with the server's key.
#[derive(Clone)]
pub struct Sealer {
    cipher: XChaCha20Poly1305,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

/// A sealed secret that does not open: another key, another row, or altered.
#[derive(Debug, thiserror::Error)]
#[error("a sealed secret does not open with this server's key")]
pub struct SealError;

/// The version tag of the sealed format.
const FORMAT: &str = "v1:";
/// Bytes of an XChaCha20 nonce.
const NONCE_LEN: usize = 24;

impl Sealer {
    /// A sealer with the 256-bit `key`.
    pub fn new(key: &[u8; 32]) -> Self {
        Self {
            cipher: XChaCha20Poly1305::new(key.into()),
        }
    }

    /// `secret` sealed for the row `bound_to`: `v1:` then the nonce and ciphertext in hex.
    pub fn seal(&self, secret: &str, bound_to: &str) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let payload = Payload {
            msg: secret.as_bytes(),
            aad: bound_to.as_bytes(),
        };
        let sealed = self
            .cipher
            .encrypt(&nonce, payload)
            .expect("sealing a short secret cannot fail");
        format!("{FORMAT}{}{}", hex::encode(nonce), hex::encode(sealed))
    }

    /// The secret sealed for `bound_to`.
    pub fn open(&self, sealed: &str, bound_to: &str) -> Result<String, SealError> {
        let bytes = sealed
            .strip_prefix(FORMAT)
            .and_then(|hex_text| hex::decode(hex_text).ok())
            .filter(|bytes| bytes.len() > NONCE_LEN)
            .ok_or(SealError)?;
        let (nonce, sealed) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: sealed,
            aad: bound_to.as_bytes(),
        };
        let secret = self
            .cipher
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| SealError)?;
        String::from_utf8(secret).map_err(|_| SealError)
    }
}

/// The key in `path` (64 hex digits), created with fresh randomness and owner-only
/// permissions when the file does not exist yet.
pub fn key_from_file(path: &Path) -> io::Result<[u8; 32]> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_key(text.trim()).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{} does not hold 64 hex digits", path.display()),
            )
        }),
        Err(err) if err.kind() == io::ErrorKind::NotFound => {
            let key: [u8; 32] = XChaCha20Poly1305::generate_key(&mut OsRng).into();
            write_owner_only(path, &hex::encode(key))?;
            tracing::warn!(
                path = %path.display(),
                "created the key that seals webhook secrets; back it up with the database"
            );
            Ok(key)
        }
        Err(err) => Err(err),
    }
}

/// A key written as 64 hex digits.
pub fn parse_key(text: &str) -> Option<[u8; 32]> {
    hex::decode(text).ok()?.try_into().ok()
}

fn write_owner_only(path: &Path, text: &str) -> io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_opens_only_with_its_key_and_row() {
        let sealer = Sealer::new(&[7; 32]);
        let sealed = sealer.seal("whsec_abc", "trigger-1");
        assert!(!sealed.contains("whsec_abc"));
        assert_eq!(sealer.open(&sealed, "trigger-1").unwrap(), "whsec_abc");
        assert!(sealer.open(&sealed, "trigger-2").is_err());
        assert!(Sealer::new(&[8; 32]).open(&sealed, "trigger-1").is_err());
        let mut altered = sealed.clone();
        altered.pop();
        altered.push('0');
        assert!(sealer.open(&altered, "trigger-1").is_err() || altered == sealed);
        assert_ne!(sealer.seal("whsec_abc", "trigger-1"), sealed, "fresh nonce");
    }

    #[test]
    fn the_key_file_is_created_once_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let key = key_from_file(&path).unwrap();
        assert_eq!(key_from_file(&path).unwrap(), key);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::write(&path, "not a key").unwrap();
        assert!(key_from_file(&path).is_err());
    }
}
