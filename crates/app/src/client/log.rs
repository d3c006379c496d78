//! The verifiable usage log's endpoints (`/api/v1/log/…`): the public tree head, key and
//! consistency proofs, and the caller's own history bundle, with the phone's device
//! token or a portal session.

use jpki_api::{ConsistencyProofDocument, HistoryBundle, LogKeyView, SignedTreeHead};
use reqwest::Method;

use super::{ClientError, PortalClient};

impl PortalClient {
    /// `GET /api/v1/log/sth`: the latest signed tree head.
    pub async fn log_tree_head(&self) -> Result<SignedTreeHead, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/log/sth", None))
            .await
    }

    /// `GET /api/v1/log/key`: the key tree heads verify with.
    pub async fn log_key(&self) -> Result<LogKeyView, ClientError> {
        self.send(self.request(Method::GET, "/api/v1/log/key", None))
            .await
    }

    /// `GET /api/v1/log/consistency?first=…&second=…`.
    pub async fn log_consistency(
        &self,
        first: u64,
        second: u64,
    ) -> Result<ConsistencyProofDocument, ClientError> {
        self.send(self.request(
            Method::GET,
            &format!("/api/v1/log/consistency?first={first}&second={second}"),
            None,
        ))
        .await
    }

    /// `GET /api/v1/log/history?device_id=…[&since=…]` with the phone's device token:
    /// the phone owner's history bundle.
    pub async fn device_history_bundle(
        &self,
        device: &str,
        token: &str,
        since: Option<u64>,
    ) -> Result<HistoryBundle, ClientError> {
        let mut path = format!("/api/v1/log/history?device_id={}", query_escape(device));
        if let Some(since) = since {
            path.push_str(&format!("&since={since}"));
        }
        self.send(self.request(Method::GET, &path, Some(token)))
            .await
    }

    /// `GET /api/v1/log/history[?since=…]` with a portal session token.
    pub async fn session_history_bundle(
        &self,
        session_token: &str,
        since: Option<u64>,
    ) -> Result<HistoryBundle, ClientError> {
        let path = match since {
            Some(since) => format!("/api/v1/log/history?since={since}"),
            None => "/api/v1/log/history".to_owned(),
        };
        self.send(self.request(Method::GET, &path, Some(session_token)))
            .await
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn query_escape(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
