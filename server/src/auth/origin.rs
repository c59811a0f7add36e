//! Whether a browser request comes from the server's own pages (or an allowed origin): the
//! check behind CSRF protection and the WebSocket's origin rule; and whether a request is
//! addressed to this server by a name it answers to, which defeats DNS rebinding.

use std::net::IpAddr;

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

/// Whether `host` (a `Host` header: a name or an IP address, with or without a port) names
/// this server. An IP address always does, and so does `localhost`: a page that rebinds its
/// own name to this server's address still sends its own name. Any other name must be the
/// host of one of the `allowed` origins.
pub fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => host.rsplit_once(':').map_or(host, |(name, _port)| name),
    };
    name.parse::<IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || allowed.iter().any(|origin| {
            let authority = origin
                .split_once("://")
                .map_or(origin.as_str(), |(_, rest)| rest);
            let allowed_name = authority
                .rsplit_once(':')
                .map_or(authority, |(name, _)| name);
            allowed_name.eq_ignore_ascii_case(name)
        })
}

/// Whether the request's `Origin`, when it has one, is this server's own or allowed: what
/// every change (not only those made with the session cookie) must pass.
pub fn origin_allowed_if_any(headers: &HeaderMap, allowed: &[String]) -> bool {
    !headers.contains_key(header::ORIGIN) || same_origin(headers, allowed)
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
    fn addresses_localhost_and_allowed_names_are_this_server() {
        let allowed = ["https://hatchery.example.com".to_owned()];
        for host in [
            "127.0.0.1:3000",
            "[::1]:3000",
            "192.0.2.4",
            "localhost:3000",
            "LOCALHOST",
            "hatchery.example.com",
            "Hatchery.Example.com:443",
        ] {
            assert!(host_allowed(host, &allowed), "{host}");
        }
        for host in [
            "evil.test",
            "evil.test:3000",
            "127.0.0.1.evil.test",
            "localhost.evil",
        ] {
            assert!(!host_allowed(host, &allowed), "{host}");
        }
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
