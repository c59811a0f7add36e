//! Request signatures: `sha256=<hex HMAC-SHA256(secret, "{timestamp}.{body}")>`, checked in
//! constant time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The prefix of a signature header's value.
const PREFIX: &str = "sha256=";

fn mac(secret: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The signature header value for `body` sent at `timestamp` (Unix seconds, as sent).
pub fn sign(secret: &str, timestamp: &str, body: &[u8]) -> String {
    format!(
        "{PREFIX}{}",
        hex::encode(mac(secret, timestamp, body).finalize().into_bytes())
    )
}

/// The digest a signature header carries; `None` when it is not `sha256=` and 64 hex
/// digits.
pub fn parse(header: &str) -> Option<[u8; 32]> {
    hex::decode(header.trim().strip_prefix(PREFIX)?)
        .ok()?
        .try_into()
        .ok()
}

/// Whether `digest` signs `body` sent at `timestamp` with `secret` (constant time).
pub fn verify(secret: &str, timestamp: &str, body: &[u8], digest: &[u8; 32]) -> bool {
    mac(secret, timestamp, body).verify_slice(digest).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_for_its_secret_time_and_body_only() {
        let signature = sign("whsec_1", "1700000000", b"{\"a\":1}");
        let digest = parse(&signature).unwrap();
        assert!(verify("whsec_1", "1700000000", b"{\"a\":1}", &digest));
        assert!(!verify("whsec_2", "1700000000", b"{\"a\":1}", &digest));
        assert!(!verify("whsec_1", "1700000001", b"{\"a\":1}", &digest));
        assert!(!verify("whsec_1", "1700000000", b"{\"a\":2}", &digest));
        assert!(parse("md5=abc").is_none());
        assert!(parse("sha256=zz").is_none());
    }

    #[test]
    fn it_matches_another_implementation() {
        // Python: hmac.new(b"whsec_test", b'1700000000.{"ok":true}', hashlib.sha256)
        assert_eq!(
            sign("whsec_test", "1700000000", b"{\"ok\":true}"),
            "sha256=85876387ad9d6be57a04653bc0729da757049f58afb10ba6cac3bedaecf4fda3"
        );
    }
}
