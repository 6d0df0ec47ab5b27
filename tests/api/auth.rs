use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::harness::{ADMIN, Backend, PASSWORD, Server};

both!(routes_need_a_token, sign_in_and_revoke, only_admins_change_forms, users_are_unique_and_checked, tokens_are_listed_and_revoked_by_their_owner_and_admins, five_wrong_passwords_lock_an_email_out_for_a_quarter_hour, admins_read_an_audit_log_of_sign_ins_and_definition_changes, browsers_sign_in_with_an_http_only_cookie_that_other_sites_cannot_use);

async fn routes_need_a_token(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    for (method, path) in [(Method::GET, "/api/v1/forms"), (Method::POST, "/api/v1/forms"), (Method::GET, "/api/v1/forms/x/records"), (Method::GET, "/api/v1/auth/me")] {
        let res = s.call(method.clone(), path, None, Some(&json!({})), &[]).await.expect(401);
        assert_eq!(res.headers["www-authenticate"], "Bearer", "{method} {path}");
        s.call(method, path, Some("trl_not_a_token"), None, &[]).await.expect(401);
    }
    s.stop().await;
}

async fn sign_in_and_revoke(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let wrong = s.call(Method::POST, "/api/v1/auth/token", None, Some(&json!({"email": ADMIN, "password": "nope nope"})), &[]).await.expect(401);
    assert_eq!(wrong.body["detail"], "wrong email or password");
    s.call(Method::POST, "/api/v1/auth/token", None, Some(&json!({"email": "nobody@example.com", "password": PASSWORD})), &[]).await.expect(401);

    // Email is matched regardless of case.
    let res = s.call(Method::POST, "/api/v1/auth/token", None, Some(&json!({"email": "ADMIN@example.com", "password": PASSWORD})), &[]).await.expect(200);
    let token = res.body["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("trl_"));
    assert_eq!(res.body["user"]["role"], "admin");
    let me = s.call(Method::GET, "/api/v1/auth/me", Some(&token), None, &[]).await.expect(200);
    assert_eq!(me.body["email"], ADMIN);

    // Only the hash is stored: the token itself appears nowhere in the database.
    if b == Backend::Sqlite {
        let path = s.db_url.trim_start_matches("sqlite://").to_owned();
        let pool = sqlx::SqlitePool::connect(&format!("sqlite://{path}")).await.unwrap();
        let hashes: Vec<String> = sqlx::query_scalar("SELECT token_hash FROM api_tokens").fetch_all(&pool).await.unwrap();
        assert!(!hashes.is_empty() && hashes.iter().all(|h| h.len() == 64 && !h.contains(&token[4..])));
        pool.close().await;
    }

    s.call(Method::DELETE, "/api/v1/auth/token", Some(&token), None, &[]).await.expect(204);
    s.call(Method::GET, "/api/v1/auth/me", Some(&token), None, &[]).await.expect(401);
    // The other session is untouched.
    s.get("/api/v1/auth/me").await.expect(200);
    s.stop().await;
}

async fn only_admins_change_forms(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    s.crm_forms().await;
    let staff = s.user("sales@example.com", "staff").await;
    let manager = s.user("lead@example.com", "manager").await;
    let form = json!({"key": "lead", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}});
    for token in [&staff, &manager] {
        let res = s.call(Method::POST, "/api/v1/forms", Some(token), Some(&form), &[]).await.expect(403);
        assert!(res.body["detail"].as_str().unwrap().contains("only admins"));
        s.call(Method::PUT, "/api/v1/forms/company", Some(token), Some(&json!({"schema": {"type": "object"}})), &[]).await.expect(403);
    }
    // Staff read forms and write records.
    s.call(Method::GET, "/api/v1/forms/customer", Some(&staff), None, &[]).await.expect(200);
    s.call(Method::POST, "/api/v1/forms/company/records", Some(&staff), Some(&json!({"name": "Acme"})), &[]).await.expect(201);
    s.stop().await;
}

async fn users_are_unique_and_checked(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    assert!(s.engine.add_user("Admin@Example.com", None, "staff", PASSWORD).await.is_err(), "emails are unique regardless of case");
    assert!(s.engine.add_user("x@example.com", None, "boss", PASSWORD).await.is_err());
    assert!(s.engine.add_user("x@example.com", None, "staff", "short").await.is_err());
    assert!(s.engine.add_user("not-an-email", None, "staff", PASSWORD).await.is_err());
    s.stop().await;
}

async fn tokens_are_listed_and_revoked_by_their_owner_and_admins(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let staff = s.user("sales@example.com", "staff").await;
    let second = s.call(Method::POST, "/api/v1/auth/token", None, Some(&json!({"email": "sales@example.com", "password": PASSWORD})), &[]).await.expect(200).body["token"].as_str().unwrap().to_owned();
    // The owner sees both, the one in use marked; never a token's value.
    let mine = s.get_as(&second, "/api/v1/auth/tokens").await.expect(200).body["items"].clone();
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert_eq!(mine[0]["current"], true, "newest first, and it is the one in use: {mine}");
    assert_eq!(mine[1]["current"], false);
    assert!(!mine.to_string().contains("trl_"), "values are never shown");
    // Staff cannot see or revoke the admin's tokens.
    s.get_as(&staff, &format!("/api/v1/auth/tokens?user={}", crate::harness::ADMIN)).await.expect(403);
    let admins = s.get("/api/v1/auth/tokens").await.expect(200).body["items"][0]["id"].as_str().unwrap().to_owned();
    s.call(Method::DELETE, &format!("/api/v1/auth/tokens/{admins}"), Some(&staff), None, &[]).await.expect(404);
    s.get("/api/v1/auth/me").await.expect(200);
    // The owner revokes the older one; an admin revokes the other.
    let older = mine[1]["id"].as_str().unwrap();
    let gone = s.call(Method::DELETE, &format!("/api/v1/auth/tokens/{older}"), Some(&second), None, &[]).await.expect(200);
    assert!(gone.body["revoked_at"].is_string());
    s.get_as(&staff, "/api/v1/auth/me").await.expect(401);
    let listed = s.get("/api/v1/auth/tokens?user=sales@example.com").await.expect(200).body["items"].clone();
    assert_eq!(listed.as_array().unwrap().iter().filter(|t| t["revoked_at"].is_null()).count(), 1);
    let newer = mine[0]["id"].as_str().unwrap();
    s.call(Method::DELETE, &format!("/api/v1/auth/tokens/{newer}"), Some(&s.token), None, &[]).await.expect(200);
    s.get_as(&second, "/api/v1/auth/me").await.expect(401);
    s.get("/api/v1/auth/tokens?user=nobody@example.com").await.expect(404);
    s.stop().await;
}

async fn five_wrong_passwords_lock_an_email_out_for_a_quarter_hour(b: Backend) {
    let Some(s) = Server::start_at(b, "2026-12-01T02:00:00Z").await else { return };
    s.user("sales@example.com", "staff").await;
    let sign_in = |email: &'static str, password: &'static str| {
        let s = &s;
        async move { s.call(Method::POST, "/api/v1/auth/token", None, Some(&json!({"email": email, "password": password})), &[]).await }
    };
    for _ in 0..5 {
        sign_in("sales@example.com", "guess guess").await.expect(401);
    }
    // The sixth try is refused whatever the password, and says when to come back.
    let locked = sign_in("Sales@Example.com", PASSWORD).await.expect(429);
    assert_eq!(locked.headers["retry-after"], "900");
    assert_eq!(locked.body["retry_after"], 900);
    assert!(locked.body["detail"].as_str().unwrap().contains("try again in 15 minute"), "{}", locked.body);
    // Another email is not held up.
    sign_in(crate::harness::ADMIN, PASSWORD).await.expect(200);
    s.clock("2026-12-01T02:14:00Z").await;
    sign_in("sales@example.com", PASSWORD).await.expect(429);
    s.clock("2026-12-01T02:15:01Z").await;
    sign_in("sales@example.com", PASSWORD).await.expect(200);
    // A success starts the count again.
    for _ in 0..4 {
        sign_in("sales@example.com", "guess guess").await.expect(401);
    }
    sign_in("sales@example.com", PASSWORD).await.expect(200);
    s.stop().await;
}

async fn admins_read_an_audit_log_of_sign_ins_and_definition_changes(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let sign_in = |email: &'static str, password: &'static str| {
        let s = &s;
        async move { s.call(Method::POST, "/api/v1/auth/token", None, Some(&json!({"email": email, "password": password})), &[]).await }
    };
    sign_in("nobody@example.com", "guess guess").await.expect(401);
    s.post("/api/v1/users", json!({"email": "sales@example.com", "role": "staff", "password": PASSWORD})).await.expect(201);
    let staff = sign_in("sales@example.com", PASSWORD).await.expect(200).body["token"].as_str().unwrap().to_owned();
    s.crm_forms().await;
    s.post("/api/v1/triggers", json!({"key": "welcome", "form": "customer", "when": {"event": "created"}, "actions": [{"notify": "owner", "title": "hi"}]})).await.expect(201);
    let id = s.get_as(&staff, "/api/v1/auth/tokens").await.expect(200).body["items"][0]["id"].as_str().unwrap().to_owned();
    s.call(Method::DELETE, &format!("/api/v1/auth/tokens/{id}"), Some(&s.token), None, &[]).await.expect(200);

    s.get_as(&staff, "/api/v1/audit").await.expect(401);
    let staff2 = sign_in("sales@example.com", PASSWORD).await.expect(200).body["token"].as_str().unwrap().to_owned();
    s.get_as(&staff2, "/api/v1/audit").await.expect(403);
    let log = s.get("/api/v1/audit").await.expect(200).body["items"].clone();
    let seen: Vec<(String, String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["actor_email"].as_str().unwrap_or("").to_owned(), e["target"].as_str().unwrap_or("").to_owned()))
        .collect();
    let want = [
        ("login", ADMIN, ADMIN),
        ("login_failed", "nobody@example.com", "nobody@example.com"),
        ("user_added", ADMIN, "sales@example.com"),
        ("login", "sales@example.com", "sales@example.com"),
        ("form_saved", ADMIN, "form/company"),
        ("form_saved", ADMIN, "form/customer"),
        ("definition_saved", ADMIN, "trigger/welcome"),
        ("token_revoked", ADMIN, id.as_str()),
        ("login", "sales@example.com", "sales@example.com"),
    ];
    let want: Vec<(String, String, String)> = want.iter().map(|(a, b, c)| ((*a).to_owned(), (*b).to_owned(), (*c).to_owned())).collect();
    assert_eq!(seen, want, "{log}");
    assert!(log.as_array().unwrap().iter().filter(|e| e["actor_email"] == ADMIN).all(|e| e["actor_id"].is_string()), "actors by id and email");
    // Paging back.
    let last = log[2]["at"].as_str().unwrap();
    let older = s.get(&format!("/api/v1/audit?limit=2&before={}", last.replace('+', "%2B"))).await.expect(200).body["items"].clone();
    assert!(older.as_array().unwrap().len() <= 2 && older.as_array().unwrap().iter().all(|e| e["at"].as_str().unwrap() < last), "{older}");
    s.get("/api/v1/audit?before=yesterday").await.expect(400);
    s.stop().await;
}

async fn browsers_sign_in_with_an_http_only_cookie_that_other_sites_cannot_use(b: Backend) {
    let Some(s) = Server::start(b).await else { return };
    let host = s.base.trim_start_matches("http://").to_owned();
    let ours = [("origin", s.base.as_str())];
    let creds = json!({"email": ADMIN, "password": PASSWORD});

    // Sign-in from our own page sets the cookie; the token is not in the body for scripts to read.
    let res = s.call(Method::POST, "/api/v1/auth/session", None, Some(&creds), &ours).await.expect(200);
    assert_eq!(res.body, json!({"user": {"id": res.body["user"]["id"], "email": ADMIN, "role": "admin"}}));
    let set = res.headers["set-cookie"].to_str().unwrap().to_owned();
    for part in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(part), "{set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP cannot keep a Secure cookie: {set}");
    let cookie = set.split(';').next().unwrap().to_owned();
    assert!(cookie.starts_with("trellis_session=trl_"), "{cookie}");
    // Behind an HTTPS proxy it is Secure.
    let tls = s.call(Method::POST, "/api/v1/auth/session", None, Some(&creds), &[("origin", &s.base), ("x-forwarded-proto", "https")]).await.expect(200);
    assert!(tls.headers["set-cookie"].to_str().unwrap().contains("Secure"));
    // Another site cannot sign the browser in (login CSRF), nor can a request that does not say where it came from.
    for headers in [vec![("origin", "https://evil.example")], vec![("sec-fetch-site", "cross-site")], vec![]] {
        let res = s.call(Method::POST, "/api/v1/auth/session", None, Some(&creds), &headers).await.expect(403);
        assert_eq!(res.body["type"], "https://trellis.dev/problems/cross-site-request");
    }
    // Wrong passwords count towards the same lock-out as the token sign-in.
    s.call(Method::POST, "/api/v1/auth/session", None, Some(&json!({"email": ADMIN, "password": "nope"})), &ours).await.expect(401);

    // The cookie signs reads in.
    let me = s.call(Method::GET, "/api/v1/auth/me", None, None, &[("cookie", &cookie)]).await.expect(200);
    assert_eq!(me.body["email"], ADMIN);
    // Writes need proof they come from our pages: the browser's Sec-Fetch-Site, or an Origin naming our host.
    let form = json!({"key": "lead", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}});
    for headers in [vec![("cookie", cookie.as_str())], vec![("cookie", &cookie), ("sec-fetch-site", "cross-site")], vec![("cookie", &cookie), ("sec-fetch-site", "same-site")], vec![("cookie", &cookie), ("origin", "http://evil.example")]] {
        let res = s.call(Method::POST, "/api/v1/forms", None, Some(&form), &headers).await.expect(403);
        assert_eq!(res.body["type"], "https://trellis.dev/problems/cross-site-request", "{headers:?}");
    }
    assert_eq!(s.get("/api/v1/forms").await.expect(200).body["items"].as_array().unwrap().len(), 0, "nothing was written");
    s.call(Method::POST, "/api/v1/forms", None, Some(&form), &[("cookie", &cookie), ("sec-fetch-site", "same-origin")]).await.expect(201);
    s.call(Method::PUT, "/api/v1/forms/lead", None, Some(&form), &[("cookie", &cookie), ("origin", &format!("http://{host}"))]).await.expect(200);
    // A bearer token needs no such proof: no browser sends one by itself.
    s.call(Method::PUT, "/api/v1/forms/lead", Some(&s.token), Some(&form), &[("origin", "http://evil.example")]).await.expect(200);

    // The session's token is listed as the one in use, and sign-out revokes it and clears the cookie.
    let tokens = s.call(Method::GET, "/api/v1/auth/tokens", None, None, &[("cookie", &cookie)]).await.expect(200).body;
    assert_eq!(tokens["items"].as_array().unwrap().iter().filter(|t| t["current"] == true).count(), 1, "{tokens}");
    s.call(Method::DELETE, "/api/v1/auth/session", None, None, &[("cookie", &cookie)]).await.expect(403);
    let out = s.call(Method::DELETE, "/api/v1/auth/session", None, None, &[("cookie", &cookie), ("sec-fetch-site", "same-origin")]).await.expect(204);
    assert!(out.headers["set-cookie"].to_str().unwrap().contains("Max-Age=0"), "{:?}", out.headers);
    s.call(Method::GET, "/api/v1/auth/me", None, None, &[("cookie", &cookie)]).await.expect(401);
    s.stop().await;
}
