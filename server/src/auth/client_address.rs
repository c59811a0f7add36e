//! The address a request comes from, seen through the reverse proxies the operator trusts
//! (`HATCHERY_TRUSTED_PROXIES`), for the per-address sign-in limit.
//!
//! `X-Forwarded-For` is believed only when the connection comes from a trusted proxy, and
//! then read from the right: each proxy appends the address it saw, so the first entry
//! from the right that is not itself a trusted proxy is the client. Entries further left
//! were written by the client and could say anything.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The client's address: `peer` (the connection's), or what trusted proxies in front of
/// it recorded in `X-Forwarded-For`.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |address: &IpAddr| trusted.iter().any(|net| net.contains(address));
    if !is_trusted(&peer) {
        return peer;
    }
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .collect();
    let mut client = peer;
    for entry in forwarded.iter().rev() {
        let Ok(address) = entry.trim().parse::<IpAddr>() else {
            // A malformed entry ends what can be believed.
            break;
        };
        client = address;
        if !is_trusted(&address) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|net| net.parse().unwrap()).collect()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let forged = headers(&["203.0.113.9"]);
        assert_eq!(
            client_address(ip("198.51.100.7"), &forged, &[]),
            ip("198.51.100.7")
        );
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("198.51.100.7"), &forged, &trusted),
            ip("198.51.100.7"),
            "a direct client is not a proxy"
        );
    }

    #[test]
    fn behind_trusted_proxies_the_rightmost_untrusted_entry_is_the_client() {
        let trusted = nets(&["10.0.0.0/8", "127.0.0.1/32"]);
        // The client forged the first entry; the edge proxy appended the real one, the
        // inner proxy its own.
        let chain = headers(&["1.2.3.4, 203.0.113.9", "10.0.0.5"]);
        assert_eq!(
            client_address(ip("127.0.0.1"), &chain, &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &headers(&["2001:db8::1"]), &trusted),
            ip("2001:db8::1")
        );
    }

    #[test]
    fn a_trusted_proxy_without_or_with_a_malformed_header_is_the_client() {
        let trusted = nets(&["10.0.0.0/8"]);
        assert_eq!(
            client_address(ip("10.0.0.2"), &HeaderMap::new(), &trusted),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_address(
                ip("10.0.0.2"),
                &headers(&["203.0.113.9, nonsense"]),
                &trusted
            ),
            ip("10.0.0.2")
        );
        assert_eq!(
            client_address(ip("10.0.0.2"), &headers(&["10.0.0.3"]), &trusted),
            ip("10.0.0.3"),
            "only proxies all the way: the furthest one"
        );
    }
}
