//! HTTP client for the portal's `/api/v1`, one method per endpoint. Problem documents
//! become [`ClientError::Problem`] with their stable code.

use std::time::Duration;

use futures_util::StreamExt;
use jpki_api::{
    ApplicationAccepted, ApplicationRequest, ApplicationView, DeviceCertificates, DeviceEventView,
    IssuedCertificates, LoginApprovalRequest, LoginChallengeCreated, LoginChallengeView,
    NoncePurpose, NonceRequest, NonceResponse, PendingSignRequest, PlatformProof,
    PlatformReplacement, PlatformUserView, Problem, RegistrationRequest, RegistrationResult,
    SessionCreated, SessionRequest, SessionView, SignRequestAnswer, SignRequestCreate,
    SignRequestCreated, SignRequestResult, SubmissionReceipt, SubmissionRequest, SubmissionView,
    UsageHistory,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

mod lifecycle;
mod log;

/// Why a call to the portal failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Problem(Box<Problem>),
    #[error("cannot reach the portal at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("the portal answered {status} without a problem document: {body}")]
    Unexpected { status: u16, body: String },
    #[error("the event stream ended")]
    StreamEnded,
    #[error("invalid portal URL {0:?}")]
    Url(String),
}

impl ClientError {
    /// The problem's stable code, when the portal refused with one.
    pub fn code(&self) -> Option<jpki_api::ErrorCode> {
        match self {
            Self::Problem(problem) => Some(problem.code),
            _ => None,
        }
    }
}

/// A portal at `base_url` (e.g. `http://127.0.0.1:8080`).
#[derive(Debug, Clone)]
pub struct PortalClient {
    base: String,
    http: reqwest::Client,
}

impl PortalClient {
    pub fn new(base_url: &str) -> Result<Self, ClientError> {
        let base = base_url.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::Url(base_url.to_owned()));
        }
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(|error| ClientError::Unreachable {
                url: base.clone(),
                message: error.to_string(),
            })?;
        Ok(Self { base, http })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let builder = self.http.request(method, format!("{}{path}", self.base));
        match token {
            Some(token) => builder.bearer_auth(token),
            None => builder,
        }
    }

    async fn send<T: DeserializeOwned>(&self, builder: RequestBuilder) -> Result<T, ClientError> {
        let response = self.execute(builder).await?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| self.unreachable(error))?;
        serde_json::from_slice(&bytes).map_err(|_| ClientError::Unexpected {
            status: status.as_u16(),
            body: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
        })
    }

    async fn execute(&self, builder: RequestBuilder) -> Result<Response, ClientError> {
        let response = builder
            .send()
            .await
            .map_err(|error| self.unreachable(error))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|error| self.unreachable(error))?;
        match serde_json::from_slice::<Problem>(&bytes) {
            Ok(problem) => Err(ClientError::Problem(Box::new(problem))),
            Err(_) => Err(ClientError::Unexpected {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&bytes).chars().take(200).collect(),
            }),
        }
    }

    fn unreachable(&self, error: reqwest::Error) -> ClientError {
        ClientError::Unreachable {
            url: self.base.clone(),
            message: error.to_string(),
        }
    }

    pub async fn nonce(&self, purpose: NoncePurpose) -> Result<NonceResponse, ClientError> {
        self.send(
            self.request(Method::POST, "/api/v1/nonces", None)
                .json(&NonceRequest { purpose }),
        )
        .await
    }

    pub async fn submit(
        &self,
        request: &ApplicationRequest,
    ) -> Result<ApplicationAccepted, ClientError> {
        self.send(
            self.request(Method::POST, "/api/v1/applications", None)
                .json(request),
        )
        .await
    }

    pub async fn application(&self, id: &str, token: &str) -> Result<ApplicationView, ClientError> {
        self.send(self.request(
            Method::GET,
            &format!("/api/v1/applications/{id}"),
            Some(token),
        ))
        .await
    }

    pub async fn certificates(
        &self,
        id: &str,
        token: &str,
    ) -> Result<IssuedCertificates, ClientError> {
        self.send(self.request(
            Method::GET,
            &format!("/api/v1/applications/{id}/certificates"),
            Some(token),
        ))
        .await
    }

    pub async fn register(
        &self,
        id: &str,
        token: &str,
        request: &RegistrationRequest,
    ) -> Result<RegistrationResult, ClientError> {
        self.send(
            self.request(
                Method::POST,
                &format!("/api/v1/applications/{id}/registration"),
                Some(token),
            )
            .json(request),
        )
        .await
    }

    pub async fn device_certificates(
        &self,
        device: &str,
        token: &str,
    ) -> Result<DeviceCertificates, ClientError> {
        self.send(self.request(
            Method::GET,
            &format!("/api/v1/devices/{device}/certificates"),
            Some(token),
        ))
        .await
    }

    pub async fn history(&self, device: &str, token: &str) -> Result<UsageHistory, ClientError> {
        self.send(self.request(
            Method::GET,
            &format!("/api/v1/devices/{device}/history"),
            Some(token),
        ))
        .await
    }

    pub async fn wiped(&self, device: &str, token: &str) -> Result<(), ClientError> {
        self.execute(self.request(
            Method::POST,
            &format!("/api/v1/devices/{device}/wiped"),
            Some(token),
        ))
        .await?;
        Ok(())
    }

    // ---------------------------------------------------------------- login

    pub async fn create_login(&self) -> Result<LoginChallengeCreated, ClientError> {
        self.send(self.request(Method::POST, "/api/v1/login/challenges", None))
            .await
    }

    pub async fn login_by_code(&self, code: &str) -> Result<LoginChallengeView, ClientError> {
        self.send(self.request(Method::GET, &format!("/api/v1/login/codes/{code}"), None))
            .await
    }

    pub async fn login_view(&self, id: &str) -> Result<LoginChallengeView, ClientError> {
        self.send(self.request(Method::GET, &format!("/api/v1/login/challenges/{id}"), None))
            .await
    }

    pub async fn approve_login(
        &self,
        id: &str,
        answer: &LoginApprovalRequest,
    ) -> Result<(), ClientError> {
        self.execute(
            self.request(
                Method::POST,
                &format!("/api/v1/login/challenges/{id}/approval"),
                None,
            )
            .json(answer),
        )
        .await?;
        Ok(())
    }

    pub async fn collect_session(
        &self,
        id: &str,
        browser_secret: &str,
    ) -> Result<SessionCreated, ClientError> {
        let body = SessionRequest {
            browser_secret: browser_secret.to_owned(),
        };
        self.send(
            self.request(
                Method::POST,
                &format!("/api/v1/login/challenges/{id}/session"),
                None,
            )
            .json(&body),
        )
        .await
    }

    pub async fn session(&self, session_token: &str) -> Result<SessionView, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/session", Some(session_token)))
            .await
    }

    // ---------------------------------------------------------------- submissions

    pub async fn submit_signed(
        &self,
        request: &SubmissionRequest,
    ) -> Result<SubmissionReceipt, ClientError> {
        self.send(
            self.request(Method::POST, "/api/v1/submissions", None)
                .json(request),
        )
        .await
    }

    pub async fn submissions(
        &self,
        device: &str,
        token: &str,
    ) -> Result<Vec<SubmissionView>, ClientError> {
        self.send(self.request(
            Method::GET,
            &format!("/api/v1/devices/{device}/submissions"),
            Some(token),
        ))
        .await
    }

    // ---------------------------------------------------------------- sign requests (phone)

    pub async fn pending_sign_requests(
        &self,
        device: &str,
        token: &str,
    ) -> Result<Vec<PendingSignRequest>, ClientError> {
        self.send(self.request(
            Method::GET,
            &format!("/api/v1/devices/{device}/sign-requests"),
            Some(token),
        ))
        .await
    }

    pub async fn answer_sign_request(
        &self,
        device: &str,
        token: &str,
        request_id: &str,
        answer: &SignRequestAnswer,
    ) -> Result<(), ClientError> {
        let path = format!("/api/v1/devices/{device}/sign-requests/{request_id}/answer");
        self.execute(self.request(Method::POST, &path, Some(token)).json(answer))
            .await?;
        Ok(())
    }

    // ---------------------------------------------------------------- platform (relying party)

    pub async fn platform_nonce(&self, key: &str) -> Result<jpki_api::NonceResponse, ClientError> {
        self.send(self.request(Method::POST, "/api/v1/platform/nonces", Some(key)))
            .await
    }

    pub async fn platform_register(
        &self,
        key: &str,
        proof: &PlatformProof,
    ) -> Result<PlatformUserView, ClientError> {
        self.send(
            self.request(Method::POST, "/api/v1/platform/users", Some(key))
                .json(proof),
        )
        .await
    }

    pub async fn platform_login(
        &self,
        key: &str,
        proof: &PlatformProof,
    ) -> Result<PlatformUserView, ClientError> {
        self.send(
            self.request(Method::POST, "/api/v1/platform/login", Some(key))
                .json(proof),
        )
        .await
    }

    pub async fn platform_replacement(
        &self,
        key: &str,
        replacement: &PlatformReplacement,
    ) -> Result<PlatformUserView, ClientError> {
        self.send(
            self.request(Method::POST, "/api/v1/platform/replacement", Some(key))
                .json(replacement),
        )
        .await
    }

    pub async fn create_sign_request(
        &self,
        key: &str,
        request: &SignRequestCreate,
    ) -> Result<SignRequestCreated, ClientError> {
        self.send(
            self.request(Method::POST, "/api/v1/platform/sign-requests", Some(key))
                .json(request),
        )
        .await
    }

    pub async fn sign_request_result(
        &self,
        key: &str,
        id: &str,
    ) -> Result<SignRequestResult, ClientError> {
        self.send(self.request(
            Method::GET,
            &format!("/api/v1/platform/sign-requests/{id}"),
            Some(key),
        ))
        .await
    }

    /// Long poll: events after `after`, waiting up to `wait` for one.
    pub async fn poll_events(
        &self,
        device: &str,
        token: &str,
        after: i64,
        wait: Duration,
    ) -> Result<Vec<DeviceEventView>, ClientError> {
        let path = format!(
            "/api/v1/devices/{device}/events?after={after}&wait={}",
            wait.as_secs()
        );
        self.send(
            self.request(Method::GET, &path, Some(token))
                .timeout(wait + Duration::from_secs(10)),
        )
        .await
    }

    /// Follows the Server-Sent Events stream from `after`, calling `on_event` for each
    /// event until it returns `false`. Returns the sequence number of that event.
    pub async fn follow_events(
        &self,
        device: &str,
        token: &str,
        after: i64,
        mut on_event: impl FnMut(&DeviceEventView) -> bool,
    ) -> Result<i64, ClientError> {
        let builder = self
            .request(
                Method::GET,
                &format!("/api/v1/devices/{device}/events"),
                Some(token),
            )
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .header("Last-Event-ID", after.to_string());
        let response = self.execute(builder).await?;
        if response.status() != StatusCode::OK {
            return Err(ClientError::Unexpected {
                status: response.status().as_u16(),
                body: String::new(),
            });
        }
        let mut stream = response.bytes_stream();
        let mut buffer = String::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|error| self.unreachable(error))?;
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            // Events are separated by a blank line (the SSE wire format).
            while let Some(end) = buffer.find("\n\n") {
                let block: String = buffer.drain(..end + 2).collect();
                let data: String = block
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(|data| data.strip_prefix(' ').unwrap_or(data))
                    .collect::<Vec<_>>()
                    .join("\n");
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                let Ok(event) = serde_json::from_str::<DeviceEventView>(&data) else {
                    continue;
                };
                if !on_event(&event) {
                    return Ok(event.seq);
                }
            }
        }
        Err(ClientError::StreamEnded)
    }
}
