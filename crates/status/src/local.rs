//! The issuer's own verifier asks its status service in-process.
//!
//! The portal verifies signatures (platform API, signed applications, logins) with
//! `jpki-verify`, which fetches status from the URLs named in the certificate. Those URLs
//! are the *public* ones from the configuration: behind a reverse proxy, or with the
//! listener on another port, the portal cannot necessarily reach them, and going out to
//! the network to ask itself would only add latency and a failure mode. [`LocalTransport`]
//! implements `jpki_verify`'s HTTP transport: a URL under the service's base URL is
//! answered by the same code paths as the HTTP routes (`POST /ocsp`, `GET /ocsp/…`,
//! `GET /crl/…`), byte for byte, without a socket; any other URL goes to the fallback
//! transport.
//!
//! Access: in-process queries skip the `[status] open=false` check (the portal is the
//! operator itself).
//!
//! The transport is synchronous (the verifier runs in `spawn_blocking`): it spawns the
//! answer on the runtime and waits for it with a timeout, so it never blocks the
//! runtime it waits on from a worker thread's point of view beyond that bound.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use jpki_verify::status::http::{HttpResponse, HttpTransport, TransportError};

use crate::http::{HttpState, OpenAccess, serve_crl, serve_ocsp_get, serve_ocsp_post};
use crate::service::StatusService;

/// Largest body read back from an in-process answer (CRLs can be large).
const MAX_BODY: usize = 512 * 1024 * 1024;

/// `jpki_verify`'s HTTP transport, answering the status service's own URLs in-process.
pub struct LocalTransport {
    service: Arc<StatusService>,
    runtime: tokio::runtime::Handle,
    fallback: Arc<dyn HttpTransport>,
    timeout: Duration,
}

impl std::fmt::Debug for LocalTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalTransport")
            .field("base_url", &self.service.settings().base_url)
            .field("fallback", &self.fallback)
            .finish_non_exhaustive()
    }
}

enum Local {
    OcspPost,
    OcspGet(String),
    Crl(String, String),
}

impl LocalTransport {
    /// Answers `service`'s URLs on `runtime`; other URLs go to `fallback`.
    pub fn new(
        service: Arc<StatusService>,
        runtime: tokio::runtime::Handle,
        fallback: Arc<dyn HttpTransport>,
    ) -> Self {
        Self {
            service,
            runtime,
            fallback,
            timeout: Duration::from_secs(10),
        }
    }

    /// What `url` names on this service, if it is one of its URLs.
    fn route(&self, url: &str, post: bool) -> Option<Local> {
        let base = self.service.settings().base_url.trim_end_matches('/');
        let path = url.strip_prefix(base)?;
        let path = path.split(['?', '#']).next().unwrap_or_default();
        if post {
            return (path == "/ocsp").then_some(Local::OcspPost);
        }
        if let Some(encoded) = path.strip_prefix("/ocsp/") {
            return Some(Local::OcspGet(encoded.to_owned()));
        }
        let rest = path.strip_prefix("/crl/")?;
        let (issuer, file) = rest.split_once('/')?;
        (!file.contains('/')).then(|| Local::Crl(issuer.to_owned(), file.to_owned()))
    }

    fn answer(
        &self,
        url: &str,
        local: Local,
        body: Vec<u8>,
    ) -> Result<HttpResponse, TransportError> {
        let service = Arc::clone(&self.service);
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.runtime.spawn(async move {
            let state = HttpState {
                ocsp: service.ocsp(),
                crls: Arc::clone(service.crls()),
                authorizer: Arc::new(OpenAccess),
            };
            let mut headers = HeaderMap::new();
            let response = match local {
                Local::OcspPost => {
                    headers.insert(
                        CONTENT_TYPE,
                        HeaderValue::from_static("application/ocsp-request"),
                    );
                    serve_ocsp_post(&state, &headers, &body).await
                }
                Local::OcspGet(encoded) => serve_ocsp_get(&state, &encoded, &headers).await,
                Local::Crl(issuer, file) => serve_crl(&state, &headers, &issuer, &file),
            };
            let _ = tx.send(into_http_response(response).await);
        });
        let io = |detail: &str| TransportError::Io {
            host: url.to_owned(),
            detail: detail.to_owned(),
        };
        match rx.recv_timeout(self.timeout) {
            Ok(Some(response)) => Ok(response),
            Ok(None) => Err(io("the in-process answer could not be read")),
            Err(_) => Err(io("no in-process answer in time")),
        }
    }
}

async fn into_http_response(response: Response) -> Option<HttpResponse> {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body: Body = response.into_body();
    let body = axum::body::to_bytes(body, MAX_BODY).await.ok()?;
    Some(HttpResponse {
        status,
        content_type,
        body: body.to_vec(),
    })
}

impl HttpTransport for LocalTransport {
    fn get(&self, url: &str) -> Result<HttpResponse, TransportError> {
        match self.route(url, false) {
            Some(local) => self.answer(url, local, Vec::new()),
            None => self.fallback.get(url),
        }
    }

    fn post(
        &self,
        url: &str,
        content_type: &str,
        body: &[u8],
    ) -> Result<HttpResponse, TransportError> {
        match self.route(url, true) {
            Some(local) => self.answer(url, local, body.to_vec()),
            None => self.fallback.post(url, content_type, body),
        }
    }
}
