use reqwest::Method;
use serde_json::json;

use crate::both;
use crate::harness::{ADMIN, Backend, PASSWORD, Server};

both!(routes_need_a_token, sign_in_and_revoke, only_admins_change_forms, users_are_unique_and_checked);

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
    assert!(s.engine.add_user("Admin@Example.com", "staff", PASSWORD).await.is_err(), "emails are unique regardless of case");
    assert!(s.engine.add_user("x@example.com", "boss", PASSWORD).await.is_err());
    assert!(s.engine.add_user("x@example.com", "staff", "short").await.is_err());
    assert!(s.engine.add_user("not-an-email", "staff", PASSWORD).await.is_err());
    s.stop().await;
}
