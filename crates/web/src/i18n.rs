//! The two languages of the pages: Japanese first, English on request (a `lang` cookie
//! set by the toggle link). Every string a page shows is a [`M`] message written in both
//! languages in one place, so a page cannot show a string in one language only: the
//! `messages!` macro takes exactly two texts per message.

use jpki_model::{CertificateKind, CertificateStatus, Medium, Purpose, RevocationReason};
use time::OffsetDateTime;

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Lang {
    #[default]
    Ja,
    En,
}

impl Lang {
    /// The value of `<html lang>` and of the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Self::Ja => "ja",
            Self::En => "en",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text.trim() {
            "ja" => Some(Self::Ja),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The other language (what the toggle switches to).
    pub fn other(self) -> Self {
        match self {
            Self::Ja => Self::En,
            Self::En => Self::Ja,
        }
    }

    pub fn t(self, message: M) -> &'static str {
        match self {
            Self::Ja => message.ja(),
            Self::En => message.en(),
        }
    }

    /// Picks one of two texts made at run time (with numbers or names in them).
    pub fn pick<T>(self, ja: T, en: T) -> T {
        match self {
            Self::Ja => ja,
            Self::En => en,
        }
    }
}

macro_rules! messages {
    ($( $variant:ident => $ja:literal, $en:literal; )*) => {
        /// Every fixed string of the pages.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum M {
            $( $variant, )*
        }

        impl M {
            pub const ALL: &'static [M] = &[$( M::$variant, )*];

            pub fn ja(self) -> &'static str {
                match self { $( M::$variant => $ja, )* }
            }

            pub fn en(self) -> &'static str {
                match self { $( M::$variant => $en, )* }
            }
        }
    };
}

messages! {
    SiteName => "jpki ポータル(サンドボックス)", "jpki portal (sandbox)";
    SkipToContent => "本文へ移動", "Skip to main content";
    MainNavigation => "メインメニュー", "Main menu";
    LanguageToggle => "English", "日本語";
    LanguageToggleLabel => "Switch the language to English", "表示言語を日本語に切り替える";
    Footer => "このサイトはjpki(スマホ用電子証明書搭載サービスのオープンな実装)のデモです。", "This site is a demonstration of jpki, an open implementation of the smartphone electronic-certificate service.";
    Home => "ホーム", "Home";
    HomeTitle => "jpki ポータル(サンドボックス)へようこそ", "Welcome to the jpki portal (sandbox)";
    HomeIntro => "スマートフォンのスマホ用電子証明書、またはマイナンバーカードでログインすると、ご自身の電子証明書の状態、利用履歴、電子申請の受付記録を確認できます。", "Log in with the electronic certificate on your smartphone (or your My Number card) to see the status of your certificates, your usage history and the receipts of your online applications.";
    OperatorLink => "職員の方はこちら(運用コンソール)", "Staff: operator console";
    Login => "ログイン", "Log in";
    LoginTitle => "スマートフォンでログイン", "Log in with your smartphone";
    LoginStart => "ログインを始める", "Start logging in";
    LoginStartHint => "ボタンを押すとログイン用のコードとQRコードが表示されます。", "Press the button to get a login code and its QR code.";
    LoginSteps => "ログインの手順", "How to log in";
    LoginStep1 => "スマートフォンのアプリで「パソコンでログイン」を選び、QRコードを読み取るか、下のコードを入力します。", "In the app on your smartphone, choose “Log in on a computer”, then scan the QR code or type the code below.";
    LoginStep2 => "アプリに利用者証明用暗証番号(4桁)を入力して承認します。", "Approve with your user-authentication PIN (4 digits) in the app.";
    LoginStep3 => "承認されると、この画面は自動的に次へ進みます(進まないときは「確認する」を押してください)。", "Once approved, this page moves on by itself (if it does not, press “Check”).";
    LoginCode => "ログインコード", "Login code";
    LoginQrAlt => "ログインコードのQRコード", "QR code of the login code";
    LoginExpiresAt => "コードの有効期限", "The code expires at";
    LoginWaiting => "スマートフォンでの承認を待っています。", "Waiting for the approval on your smartphone.";
    LoginApproved => "スマートフォンで承認されました。「続ける」を押してください。", "Approved on your smartphone. Press “Continue”.";
    LoginNotYet => "まだ承認されていません。スマートフォンで承認してから、もう一度「確認する」を押してください。", "Not approved yet. Approve on your smartphone, then press “Check” again.";
    LoginExpired => "ログインコードの有効期限が切れました。もう一度ログインを始めてください。", "The login code has expired. Please start again.";
    LoginCheck => "確認する", "Check";
    LoginContinue => "続ける", "Continue";
    LoginCliHint => "コマンドラインの電話(jpki phone login)で承認するには:", "To approve with the command-line phone (jpki phone login):";
    LoginAgain => "ログインし直す", "Log in again";
    Logout => "ログアウト", "Log out";
    LoggedOut => "ログアウトしました。", "You have logged out.";
    Dashboard => "マイページ", "My page";
    Certificates => "電子証明書", "Certificates";
    CertificatesTitle => "あなたの電子証明書", "Your electronic certificates";
    CertificatesCaption => "マイナンバーカードとスマートフォンの電子証明書の一覧", "The certificates on your My Number card and smartphones";
    NoCertificates => "電子証明書はありません。", "You have no certificates.";
    ColumnKind => "種類", "Kind";
    ColumnMedium => "媒体", "Medium";
    ColumnStatus => "状態", "Status";
    ColumnExpiry => "有効期限", "Expires";
    ColumnDevice => "端末・カード", "Device or card";
    ColumnSerial => "シリアル番号", "Serial number";
    ColumnActions => "操作", "Actions";
    KindSignature => "署名用", "Signature";
    KindAuthentication => "利用者証明用", "User authentication";
    MediumCard => "カード", "Card";
    MediumPhone => "スマホ", "Phone";
    StatusActive => "有効", "Active";
    StatusHeld => "一時保留", "Suspended (on hold)";
    StatusRevoked => "失効", "Revoked";
    StatusPending => "登録待ち", "Awaiting registration";
    StatusExpired => "有効期限切れ", "Expired";
    Revoke => "失効させる", "Revoke";
    LiftOnPhone => "一時利用停止の解除はスマートフォンのアプリで行います。", "Lift the suspension in the app on your phone.";
    CardAtCounter => "カードの手続きは市区町村の窓口で行います。", "Card procedures are done at your municipal counter.";
    GuideTitle => "困ったときは", "If something is wrong";
    GuideLost => "スマートフォンを紛失したときは、24時間受付のコールセンター(一時利用停止)に連絡するか、ここでスマホ用電子証明書を失効させてください。", "If you lose your phone, call the 24-hour hotline to suspend its certificates, or revoke them here.";
    GuideFound => "見つかったときは、スマートフォンのアプリでマイナンバーカードを使って一時利用停止を解除できます。", "If you find it again, lift the suspension in the app with your My Number card.";
    History => "利用履歴", "Usage history";
    HistoryTitle => "利用履歴", "Usage history";
    HistoryIntro => "電子証明書の利用(ログイン、署名、事業者による確認)と、発行・一時保留・失効などの手続きの記録です。", "Every use of your certificates (logins, signatures, checks by relying parties) and every procedure (issuance, suspension, revocation, …).";
    HistoryCaption => "利用履歴(新しい順)", "Usage history (newest first)";
    HistoryEmpty => "該当する履歴はありません。", "No entries match.";
    FilterTitle => "絞り込み", "Filter";
    FilterFrom => "開始日", "From";
    FilterTo => "終了日", "To";
    FilterKind => "種別", "Kind";
    FilterApply => "絞り込む", "Apply";
    FilterReset => "条件をクリア", "Clear";
    FilterDateHint => "例: 2026-11-26", "e.g. 2026-11-26";
    KindAll => "すべて", "All";
    CategoryRegistration => "発行・登録", "Issuance and registration";
    CategoryLogin => "ログイン", "Login";
    CategorySignature => "署名", "Signature";
    CategoryRelyingParty => "事業者による確認", "Relying-party check";
    CategoryStatus => "一時保留・失効", "Suspension and revocation";
    CategoryChange => "異動(記載事項の変更)", "Change of personal data";
    CategoryOther => "その他", "Other";
    ColumnTime => "日時(日本時間)", "Time (JST)";
    ColumnCategory => "種別", "Kind";
    ColumnAction => "内容", "Event";
    ColumnRelyingParty => "事業者", "Relying party";
    ColumnOutcome => "結果", "Outcome";
    ColumnDetail => "詳細", "Detail";
    OutcomeOk => "成功", "Succeeded";
    OutcomeRefused => "拒否", "Refused";
    OutcomeFailed => "失敗", "Failed";
    Export => "ダウンロード", "Download";
    ExportCsv => "CSV形式(Excel対応)", "CSV (opens in Excel)";
    ExportJson => "JSON形式", "JSON";
    VerifiableBundle => "検証用の履歴データ(改ざん検知)", "Verifiable history bundle";
    VerifiableBundleHint => "検証用の履歴データは、利用履歴が後から書き換えられていないことを、手元で確かめるためのものです(jpki log verify で検証できます)。", "The verifiable bundle lets you check on your own computer that your history was not altered afterwards (check it with jpki log verify).";
    PagePrevious => "前のページ", "Previous page";
    PageNext => "次のページ", "Next page";
    Pagination => "ページ送り", "Pages";
    Applications => "電子申請", "Online applications";
    ApplicationsTitle => "電子申請と受付記録", "Online applications and their receipts";
    ApplicationsCaption => "署名して提出した電子申請", "Applications you signed and submitted";
    ApplicationsEmpty => "電子申請はありません。", "You have submitted no applications.";
    ColumnReceipt => "受付番号", "Receipt number";
    ColumnTitle => "件名", "Title";
    ColumnReceived => "受付日時", "Received";
    ColumnSigner => "署名者", "Signer";
    ColumnCheck => "署名の再検証", "Signature re-check";
    ColumnContentDigest => "内容のSHA-256", "SHA-256 of the content";
    ColumnEvidence => "失効確認の証拠", "Revocation evidence";
    ColumnCertificate => "署名に使われた電子証明書", "Signing certificate";
    RecheckValid => "有効(保存した証拠で確認)", "Valid (checked with the kept evidence)";
    RecheckInvalid => "確認できません", "Could not be confirmed";
    ReceiptTitle => "受付記録", "Receipt";
    BackToApplications => "電子申請の一覧へ戻る", "Back to the applications";
    RevokeTitle => "スマホ用電子証明書の失効", "Revoke a phone certificate";
    RevokeWarning => "失効させた電子証明書は元に戻せません。もう一度使うには、マイナンバーカードでスマートフォンから申請し直す必要があります。", "A revoked certificate never comes back. To use one again you must apply again from your phone with your My Number card.";
    RevokeReason => "理由", "Reason";
    RevokeReasonUnneeded => "不要になった(機種変更・解約など)", "No longer needed (new phone, cancelled contract, …)";
    RevokeReasonLost => "紛失・盗難", "Lost or stolen";
    RevokeConfirm => "この電子証明書を失効させることを確認しました", "I confirm that I want to revoke this certificate";
    RevokeSubmit => "失効させる", "Revoke";
    RevokeCancel => "やめる", "Cancel";
    RevokeDone => "電子証明書を失効させました。", "The certificate was revoked.";
    RevokeNeedsConfirm => "確認のチェックを入れてください。何も変更していません。", "Tick the confirmation box. Nothing was changed.";
    RevokeReauth => "失効の操作には、直前のログインが必要です(ログインから10分以内)。スマートフォンでもう一度ログインしてください。", "Revoking needs a recent login (within 10 minutes). Please log in again with your phone.";
    RevokeNotPossible => "この電子証明書はここでは失効させられません(スマホ用電子証明書で、失効していないものに限ります)。", "This certificate cannot be revoked here (only phone certificates that are not revoked yet).";
    Welcome => "さん、こんにちは", "Hello";
    SessionUntil => "ログインの有効期限", "Logged in until";
    ErrorTitle => "エラー", "Error";
    ErrorCode => "エラーコード", "Error code";
    ErrorBack => "ホームへ戻る", "Back to the home page";
    ErrorCsrf => "フォームの有効期限が切れたか、別のサイトから送信されました。ページを開き直してから、もう一度お試しください。何も変更していません。", "The form has expired or was sent from another site. Reload the page and try again. Nothing was changed.";
    ErrorRateLimited => "短時間に多くの試行がありました。しばらく待ってから、もう一度お試しください。", "Too many attempts in a short time. Please wait a moment and try again.";
    ErrorRetryAfter => "再試行までの秒数", "Seconds before you can retry";
    ErrorNotFound => "ページが見つかりません。", "The page was not found.";
    ErrorInternal => "内部エラーが発生しました。時間をおいてお試しください。", "An internal error occurred. Please try again later.";
    ErrorBadInput => "入力内容を確認してください。何も変更していません。", "Please check what you entered. Nothing was changed.";
    ErrorForbidden => "この操作を行う権限がありません。何も変更していません。", "You are not allowed to do this. Nothing was changed.";
    OperatorConsole => "運用コンソール", "Operator console";
    OperatorLoginTitle => "運用コンソールへのログイン", "Log in to the operator console";
    OperatorName => "職員ID", "Operator ID";
    OperatorPassword => "パスワード", "Password";
    OperatorLoginFailed => "職員IDまたはパスワードが正しくありません。", "Wrong operator ID or password.";
    OperatorSignedIn => "ログイン中", "Signed in as";
    OperatorRole => "権限", "Role";
    RoleHotline => "コールセンター(一時利用停止)", "Hotline (suspensions)";
    RoleCounter => "窓口", "Counter";
    RoleAdmin => "管理者", "Administrator";
    RoleAuditor => "監査", "Auditor";
    RoleVerifier => "検証者", "Verifier";
    SearchTitle => "本人の検索", "Find a person";
    SearchByResident => "住民番号で検索", "By resident number";
    SearchByName => "氏名と生年月日で検索", "By name and date of birth";
    ResidentNumber => "住民番号", "Resident number";
    PersonName => "氏名", "Name";
    BirthDate => "生年月日", "Date of birth";
    Address => "住所", "Address";
    Search => "検索する", "Search";
    SearchResults => "検索結果", "Results";
    SearchNone => "該当する方はいません。", "No one matches.";
    SearchHint => "氏名は登録どおりに(姓と名の間は空白1つ)入力してください。", "Enter the name exactly as registered (one space between family and given name).";
    PersonTitle => "本人の情報", "Person";
    Deceased => "死亡", "Deceased";
    Open => "開く", "Open";
    SuspendTitle => "一時利用停止(一時保留)", "Suspend (hold)";
    SuspendIntro => "本人確認のうえ、紛失・盗難の申し出を受けた電子証明書を一時保留にします。操作は職員IDとともに監査ログに記録されます。", "After identifying the caller, put the reported certificates on hold. The action is written to the audit log with your operator ID.";
    SuspendScope => "対象", "Scope";
    ScopePhone => "スマホ用電子証明書", "Phone certificates";
    ScopeCard => "カードの電子証明書", "Card certificates";
    ScopeAll => "すべて", "All";
    SuspendNote => "受付メモ(任意)", "Note (optional)";
    SuspendSubmit => "一時保留にする", "Suspend";
    SuspendDone => "一時保留にしました。", "Suspended.";
    SuspendNotAllowed => "あなたの権限では一時利用停止はできません(コールセンター・管理者のみ)。", "Your role cannot suspend (hotline and administrators only).";
    AuditNotice => "この画面の表示は監査ログに記録されています。", "Viewing this page is recorded in the audit log.";
    RecentHistory => "最近の利用履歴", "Recent usage history";
    NoteLabel => "メモ", "Note";
}

/// 有効 / 一時保留 / 失効 / 登録待ち, or 有効期限切れ for a certificate past its notAfter.
pub fn status_label(lang: Lang, status: &CertificateStatus, expired: bool) -> &'static str {
    match status {
        CertificateStatus::Revoked { .. } => lang.t(M::StatusRevoked),
        _ if expired => lang.t(M::StatusExpired),
        CertificateStatus::Active => lang.t(M::StatusActive),
        CertificateStatus::Held { .. } => lang.t(M::StatusHeld),
        CertificateStatus::Pending => lang.t(M::StatusPending),
    }
}

pub fn purpose_label(lang: Lang, kind: CertificateKind) -> &'static str {
    match kind.purpose {
        Purpose::Signature => lang.t(M::KindSignature),
        Purpose::Authentication => lang.t(M::KindAuthentication),
    }
}

pub fn medium_label(lang: Lang, kind: CertificateKind) -> &'static str {
    match kind.medium {
        Medium::Card => lang.t(M::MediumCard),
        Medium::Phone => lang.t(M::MediumPhone),
    }
}

pub fn reason_label(lang: Lang, reason: RevocationReason) -> &'static str {
    use RevocationReason as R;
    match (lang, reason) {
        (Lang::Ja, R::Unspecified) => "理由なし",
        (Lang::Ja, R::KeyCompromise) => "紛失・盗難など",
        (Lang::Ja, R::CaCompromise) => "認証局の事故",
        (Lang::Ja, R::AffiliationChanged) => "記載事項の変更(異動)",
        (Lang::Ja, R::Superseded) => "新しい電子証明書への切替え",
        (Lang::Ja, R::CessationOfOperation) => "利用の終了",
        (Lang::Ja, R::CertificateHold) => "一時保留",
        (Lang::Ja, R::RemoveFromCrl) => "一時保留の解除",
        (Lang::Ja, R::PrivilegeWithdrawn) => "資格の取消し",
        (Lang::Ja, R::AaCompromise) => "属性認証局の事故",
        (Lang::En, R::Unspecified) => "unspecified",
        (Lang::En, R::KeyCompromise) => "lost, stolen or compromised",
        (Lang::En, R::CaCompromise) => "CA compromise",
        (Lang::En, R::AffiliationChanged) => "personal data changed",
        (Lang::En, R::Superseded) => "replaced by a newer certificate",
        (Lang::En, R::CessationOfOperation) => "no longer used",
        (Lang::En, R::CertificateHold) => "on hold",
        (Lang::En, R::RemoveFromCrl) => "hold released",
        (Lang::En, R::PrivilegeWithdrawn) => "privilege withdrawn",
        (Lang::En, R::AaCompromise) => "attribute authority compromise",
    }
}

/// The person-facing name of a usage-history action, in both languages; `None` for an
/// action this version does not know (the page then shows its machine name).
pub fn action_label(lang: Lang, action: &str) -> Option<&'static str> {
    let (ja, en) = match action {
        "applied" => ("スマホ用電子証明書の申請", "Applied for phone certificates"),
        "issued" => ("スマホ用電子証明書の発行", "Phone certificates issued"),
        "notified" => ("発行の通知", "Notified of the issuance"),
        "ready_to_register" => ("登録の準備完了", "Ready to register"),
        "registered" => ("スマートフォンへの登録", "Registered on the phone"),
        "superseded" => (
            "新しいスマートフォンへの切替え",
            "Replaced by a newer phone",
        ),
        "wiped" => ("スマートフォンからの削除", "Erased from the phone"),
        "login" => ("ログイン", "Login"),
        "submitted" => (
            "電子申請(署名の検証)",
            "Online application (signature verified)",
        ),
        "platform_register" => ("事業者への利用者登録", "Registered with a relying party"),
        "platform_login" => ("事業者へのログイン", "Login at a relying party"),
        "sign_request" => (
            "事業者からの署名要求",
            "Signature requested by a relying party",
        ),
        "suspended" => ("一時利用停止(一時保留)", "Suspended (on hold)"),
        "lifted" => ("一時利用停止の解除", "Suspension lifted"),
        "revoked" => ("失効", "Revoked"),
        "revoked_other" => (
            "別のスマートフォンの電子証明書の失効",
            "Another phone's certificates revoked",
        ),
        "pin_reset" => ("暗証番号の再設定", "PIN reset"),
        "released" => ("一時保留の解除", "Hold released"),
        "card_issued" => ("マイナンバーカードの交付", "My Number card issued"),
        "platform_replacement" => (
            "事業者での新旧の電子証明書の紐付け",
            "Certificate replacement linked at a relying party",
        ),
        "card_replaced" => ("カードの再交付", "Card replaced"),
        "card_abandoned" => ("カードの廃止", "Card cancelled"),
        "moved" => ("住所の変更(異動)", "Address changed"),
        "renamed" => ("氏名の変更(異動)", "Name changed"),
        "corrected" => ("記載事項の修正", "Personal data corrected"),
        "death" => ("死亡による失効", "Revoked on death"),
        "status_checked" | "status_check" | "platform_status" => (
            "事業者による有効性確認",
            "Validity checked by a relying party",
        ),
        _ => return None,
    };
    Some(lang.pick(ja, en))
}

/// A time as people in Japan read it: `2026-11-26 10:00:05` in JST.
pub fn jst(instant: OffsetDateTime) -> String {
    let local = instant.to_offset(jpki_model::time::JST);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        local.year(),
        u8::from(local.month()),
        local.day(),
        local.hour(),
        local.minute(),
        local.second()
    )
}

/// A date in JST: `2026-11-26`.
pub fn jst_date(instant: OffsetDateTime) -> String {
    let local = instant.to_offset(jpki_model::time::JST);
    format!(
        "{:04}-{:02}-{:02}",
        local.year(),
        u8::from(local.month()),
        local.day()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_exists_in_both_languages() {
        for message in M::ALL {
            assert!(!message.ja().trim().is_empty(), "{message:?}");
            assert!(!message.en().trim().is_empty(), "{message:?}");
        }
        // The Japanese side is Japanese (apart from the language toggle, which names
        // the other language in that language, inside an element marked lang="en").
        for message in M::ALL {
            if matches!(message, M::LanguageToggle | M::LanguageToggleLabel) {
                continue;
            }
            assert!(!message.ja().is_ascii(), "{message:?} has no Japanese text");
        }
    }

    #[test]
    fn jst_formats_in_japan_time() {
        let instant = time::macros::datetime!(2026-11-26 01:00 UTC);
        assert_eq!(jst(instant), "2026-11-26 10:00:00");
        assert_eq!(
            jst_date(time::macros::datetime!(2026-11-26 20:00 UTC)),
            "2026-11-27"
        );
    }
}
