//! Webhook adapters: how each sender signs a request and names its event. Each one checks
//! the exact bytes received against the receiver's secrets (the current one, and the one
//! before a rotation during its grace period) before anything is stored, and says what
//! makes the request unique, so that the same request twice is a replay.
//!
//! Webhook triggers receive with `hatchery`; the senders' own schemes below are checked
//! against their documented examples here, and are not yet offered by the API.
//!
//! - `hatchery`: `X-Hatchery-Signature: sha256=<hex HMAC-SHA256(secret, "{t}.{body}")>`
//!   with `X-Hatchery-Timestamp: {t}`, the scheme of webhook triggers.
//! - `github`: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`, the event
//!   in `X-GitHub-Event` and the delivery's id in `X-GitHub-Delivery`.
//! - `stripe`: `Stripe-Signature: t={t},v1=<hex HMAC-SHA256(secret, "{t}.{body}")>[,v1=…]`.
//! - `generic_hmac`: a header of the receiver's choice, SHA-1, SHA-256 or SHA-512, hex or
//!   base64, an optional prefix, and an optional timestamp header (then the signed text is
//!   `"{t}.{body}"`).

use axum::http::HeaderMap;
use base64::Engine as _;
use hatchery_shared::api::triggers::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How far a request's timestamp may be from the server's clock, in seconds.
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 300;

/// How a receiver's sender signs its requests and names its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "adapter", rename_all = "snake_case")]
pub enum Adapter {
    /// Hatchery's own scheme, as webhook triggers have always used.
    Hatchery,
    /// GitHub's webhooks.
    Github,
    /// Stripe's webhook endpoints.
    Stripe,
    /// Any sender that signs the body with an HMAC in a header.
    GenericHmac(GenericHmac),
}

/// The settings of a `generic_hmac` receiver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenericHmac {
    /// The header that carries the signature, such as `X-Signature`.
    pub header: String,
    /// The hash of the HMAC.
    pub algorithm: Algorithm,
    /// How the digest is written.
    pub encoding: Encoding,
    /// Text before the digest in the header, such as `sha256=`.
    #[serde(default)]
    pub prefix: String,
    /// The header with the Unix time the request was sent: when set, the signed text is
    /// `"{timestamp}.{body}"`, and a time more than five minutes away is refused.
    #[serde(default)]
    pub timestamp_header: Option<String>,
}

/// The hash of a generic HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Algorithm {
    /// HMAC-SHA1, which older senders still use.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// How a generic HMAC's digest is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Encoding {
    /// Hexadecimal digits, either case.
    Hex,
    /// Standard base64, padded.
    Base64,
}

/// A request as received: what the adapters check.
#[derive(Debug, Clone, Copy)]
pub struct Received<'a> {
    /// Its headers.
    pub headers: &'a HeaderMap,
    /// Its body, byte for byte.
    pub body: &'a [u8],
    /// The server's Unix time when it came.
    pub now: i64,
}

/// A request whose signature checked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// What makes the request unique to its receiver: the sender's delivery id where it
    /// sends one, otherwise the signature itself.
    pub replay_key: String,
    /// The sender's id of the delivery, shown with the event.
    pub delivery_id: Option<String>,
    /// The sender's name of the event, before the payload refines it (GitHub's
    /// `X-GitHub-Event`).
    pub event_name: Option<String>,
}

/// Why a request's signature was refused: each says what the sender should fix.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unverified {
    /// A header the adapter needs is missing.
    #[error("the {0} header is missing")]
    Missing(String),
    /// A header is there but not in the sender's format.
    #[error("the {0} header is not {1}")]
    Malformed(String, &'static str),
    /// The timestamp is too far from the server's clock.
    #[error("the request's timestamp is more than 5 minutes from the server's time")]
    Stale,
    /// No secret of the receiver signs the body this way.
    #[error("the signature does not match the body and the secret")]
    Mismatch,
}

impl Adapter {
    /// The adapter's name, as the API and the database write it.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Hatchery => "hatchery",
            Self::Github => "github",
            Self::Stripe => "stripe",
            Self::GenericHmac(_) => "generic_hmac",
        }
    }

    /// Checks that one of `secrets` signs the request's body as the sender does.
    pub fn verify(&self, secrets: &[&str], request: Received<'_>) -> Result<Verified, Unverified> {
        let Received { headers, body, now } = request;
        match self {
            Self::Hatchery => {
                let timestamp = header(headers, TIMESTAMP_HEADER)?;
                fresh(timestamp, now, TIMESTAMP_HEADER)?;
                let digest = hex_after(headers, SIGNATURE_HEADER, "sha256=")?;
                signed_by(
                    secrets,
                    Algorithm::Sha256,
                    &[timestamp.as_bytes(), b".", body],
                    &[digest.as_slice()],
                )?;
                Ok(Verified {
                    replay_key: hex::encode(digest),
                    delivery_id: None,
                    event_name: None,
                })
            }
            Self::Github => {
                let digest = hex_after(headers, "X-Hub-Signature-256", "sha256=")?;
                signed_by(secrets, Algorithm::Sha256, &[body], &[digest.as_slice()])?;
                let delivery = header(headers, "X-GitHub-Delivery")?.to_owned();
                Ok(Verified {
                    replay_key: delivery.clone(),
                    delivery_id: Some(delivery),
                    event_name: Some(header(headers, "X-GitHub-Event")?.to_owned()),
                })
            }
            Self::Stripe => {
                let (timestamp, digests) = stripe_header(header(headers, "Stripe-Signature")?)?;
                fresh(timestamp, now, "Stripe-Signature t=")?;
                let digests: Vec<&[u8]> = digests.iter().map(Vec::as_slice).collect();
                let matched = signed_by(
                    secrets,
                    Algorithm::Sha256,
                    &[timestamp.as_bytes(), b".", body],
                    &digests,
                )?;
                Ok(Verified {
                    replay_key: hex::encode(matched),
                    delivery_id: None,
                    event_name: None,
                })
            }
            Self::GenericHmac(generic) => generic.verify(secrets, request),
        }
    }
}

/// The `X-Hatchery-Signature` value that signs `body` sent at `timestamp` (Unix seconds, as
/// sent in `X-Hatchery-Timestamp`) with `secret`, as a sender computes it.
pub fn hatchery_signature(secret: &str, timestamp: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    for part in [timestamp.as_bytes(), b".", body] {
        mac.update(part);
    }
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// What an event is called and what makes it unique, once its request is verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The event's type: the adapter's name, then the sender's name of the event, such as
    /// `github.pull_request.opened`, `stripe.invoice.paid` or `hatchery.webhook`.
    pub event_type: String,
    /// The sender's id of the event or delivery, where it sends one.
    pub delivery_id: Option<String>,
    /// What makes the request unique to its receiver (see [`Verified::replay_key`]); for
    /// Stripe, the event's id, which Stripe's retries keep.
    pub replay_key: String,
}

impl Adapter {
    /// Names the event of a verified request with `headers` and the JSON `payload` (which
    /// is `Value::Null` when the body is not JSON).
    pub fn identify(&self, verified: Verified, headers: &HeaderMap, payload: &Value) -> Identity {
        let text = |pointer: &str| {
            payload
                .pointer(pointer)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        match self {
            Self::Github => {
                let name = verified.event_name.unwrap_or_default();
                let event_type = match text("/action") {
                    Some(action) => format!("github.{name}.{action}"),
                    None => format!("github.{name}"),
                };
                Identity {
                    event_type,
                    delivery_id: verified.delivery_id,
                    replay_key: verified.replay_key,
                }
            }
            Self::Stripe => {
                let id = text("/id");
                Identity {
                    event_type: format!(
                        "stripe.{}",
                        text("/type").unwrap_or_else(|| "event".into())
                    ),
                    replay_key: id.clone().unwrap_or(verified.replay_key),
                    delivery_id: id,
                }
            }
            Self::Hatchery | Self::GenericHmac(_) => {
                let name = headers
                    .get(EVENT_HEADER)
                    .and_then(|value| value.to_str().ok())
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .unwrap_or("webhook");
                Identity {
                    event_type: format!("{}.{name}", self.name()),
                    delivery_id: None,
                    replay_key: verified.replay_key,
                }
            }
        }
    }
}

/// The header that names the event of a `hatchery` or `generic_hmac` request (optional:
/// `webhook` without it).
pub const EVENT_HEADER: &str = "X-Hatchery-Event";

impl GenericHmac {
    /// [`Adapter::verify`] for a generic HMAC.
    fn verify(&self, secrets: &[&str], request: Received<'_>) -> Result<Verified, Unverified> {
        let Received { headers, body, now } = request;
        let value = header(headers, &self.header)?;
        let written = value
            .trim()
            .strip_prefix(self.prefix.as_str())
            .ok_or_else(|| {
                Unverified::Malformed(self.header.clone(), "the configured prefix and a digest")
            })?;
        let digest = match self.encoding {
            Encoding::Hex => hex::decode(written).ok(),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD
                .decode(written)
                .ok(),
        }
        .ok_or_else(|| {
            Unverified::Malformed(self.header.clone(), "a digest in the configured encoding")
        })?;
        let timestamp = match &self.timestamp_header {
            Some(name) => {
                let timestamp = header(headers, name)?;
                fresh(timestamp, now, name)?;
                Some(timestamp)
            }
            None => None,
        };
        let signed: Vec<&[u8]> = match timestamp {
            Some(timestamp) => vec![timestamp.as_bytes(), b".", body],
            None => vec![body],
        };
        signed_by(secrets, self.algorithm, &signed, &[digest.as_slice()])?;
        Ok(Verified {
            replay_key: hex::encode(&digest),
            delivery_id: None,
            event_name: None,
        })
    }
}

/// The header `name`, trimmed; refused when missing or not text.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Unverified> {
    headers
        .get(name)
        .ok_or_else(|| Unverified::Missing(name.to_owned()))?
        .to_str()
        .map(str::trim)
        .map_err(|_| Unverified::Malformed(name.to_owned(), "text"))
}

/// Refuses `timestamp` (Unix seconds, from the header `name`) when it is not a number or
/// more than [`TIMESTAMP_TOLERANCE_SECS`] from `now`.
fn fresh(timestamp: &str, now: i64, name: &str) -> Result<(), Unverified> {
    let sent: i64 = timestamp
        .parse()
        .map_err(|_| Unverified::Malformed(name.to_owned(), "a number of Unix seconds"))?;
    if (now - sent).abs() > TIMESTAMP_TOLERANCE_SECS {
        return Err(Unverified::Stale);
    }
    Ok(())
}

/// The digest in the header `name`: `prefix` and hexadecimal digits.
fn hex_after(headers: &HeaderMap, name: &str, prefix: &'static str) -> Result<Vec<u8>, Unverified> {
    header(headers, name)?
        .strip_prefix(prefix)
        .and_then(|digits| hex::decode(digits).ok())
        .ok_or_else(|| Unverified::Malformed(name.to_owned(), "sha256= and hexadecimal digits"))
}

/// The timestamp and the `v1` digests of a `Stripe-Signature` header; other schemes in it
/// (such as Stripe's test-mode `v0`) are ignored.
fn stripe_header(value: &str) -> Result<(&str, Vec<Vec<u8>>), Unverified> {
    let malformed = || Unverified::Malformed("Stripe-Signature".to_owned(), "t=<time>,v1=<hex>");
    let mut timestamp = None;
    let mut digests = Vec::new();
    for part in value.split(',') {
        match part.trim().split_once('=') {
            Some(("t", time)) => timestamp = Some(time),
            Some(("v1", digits)) => digests.push(hex::decode(digits).map_err(|_| malformed())?),
            _ => {}
        }
    }
    match timestamp {
        Some(timestamp) if !digests.is_empty() => Ok((timestamp, digests)),
        _ => Err(malformed()),
    }
}

/// The first of `digests` that one of `secrets` gives for `parts` (the signed text, in
/// pieces) with HMAC over `algorithm`; compared in constant time.
fn signed_by(
    secrets: &[&str],
    algorithm: Algorithm,
    parts: &[&[u8]],
    digests: &[&[u8]],
) -> Result<Vec<u8>, Unverified> {
    fn check<M: Mac + hmac::digest::KeyInit>(secret: &str, parts: &[&[u8]], digest: &[u8]) -> bool {
        let mut mac = <M as hmac::digest::KeyInit>::new_from_slice(secret.as_bytes())
            .expect("HMAC takes a key of any length");
        for part in parts {
            mac.update(part);
        }
        mac.verify_slice(digest).is_ok()
    }
    let signs = |secret: &str, digest: &[u8]| match algorithm {
        Algorithm::Sha1 => check::<Hmac<sha1::Sha1>>(secret, parts, digest),
        Algorithm::Sha256 => check::<Hmac<sha2::Sha256>>(secret, parts, digest),
        Algorithm::Sha512 => check::<Hmac<sha2::Sha512>>(secret, parts, digest),
    };
    digests
        .iter()
        .find(|digest| secrets.iter().any(|secret| signs(secret, digest)))
        .map(|digest| digest.to_vec())
        .ok_or(Unverified::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    axum::http::HeaderName::from_static(name),
                    value.parse().expect("a header value"),
                )
            })
            .collect()
    }

    const NOW: i64 = 1_700_000_000;

    fn received<'a>(headers: &'a HeaderMap, body: &'a [u8], now: i64) -> Received<'a> {
        Received { headers, body, now }
    }

    #[test]
    fn github_signs_the_body_as_its_documentation_shows() {
        // The example of GitHub's "Validating webhook deliveries".
        let secret = "It's a Secret to Everybody";
        let signed = headers(&[
            (
                "x-hub-signature-256",
                "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17",
            ),
            ("x-github-event", "ping"),
            ("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
        ]);
        let verified = Adapter::Github
            .verify(&[secret], received(&signed, b"Hello, World!", NOW))
            .unwrap();
        assert_eq!(verified.replay_key, "72d3162e-cc78-11e3-81ab-4c9367dc0958");
        assert_eq!(verified.event_name.as_deref(), Some("ping"));
        assert_eq!(
            Adapter::Github.verify(&["another"], received(&signed, b"Hello, World!", NOW)),
            Err(Unverified::Mismatch)
        );
        assert_eq!(
            Adapter::Github.verify(&[secret], received(&signed, b"Hello, World?", NOW)),
            Err(Unverified::Mismatch)
        );
        assert_eq!(
            Adapter::Github
                .verify(&["old", secret], received(&signed, b"Hello, World!", NOW))
                .map(|v| v.replay_key),
            Ok(verified.replay_key),
            "the previous secret during its grace period"
        );
    }

    #[test]
    fn signatures_made_by_the_senders_own_libraries_verify() {
        // GitHub's @octokit/webhooks-methods 6.0.0 (npm): sign(secret, body).
        let body =
            br#"{"action":"opened","number":7,"pull_request":{"title":"Fix the flaky test"}}"#;
        let github = headers(&[
            (
                "x-hub-signature-256",
                "sha256=92bb323b02350e536dbb18188dbfe6f94933cc9bde5fb98437b212ab71bc3812",
            ),
            ("x-github-event", "pull_request"),
            ("x-github-delivery", "d-7"),
        ]);
        let secret = "It's a Secret to Everybody";
        assert!(
            Adapter::Github
                .verify(&[secret], received(&github, body, NOW))
                .is_ok()
        );
        // Stripe's stripe 23.2.0 (npm): stripe.webhooks.generateTestHeaderString({ payload,
        // secret, timestamp: 1700000000 }), which its own constructEvent accepts.
        let body = br#"{"id":"evt_1Q","object":"event","type":"invoice.paid"}"#;
        let stripe = headers(&[(
            "stripe-signature",
            "t=1700000000,v1=61f57075465f201ff9b10bbe93306755b4d496c4496e686bf2261a49a494f0ff",
        )]);
        let verified = Adapter::Stripe
            .verify(&["whsec_test_secret"], received(&stripe, body, NOW))
            .unwrap();
        let payload: Value = serde_json::from_slice(body).unwrap();
        let identity = Adapter::Stripe.identify(verified, &stripe, &payload);
        assert_eq!(identity.event_type, "stripe.invoice.paid");
        assert_eq!(identity.replay_key, "evt_1Q");
    }

    #[test]
    fn stripe_takes_any_v1_signature_of_a_recent_time() {
        // Python: hmac.new(b"whsec_test", b'1700000000.{"id":"evt_1"}', hashlib.sha256)
        let digest = "c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925";
        let body = br#"{"id":"evt_1"}"#;
        let other = "00".repeat(32);
        let value = format!("t=1700000000,v1={other},v1={digest},v0={other}");
        let signed = headers(&[("stripe-signature", &value)]);
        let verified = Adapter::Stripe.verify(&["whsec_test"], received(&signed, body, NOW));
        assert_eq!(verified.map(|v| v.replay_key).as_deref(), Ok(digest));
        assert_eq!(
            Adapter::Stripe.verify(&["whsec_test"], received(&signed, body, NOW + 301)),
            Err(Unverified::Stale)
        );
        assert_eq!(
            Adapter::Stripe.verify(&["whsec_other"], received(&signed, body, NOW)),
            Err(Unverified::Mismatch)
        );
        let unsigned = headers(&[("stripe-signature", "t=1700000000,v0=00")]);
        assert!(matches!(
            Adapter::Stripe.verify(&["whsec_test"], received(&unsigned, body, NOW)),
            Err(Unverified::Malformed(..))
        ));
    }

    #[test]
    fn a_generic_hmac_follows_its_settings() {
        let body = br#"{"a":1}"#;
        // Python: base64.b64encode(hmac.new(b"s3cret", b'{"a":1}', hashlib.sha1).digest())
        let sha1 = Adapter::GenericHmac(GenericHmac {
            header: "X-Signature".into(),
            algorithm: Algorithm::Sha1,
            encoding: Encoding::Base64,
            prefix: String::new(),
            timestamp_header: None,
        });
        let signed = headers(&[("x-signature", "eZmXhqG/8QzU190LB1JXSvdr4LU=")]);
        assert!(
            sha1.verify(&["s3cret"], received(&signed, body, NOW))
                .is_ok()
        );
        assert_eq!(
            sha1.verify(&["s3cret"], received(&HeaderMap::new(), body, NOW)),
            Err(Unverified::Missing("X-Signature".into()))
        );
        // Python: hmac.new(b"s3cret", b'1700000000.{"a":1}', hashlib.sha512).hexdigest()
        let sha512 = Adapter::GenericHmac(GenericHmac {
            header: "X-Sig".into(),
            algorithm: Algorithm::Sha512,
            encoding: Encoding::Hex,
            prefix: "v1=".into(),
            timestamp_header: Some("X-Sent-At".into()),
        });
        let value = "v1=dc1e516d819407dc7499d65764730002532ec84929b814348a41ac580d296980b613aeae\
                     247f57a1742d5df8479c899452709f0c01906d399c442049b16b53fe";
        let signed = headers(&[("x-sig", value), ("x-sent-at", "1700000000")]);
        assert!(
            sha512
                .verify(&["s3cret"], received(&signed, body, NOW))
                .is_ok()
        );
        assert_eq!(
            sha512.verify(&["s3cret"], received(&signed, body, NOW - 400)),
            Err(Unverified::Stale)
        );
        let unprefixed = headers(&[("x-sig", &value[3..]), ("x-sent-at", "1700000000")]);
        assert!(matches!(
            sha512.verify(&["s3cret"], received(&unprefixed, body, NOW)),
            Err(Unverified::Malformed(..))
        ));
    }

    #[test]
    fn an_event_is_named_by_its_adapter_and_sender() {
        let verified = |key: &str| Verified {
            replay_key: key.into(),
            delivery_id: None,
            event_name: None,
        };
        let github = Adapter::Github.identify(
            Verified {
                replay_key: "d-1".into(),
                delivery_id: Some("d-1".into()),
                event_name: Some("pull_request".into()),
            },
            &HeaderMap::new(),
            &serde_json::json!({ "action": "opened" }),
        );
        assert_eq!(github.event_type, "github.pull_request.opened");
        assert_eq!(github.replay_key, "d-1");
        let stripe = Adapter::Stripe.identify(
            verified("digest"),
            &HeaderMap::new(),
            &serde_json::json!({ "id": "evt_9", "type": "invoice.paid" }),
        );
        assert_eq!(
            (stripe.event_type.as_str(), stripe.replay_key.as_str()),
            ("stripe.invoice.paid", "evt_9"),
            "a retry of the same event is a replay"
        );
        let named = headers(&[("x-hatchery-event", "deploy.finished")]);
        let hatchery = Adapter::Hatchery.identify(verified("digest"), &named, &Value::Null);
        assert_eq!(hatchery.event_type, "hatchery.deploy.finished");
        let plain = Adapter::Hatchery.identify(verified("digest"), &HeaderMap::new(), &Value::Null);
        assert_eq!(plain.event_type, "hatchery.webhook");
    }

    #[test]
    fn hatchery_keeps_the_scheme_of_webhook_triggers() {
        // Python: hmac.new(b"whsec_test", b'1700000000.{"ok":true}', hashlib.sha256)
        let signed = headers(&[
            ("x-hatchery-timestamp", "1700000000"),
            (
                "x-hatchery-signature",
                "sha256=85876387ad9d6be57a04653bc0729da757049f58afb10ba6cac3bedaecf4fda3",
            ),
        ]);
        let body = br#"{"ok":true}"#;
        assert!(
            Adapter::Hatchery
                .verify(&["whsec_test"], received(&signed, body, NOW))
                .is_ok()
        );
        assert_eq!(
            hatchery_signature("whsec_test", "1700000000", body),
            signed["x-hatchery-signature"]
        );
        assert_eq!(
            Adapter::Hatchery.verify(&["whsec_test"], received(&signed, body, NOW + 301)),
            Err(Unverified::Stale)
        );
    }
}
