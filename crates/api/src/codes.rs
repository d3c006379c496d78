//! Stable error codes. Each is what a client switches on and what an operator greps
//! for; the messages are for people, in Japanese first and English.

use serde::{Deserialize, Serialize};

macro_rules! codes {
    ($( $variant:ident = $status:literal, $ja:literal, $en:literal; )*) => {
        /// Every error the API can answer, with its HTTP status and messages.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
        pub enum ErrorCode {
            $( $variant, )*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$( ErrorCode::$variant, )*];

            /// The HTTP status the portal answers with.
            pub fn http_status(self) -> u16 {
                match self { $( ErrorCode::$variant => $status, )* }
            }

            /// The message in Japanese.
            pub fn title_ja(self) -> &'static str {
                match self { $( ErrorCode::$variant => $ja, )* }
            }

            /// The message in English.
            pub fn title_en(self) -> &'static str {
                match self { $( ErrorCode::$variant => $en, )* }
            }
        }
    };
}

codes! {
    MalformedRequest = 400, "リクエストの形式が正しくありません", "The request is malformed";
    NonceUnknown = 400, "ナンスが発行されていません", "The nonce was never issued (or was purged)";
    NonceReused = 409, "ナンスは使用済みです(再送信は受け付けません)", "The nonce was already used (replays are refused)";
    NonceExpired = 400, "ナンスの有効期限が切れています", "The nonce has expired";
    NonceWrongPurpose = 400, "ナンスの用途が異なります", "The nonce was issued for another purpose";
    CardSignatureInvalid = 400, "マイナンバーカードによる署名を検証できません", "The card's signature over the application does not verify";
    CardCertificateUntrusted = 400, "マイナンバーカードの署名用電子証明書が信頼できる認証局から発行されていません", "The card signature certificate does not chain to our signature CA";
    CardCertificateExpired = 400, "マイナンバーカードの署名用電子証明書の有効期間外です", "The card signature certificate is expired or not yet valid";
    CardCertificateRevoked = 403, "マイナンバーカードの署名用電子証明書は失効しています", "The card signature certificate is revoked";
    CardCertificateHeld = 403, "マイナンバーカードの署名用電子証明書は一時保留中です", "The card signature certificate is on hold";
    CardCertificateUnknown = 400, "マイナンバーカードの署名用電子証明書が発行記録にありません", "The card signature certificate is not in the issuance records";
    ResidentUnknown = 404, "住民が見つかりません", "No such resident";
    ResidentDeceased = 403, "この住民には発行できません", "The resident is deceased";
    SignatureUnderAge = 403, "15歳未満の方には署名用電子証明書を発行できません", "A signature certificate is not issued to a person under 15";
    AttestationUntrusted = 400, "スマートフォンの安全な領域(GP-SE)を確認できません", "The secure element's device certificate does not chain to a trusted vendor root";
    AttestationInvalid = 400, "鍵の生成証明(アテステーション)が正しくありません", "The key attestation is forged, malformed or expired";
    AttestationNonceMismatch = 400, "鍵の生成証明が今回の申請のものではありません", "The key attestation is bound to another nonce";
    CsrInvalid = 400, "証明書署名要求(CSR)が正しくありません", "The certificate signing request is malformed or its signature does not verify";
    CsrKeyMismatch = 400, "CSRの鍵が安全な領域で生成された鍵と一致しません", "The CSR's key is not the key the secure element attested";
    KindsInvalid = 400, "申請する電子証明書の種類が正しくありません", "The requested certificate kinds must be a non-empty subset of {signature, authentication}";
    DeviceTokenInvalid = 401, "端末の認証に失敗しました", "The device token is missing or wrong";
    ApplicationNotFound = 404, "申請が見つかりません", "No such application";
    ApplicationNotIssued = 409, "電子証明書はまだ発行されていません", "The certificates are not issued yet";
    ApplicationAlreadyRegistered = 409, "この申請の電子証明書は登録済みです", "The certificates of this application are already registered";
    ApplicationSuperseded = 409, "別の申請が先に登録されたため、この申請は無効です", "Another application of this person was registered; this one cannot be";
    RegistrationSignatureInvalid = 400, "登録の署名を検証できません", "The registration signature by the new authentication key does not verify";
    LoginChallengeUnknown = 404, "ログイン要求が見つかりません", "No such login challenge";
    LoginChallengeExpired = 410, "ログイン要求の有効期限が切れています", "The login challenge has expired";
    LoginAlreadyApproved = 409, "このログイン要求は承認済みです", "The login challenge was already approved";
    LoginResponseInvalid = 401, "ログインの署名を確認できません", "The login response does not verify with a valid authentication certificate";
    SessionInvalid = 401, "ログインしていないか、セッションの有効期限が切れています", "No valid session";
    SignatureInvalid = 422, "電子署名を確認できません", "The signature does not verify with a valid signature certificate";
    StatusUnavailable = 503, "電子証明書の失効情報を確認できません", "The certificate's revocation status could not be established";
    CertificateRevoked = 403, "電子証明書は失効しています", "The certificate is revoked";
    CertificateHeld = 403, "電子証明書は一時停止中です", "The certificate is on hold";
    CertificateExpired = 403, "電子証明書の有効期間外です", "The certificate is expired or not yet valid";
    CertificateUntrusted = 400, "電子証明書を信頼できません", "The certificate does not chain to a trusted JPKI CA, or is not of the required kind";
    UserNotRegistered = 404, "利用者が登録されていません", "No user is registered for this person with this relying party";
    NoPredecessor = 404, "以前の電子証明書との紐付けがありません", "The certificate is not linked to an earlier certificate";
    RelyingPartyUnauthorized = 401, "事業者の認証に失敗しました", "Missing or unknown relying-party API key";
    SignRequestUnknown = 404, "署名要求が見つかりません", "No such sign request";
    SignRequestExpired = 410, "署名要求の有効期限が切れています", "The sign request has expired";
    SignRequestAnswered = 409, "この署名要求は回答済みです", "The sign request was already answered";
    DeviceMismatch = 403, "この端末からは回答できません", "This phone is not the person's registered phone, or the certificate is not this phone's";
    SubmissionNotFound = 404, "申請が見つかりません", "No such submission";
    AccountUnauthorized = 401, "APIキーが無効です", "Missing, unknown or disabled API key";
    RoleForbidden = 403, "この操作を行う権限がありません", "The account's role does not allow this operation";
    PersonNotFound = 404, "該当する方が見つかりません", "No resident matches the identification";
    PersonAmbiguous = 409, "該当する方が複数います。個人番号または住所で特定してください", "Several residents match; identify by My Number or add the address";
    NothingToSuspend = 409, "一時利用停止の対象となる電子証明書がありません", "The person has no active certificate in that scope";
    CertificateNotHeld = 409, "電子証明書は一時停止されていません", "The certificate is not on hold";
    CertificateAlreadyRevoked = 409, "電子証明書は失効済みです(失効した電子証明書は元に戻せません)", "The certificate is already revoked; a revoked certificate never comes back";
    StatusChanged = 409, "電子証明書の状態が変わりました。もう一度お試しください", "A certificate's status changed meanwhile; nothing was done, try again";
    DeviceUnknown = 404, "スマートフォンが見つかりません", "No such phone";
    DeviceNotOwned = 403, "このスマートフォンの電子証明書はご本人のものではありません", "The phone's certificates belong to another person";
    NothingToRevoke = 409, "失効させる電子証明書がありません", "No live certificate of the chosen kinds on this phone";
    CertificateNotFound = 404, "電子証明書が見つかりません", "No such certificate";
    CsrfTokenInvalid = 403, "フォームの確認用トークンが正しくないか、別のサイトから送信されました", "The form's CSRF token is missing or wrong, or the form was sent from another site";
    TooManyRequests = 429, "短時間の試行が多すぎます。しばらく待ってからお試しください", "Too many attempts in a short time; wait and retry";
    OperatorLoginFailed = 401, "職員IDまたはパスワードが正しくありません", "Unknown operator, disabled account or wrong password";
    PageNotFound = 404, "ページが見つかりません", "No such page";
    LogUnavailable = 503, "利用履歴の検証用ログはこのポータルでは提供されていません", "The verifiable usage log is not configured on this portal";
    LogInconsistent = 503, "利用履歴のログが公開済みの署名付きツリーヘッドと一致しないため、提供を停止しています", "The usage log does not match its published tree heads; nothing is signed or proven until the operator has audited it";
    TreeHeadUnknown = 404, "指定されたサイズの署名付きツリーヘッドは公開されていません", "No signed tree head of that size was published";
    ServiceUnavailable = 503, "ただいまサービスを利用できません", "The service is temporarily unavailable";
    Internal = 500, "内部エラーが発生しました", "Internal error";
}

impl ErrorCode {
    /// The code as it appears on the wire (`NONCE_REUSED`).
    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_screaming_snake_and_described() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            let text = code.as_str();
            assert!(seen.insert(text.clone()), "{text}");
            assert!(
                text.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'),
                "{text}"
            );
            assert!(!code.title_ja().is_empty() && !code.title_en().is_empty());
            assert!((400..600).contains(&code.http_status()));
        }
        assert_eq!(ErrorCode::NonceReused.as_str(), "NONCE_REUSED");
    }
}
