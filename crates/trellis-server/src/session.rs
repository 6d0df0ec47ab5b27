//! Browser sessions: the sign-in token in an HttpOnly cookie, so no script
//! on the page can read it, and the checks that keep other sites from using
//! it (CSRF). API clients keep sending `Authorization: Bearer`; a request
//! with that header never looks at the cookie.
//!
//! The cookie is `SameSite=Strict`, so browsers leave it off requests other
//! sites start. On top of that, a request that changes anything and is
//! signed in by the cookie must show it comes from our own pages: browsers
//! send `Sec-Fetch-Site: same-origin`, or an `Origin` naming our host. A
//! request with neither is refused — only a browser sends the cookie, and
//! every browser we serve sends one of them.

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use cookie::{Cookie, SameSite};

use crate::problem::Problem;

pub const COOKIE: &str = "trellis_session";

/// How a request is signed in.
pub enum Credential<'a> {
    Bearer(&'a str),
    Cookie(&'a str),
}

impl<'a> Credential<'a> {
    pub fn of(headers: &'a HeaderMap) -> Option<Credential<'a>> {
        crate::extract::bearer(headers).map(Credential::Bearer).or_else(|| cookie_token(headers).map(Credential::Cookie))
    }

    pub fn token(&self) -> &'a str {
        match self {
            Credential::Bearer(t) | Credential::Cookie(t) => t,
        }
    }
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find_map(|c| if c.name() == COOKIE { c.value_raw() } else { None })
        .filter(|t| !t.is_empty())
}

/// Whether the page that sent this request is one of ours.
fn same_origin(headers: &HeaderMap) -> bool {
    let get = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(site) = get("sec-fetch-site") {
        return site == "same-origin";
    }
    match (get(header::ORIGIN.as_str()), get(header::HOST.as_str())) {
        (Some(origin), Some(host)) => origin.split_once("://").is_some_and(|(_, h)| h == host),
        _ => false,
    }
}

/// Refuses a cookie-signed request that would change something and does not come from our own pages.
pub fn check_csrf(method: &Method, headers: &HeaderMap) -> Result<(), Problem> {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    if safe || same_origin(headers) {
        return Ok(());
    }
    Err(Problem::new(StatusCode::FORBIDDEN, "cross-site-request", "this request came from another site (or said nothing of where it came from), so the session cookie does not sign it in; API clients send Authorization: Bearer TOKEN"))
}

/// Whether the browser reached us over HTTPS — through a proxy that says so,
/// as the server itself speaks plain HTTP.
fn https(headers: &HeaderMap) -> bool {
    let forwarded_proto = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.trim().eq_ignore_ascii_case("https"));
    let forwarded = headers.get(header::FORWARDED).and_then(|v| v.to_str().ok()).is_some_and(|f| f.to_ascii_lowercase().split([';', ',']).any(|p| p.trim() == "proto=https"));
    forwarded_proto || forwarded
}

fn build(value: String, headers: &HeaderMap, remove: bool) -> HeaderValue {
    let mut c = Cookie::build((COOKIE, value)).path("/").http_only(true).same_site(SameSite::Strict).secure(https(headers)).build();
    if remove {
        c.make_removal();
    }
    // A token is hex and the attributes are fixed ASCII, so this always parses.
    HeaderValue::from_str(&c.to_string()).unwrap_or_else(|_| HeaderValue::from_static("trellis_session=; Path=/; Max-Age=0"))
}

/// `Set-Cookie` for a new session. It lasts until the browser closes; the
/// token behind it until it is revoked (sign-out does that).
pub fn set_cookie(token: String, headers: &HeaderMap) -> HeaderValue {
    build(token, headers, false)
}

/// `Set-Cookie` that removes the session cookie.
pub fn clear_cookie(headers: &HeaderMap) -> HeaderValue {
    build(String::new(), headers, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_cookie_is_read_after_a_bearer_header_and_among_others() {
        let h = headers(&[("cookie", "theme=dark; trellis_session=abc123; lang=zh")]);
        assert!(matches!(Credential::of(&h), Some(Credential::Cookie("abc123"))));
        let h = headers(&[("cookie", "trellis_session=abc123"), ("authorization", "Bearer xyz")]);
        assert!(matches!(Credential::of(&h), Some(Credential::Bearer("xyz"))));
        assert!(Credential::of(&headers(&[("cookie", "trellis_session=")])).is_none());
        assert!(Credential::of(&headers(&[("cookie", "other=trellis_session")])).is_none());
    }

    #[test]
    fn only_our_own_pages_change_things_with_the_cookie() {
        let post = Method::POST;
        assert!(check_csrf(&post, &headers(&[("sec-fetch-site", "same-origin")])).is_ok());
        assert!(check_csrf(&post, &headers(&[("sec-fetch-site", "cross-site"), ("origin", "http://a:1"), ("host", "a:1")])).is_err());
        assert!(check_csrf(&post, &headers(&[("origin", "http://a:1"), ("host", "a:1")])).is_ok());
        assert!(check_csrf(&post, &headers(&[("origin", "http://evil:1"), ("host", "a:1")])).is_err());
        assert!(check_csrf(&post, &headers(&[("host", "a:1")])).is_err());
        assert!(check_csrf(&Method::GET, &headers(&[])).is_ok());
    }

    #[test]
    fn the_cookie_is_http_only_strict_and_secure_over_https() {
        let plain = set_cookie("t0k".into(), &headers(&[])).to_str().unwrap().to_owned();
        assert!(plain.contains("trellis_session=t0k") && plain.contains("HttpOnly") && plain.contains("SameSite=Strict") && plain.contains("Path=/"), "{plain}");
        assert!(!plain.contains("Secure"), "{plain}");
        let tls = set_cookie("t0k".into(), &headers(&[("x-forwarded-proto", "https")])).to_str().unwrap().to_owned();
        assert!(tls.contains("Secure"), "{tls}");
        assert!(set_cookie("t".into(), &headers(&[("forwarded", "for=1.2.3.4;proto=https")])).to_str().unwrap().contains("Secure"));
        assert!(clear_cookie(&headers(&[])).to_str().unwrap().contains("Max-Age=0"));
    }
}
