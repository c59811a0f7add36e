//! The [`Actor`] extractor: who a request acts as and from where — its account and token
//! when it is signed in, the client's address, its request id — for the audit records of
//! the changes it makes.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};

use super::AppState;
use crate::{
    auth::{Credential, Identity, client_address::client_address},
    store::Actor,
};

impl FromRequestParts<AppState> for Actor {
    type Rejection = std::convert::Infallible;

    /// Never refuses: a request that is not signed in (a sign-in, a setup) acts as no
    /// account; routes that need one also take the [`Identity`], which refuses.
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let identity = Identity::from_request_parts(parts, state).await.ok();
        let address = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| {
                client_address(
                    peer.ip(),
                    &parts.headers,
                    &state.auth.config().trusted_proxies,
                )
                .to_string()
            });
        let request_id = parts
            .headers
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        Ok(Self {
            token_id: identity
                .as_ref()
                .and_then(|identity| match &identity.credential {
                    Credential::Token(id) => Some(id.clone()),
                    Credential::Session(_) | Credential::BuiltIn => None,
                }),
            user_id: identity.map(|identity| identity.user_id),
            client_address: address,
            request_id,
        })
    }
}
