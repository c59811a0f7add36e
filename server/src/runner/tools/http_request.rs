//! `http_request`: a GET or POST to a public address, with a timeout and a cap on the
//! response's size. Private, loopback, link-local and other special addresses (IPv6 ones
//! that embed or translate to IPv4 among them) are refused unless the allow-list names
//! them; the check is on the addresses the name resolves to, and the request goes to
//! exactly those addresses, directly (never through a proxy named in the environment), so
//! a name cannot be re-pointed between the check and the request. Redirects are not
//! followed. An optional list of ports limits where it may go further.

use std::{
    net::{IpAddr, SocketAddr},
    time::Duration,
};

use futures_util::StreamExt;
use ipnet::IpNet;
use serde::Deserialize;

use super::ToolError;

/// Limits of the tool.
#[derive(Debug, Clone)]
pub struct HttpToolConfig {
    /// The longest a request may take, body included.
    pub timeout: Duration,
    /// The most bytes of a response body returned; the rest is cut off.
    pub max_response_bytes: usize,
    /// Networks allowed although they are not public (such as `10.0.0.0/8`).
    pub allow: Vec<IpNet>,
    /// The only ports it may connect to (`HATCHERY_HTTP_TOOL_PORTS`); empty: any.
    pub ports: Vec<u16>,
}

impl Default for HttpToolConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            max_response_bytes: 64 * 1024,
            allow: Vec::new(),
            ports: Vec::new(),
        }
    }
}

/// The tool's arguments.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpRequest {
    /// An `http` or `https` URL.
    pub url: String,
    /// `GET` (default) or `POST`.
    #[serde(default)]
    pub method: Option<String>,
    /// The body of a POST.
    #[serde(default)]
    pub body: Option<String>,
}

/// Sends `request` and returns the status line and the body (cut at the size cap).
pub async fn send(request: HttpRequest, config: &HttpToolConfig) -> Result<String, ToolError> {
    let url = reqwest::Url::parse(&request.url)
        .map_err(|err| ToolError::BadArguments(format!("{:?} is not a URL: {err}", request.url)))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ToolError::BadArguments("only http and https URLs".into()));
    }
    let host = url
        .host_str()
        .ok_or_else(|| ToolError::BadArguments("the URL has no host".into()))?
        .to_owned();
    let port = url.port_or_known_default().unwrap_or(80);
    if !config.ports.is_empty() && !config.ports.contains(&port) {
        return Err(ToolError::Refused(format!(
            "port {port} is not one this server lets the tool use ({})",
            config
                .ports
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let addrs = resolve(&host, port).await?;
    if let Some(refused) = addrs.iter().find(|addr| !allowed(addr.ip(), &config.allow)) {
        return Err(ToolError::Refused(format!(
            "{host} is at {}, a private or special address; only public addresses may be \
             requested",
            refused.ip()
        )));
    }
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(config.timeout)
        .resolve_to_addrs(&host, &addrs)
        .build()
        .map_err(|err| ToolError::Failed(err.to_string()))?;
    let builder = match request
        .method
        .as_deref()
        .map(str::to_ascii_uppercase)
        .as_deref()
    {
        None | Some("GET") => client.get(url),
        Some("POST") => client.post(url).body(request.body.unwrap_or_default()),
        Some(other) => {
            return Err(ToolError::BadArguments(format!(
                "method {other} is not supported; use GET or POST"
            )));
        }
    };
    let response = builder.send().await.map_err(|err| failed(&err, config))?;
    let status = response.status();
    let mut body = Vec::new();
    let mut cut = false;
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|err| failed(&err, config))?;
        let room = config.max_response_bytes - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            cut = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    let mut text = format!("HTTP {status}\n\n{}", String::from_utf8_lossy(&body));
    if cut {
        text.push_str(&format!(
            "\n\n[cut off after {} bytes]",
            config.max_response_bytes
        ));
    }
    Ok(text)
}

fn failed(err: &reqwest::Error, config: &HttpToolConfig) -> ToolError {
    if err.is_timeout() {
        ToolError::TimedOut(config.timeout)
    } else {
        ToolError::Failed(err.to_string())
    }
}

/// The addresses `host` stands for (itself when it is one).
async fn resolve(host: &str, port: u16) -> Result<Vec<SocketAddr>, ToolError> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = literal.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|err| ToolError::Failed(format!("cannot resolve {host}: {err}")))?
        .collect();
    if addrs.is_empty() {
        return Err(ToolError::Failed(format!("{host} has no address")));
    }
    Ok(addrs)
}

/// Whether `ip` may be requested: a public address, or one the allow-list names.
pub fn allowed(ip: IpAddr, allow: &[IpNet]) -> bool {
    is_public(ip) || allow.iter().any(|net| net.contains(&ip))
}

/// Whether `ip` is an ordinary public address (not private, loopback, link-local,
/// shared, documentation, multicast, unspecified or otherwise reserved).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0)
                || (a == 198 && (18..20).contains(&b))
                || a >= 240)
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public(IpAddr::V4(v4)),
            None => {
                let [first, second, ..] = v6.segments();
                // Global unicast only (2000::/3), and none of its special blocks: 6to4
                // (2002::/16) and Teredo (2001::/32), which carry IPv4 addresses, and
                // documentation (2001:db8::/32). Outside it: NAT64 (64:ff9b::/96), the
                // IPv4-compatible ::a.b.c.d, site-local, unique-local, link-local,
                // multicast, loopback and unspecified.
                (first & 0xe000) == 0x2000
                    && first != 0x2002
                    && !(first == 0x2001 && (second == 0 || second == 0x0db8))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "::127.0.0.1",
            "::10.0.0.1",
            "2002:7f00:1::1",
            "2001:0:4136:e378::1",
            "fec0::1",
            "2001:db8::1",
        ] {
            assert!(!allowed(ip.parse().unwrap(), &[]), "{ip}");
        }
        for ip in [
            "93.184.216.34",
            "1.1.1.1",
            "2606:4700:4700::1111",
            "2a00:1450:4007::1",
        ] {
            assert!(allowed(ip.parse().unwrap(), &[]), "{ip}");
        }
        let allow = ["10.0.0.0/8".parse().unwrap()];
        assert!(allowed("10.1.2.3".parse().unwrap(), &allow));
        assert!(!allowed("192.168.1.1".parse().unwrap(), &allow));
    }
}
