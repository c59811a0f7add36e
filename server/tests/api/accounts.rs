//! Accounts: the first-run admin, sign-in and sign-out, session expiry, CSRF, rate limiting,
//! API tokens, admins creating users, sign-up, developer mode and the `user create` command.

use std::time::Duration;

use hatchery_shared::{
    api::accounts::{AuthMode, CreatedApiToken, SessionInfo, User},
    realtime::MessageType,
};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{
        PASSWORD, TestApp, TestData, session_cookie_of, spawn_app, spawn_app_configured,
        spawn_app_on, spawn_app_without_accounts,
    },
    ws::Ended,
};

async fn session_info(app: &TestApp, cookie: Option<&str>) -> SessionInfo {
    let mut request = app.client.get(app.url("/api/auth/session"));
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = app.send(request).await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// A request carrying the session `cookie`, from the server's own origin.
fn with_cookie(app: &TestApp, method: Method, path: &str, cookie: &str) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(path))
        .header("cookie", cookie)
        .header("origin", format!("http://{}", app.addr))
}

#[tokio::test]
async fn the_first_run_creates_the_admin_once() {
    let app = spawn_app_without_accounts().await;
    let info = session_info(&app, None).await;
    assert!(info.setup_needed && info.user.is_none());
    assert_eq!(info.mode, AuthMode::Accounts);

    let bad = json!({"email": "not an email", "display_name": "", "password": "short"});
    let response = app
        .call(Method::POST, "/api/auth/setup", None, Some(bad))
        .await;
    assert_eq!(response.status(), 422);
    let body: Value = response.json().await.unwrap();
    let fields = &body["error"]["fields"];
    for field in ["email", "display_name", "password"] {
        assert!(fields[field].is_string(), "{field} is named: {body}");
    }
    assert!(
        session_info(&app, None).await.setup_needed,
        "nothing was created"
    );

    let admin = json!({"email": "Ada@Example.com", "display_name": "Ada", "password": PASSWORD});
    let response = app
        .call(Method::POST, "/api/auth/setup", None, Some(admin.clone()))
        .await;
    assert_eq!(response.status(), 201);
    let set_cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(set_cookie.contains(attribute), "{set_cookie}");
    }
    assert!(!set_cookie.contains("Secure"), "plain HTTP: not Secure");
    let cookie = session_cookie_of(&response).unwrap();
    let user: User = response.json().await.unwrap();
    assert_eq!(user.display_name, "Ada");

    let info = session_info(&app, Some(&cookie)).await;
    assert!(!info.setup_needed);
    assert_eq!(info.user.unwrap().role.as_str(), "admin");

    let again = app
        .call(Method::POST, "/api/auth/setup", None, Some(admin))
        .await;
    assert_eq!(again.status(), 409);
    let bad = json!({"email": "x", "display_name": "", "password": "short"});
    let closed = app
        .call(Method::POST, "/api/auth/setup", None, Some(bad))
        .await;
    assert_eq!(
        closed.status(),
        409,
        "once set up, nothing of the request is looked at (nor its password hashed)"
    );
    let signed_in = app.sign_in("ada@example.COM", PASSWORD).await;
    assert_eq!(signed_in.status(), 200, "emails compare case-insensitively");
}

#[tokio::test]
async fn sign_in_and_sign_out() {
    let app = spawn_app().await;
    let wrong = app.sign_in("alice@example.com", "wrong password").await;
    assert_eq!(wrong.status(), 401);
    let wrong: Value = wrong.json().await.unwrap();
    let unknown = app.sign_in("nobody@example.com", PASSWORD).await;
    assert_eq!(unknown.status(), 401);
    let unknown: Value = unknown.json().await.unwrap();
    assert_eq!(
        wrong, unknown,
        "the answer does not reveal whether the email exists"
    );

    let cookie = app.session_cookie("alice@example.com").await;
    let me = session_info(&app, Some(&cookie)).await.user.unwrap();
    assert_eq!(me.id, "alice");
    let agents = app
        .send(with_cookie(&app, Method::GET, "/api/agents", &cookie))
        .await
        .unwrap();
    assert_eq!(agents.status(), 200);

    let out = app
        .send(with_cookie(
            &app,
            Method::POST,
            "/api/auth/sign-out",
            &cookie,
        ))
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let cleared = out.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("hatchery_session=;"), "{cleared}");
    let after = app
        .send(with_cookie(&app, Method::GET, "/api/agents", &cookie))
        .await
        .unwrap();
    assert_eq!(after.status(), 401, "the session is revoked server-side");
}

#[tokio::test]
async fn a_session_expires_unless_used() {
    let app = spawn_app_configured(|config| config.auth.session_ttl = Duration::from_secs(2)).await;
    let cookie = app.session_cookie("alice@example.com").await;
    // Used within its lifetime, it slides forward.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(900)).await;
        let used = app
            .send(with_cookie(&app, Method::GET, "/api/agents", &cookie))
            .await
            .unwrap();
        assert_eq!(used.status(), 200, "a session in use stays alive");
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let expired = app
        .send(with_cookie(&app, Method::GET, "/api/agents", &cookie))
        .await
        .unwrap();
    assert_eq!(expired.status(), 401);
    let body: Value = expired.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("sign in again")
    );
}

#[tokio::test]
async fn cross_site_requests_with_the_session_cookie_are_refused() {
    let app = spawn_app().await;
    let cookie = app.session_cookie("alice@example.com").await;
    let agent = json!({"name": "from elsewhere"});

    let evil = app
        .send(
            app.client
                .post(app.url("/api/agents"))
                .header("cookie", &cookie)
                .header("origin", "https://evil.example")
                .json(&agent),
        )
        .await
        .unwrap();
    assert_eq!(evil.status(), 403);
    let no_origin = app
        .send(
            app.client
                .post(app.url("/api/agents"))
                .header("cookie", &cookie)
                .header("sec-fetch-site", "cross-site")
                .json(&agent),
        )
        .await
        .unwrap();
    assert_eq!(no_origin.status(), 403);
    let listed = app
        .call(Method::GET, "/api/agents", Some("alice"), None)
        .await;
    let listed: Value = listed.json().await.unwrap();
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );

    let own = app
        .send(with_cookie(&app, Method::POST, "/api/agents", &cookie).json(&agent))
        .await
        .unwrap();
    assert_eq!(own.status(), 201);
}

#[tokio::test]
async fn failed_sign_ins_are_rate_limited_per_account() {
    let app = spawn_app().await;
    for _ in 0..5 {
        let response = app.sign_in("alice@example.com", "guess").await;
        assert_eq!(response.status(), 401);
    }
    let limited = app.sign_in("alice@example.com", PASSWORD).await;
    assert_eq!(limited.status(), 429, "even the right password waits");
    let retry_after: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after), "{retry_after}");
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limited");

    let bob = app.sign_in("bob@example.com", PASSWORD).await;
    assert_eq!(bob.status(), 200, "other accounts are not locked");
}

#[tokio::test]
async fn concurrent_wrong_passwords_cannot_pass_the_limit() {
    let app = spawn_app().await;
    let guesses: Vec<_> = (0..40)
        .map(|_| app.sign_in("alice@example.com", "guess"))
        .collect();
    let statuses: Vec<u16> = futures_util::future::join_all(guesses)
        .await
        .iter()
        .map(|response| response.status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|status| **status == 401).count();
    let limited = statuses.iter().filter(|status| **status == 429).count();
    assert_eq!(
        (checked, limited),
        (5, 35),
        "only five wrong passwords were checked: {statuses:?}"
    );
    let right = app.sign_in("alice@example.com", PASSWORD).await;
    assert_eq!(right.status(), 429, "the right password waits too");
}

#[tokio::test]
async fn a_burst_of_sign_ins_is_told_to_come_back_rather_than_queued() {
    let app = spawn_app().await;
    let emails: Vec<String> = (0..40).map(|n| format!("someone{n}@example.com")).collect();
    let attempts: Vec<_> = emails
        .iter()
        .map(|email| app.sign_in(email, "guess"))
        .collect();
    let responses = futures_util::future::join_all(attempts).await;
    let busy: Vec<_> = responses
        .iter()
        .filter(|response| response.status() == 503)
        .collect();
    assert!(!busy.is_empty(), "40 hashes at once overflow the queue");
    assert!(
        busy.iter()
            .all(|response| response.headers()["retry-after"] == "1")
    );
    assert!(
        responses
            .iter()
            .all(|response| [401, 503].contains(&response.status().as_u16()))
    );
}

#[tokio::test]
async fn failed_sign_ins_are_rate_limited_per_address() {
    let app = spawn_app_configured(|config| config.auth.max_failures = 1).await;
    // One failure per account, from one address: ten allowed, then the address waits.
    for n in 0..10 {
        let response = app.sign_in(&format!("guess{n}@example.com"), "guess").await;
        assert_eq!(response.status(), 401);
    }
    let limited = app.sign_in("bob@example.com", PASSWORD).await;
    assert_eq!(limited.status(), 429);
}

/// Signs in as `email` through a proxy that says the client is `client`.
async fn sign_in_via_proxy(
    app: &TestApp,
    client: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.send(
        app.client
            .post(app.url("/api/auth/sign-in"))
            .header("X-Forwarded-For", client)
            .json(&json!({ "email": email, "password": password })),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_address_limit_counts_each_client_apart() {
    let app = spawn_app_configured(|config| {
        config.auth.max_failures = 1;
        config.auth.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()];
    })
    .await;
    for n in 0..10 {
        let response = sign_in_via_proxy(
            &app,
            "203.0.113.5",
            &format!("guess{n}@example.com"),
            "guess",
        )
        .await;
        assert_eq!(response.status(), 401);
    }

    let limited = sign_in_via_proxy(&app, "203.0.113.5", "bob@example.com", PASSWORD).await;
    assert_eq!(limited.status(), 429, "the guessing client waits");
    let other = sign_in_via_proxy(&app, "203.0.113.6", "bob@example.com", PASSWORD).await;
    assert_eq!(
        other.status(),
        200,
        "another client behind the same proxy does not"
    );
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_address_does_not_escape_the_limit() {
    let app = spawn_app_configured(|config| config.auth.max_failures = 1).await;
    for n in 0..10 {
        let forged = format!("203.0.113.{n}");
        let response =
            sign_in_via_proxy(&app, &forged, &format!("guess{n}@example.com"), "guess").await;
        assert_eq!(response.status(), 401);
    }

    let limited = sign_in_via_proxy(&app, "198.51.100.1", "bob@example.com", PASSWORD).await;
    assert_eq!(limited.status(), 429);
}

#[tokio::test]
async fn api_tokens_are_shown_once_and_revocation_closes_their_sockets() {
    let app = spawn_app().await;
    let cookie = app.session_cookie("alice@example.com").await;
    let created = app
        .send(with_cookie(&app, Method::POST, "/api/tokens", &cookie).json(&json!({"name": "ci"})))
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: CreatedApiToken = created.json().await.unwrap();
    assert!(created.secret.starts_with("hat_"));
    assert!(created.secret.starts_with(&created.token.prefix));

    let listed = app
        .call(Method::GET, "/api/tokens", Some("alice"), None)
        .await;
    let listed = listed.text().await.unwrap();
    assert!(listed.contains("\"ci\"") && !listed.contains(&created.secret));

    let mut ws = app.ws(&created.secret).await;
    let bob_revokes = app
        .call(
            Method::DELETE,
            &format!("/api/tokens/{}", created.token.id),
            Some("bob"),
            None,
        )
        .await;
    assert_eq!(bob_revokes.status(), 404, "only the owner revokes a token");
    let revoked = app
        .call(
            Method::DELETE,
            &format!("/api/tokens/{}", created.token.id),
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        ws.expect_close(Duration::from_secs(2)).await,
        Ended::Closed(4401)
    );

    let after = app
        .call(Method::GET, "/api/agents", Some(&created.secret), None)
        .await;
    assert_eq!(after.status(), 401);
    let empty = app
        .send(with_cookie(&app, Method::POST, "/api/tokens", &cookie).json(&json!({"name": " "})))
        .await
        .unwrap();
    assert_eq!(empty.status(), 422);
    let by_token = app
        .call(
            Method::POST,
            "/api/tokens",
            Some("alice"),
            Some(json!({"name": "more"})),
        )
        .await;
    assert_eq!(by_token.status(), 403, "a token cannot make tokens");
}

#[tokio::test]
async fn signing_out_closes_the_sessions_sockets() {
    let app = spawn_app().await;
    let cookie = app.session_cookie("alice@example.com").await;
    let mut ws = app.ws_with_cookie(&cookie).await;
    ws.expect(MessageType::Hello).await;
    ws.expect(MessageType::Subscribed).await;
    app.send(with_cookie(
        &app,
        Method::POST,
        "/api/auth/sign-out",
        &cookie,
    ))
    .await
    .unwrap();
    assert_eq!(
        ws.expect_close(Duration::from_secs(2)).await,
        Ended::Closed(4401)
    );
}

#[tokio::test]
async fn changing_the_password_ends_the_other_sessions_and_keeps_this_one() {
    let app = spawn_app().await;
    let here = app.session_cookie("alice@example.com").await;
    let elsewhere = app.session_cookie("alice@example.com").await;
    let mut elsewhere_ws = app.ws_with_cookie(&elsewhere).await;
    elsewhere_ws.expect(MessageType::Hello).await;
    elsewhere_ws.expect(MessageType::Subscribed).await;
    let change = |current: &str, new: &str| {
        app.send(
            with_cookie(&app, Method::POST, "/api/auth/password", &here)
                .json(&json!({"current_password": current, "new_password": new})),
        )
    };

    let wrong = change("not my password", "a brand new password")
        .await
        .unwrap();
    assert_eq!(wrong.status(), 422);
    let body: Value = wrong.json().await.unwrap();
    assert!(
        body["error"]["fields"]["current_password"].is_string(),
        "{body}"
    );
    let short = change(PASSWORD, "short").await.unwrap();
    assert_eq!(short.status(), 422);

    let changed = change(PASSWORD, "a brand new password").await.unwrap();
    assert_eq!(changed.status(), 204);
    assert_eq!(
        elsewhere_ws.expect_close(Duration::from_secs(2)).await,
        Ended::Closed(4401)
    );
    assert!(session_info(&app, Some(&elsewhere)).await.user.is_none());
    assert!(
        session_info(&app, Some(&here)).await.user.is_some(),
        "this one stays"
    );
    assert_eq!(
        app.sign_in("alice@example.com", PASSWORD).await.status(),
        401
    );
    assert_eq!(
        app.sign_in("alice@example.com", "a brand new password")
            .await
            .status(),
        200
    );
    let with_token = app
        .call(
            Method::POST,
            "/api/auth/password",
            Some("alice"),
            Some(json!({"current_password": "a brand new password", "new_password": "yet another one"})),
        )
        .await;
    assert_eq!(with_token.status(), 403, "not with an API token");
}

#[tokio::test]
async fn an_admin_disables_an_account_and_revokes_tokens_closing_their_sockets() {
    let app = spawn_app().await;
    let bobs_session = app.session_cookie("bob@example.com").await;
    let mut bobs_ws = app.ws("bob").await;

    let by_bob = app
        .call(
            Method::PATCH,
            "/api/users/alice",
            Some("bob"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(by_bob.status(), 403);
    let own = app
        .call(
            Method::PATCH,
            "/api/users/root",
            Some("admin"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(own.status(), 409, "an admin cannot lock themselves out");

    let disabled = app
        .call(
            Method::PATCH,
            "/api/users/bob",
            Some("admin"),
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(disabled.status(), 200);
    let bob: User = disabled.json().await.unwrap();
    assert!(bob.disabled);
    assert_eq!(
        bobs_ws.expect_close(Duration::from_secs(2)).await,
        Ended::Closed(4401)
    );
    assert!(session_info(&app, Some(&bobs_session)).await.user.is_none());
    assert_eq!(
        app.call(Method::GET, "/api/agents", Some("bob"), None)
            .await
            .status(),
        401,
        "his token is revoked"
    );
    let refused = app.sign_in("bob@example.com", PASSWORD).await;
    assert_eq!(refused.status(), 403);
    let wrong = app.sign_in("bob@example.com", "not the password").await;
    assert_eq!(wrong.status(), 401, "a wrong password still says only that");

    let enabled = app
        .call(
            Method::PATCH,
            "/api/users/bob",
            Some("admin"),
            Some(json!({"disabled": false})),
        )
        .await;
    assert_eq!(enabled.status(), 200);
    assert_eq!(app.sign_in("bob@example.com", PASSWORD).await.status(), 200);

    let mut alices_ws = app.ws("alice").await;
    let not_admin = app
        .call(
            Method::DELETE,
            "/api/users/alice/tokens",
            Some("alice"),
            None,
        )
        .await;
    assert_eq!(not_admin.status(), 403, "only admins");
    let revoked = app
        .call(
            Method::DELETE,
            "/api/users/alice/tokens",
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(revoked.status(), 204);
    assert_eq!(
        alices_ws.expect_close(Duration::from_secs(2)).await,
        Ended::Closed(4401)
    );
    let missing = app
        .call(
            Method::DELETE,
            "/api/users/nobody/tokens",
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn the_secure_flag_follows_only_a_trusted_proxy() {
    async fn sign_in(app: &TestApp) -> reqwest::Result<reqwest::Response> {
        app.send(
            app.client
                .post(app.url("/api/auth/sign-in"))
                .header("x-forwarded-proto", "https")
                .json(&json!({"email": "alice@example.com", "password": PASSWORD})),
        )
        .await
    }
    let direct = spawn_app().await;
    let response = sign_in(&direct).await.unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        !cookie.contains("Secure"),
        "any client may send the header: {cookie}"
    );

    let proxied = spawn_app_configured(|config| {
        config.auth.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    let response = sign_in(&proxied).await.unwrap();
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[tokio::test]
async fn a_session_that_expires_closes_its_sockets() {
    let app = spawn_app_configured(|config| config.auth.session_ttl = Duration::from_secs(2)).await;
    let cookie = app.session_cookie("alice@example.com").await;
    let mut ws = app.ws_with_cookie(&cookie).await;
    ws.expect(MessageType::Hello).await;
    ws.expect(MessageType::Subscribed).await;

    assert_eq!(
        ws.expect_close(Duration::from_secs(5)).await,
        Ended::Closed(4401)
    );
    let again = app
        .send(with_cookie(&app, Method::GET, "/api/agents", &cookie))
        .await
        .unwrap();
    assert_eq!(again.status(), 401);
}

#[tokio::test]
async fn admins_create_users_and_sign_up_is_closed_by_default() {
    let app = spawn_app().await;
    let carol =
        json!({"email": "carol@example.com", "display_name": "Carol", "password": PASSWORD});
    let by_user = app
        .call(
            Method::POST,
            "/api/users",
            Some("alice"),
            Some(carol.clone()),
        )
        .await;
    assert_eq!(by_user.status(), 403);
    let by_admin = app
        .call(Method::POST, "/api/users", Some("admin"), Some(carol))
        .await;
    assert_eq!(by_admin.status(), 201);
    assert_eq!(
        app.sign_in("carol@example.com", PASSWORD).await.status(),
        200
    );

    let duplicate =
        json!({"email": "CAROL@example.com", "display_name": "C", "password": PASSWORD});
    let response = app
        .call(
            Method::POST,
            "/api/users",
            Some("admin"),
            Some(duplicate.clone()),
        )
        .await;
    assert_eq!(response.status(), 409);

    let sign_up = app
        .call(Method::POST, "/api/auth/sign-up", None, Some(duplicate))
        .await;
    assert_eq!(sign_up.status(), 403);
    let users = app
        .call(Method::GET, "/api/users", Some("admin"), None)
        .await;
    let users: Value = users.json().await.unwrap();
    assert_eq!(users["items"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn open_sign_up_creates_a_user_who_then_signs_in() {
    let app = spawn_app_configured(|config| config.auth.signup_open = true).await;
    let dave = json!({"email": "dave@example.com", "display_name": "Dave", "password": PASSWORD, "role": "admin"});
    let response = app
        .call(Method::POST, "/api/auth/sign-up", None, Some(dave))
        .await;
    assert_eq!(response.status(), 202);
    assert!(session_cookie_of(&response).is_none());
    let signed_in = app.sign_in("dave@example.com", PASSWORD).await;
    assert_eq!(signed_in.status(), 200);
    let cookie = session_cookie_of(&signed_in).unwrap();
    let user: User = signed_in.json().await.unwrap();
    assert_eq!(user.role.as_str(), "user", "sign-up never makes an admin");
    assert!(session_info(&app, Some(&cookie)).await.signup_open);
}

#[tokio::test]
async fn open_sign_up_does_not_reveal_which_emails_have_accounts() {
    let app = spawn_app_configured(|config| config.auth.signup_open = true).await;
    let sign_up = |email: &str| json!({"email": email, "display_name": "Mallory", "password": "a new password of mine"});
    let taken = app
        .call(
            Method::POST,
            "/api/auth/sign-up",
            None,
            Some(sign_up("ALICE@example.com")),
        )
        .await;
    let free = app
        .call(
            Method::POST,
            "/api/auth/sign-up",
            None,
            Some(sign_up("mallory@example.com")),
        )
        .await;
    assert_eq!(taken.status(), free.status());
    assert_eq!(
        taken.headers().get("set-cookie"),
        free.headers().get("set-cookie")
    );
    assert_eq!(taken.bytes().await.unwrap(), free.bytes().await.unwrap());

    // The taken account is unchanged: its own password signs in, the new one does not.
    assert_eq!(
        app.sign_in("alice@example.com", "a new password of mine")
            .await
            .status(),
        401
    );
    let alice: User = app
        .sign_in("alice@example.com", PASSWORD)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (alice.id.as_str(), alice.display_name.as_str()),
        ("alice", "alice")
    );
    assert_eq!(
        app.sign_in("mallory@example.com", "a new password of mine")
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn developer_mode_acts_as_the_built_in_admin() {
    let app = spawn_app_configured(|config| config.auth.mode = AuthMode::Disabled).await;
    let response = app
        .call(
            Method::POST,
            "/api/agents",
            None,
            Some(json!({"name": "dev agent"})),
        )
        .await;
    assert_eq!(response.status(), 201);
    let agent: Value = response.json().await.unwrap();
    assert_eq!(agent["owner_id"], "dev");
    let info = session_info(&app, None).await;
    assert_eq!(info.mode, AuthMode::Disabled);
    assert_eq!(info.user.unwrap().role.as_str(), "admin");
}

/// A request as a page on `site`, whose name was rebound to this server's address, would
/// send it: `Host` and `Origin` both name the page's site.
async fn rebound(
    app: &TestApp,
    method: Method,
    path: &str,
    site: &str,
    body: Value,
) -> reqwest::Response {
    app.send(
        app.client
            .request(method, app.url(path))
            .header("host", site)
            .header("origin", format!("http://{site}"))
            .json(&body),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_page_that_rebinds_its_name_to_this_server_is_refused_in_every_mode() {
    let dev = spawn_app_configured(|config| config.auth.mode = AuthMode::Disabled).await;
    let token = rebound(
        &dev,
        Method::POST,
        "/api/tokens",
        "evil.test:3000",
        json!({"name": "x"}),
    )
    .await;
    assert_eq!(token.status(), 403);
    let body: Value = token.json().await.unwrap();
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("evil.test"),
        "{body}"
    );
    let users = dev
        .client
        .get(dev.url("/api/users"))
        .header("host", "evil.test")
        .send()
        .await
        .unwrap();
    assert_eq!(users.status(), 403);
    let tokens: Value = dev.json(Method::GET, "/api/tokens", None, None).await;
    assert_eq!(
        tokens["items"].as_array().unwrap().len(),
        0,
        "nothing was created"
    );

    let fresh = spawn_app_without_accounts().await;
    let admin = json!({"email": "evil@evil.test", "display_name": "Evil", "password": PASSWORD});
    let setup = rebound(&fresh, Method::POST, "/api/auth/setup", "evil.test", admin).await;
    assert_eq!(setup.status(), 403);
    assert!(session_info(&fresh, None).await.setup_needed);

    // A change from a page of another site is refused even without a session cookie.
    let cross = dev
        .client
        .post(dev.url("/api/agents"))
        .header("origin", "https://evil.test")
        .json(&json!({"name": "planted"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
}

#[tokio::test]
async fn names_of_allowed_origins_are_answered() {
    let app = spawn_app_configured(|config| {
        config.auth.mode = AuthMode::Disabled;
        config.realtime.allowed_origins = vec!["https://hatchery.example.com".into()];
    })
    .await;
    let response = rebound(
        &app,
        Method::POST,
        "/api/agents",
        "hatchery.example.com",
        json!({"name": "proxied"}),
    )
    .await;
    assert_eq!(response.status(), 201);
}

#[tokio::test]
async fn the_user_create_command_makes_an_account_that_signs_in() {
    let data = TestData::new();
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_hatchery"));
    command
        .args(["user", "create", "--admin", "--email", "ops@example.com"])
        .env_clear()
        .env("HATCHERY_DATA_DIR", data.path())
        .env("HATCHERY_DATABASE_URL", data.database_url())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    data.create_database().await;
    let mut child = command.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        stdin
            .write_all(format!("{PASSWORD}\n").as_bytes())
            .await
            .unwrap();
    }
    let output = tokio::time::timeout(Duration::from_secs(30), child.wait_with_output())
        .await
        .expect("the command exits by itself")
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("created admin ops@example.com"), "{stderr}");

    let app = spawn_app_on(data).await;
    assert_eq!(app.sign_in("ops@example.com", PASSWORD).await.status(), 200);
    assert!(!session_info(&app, None).await.setup_needed);

    let again = tokio::process::Command::new(env!("CARGO_BIN_EXE_hatchery"))
        .args(["user", "create", "--email", "ops@example.com"])
        .env_clear()
        .env("HATCHERY_DATA_DIR", app.data.path())
        .env("HATCHERY_DATABASE_URL", app.data.database_url())
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(!again.status.success(), "an empty password is refused");
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("password"), "{stderr}");
}

#[tokio::test]
async fn a_token_in_the_query_string_is_taken_on_the_websocket_only() {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let app = spawn_app().await;
    let token = app.bearer("alice");
    let request = format!("ws://{}/api/ws?token={token}", app.addr)
        .into_client_request()
        .unwrap();
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let first = futures_util::StreamExt::next(&mut ws)
        .await
        .unwrap()
        .unwrap();
    let hello = hatchery_shared::realtime::parse_frame(first.to_text().unwrap()).unwrap();
    assert_eq!(hello.message.message_type(), MessageType::Hello);

    let rest = app.get(&format!("/api/agents?token={token}")).await;
    assert_eq!(
        rest.status(),
        401,
        "tokens in URLs end up in logs: REST refuses them"
    );
}
