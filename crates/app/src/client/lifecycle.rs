//! The lifecycle's endpoints: lift, revocations and PIN reset (the phone app), the
//! hotline and the certificate links (an account's API key).

use jpki_api::{
    CertificateLinks, LiftRequest, LiftResult, LookupRequest, PersonStatus, PinResetRequest,
    PinResetResult, RevocationRequest, RevocationResult, RevokeOtherRequest, SuspensionRequest,
    SuspensionResult,
};
use reqwest::Method;

use super::{ClientError, PortalClient};

impl PortalClient {
    /// `POST /api/v1/phone/lift` with the phone's device token.
    pub async fn lift(
        &self,
        token: &str,
        request: &LiftRequest,
    ) -> Result<LiftResult, ClientError> {
        self.send(
            self.request(Method::POST, "/api/v1/phone/lift", Some(token))
                .json(request),
        )
        .await
    }

    /// `POST /api/v1/phone/revocations` with the phone's device token.
    pub async fn revoke(
        &self,
        token: &str,
        request: &RevocationRequest,
    ) -> Result<RevocationResult, ClientError> {
        self.send(
            self.request(Method::POST, "/api/v1/phone/revocations", Some(token))
                .json(request),
        )
        .await
    }

    /// `POST /api/v1/phone/revoke-other` (no device token: the card signs).
    pub async fn revoke_other(
        &self,
        request: &RevokeOtherRequest,
    ) -> Result<RevocationResult, ClientError> {
        self.send(
            self.request(Method::POST, "/api/v1/phone/revoke-other", None)
                .json(request),
        )
        .await
    }

    /// `POST /api/v1/phone/pin-resets` with the phone's device token.
    pub async fn reset_pin(
        &self,
        token: &str,
        request: &PinResetRequest,
    ) -> Result<PinResetResult, ClientError> {
        self.send(
            self.request(Method::POST, "/api/v1/phone/pin-resets", Some(token))
                .json(request),
        )
        .await
    }

    /// `POST /api/v1/hotline/suspensions` with an operator's API key.
    pub async fn suspend(
        &self,
        api_key: &str,
        request: &SuspensionRequest,
    ) -> Result<SuspensionResult, ClientError> {
        self.send(
            self.request(Method::POST, "/api/v1/hotline/suspensions", Some(api_key))
                .json(request),
        )
        .await
    }

    /// `POST /api/v1/hotline/lookups` with an operator's API key.
    pub async fn lookup(
        &self,
        api_key: &str,
        request: &LookupRequest,
    ) -> Result<PersonStatus, ClientError> {
        self.send(
            self.request(Method::POST, "/api/v1/hotline/lookups", Some(api_key))
                .json(request),
        )
        .await
    }

    /// `GET /api/v1/certificates/{issuer}/{serial}/links` with an account's API key.
    pub async fn links(
        &self,
        api_key: &str,
        issuer: &str,
        serial: &str,
    ) -> Result<CertificateLinks, ClientError> {
        self.send(self.request(
            Method::GET,
            &format!("/api/v1/certificates/{issuer}/{serial}/links"),
            Some(api_key),
        ))
        .await
    }
}
