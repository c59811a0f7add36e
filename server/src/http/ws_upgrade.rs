//! The WebSocket opening handshake (RFC 6455 over HTTP/1.1, RFC 8441 over HTTP/2), answered
//! here so that the hub gets the upgraded connection as plain bytes: it writes frames that
//! were encoded once for all their connections, which a framing socket would frame again.

use axum::{
    body::Body,
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, Method, StatusCode, Version, header, request::Parts},
    response::Response,
};
use hyper::upgrade::{OnUpgrade, Upgraded};
use hyper_util::rt::TokioIo;
use tungstenite::handshake::derive_accept_key;

use super::ApiError;

/// A request to open a WebSocket, checked.
pub struct WsUpgrade {
    /// `Sec-WebSocket-Key` over HTTP/1.1; HTTP/2 has none.
    key: Option<HeaderValue>,
    on_upgrade: OnUpgrade,
}

impl<S: Send + Sync> FromRequestParts<S> for WsUpgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let refuse = |why: &str| {
            Err(ApiError::BadRequest(format!(
                "not a WebSocket request: {why}"
            )))
        };
        let key = if parts.version <= Version::HTTP_11 {
            if parts.method != Method::GET {
                return refuse("the method must be GET");
            }
            if !lists(&parts.headers, header::CONNECTION, "upgrade") {
                return refuse("the Connection header must include upgrade");
            }
            if !lists(&parts.headers, header::UPGRADE, "websocket") {
                return refuse("the Upgrade header must be websocket");
            }
            match parts.headers.get(header::SEC_WEBSOCKET_KEY) {
                Some(key) => Some(key.clone()),
                None => return refuse("Sec-WebSocket-Key is missing"),
            }
        } else {
            let websocket = parts
                .extensions
                .get::<hyper::ext::Protocol>()
                .is_some_and(|protocol| protocol.as_str() == "websocket");
            if parts.method != Method::CONNECT || !websocket {
                return refuse("over HTTP/2, the request must be CONNECT with :protocol websocket");
            }
            None
        };
        if !lists(&parts.headers, header::SEC_WEBSOCKET_VERSION, "13") {
            return refuse("Sec-WebSocket-Version must be 13");
        }
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            return refuse("the connection cannot be upgraded");
        };
        Ok(Self { key, on_upgrade })
    }
}

impl WsUpgrade {
    /// Answers the handshake and, once the connection has switched, hands it to `serve`.
    pub fn on_upgrade<F, Fut>(self, serve: F) -> Response
    where
        F: FnOnce(TokioIo<Upgraded>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let on_upgrade = self.on_upgrade;
        tokio::spawn(async move {
            match on_upgrade.await {
                Ok(upgraded) => serve(TokioIo::new(upgraded)).await,
                Err(err) => tracing::debug!(error = %err, "a WebSocket upgrade failed"),
            }
        });
        let Some(key) = self.key else {
            // HTTP/2: the stream is open once the CONNECT gets a 2xx (RFC 8441).
            return Response::new(Body::empty());
        };
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        let accept = derive_accept_key(key.as_bytes());
        headers.insert(
            header::SEC_WEBSOCKET_ACCEPT,
            HeaderValue::from_str(&accept).expect("an accept key is base64"),
        );
        response
    }
}

/// Whether the comma-separated header `name` lists `token` (case-insensitively).
fn lists(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&byte| byte == b',')
            .any(|item| item.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}
