//! Whether a browser request comes from the server's own pages (or an allowed origin): the
//! check behind CSRF protection and the WebSocket's origin rule.

use axum::http::{HeaderMap, header};

/// Whether the request's `Origin` is the server's own (same host) or one of `allowed`.
/// A request without `Origin` passes only when the browser marks it `Sec-Fetch-Site:
/// same-origin`, or when it is not from a browser at all (neither header).
pub fn same_origin(headers: &HeaderMap, allowed: &[String]) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return match headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
            None => true,
            Some(site) => site == "same-origin",
        };
    };
    let own_host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, host)| host);
    (own_host.is_some() && origin_host == own_host) || allowed.iter().any(|a| a == origin)
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    header::HeaderName::from_static(name),
                    HeaderValue::from_static(value),
                )
            })
            .collect()
    }

    #[test]
    fn own_host_and_allowed_origins_pass() {
        let allowed = ["https://app.example".to_owned()];
        let own = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "http://127.0.0.1:3000"),
        ]);
        assert!(same_origin(&own, &allowed));
        let listed = headers(&[("host", "internal:3000"), ("origin", "https://app.example")]);
        assert!(same_origin(&listed, &allowed));
        let other = headers(&[
            ("host", "127.0.0.1:3000"),
            ("origin", "https://evil.example"),
        ]);
        assert!(!same_origin(&other, &allowed));
    }

    #[test]
    fn without_origin_the_fetch_metadata_decides() {
        assert!(same_origin(&headers(&[("host", "h")]), &[]));
        assert!(same_origin(
            &headers(&[("host", "h"), ("sec-fetch-site", "same-origin")]),
            &[]
        ));
        assert!(!same_origin(
            &headers(&[("host", "h"), ("sec-fetch-site", "cross-site")]),
            &[]
        ));
    }
}
