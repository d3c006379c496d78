//! What a verification concludes, and the record of how: [`Report`] = [`Verdict`] + the
//! certificate's kind, basic 4 information and path + the status [`Evidence`].
//!
//! Every type here is `serde`-serializable; the JSON form (see [`Report::to_json`]) is what
//! a portal stores next to a signed application so that the check can be audited and
//! repeated later ([`Evidence`] keeps the OCSP response bytes themselves, and the number
//! and SHA-256 of every CRL used).
//!
//! A decision a reviewer will question: **three verdicts, not a boolean.** `Invalid` means
//! the evidence proves the signature or certificate unacceptable; `Indeterminate` means
//! nothing was proven either way (no status could be had, a response was stale or for the
//! wrong certificate). A caller that only wants "yes" accepts [`Verdict::Valid`] alone; one
//! that wants to retry later can tell the two failures apart. The CLI maps them to
//! [`EXIT_VALID`], [`EXIT_INVALID`] and [`EXIT_INDETERMINATE`].

use std::fmt::Write as _;

use jpki_model::{BasicInfo, CertificateKind, Purpose, RevocationReason, SerialNumber};
use jpki_pkix::JpkiCertificate;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::status::StatusPolicy;

/// Process exit code for [`Verdict::Valid`].
pub const EXIT_VALID: i32 = 0;
/// Process exit code for [`Verdict::Invalid`].
pub const EXIT_INVALID: i32 = 1;
/// Process exit code for [`Verdict::Indeterminate`].
pub const EXIT_INDETERMINATE: i32 = 2;

/// The conclusion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Signature, path and status all check out at the time of the check.
    Valid,
    /// Proven unacceptable.
    Invalid { reason: InvalidReason },
    /// Neither proven valid nor invalid (usually: no usable status information).
    Indeterminate { reason: IndeterminateReason },
}

impl Verdict {
    pub fn is_valid(&self) -> bool {
        matches!(self, Self::Valid)
    }

    /// [`EXIT_VALID`], [`EXIT_INVALID`] or [`EXIT_INDETERMINATE`].
    pub fn exit_code(&self) -> i32 {
        match self {
            Self::Valid => EXIT_VALID,
            Self::Invalid { .. } => EXIT_INVALID,
            Self::Indeterminate { .. } => EXIT_INDETERMINATE,
        }
    }

    pub(crate) fn invalid(reason: InvalidReason) -> Self {
        Self::Invalid { reason }
    }

    pub(crate) fn indeterminate(reason: IndeterminateReason) -> Self {
        Self::Indeterminate { reason }
    }
}

/// What a signature covered, for [`InvalidReason::BadSignature`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "over", rename_all = "snake_case")]
pub enum SignatureTarget {
    /// The certificate at this depth of the path (0 = the end entity).
    Certificate { depth: usize },
    /// The CMS signed attributes.
    Cms,
    /// A login challenge.
    Challenge,
}

/// Why something is invalid. `depth` counts from the end-entity certificate (0) towards
/// the trust anchor (the last entry of [`Report::path`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InvalidReason {
    /// The input does not parse (certificate, CMS, signature encoding).
    Malformed {
        detail: String,
    },
    /// An algorithm jpki does not accept (only SHA-256 with RSA ≥ 2048 or P-256).
    UnsupportedAlgorithm {
        detail: String,
    },
    BadSignature {
        target: SignatureTarget,
    },
    Expired {
        depth: usize,
        #[serde(with = "time::serde::rfc3339")]
        not_after: OffsetDateTime,
    },
    NotYetValid {
        depth: usize,
        #[serde(with = "time::serde::rfc3339")]
        not_before: OffsetDateTime,
    },
    /// No path to a trust anchor: no certificate (included or trusted) names this issuer.
    UnknownIssuer {
        issuer: String,
    },
    /// A certificate's issuer name is not its issuer's subject name (RFC 5280 §7.1).
    NameMismatch {
        depth: usize,
    },
    /// An issuing certificate without basicConstraints cA TRUE.
    NotACa {
        depth: usize,
    },
    /// basicConstraints pathLenConstraint exceeded.
    PathLengthExceeded {
        depth: usize,
    },
    /// keyUsage missing the bit this use needs.
    WrongKeyUsage {
        depth: usize,
        required: String,
    },
    /// The JPKI certificate policy for the expected kind is missing or another one.
    WrongPolicy {
        depth: usize,
        detail: String,
    },
    /// A critical extension this validator does not process.
    UnknownCriticalExtension {
        depth: usize,
        oid: String,
    },
    /// The certificate is revoked.
    Revoked {
        #[serde(with = "time::serde::rfc3339")]
        time: OffsetDateTime,
        reason: RevocationReason,
    },
    /// The certificate is on hold (一時保留, certificateHold).
    Held {
        #[serde(with = "time::serde::rfc3339")]
        since: OffsetDateTime,
    },
    /// The messageDigest signed attribute is not the digest of the content.
    DigestMismatch,
    /// The contentType signed attribute is missing or differs from eContentType.
    ContentTypeMismatch {
        detail: String,
    },
    /// The SignerInfo has no signed attributes, or lacks a required one.
    MissingSignedAttributes {
        detail: String,
    },
    /// No certificate in the CMS (or given) matches the SignerInfo.
    SignerCertificateNotFound,
    /// The CMS holds no SignerInfo, or more than the verifier accepts.
    SignerCount {
        found: usize,
    },
}

/// Why nothing could be concluded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "code", rename_all = "snake_case")]
#[non_exhaustive]
pub enum IndeterminateReason {
    /// Offline policy and no evidence supplied by the caller.
    NoStatusEvidence,
    /// The certificate names no OCSP responder or CRL the policy may use.
    NoStatusSource,
    /// Status sources were tried and none gave a usable answer; `attempts` says why each
    /// failed.
    StatusUnavailable { attempts: Vec<String> },
    /// The responder answered `unknown` for this certificate.
    StatusUnknown,
}

/// The parts of a certificate worth showing and storing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateSummary {
    /// RFC 4514 form.
    pub subject: String,
    pub issuer: String,
    pub serial: SerialNumber,
    #[serde(with = "time::serde::rfc3339")]
    pub not_before: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub not_after: OffsetDateTime,
    /// Lower-case hex SHA-256 of the DER.
    pub sha256: String,
}

impl CertificateSummary {
    pub fn of(certificate: &JpkiCertificate) -> Self {
        Self {
            subject: certificate.subject().to_rfc4514(),
            issuer: certificate.issuer().to_rfc4514(),
            serial: certificate.serial().clone(),
            not_before: certificate.not_before(),
            not_after: certificate.not_after(),
            sha256: hex::encode(certificate.fingerprint_sha256()),
        }
    }
}

/// Bytes that serialize as standard base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Base64Bytes(#[serde(with = "base64_serde")] pub Vec<u8>);

mod base64_serde {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        STANDARD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// The certificate status a source reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CertificateState {
    Good,
    Revoked {
        #[serde(with = "time::serde::rfc3339")]
        time: OffsetDateTime,
        reason: Option<RevocationReason>,
    },
    Unknown,
}

/// One CRL used, identified well enough to find it again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrlReference {
    pub url: Option<String>,
    /// cRLNumber as upper-case hex.
    pub crl_number: Option<String>,
    /// For a delta CRL: its deltaCRLIndicator (the base CRL number), upper-case hex.
    pub base_crl_number: Option<String>,
    /// Lower-case hex SHA-256 of the CRL DER.
    pub sha256: String,
    #[serde(with = "time::serde::rfc3339")]
    pub this_update: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub next_update: Option<OffsetDateTime>,
}

/// The status evidence for one certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum StatusEvidence {
    Ocsp {
        url: Option<String>,
        /// The whole OCSPResponse DER, so the check can be repeated.
        response_der: Base64Bytes,
        /// RFC 4514 subject of the certificate that signed the response.
        responder: String,
        #[serde(with = "time::serde::rfc3339")]
        produced_at: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339")]
        this_update: OffsetDateTime,
        #[serde(with = "time::serde::rfc3339::option")]
        next_update: Option<OffsetDateTime>,
        state: CertificateState,
        /// Whether the response came from the SDK's cache.
        cached: bool,
    },
    Crl {
        base: CrlReference,
        delta: Option<CrlReference>,
        state: CertificateState,
        cached: bool,
    },
}

/// What the status check used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
    pub policy: StatusPolicy,
    /// Serial (hex) of the certificate each entry is about, with the entry.
    pub status: Vec<(SerialNumber, StatusEvidence)>,
    /// Status sources that were tried and failed, in order (for the record).
    pub failures: Vec<String>,
}

impl Evidence {
    pub(crate) fn new(checked_at: OffsetDateTime, policy: StatusPolicy) -> Self {
        Self {
            checked_at,
            policy,
            status: Vec::new(),
            failures: Vec::new(),
        }
    }
}

/// The full result of one verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    pub verdict: Verdict,
    /// What was being verified: a CMS signature, a login response or a certificate.
    pub subject_of_check: CheckKind,
    /// The end-entity certificate, when one was found.
    pub certificate: Option<CertificateSummary>,
    pub kind: Option<CertificateKind>,
    /// The basic 4 information of a signature certificate. Personal data: store and log
    /// it as such.
    pub basic_info: Option<BasicInfo>,
    /// End entity first, trust anchor last; empty when no path was built.
    pub path: Vec<CertificateSummary>,
    /// The signingTime the signer claimed (CMS only). Not trusted for anything.
    #[serde(with = "time::serde::rfc3339::option")]
    pub claimed_signing_time: Option<OffsetDateTime>,
    pub evidence: Evidence,
}

/// What a [`Report`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckKind {
    CmsSignature,
    LoginResponse,
    Certificate,
}

impl Report {
    pub(crate) fn new(kind: CheckKind, evidence: Evidence) -> Self {
        Self {
            verdict: Verdict::Valid,
            subject_of_check: kind,
            certificate: None,
            kind: None,
            basic_info: None,
            path: Vec::new(),
            claimed_signing_time: None,
            evidence,
        }
    }

    pub(crate) fn with_certificate(mut self, certificate: &JpkiCertificate) -> Self {
        self.certificate = Some(CertificateSummary::of(certificate));
        self.kind = certificate.kind();
        self.basic_info = certificate.basic_info().cloned();
        self
    }

    pub fn is_valid(&self) -> bool {
        self.verdict.is_valid()
    }

    /// [`EXIT_VALID`], [`EXIT_INVALID`] or [`EXIT_INDETERMINATE`].
    pub fn exit_code(&self) -> i32 {
        self.verdict.exit_code()
    }

    /// Pretty JSON (what a portal stores).
    pub fn to_json(&self) -> String {
        // Serialization of these plain types cannot fail; keep a typed fallback anyway.
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialize report: {e}\"}}"))
    }

    /// Parses the JSON form back.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// A multi-line text for a person: Japanese first, English after each line.
    pub fn render(&self) -> String {
        render(self)
    }
}

fn render(report: &Report) -> String {
    let mut out = String::new();
    let (ja, en) = match &report.verdict {
        Verdict::Valid => ("有効", "VALID"),
        Verdict::Invalid { .. } => ("無効", "INVALID"),
        Verdict::Indeterminate { .. } => ("判定不能", "INDETERMINATE"),
    };
    let what = match report.subject_of_check {
        CheckKind::CmsSignature => ("電子署名", "signature"),
        CheckKind::LoginResponse => ("ログイン応答", "login response"),
        CheckKind::Certificate => ("電子証明書", "certificate"),
    };
    let _ = writeln!(out, "検証結果: {} / Result: {} {}", ja, en, what.1);
    let _ = writeln!(out, "  対象 / Checked: {} ({})", what.0, what.1);
    match &report.verdict {
        Verdict::Valid => {}
        Verdict::Invalid { reason } => {
            let (ja, en) = invalid_text(reason);
            let _ = writeln!(out, "  理由: {ja}");
            let _ = writeln!(out, "  Reason: {en}");
        }
        Verdict::Indeterminate { reason } => {
            let (ja, en) = indeterminate_text(reason);
            let _ = writeln!(out, "  理由: {ja}");
            let _ = writeln!(out, "  Reason: {en}");
        }
    }
    if let Some(kind) = report.kind {
        let _ = writeln!(
            out,
            "  証明書の種類 / Kind: {} / {}",
            kind.label_ja(),
            kind.label_en()
        );
    }
    if let Some(certificate) = &report.certificate {
        let _ = writeln!(
            out,
            "  シリアル番号 / Serial: {}",
            certificate.serial.to_hex()
        );
        let _ = writeln!(
            out,
            "  有効期間 / Validity: {} – {}",
            rfc3339(certificate.not_before),
            rfc3339(certificate.not_after)
        );
    }
    if let Some(info) = &report.basic_info {
        let _ = writeln!(out, "  氏名 / Name: {}", info.name());
        let _ = writeln!(out, "  住所 / Address: {}", info.address());
        let _ = writeln!(out, "  生年月日 / Date of birth: {}", info.date_of_birth());
        let _ = writeln!(
            out,
            "  性別 / Sex: {} ({})",
            info.sex().label_ja(),
            info.sex().code()
        );
    }
    if let Some(time) = report.claimed_signing_time {
        let _ = writeln!(
            out,
            "  署名者が示す署名時刻 / Signing time claimed by the signer: {}",
            rfc3339(time)
        );
    }
    if !report.path.is_empty() {
        let _ = writeln!(out, "  証明書パス / Certification path:");
        for (depth, entry) in report.path.iter().enumerate() {
            let role = if depth + 1 == report.path.len() {
                "trust anchor"
            } else if depth == 0 {
                "end entity"
            } else {
                "intermediate"
            };
            let _ = writeln!(out, "    [{depth}] {} ({role})", entry.subject);
        }
    }
    let _ = writeln!(
        out,
        "  失効確認 / Status check: {} at {}",
        policy_text(report.evidence.policy),
        rfc3339(report.evidence.checked_at)
    );
    for (serial, evidence) in &report.evidence.status {
        let line = match evidence {
            StatusEvidence::Ocsp {
                url,
                this_update,
                state,
                cached,
                ..
            } => format!(
                "OCSP {} ({}, thisUpdate {}{})",
                state_text(state),
                url.as_deref().unwrap_or("supplied response"),
                rfc3339(*this_update),
                if *cached { ", cached" } else { "" }
            ),
            StatusEvidence::Crl {
                base,
                delta,
                state,
                cached,
            } => format!(
                "CRL {} (number {}{}, thisUpdate {}{})",
                state_text(state),
                base.crl_number.as_deref().unwrap_or("-"),
                delta
                    .as_ref()
                    .map(|d| format!(" + delta {}", d.crl_number.as_deref().unwrap_or("-")))
                    .unwrap_or_default(),
                rfc3339(base.this_update),
                if *cached { ", cached" } else { "" }
            ),
        };
        let _ = writeln!(out, "    {}: {line}", serial.to_hex());
    }
    for failure in &report.evidence.failures {
        let _ = writeln!(out, "    ! {failure}");
    }
    out
}

fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| time.to_string())
}

fn policy_text(policy: StatusPolicy) -> &'static str {
    match policy {
        StatusPolicy::OcspFirst => "OCSP優先 / OCSP first, CRL fallback",
        StatusPolicy::CrlOnly => "CRLのみ / CRL only",
        StatusPolicy::Offline => "オフライン / offline (supplied evidence only)",
    }
}

fn state_text(state: &CertificateState) -> String {
    match state {
        CertificateState::Good => "good".to_owned(),
        CertificateState::Revoked { reason, .. } => format!(
            "revoked ({})",
            reason.map_or("no reason", RevocationReason::as_str)
        ),
        CertificateState::Unknown => "unknown".to_owned(),
    }
}

fn depth_text(depth: usize) -> (String, String) {
    if depth == 0 {
        (
            "利用者の証明書".to_owned(),
            "the end-entity certificate".to_owned(),
        )
    } else {
        (
            format!("パスの{depth}番目の証明書"),
            format!("the certificate at depth {depth}"),
        )
    }
}

fn purpose_text(purpose: Purpose) -> &'static str {
    match purpose {
        Purpose::Signature => "signature",
        Purpose::Authentication => "user authentication",
    }
}

/// Japanese and English text of an invalid reason.
pub fn invalid_text(reason: &InvalidReason) -> (String, String) {
    match reason {
        InvalidReason::Malformed { detail } => (
            format!("データの形式が正しくありません ({detail})"),
            format!("malformed input: {detail}"),
        ),
        InvalidReason::UnsupportedAlgorithm { detail } => (
            format!("対応していないアルゴリズムです ({detail})"),
            format!("unsupported algorithm: {detail}"),
        ),
        InvalidReason::BadSignature { target } => match target {
            SignatureTarget::Certificate { depth } => {
                let (ja, en) = depth_text(*depth);
                (
                    format!("{ja}の署名が正しくありません"),
                    format!("the signature on {en} does not verify"),
                )
            }
            SignatureTarget::Cms => (
                "電子署名が正しくありません(改ざんの可能性)".to_owned(),
                "the signature does not verify (the data may have been altered)".to_owned(),
            ),
            SignatureTarget::Challenge => (
                "ログイン応答の署名が正しくありません".to_owned(),
                "the signature over the challenge does not verify".to_owned(),
            ),
        },
        InvalidReason::Expired { depth, not_after } => {
            let (ja, en) = depth_text(*depth);
            (
                format!("{ja}の有効期間が終了しています ({})", rfc3339(*not_after)),
                format!("{en} expired at {}", rfc3339(*not_after)),
            )
        }
        InvalidReason::NotYetValid { depth, not_before } => {
            let (ja, en) = depth_text(*depth);
            (
                format!(
                    "{ja}の有効期間がまだ始まっていません ({})",
                    rfc3339(*not_before)
                ),
                format!("{en} is not valid before {}", rfc3339(*not_before)),
            )
        }
        InvalidReason::UnknownIssuer { issuer } => (
            format!("信頼できる発行者が見つかりません ({issuer})"),
            format!("no trusted issuer found for {issuer}"),
        ),
        InvalidReason::NameMismatch { depth } => {
            let (ja, en) = depth_text(*depth);
            (
                format!("{ja}の発行者名が発行者の証明書と一致しません"),
                format!("the issuer name of {en} does not match its issuer's subject"),
            )
        }
        InvalidReason::NotACa { depth } => {
            let (ja, en) = depth_text(*depth);
            (
                format!("{ja}は認証局の証明書ではありません"),
                format!("{en} is not a CA certificate (basicConstraints)"),
            )
        }
        InvalidReason::PathLengthExceeded { depth } => {
            let (ja, en) = depth_text(*depth);
            (
                format!("{ja}でパス長制約を超えています"),
                format!("path length constraint exceeded at {en}"),
            )
        }
        InvalidReason::WrongKeyUsage { depth, required } => {
            let (ja, en) = depth_text(*depth);
            (
                format!("{ja}の鍵用途が不適切です ({required} が必要)"),
                format!("{en} lacks keyUsage {required}"),
            )
        }
        InvalidReason::WrongPolicy { depth, detail } => {
            let (ja, en) = depth_text(*depth);
            (
                format!("{ja}の証明書ポリシーが不適切です ({detail})"),
                format!("wrong certificate policy on {en}: {detail}"),
            )
        }
        InvalidReason::UnknownCriticalExtension { depth, oid } => {
            let (ja, en) = depth_text(*depth);
            (
                format!("{ja}に処理できない重要な拡張があります ({oid})"),
                format!("{en} has an unrecognised critical extension {oid}"),
            )
        }
        InvalidReason::Revoked { time, reason } => (
            format!(
                "電子証明書は失効しています ({}、理由 {})",
                rfc3339(*time),
                reason.as_str()
            ),
            format!(
                "the certificate was revoked at {} ({})",
                rfc3339(*time),
                reason.as_str()
            ),
        ),
        InvalidReason::Held { since } => (
            format!(
                "電子証明書は一時保留(利用停止)中です ({}から)",
                rfc3339(*since)
            ),
            format!("the certificate is on hold since {}", rfc3339(*since)),
        ),
        InvalidReason::DigestMismatch => (
            "署名対象のデータが署名時と異なります".to_owned(),
            "the content does not match the signed message digest".to_owned(),
        ),
        InvalidReason::ContentTypeMismatch { detail } => (
            format!("署名属性のコンテンツタイプが一致しません ({detail})"),
            format!("content type mismatch: {detail}"),
        ),
        InvalidReason::MissingSignedAttributes { detail } => (
            format!("必要な署名属性がありません ({detail})"),
            format!("missing signed attributes: {detail}"),
        ),
        InvalidReason::SignerCertificateNotFound => (
            "署名者の電子証明書が見つかりません".to_owned(),
            "the signer's certificate is not included".to_owned(),
        ),
        InvalidReason::SignerCount { found } => (
            format!("署名者の数が不正です ({found})"),
            format!("expected exactly one signer, found {found}"),
        ),
    }
}

/// Japanese and English text of an indeterminate reason.
pub fn indeterminate_text(reason: &IndeterminateReason) -> (String, String) {
    match reason {
        IndeterminateReason::NoStatusEvidence => (
            "失効情報が与えられていないため失効確認ができません".to_owned(),
            "no revocation evidence was supplied (offline policy)".to_owned(),
        ),
        IndeterminateReason::NoStatusSource => (
            "証明書に失効情報の取得先がありません".to_owned(),
            "the certificate names no OCSP responder or CRL".to_owned(),
        ),
        IndeterminateReason::StatusUnavailable { attempts } => (
            "失効情報を取得・確認できませんでした".to_owned(),
            format!("no usable revocation status: {}", attempts.join("; ")),
        ),
        IndeterminateReason::StatusUnknown => (
            "OCSPレスポンダがこの証明書を知りません".to_owned(),
            "the OCSP responder does not know this certificate".to_owned(),
        ),
    }
}

/// The kind a purpose expects, in words (for messages).
pub(crate) fn expected_text(purpose: Purpose) -> &'static str {
    purpose_text(purpose)
}
