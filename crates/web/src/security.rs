//! The pages' security, in one place: cookies, CSRF tokens, the response headers, and
//! the same-origin check that backs the tokens up.
//!
//! | cookie | holds | attributes |
//! |---|---|---|
//! | `__Host-jpki-session` | the citizen's session token | HttpOnly, Secure, SameSite=Lax, Path=/, Max-Age = session |
//! | `__Host-jpki-operator` | the operator's session token | HttpOnly, Secure, SameSite=Strict, Path=/ , Max-Age = session |
//! | `__Host-jpki-login` | a pending login: challenge id and browser secret | HttpOnly, Secure, SameSite=Lax, Max-Age = the code's lifetime |
//! | `__Host-jpki-pre` | the key of the CSRF tokens of login forms | HttpOnly, Secure, SameSite=Strict |
//! | `__Host-jpki-lang` | `ja` or `en` | HttpOnly, Secure, SameSite=Lax, one year |
//!
//! The `__Host-` prefix makes browsers refuse the cookie unless it is Secure, has
//! `Path=/` and no `Domain`, so no sibling site can plant one. Browsers accept Secure
//! cookies over plain HTTP from `localhost` and `127.0.0.1`, which is how the tests and
//! a local `jpki serve` run; anywhere else the portal belongs behind TLS.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use subtle::ConstantTimeEq;

use crate::error::{WebError, render_error};
use crate::i18n::Lang;

pub const CITIZEN_COOKIE: &str = "__Host-jpki-session";
pub const OPERATOR_COOKIE: &str = "__Host-jpki-operator";
pub const LOGIN_COOKIE: &str = "__Host-jpki-login";
pub const PRE_COOKIE: &str = "__Host-jpki-pre";
pub const LANG_COOKIE: &str = "__Host-jpki-lang";

/// The Content-Security-Policy of every page: nothing but this origin, no inline script
/// or style, no frames, no plugins, forms only to this origin.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self'; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

pub const PERMISSIONS_POLICY: &str = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), \
     serial=(), bluetooth=(), interest-cohort=()";

/// The cookies of a request, by name (the first of duplicates wins).
#[derive(Default, Clone)]
pub struct Cookies(HashMap<String, String>);

impl std::fmt::Debug for Cookies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values are session tokens and secrets: names only.
        f.debug_list().entries(self.0.keys()).finish()
    }
}

impl Cookies {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let mut cookies = HashMap::new();
        for value in headers.get_all(header::COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for pair in text.split(';') {
                if let Some((name, value)) = pair.trim().split_once('=') {
                    cookies
                        .entry(name.trim().to_owned())
                        .or_insert_with(|| value.trim().trim_matches('"').to_owned());
                }
            }
        }
        Self(cookies)
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|value| !value.is_empty())
    }

    pub fn lang(&self) -> Lang {
        self.get(LANG_COOKIE)
            .and_then(Lang::parse)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    Lax,
    Strict,
}

/// A `Set-Cookie` value with the `__Host-` attributes (Path=/, Secure, no Domain) and
/// HttpOnly. `max_age` in seconds; `None` for a browser-session cookie.
pub fn set_cookie(name: &str, value: &str, same_site: SameSite, max_age: Option<i64>) -> String {
    let same_site = match same_site {
        SameSite::Lax => "Lax",
        SameSite::Strict => "Strict",
    };
    let mut cookie = format!("{name}={value}; Path=/; Secure; HttpOnly; SameSite={same_site}");
    if let Some(seconds) = max_age {
        cookie.push_str(&format!("; Max-Age={}", seconds.max(0)));
    }
    cookie
}

/// A `Set-Cookie` value that deletes the cookie.
pub fn clear_cookie(name: &str) -> String {
    format!("{name}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0")
}

/// A CSRF token: HMAC-SHA256 keyed by a secret only the browser holds (the session
/// token, or the pre-session cookie), over a label naming what the token is for.
#[derive(Clone, PartialEq, Eq)]
pub struct CsrfToken(String);

impl std::fmt::Debug for CsrfToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CsrfToken([redacted])")
    }
}

impl CsrfToken {
    pub fn derive(secret: &[u8], label: &str) -> Self {
        let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret);
        let tag = aws_lc_rs::hmac::sign(&key, format!("jpki-web csrf v1\n{label}").as_bytes());
        Self(jpki_api::encode_token(tag.as_ref()))
    }

    /// The value to put in forms.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Compares in constant time; a missing or different token is [`WebError::Csrf`].
    pub fn verify(&self, given: &str) -> Result<(), WebError> {
        let given = given.trim().as_bytes();
        let expected = self.0.as_bytes();
        if given.len() == expected.len() && bool::from(given.ct_eq(expected)) {
            Ok(())
        } else {
            Err(WebError::Csrf)
        }
    }
}

/// Defence in depth behind the tokens: a POST that the browser says came from another
/// site (`Sec-Fetch-Site`), or whose `Origin` is not the `Host` it was sent to, is
/// refused. Clients that send neither header (scripts, old browsers) rely on the token.
/// (This is why the pages' referrer policy is `same-origin`, not `no-referrer`: under
/// `no-referrer` browsers send `Origin: null` with forms.)
pub fn same_origin(parts: &Parts) -> Result<(), WebError> {
    let headers = &parts.headers;
    if let Some(site) = headers
        .get("sec-fetch-site")
        .and_then(|value| value.to_str().ok())
        && matches!(site, "cross-site" | "same-site")
    {
        return Err(WebError::Csrf);
    }
    if let Some(origin) = headers
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
    {
        let host = headers
            .get(header::HOST)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default();
        let authority = origin.split_once("://").map(|(_, rest)| rest);
        if authority != Some(host) {
            return Err(WebError::Csrf);
        }
    }
    Ok(())
}

/// The client's address for the rate limits: the connection's peer (the server must be
/// served with connect info), else one shared bucket.
pub fn client_ip(parts: &Parts) -> String {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The origin the browser used (`http://host:port`), for URLs shown to phones.
pub fn request_origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            host.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        })
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// The one middleware: renders error pages in the reader's language, and sets the
/// security headers on every response of the pages. Personal pages (everything but the
/// static assets) are `Cache-Control: no-store`.
pub async fn page_headers(request: Request, next: Next) -> Response {
    let lang = Cookies::from_headers(request.headers()).lang();
    let mut response = next.run(request).await;
    if let Some(error) = response
        .extensions_mut()
        .remove::<crate::error::ErrorPage>()
    {
        response = render_error(lang, error, response);
    }
    let headers = response.headers_mut();
    let fixed: [(HeaderName, &'static str); 7] = [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "same-origin"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        ),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_bound_to_their_secret_and_label() {
        let token = CsrfToken::derive(b"session one", "citizen");
        assert!(token.verify(token.as_str()).is_ok());
        assert!(token.verify("").is_err());
        assert!(
            token
                .verify(CsrfToken::derive(b"session two", "citizen").as_str())
                .is_err()
        );
        assert!(
            token
                .verify(CsrfToken::derive(b"session one", "operator").as_str())
                .is_err()
        );
        assert_eq!(format!("{token:?}"), "CsrfToken([redacted])");
    }

    #[test]
    fn cookies_parse_and_attributes_are_host_prefixed() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-jpki-lang=en; b=\"2\""),
        );
        let cookies = Cookies::from_headers(&headers);
        assert_eq!(cookies.get("a"), Some("1"));
        assert_eq!(cookies.get("b"), Some("2"));
        assert_eq!(cookies.lang(), Lang::En);
        assert!(!format!("{cookies:?}").contains('1'));
        let cookie = set_cookie(CITIZEN_COOKIE, "x", SameSite::Lax, Some(60));
        for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite=Lax", "Max-Age=60"] {
            assert!(cookie.contains(attribute), "{cookie}");
        }
        assert!(!cookie.contains("Domain"));
    }
}
