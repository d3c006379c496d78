//! The only assets: one stylesheet and one small script, compiled into the binary and
//! served from this origin (no CDN: the CSP allows nothing else).

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

const STYLE: &str = include_str!("../assets/style.css");
const LOGIN_SCRIPT: &str = include_str!("../assets/login.js");
const ICON: &str = include_str!("../assets/icon.svg");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    // Public and cacheable for an hour; everything else is no-store.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600"),
    );
    response
}

pub async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

pub async fn login_script() -> Response {
    asset("text/javascript; charset=utf-8", LOGIN_SCRIPT)
}

pub async fn icon() -> Response {
    asset("image/svg+xml", ICON)
}
