//! Signing in and out: `/api/auth/session`, `sign-in`, `sign-out`, the first-run `setup`
//! and open `sign-up`; the session cookie is set and cleared here.

use std::net::SocketAddr;

use axum::{
    Json,
    extract::{ConnectInfo, State},
    http::{HeaderMap, StatusCode},
};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use hatchery_shared::api::accounts::{NewAccount, PasswordChange, SessionInfo, SignIn, User};

use utoipa_axum::{router::OpenApiRouter, routes};

use super::{ApiError, AppJson, AppState};
use crate::{
    auth::{Auth, Identity, SESSION_COOKIE, client_address::client_address},
    store::{Actor, Store, UserRow},
};

/// Routes of sign-in and sign-out.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(session))
        .routes(routes!(sign_in))
        .routes(routes!(sign_out))
        .routes(routes!(setup))
        .routes(routes!(sign_up))
        .routes(routes!(change_password))
}

/// `GET /api/auth/session`: who the caller is, whether the first-run page is due, and
/// whether sign-up is open. Renews the session cookie's lifetime.
#[utoipa::path(
    get,
    path = "/api/auth/session",
    tag = "auth",
    operation_id = "auth_session",
    security(()),
    responses(
        (status = 200, description = "Who the caller is, and how this server signs people in.", body = SessionInfo),
    ),
)]
async fn session(
    State(auth): State<Auth>,
    State(store): State<Store>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    identity: Result<Identity, ApiError>,
) -> Result<(CookieJar, Json<SessionInfo>), ApiError> {
    let user = match &identity {
        Ok(identity) => store.user(&identity.user_id).await?.map(|user| user.view()),
        Err(_) => None,
    };
    let jar = match (jar.get(SESSION_COOKIE), &user) {
        (Some(cookie), Some(_)) => {
            let token = cookie.value().to_owned();
            jar.add(session_cookie(&auth, peer, &headers, token))
        }
        _ => jar,
    };
    Ok((
        jar,
        Json(SessionInfo {
            user,
            mode: auth.config().mode,
            setup_needed: store.setup_needed().await?,
            signup_open: auth.config().signup_open,
        }),
    ))
}

/// `POST /api/auth/sign-in {email, password}`: sets the session cookie.
#[utoipa::path(
    post,
    path = "/api/auth/sign-in",
    tag = "auth",
    operation_id = "auth_sign_in",
    request_body = SignIn,
    security(()),
    responses(
        (status = 200, description = "Signed in: the session cookie is set.", body = User),
    ),
)]
async fn sign_in(
    State(auth): State<Auth>,
    actor: Actor,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    AppJson(body): AppJson<SignIn>,
) -> Result<(CookieJar, Json<User>), ApiError> {
    let client = client_address(peer.ip(), &headers, &auth.config().trusted_proxies);
    let signed_in = auth
        .sign_in(&actor, &body.email, body.password, client)
        .await?;
    tracing::info!(user = %signed_in.user.id, "signed in");
    Ok((
        jar.add(session_cookie(&auth, peer, &headers, signed_in.token)),
        Json(signed_in.user.view()),
    ))
}

/// `POST /api/auth/sign-out`: ends the session, clears the cookie, closes its sockets.
#[utoipa::path(
    post,
    path = "/api/auth/sign-out",
    tag = "auth",
    operation_id = "auth_sign_out",
    responses(
        (status = 204, description = "Signed out: the session ended and its cookie is cleared."),
    ),
)]
async fn sign_out(
    State(auth): State<Auth>,
    identity: Identity,
    actor: Actor,
    jar: CookieJar,
) -> Result<(CookieJar, StatusCode), ApiError> {
    auth.sign_out(&actor, &identity).await?;
    Ok((
        jar.remove(Cookie::build(SESSION_COOKIE).path("/")),
        StatusCode::NO_CONTENT,
    ))
}

/// `POST /api/auth/password {current_password, new_password}`: changes the caller's
/// password (from a browser session); every other session of the account ends.
#[utoipa::path(
    post,
    path = "/api/auth/password",
    tag = "auth",
    operation_id = "auth_change_password",
    request_body = PasswordChange,
    responses(
        (status = 204, description = "The password is changed; other sessions end."),
    ),
)]
async fn change_password(
    State(auth): State<Auth>,
    identity: Identity,
    actor: Actor,
    AppJson(body): AppJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    auth.change_password(&actor, &identity, body).await?;
    tracing::info!(user = %identity.user_id, "password changed");
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/auth/setup {email, display_name, password}`: creates the first admin and
/// signs them in; 409 once any account can sign in.
#[utoipa::path(
    post,
    path = "/api/auth/setup",
    tag = "auth",
    operation_id = "auth_setup",
    request_body = NewAccount,
    security(()),
    responses(
        (status = 201, description = "The first admin, signed in.", body = User),
    ),
)]
async fn setup(
    State(auth): State<Auth>,
    actor: Actor,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    jar: CookieJar,
    AppJson(body): AppJson<NewAccount>,
) -> Result<(StatusCode, CookieJar, Json<User>), ApiError> {
    let client = client_address(peer.ip(), &headers, &auth.config().trusted_proxies);
    let user = auth.set_up(&actor, body, client).await?;
    tracing::info!(user = %user.id, "first admin created");
    signed_in_as_new(&auth, &actor, peer, &headers, jar, &user).await
}

/// `POST /api/auth/sign-up {email, display_name, password}`, when `HATCHERY_SIGNUP=open`:
/// 202 with no body whether it created the account or the email already had one (so the
/// answer reveals nothing); the client signs in next.
#[utoipa::path(
    post,
    path = "/api/auth/sign-up",
    tag = "auth",
    operation_id = "auth_sign_up",
    request_body = NewAccount,
    security(()),
    responses(
        (status = 202, description = "The account is made, unless the email was taken (the answer is the same)."),
    ),
)]
async fn sign_up(
    State(auth): State<Auth>,
    actor: Actor,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    AppJson(body): AppJson<NewAccount>,
) -> Result<StatusCode, ApiError> {
    let client = client_address(peer.ip(), &headers, &auth.config().trusted_proxies);
    auth.sign_up(&actor, body, client).await?;
    Ok(StatusCode::ACCEPTED)
}

/// The answer to creating an account and signing into it: 201, the session cookie, the user.
async fn signed_in_as_new(
    auth: &Auth,
    actor: &Actor,
    peer: SocketAddr,
    headers: &HeaderMap,
    jar: CookieJar,
    user: &UserRow,
) -> Result<(StatusCode, CookieJar, Json<User>), ApiError> {
    let token = auth.start_session(actor, &user.id).await?;
    Ok((
        StatusCode::CREATED,
        jar.add(session_cookie(auth, peer, headers, token)),
        Json(user.view()),
    ))
}

/// The session cookie carrying `token`: HttpOnly, SameSite=Lax, Secure when a trusted
/// reverse proxy (`HATCHERY_TRUSTED_PROXIES`) says the client came over HTTPS, and lasting
/// as long as the session does without use. What any other client says is not believed.
fn session_cookie(
    auth: &Auth,
    peer: SocketAddr,
    headers: &HeaderMap,
    token: String,
) -> Cookie<'static> {
    let trusted = auth
        .config()
        .trusted_proxies
        .iter()
        .any(|net| net.contains(&peer.ip()));
    let https = trusted
        && headers
            .get("x-forwarded-proto")
            .is_some_and(|proto| proto.as_bytes().eq_ignore_ascii_case(b"https"));
    let max_age = time_duration(auth.config().session_ttl);
    Cookie::build((SESSION_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .secure(https)
        .max_age(max_age)
        .build()
}

fn time_duration(duration: std::time::Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX))
}
