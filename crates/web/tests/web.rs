//! The web pages over real HTTP on loopback, against the whole system booted by the
//! testkit: the cross-device login approved by a phone, the dashboard's statuses, the
//! operator console's suspension as the citizen then sees it, the exports, the English
//! toggle — and every refusal: forged POSTs (no token, wrong token, another site),
//! another citizen's data, an operator role that may not suspend, rate limits. Each
//! refusal is checked to have changed nothing.
//!
//! One binary (every file in `tests/` is a separate link).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Mutex;

use jpki_app::{Phone, PortalClient};
use jpki_authority::hotline::create_operator;
use jpki_crypto::{Clock, SecretString};
use jpki_model::{CertificateKind, CertificateStatus, Medium, RevocationReason};
use jpki_store::{
    AccountRole, AuditStore, CertificateRecord, CertificateStore, Holder, PhoneStore, Resident,
};
use jpki_testkit::{Sandbox, phone_auth_pin, phone_sign_password};
use reqwest::header::HeaderMap;
use time::Duration as TimeDuration;

// ------------------------------------------------------------------ a scripted browser

/// A browser without JavaScript: follows nothing by itself, keeps cookies as a browser
/// does (by name; Max-Age=0 deletes), sends forms as `application/x-www-form-urlencoded`.
struct Browser {
    http: reqwest::Client,
    base: String,
    cookies: Mutex<BTreeMap<String, String>>,
    /// Every Set-Cookie line received, to check the attributes.
    set_cookies: Mutex<Vec<String>>,
}

#[derive(Debug)]
struct Reply {
    status: u16,
    headers: HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    fn location(&self) -> String {
        self.headers
            .get("location")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    }

    /// The CSRF token of the (first) form on the page.
    fn csrf(&self) -> String {
        let text = self.text();
        let start = text
            .find("name=\"csrf\" value=\"")
            .unwrap_or_else(|| panic!("no CSRF field on the page:\n{text}"))
            + "name=\"csrf\" value=\"".len();
        text[start..start + text[start..].find('"').unwrap()].to_owned()
    }
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookies: Mutex::new(BTreeMap::new()),
            set_cookies: Mutex::new(Vec::new()),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_owned(), value.to_owned());
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap();
        for value in response.headers().get_all("set-cookie") {
            let line = value.to_str().unwrap().to_owned();
            let (pair, attributes) = line.split_once(';').unwrap_or((&line, ""));
            let (name, value) = pair.split_once('=').unwrap();
            if attributes.contains("Max-Age=0") {
                self.cookies.lock().unwrap().remove(name.trim());
            } else {
                self.set_cookie(name.trim(), value.trim());
            }
            self.set_cookies.lock().unwrap().push(line);
        }
        Reply {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            bytes: response.bytes().await.unwrap().to_vec(),
        }
    }

    async fn get(&self, path: &str) -> Reply {
        self.send(self.http.get(format!("{}{path}", self.base)))
            .await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Reply {
        self.post_with(path, form, &[]).await
    }

    async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(serde_urlencoded::to_string(form).unwrap());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request).await
    }
}

// ------------------------------------------------------------------ the system

struct Person {
    resident: Resident,
    phone: Phone,
}

/// A resident with a card (signature and authentication) and a registered phone.
async fn person(sandbox: &Sandbox, client: &PortalClient, name: &str) -> Person {
    let resident = sandbox.resident(name, "1990-01-02").await.unwrap();
    let mut card = sandbox.card(&resident, true).await.unwrap();
    let phone = sandbox.registered_phone(client, &mut card).await.unwrap();
    Person { resident, phone }
}

struct World {
    sandbox: Sandbox,
    _guard: jpki_store::testing::TestDatabase,
    url: String,
    client: PortalClient,
}

async fn world() -> World {
    let (sandbox, guard) = Sandbox::sqlite().await.unwrap();
    let url = sandbox.serve().await.unwrap();
    let client = PortalClient::new(&url).unwrap();
    World {
        sandbox,
        _guard: guard,
        url,
        client,
    }
}

fn login_code(page: &str) -> String {
    let start = page
        .find("id=\"login-code\">")
        .unwrap_or_else(|| panic!("no login code on the page:\n{page}"))
        + "id=\"login-code\">".len();
    page[start..start + page[start..].find('<').unwrap()].to_owned()
}

/// The whole cross-device login in a browser, approved by `phone`; returns the
/// dashboard.
async fn log_in(world: &World, browser: &Browser, phone: &mut Phone) -> Reply {
    let start = browser.get("/login").await;
    assert_eq!(start.status, 200, "{}", start.text());
    let started = browser
        .post("/login/start", &[("csrf", &start.csrf())])
        .await;
    assert_eq!(started.status, 303, "{}", started.text());
    assert_eq!(started.location(), "/login");
    let page = browser.get("/login").await;
    assert_eq!(page.status, 200);
    let code = login_code(&page.text());
    assert_eq!(
        browser.get("/login/status").await.text(),
        r#"{"state":"pending"}"#
    );
    // Checking before the phone approved keeps the browser waiting.
    let early = browser
        .post("/login/complete", &[("csrf", &page.csrf())])
        .await;
    assert_eq!(early.location(), "/login?waiting=1");
    let outcome = jpki_app::relying::login(
        phone,
        &world.client,
        Some(&code),
        &phone_auth_pin().unwrap(),
    )
    .await
    .unwrap();
    assert!(matches!(
        outcome,
        jpki_app::relying::LoginOutcome::Approved { .. }
    ));
    assert_eq!(
        browser.get("/login/status").await.text(),
        r#"{"state":"approved"}"#
    );
    let approved = browser.get("/login").await;
    assert!(approved.text().contains("data-state=\"approved\""));
    let done = browser
        .post("/login/complete", &[("csrf", &approved.csrf())])
        .await;
    assert_eq!(done.status, 303, "{}", done.text());
    assert_eq!(done.location(), "/dashboard");
    let dashboard = browser.get("/dashboard").await;
    assert_eq!(dashboard.status, 200, "{}", dashboard.text());
    dashboard
}

/// The operator console's login; returns the search page.
async fn operator_log_in(browser: &Browser, name: &str, password: &str) -> Reply {
    let form = browser.get("/operator").await;
    assert_eq!(form.status, 200);
    let reply = browser
        .post(
            "/operator/login",
            &[
                ("csrf", &form.csrf()),
                ("name", name),
                ("password", password),
            ],
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    let page = browser.get("/operator").await;
    assert!(page.text().contains("/operator/search"), "{}", page.text());
    page
}

async fn add_operator(sandbox: &Sandbox, name: &str, role: AccountRole, password: &str) {
    create_operator(
        &sandbox.store,
        name,
        role,
        Some(&SecretString::from(password.to_owned())),
        sandbox.clock.now(),
    )
    .await
    .unwrap();
}

async fn certificates(sandbox: &Sandbox, resident: &Resident) -> Vec<CertificateRecord> {
    sandbox
        .store
        .certificates_of_resident(resident.id)
        .await
        .unwrap()
}

fn statuses(certificates: &[CertificateRecord]) -> Vec<(CertificateKind, &'static str)> {
    let mut statuses: Vec<_> = certificates
        .iter()
        .map(|c| (c.kind, c.status.label()))
        .collect();
    statuses.sort_by_key(|(kind, _)| kind.as_str());
    statuses
}

fn device_of(phone: &Phone) -> Holder {
    Holder::Device(phone.se.serial().as_str().to_owned())
}

fn table_rows(page: &str, table_id: &str) -> Vec<String> {
    let start = page
        .find(&format!("id=\"{table_id}\""))
        .unwrap_or_else(|| panic!("no table {table_id}:\n{page}"));
    let table = &page[start..start + page[start..].find("</table>").unwrap()];
    table
        .split("<tr")
        .skip(2)
        .map(|row| row.to_owned())
        .collect()
}

// ------------------------------------------------------------------ the tests

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_device_login_shows_the_dashboard_with_statuses_then_logs_out() {
    let world = world().await;
    let mut taro = person(&world.sandbox, &world.client, "公的 太郎").await;
    let browser = Browser::new(&world.url);
    let dashboard = log_in(&world, &browser, &mut taro.phone).await;
    let page = dashboard.text();

    // Japanese first; the person; four certificates, all active, card and phone, both kinds.
    assert!(page.contains("<html lang=\"ja\">"));
    assert!(page.contains("公的 太郎"));
    let rows = table_rows(&page, "certificates");
    assert_eq!(rows.len(), 4, "{page}");
    for row in &rows {
        assert!(row.contains("有効"), "{row}");
        assert!(row.contains("data-status=\"active\""), "{row}");
    }
    for text in ["署名用", "利用者証明用", "カード", "スマホ", "スマホ"] {
        assert!(page.contains(text), "{text}");
    }
    let device = taro.phone.se.serial().as_str().to_owned();
    assert!(page.contains(&device), "the phone's device id");
    // Revocation is offered for the phone certificates only.
    assert_eq!(page.matches("/revoke\"").count(), 2, "{page}");

    // Cookies: __Host-, HttpOnly, Secure, SameSite; the pending login's cookie is gone.
    let set_cookies = browser.set_cookies.lock().unwrap().clone();
    for line in &set_cookies {
        assert!(line.starts_with("__Host-"), "{line}");
        for attribute in ["Path=/", "Secure", "HttpOnly", "SameSite="] {
            assert!(line.contains(attribute), "{line}");
        }
        assert!(!line.contains("Domain"), "{line}");
    }
    assert!(
        set_cookies
            .iter()
            .any(|line| line.starts_with("__Host-jpki-session=") && line.contains("SameSite=Lax"))
    );
    assert!(browser.cookie("__Host-jpki-login").is_none());
    // The session is kept as a digest only: no row holds the token.
    let token = browser.cookie("__Host-jpki-session").unwrap();
    let raw = jpki_api::decode_token(&token).unwrap();
    assert!(
        jpki_store::RelyingStore::session(&world.sandbox.store, &raw, world.sandbox.clock.now())
            .await
            .unwrap()
            .is_none()
    );

    // Security headers on pages, no-store on personal pages, cacheable assets.
    for name in [
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
        "permissions-policy",
        "x-frame-options",
    ] {
        assert!(!dashboard.header(name).is_empty(), "{name}");
    }
    let csp = dashboard.header("content-security-policy");
    for directive in [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(directive), "{csp}");
    }
    assert!(!csp.contains("unsafe-inline"));
    assert_eq!(dashboard.header("x-content-type-options"), "nosniff");
    assert_eq!(dashboard.header("cache-control"), "no-store");
    assert!(!page.contains("<script>") && !page.contains("style="));
    let css = browser.get("/static/style.css").await;
    assert_eq!(css.status, 200);
    assert!(css.header("content-type").starts_with("text/css"));
    assert!(css.header("cache-control").contains("max-age"));
    assert!(css.text().contains(":focus-visible"));

    // The history has the login, with the phone as the device.
    let history = browser.get("/history").await;
    let rows = table_rows(&history.text(), "history");
    assert!(
        rows.iter()
            .any(|row| row.contains("data-action=\"login\"") && row.contains(&device)),
        "{}",
        history.text()
    );
    for action in ["applied", "registered"] {
        assert!(
            rows.iter()
                .any(|row| row.contains(&format!("data-action=\"{action}\""))),
            "{action}"
        );
    }

    // Logout ends the session: the old cookie no longer opens the dashboard.
    let logout = browser
        .post("/logout", &[("csrf", &dashboard.csrf())])
        .await;
    assert_eq!(logout.status, 303);
    assert!(browser.cookie("__Host-jpki-session").is_none());
    browser.set_cookie("__Host-jpki-session", &token);
    let after = browser.get("/dashboard").await;
    assert_eq!(after.status, 303);
    assert_eq!(after.location(), "/login");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_posts_without_or_with_a_wrong_token_change_nothing() {
    let world = world().await;
    let sandbox = &world.sandbox;
    let mut taro = person(sandbox, &world.client, "公的 太郎").await;
    add_operator(
        sandbox,
        "alice",
        AccountRole::Hotline,
        "correct horse battery",
    )
    .await;
    let citizen = Browser::new(&world.url);
    let dashboard = log_in(&world, &citizen, &mut taro.phone).await;
    let token = dashboard.csrf();
    let before = statuses(&certificates(sandbox, &taro.resident).await);
    let phone_auth = certificates(sandbox, &taro.resident)
        .await
        .into_iter()
        .find(|c| c.kind == CertificateKind::PHONE_AUTHENTICATION)
        .unwrap();
    let revoke = format!(
        "/certificates/{}/{}/revoke",
        phone_auth.issuer_name,
        phone_auth.serial.to_hex()
    );

    let forged: [&[(&str, &str)]; 3] = [
        &[("reason", "lost"), ("confirm", "yes")],
        &[("csrf", ""), ("reason", "lost"), ("confirm", "yes")],
        &[
            ("csrf", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
            ("reason", "lost"),
            ("confirm", "yes"),
        ],
    ];
    for form in forged {
        let reply = citizen.post(&revoke, form).await;
        assert_eq!(reply.status, 403, "{form:?}: {}", reply.text());
        assert!(reply.text().contains("CSRF_TOKEN_INVALID"));
        let reply = citizen.post("/logout", form).await;
        assert_eq!(reply.status, 403);
    }
    // The right token from another site (the browser says so) is refused too.
    for headers in [
        &[("origin", "http://evil.example")][..],
        &[("origin", "null")][..],
        &[("sec-fetch-site", "cross-site")][..],
    ] {
        let reply = citizen
            .post_with(
                &revoke,
                &[("csrf", &token), ("reason", "lost"), ("confirm", "yes")],
                headers,
            )
            .await;
        assert_eq!(reply.status, 403, "{headers:?}");
    }
    // A token of another session does not work either.
    let other = Browser::new(&world.url);
    let other_dashboard = log_in(&world, &other, &mut taro.phone).await;
    let reply = citizen
        .post(
            &revoke,
            &[
                ("csrf", &other_dashboard.csrf()),
                ("reason", "lost"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(reply.status, 403);
    // Nothing changed: statuses, session.
    assert_eq!(
        statuses(&certificates(sandbox, &taro.resident).await),
        before
    );
    assert_eq!(citizen.get("/dashboard").await.status, 200);

    // Pre-session forms need their cookie-bound token.
    let fresh = Browser::new(&world.url);
    let reply = fresh.post("/login/start", &[("csrf", "x")]).await;
    assert_eq!(reply.status, 403);
    let reply = fresh
        .post(
            "/operator/login",
            &[("name", "alice"), ("password", "correct horse battery")],
        )
        .await;
    assert_eq!(reply.status, 403);
    assert!(fresh.cookie("__Host-jpki-operator").is_none());

    // The operator console: a forged suspension does nothing.
    let operator = Browser::new(&world.url);
    operator_log_in(&operator, "alice", "correct horse battery").await;
    let suspend = format!("/operator/residents/{}/suspend", taro.resident.id.0);
    let reply = operator
        .post(&suspend, &[("scope", "all"), ("csrf", "forged")])
        .await;
    assert_eq!(reply.status, 403);
    let reply = operator.post(&suspend, &[("scope", "all")]).await;
    assert_eq!(reply.status, 403);
    // The citizen's token is not the operator's.
    let reply = operator
        .post(&suspend, &[("scope", "all"), ("csrf", &token)])
        .await;
    assert_eq!(reply.status, 403);
    assert_eq!(
        statuses(&certificates(sandbox, &taro.resident).await),
        before
    );

    // Every POST route refuses a request without a token (with a session where one is
    // needed), before looking at anything else.
    let operator_token_page = operator.get("/operator").await;
    assert_eq!(operator_token_page.status, 200);
    for (method, path) in jpki_web::ROUTES {
        if *method != "post" {
            continue;
        }
        let path = path
            .replace("{issuer}", &phone_auth.issuer_name)
            .replace("{serial}", &phone_auth.serial.to_hex())
            .replace("{resident}", &taro.resident.id.0.to_string());
        let browser = if path.starts_with("/operator/") && path != "/operator/login" {
            &operator
        } else {
            &citizen
        };
        let reply = browser.post(&path, &[("scope", "phone")]).await;
        assert_eq!(reply.status, 403, "POST {path} without a token");
    }
    assert_eq!(
        statuses(&certificates(sandbox, &taro.resident).await),
        before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_cannot_see_another_citizens_history_or_certificates() {
    let world = world().await;
    let sandbox = &world.sandbox;
    let mut taro = person(sandbox, &world.client, "公的 太郎").await;
    let mut hanako = person(sandbox, &world.client, "公的 花子").await;
    // Hanako logs in and submits a signed application; Taro logs in.
    let hanako_browser = Browser::new(&world.url);
    log_in(&world, &hanako_browser, &mut hanako.phone).await;
    let receipt = jpki_app::relying::submit_application(
        &mut hanako.phone,
        &world.client,
        "転出届",
        "text/plain",
        "転出届の内容".as_bytes(),
        &phone_sign_password().unwrap(),
        sandbox.clock.now(),
    )
    .await
    .unwrap();
    let taro_browser = Browser::new(&world.url);
    log_in(&world, &taro_browser, &mut taro.phone).await;

    let hanako_device = hanako.phone.se.serial().as_str().to_owned();
    let taro_device = taro.phone.se.serial().as_str().to_owned();
    for path in [
        "/history",
        "/history.csv",
        "/history.json",
        "/dashboard",
        "/applications",
    ] {
        let reply = taro_browser.get(path).await;
        assert_eq!(reply.status, 200, "{path}");
        let text = reply.text();
        assert!(
            !text.contains(&hanako_device),
            "{path} shows Hanako's phone"
        );
        assert!(!text.contains("公的 花子"), "{path} shows Hanako");
        assert!(
            !text.contains(&receipt.receipt_id),
            "{path} shows Hanako's receipt"
        );
    }
    assert!(
        taro_browser
            .get("/history")
            .await
            .text()
            .contains(&taro_device)
    );
    // Hanako's certificate and receipt, by their addresses: not found for Taro.
    let hanako_cert = certificates(sandbox, &hanako.resident)
        .await
        .into_iter()
        .find(|c| c.kind.medium == Medium::Phone)
        .unwrap();
    let path = format!(
        "/certificates/{}/{}/revoke",
        hanako_cert.issuer_name,
        hanako_cert.serial.to_hex()
    );
    assert_eq!(taro_browser.get(&path).await.status, 404);
    let page = taro_browser.get("/dashboard").await;
    let reply = taro_browser
        .post(
            &path,
            &[
                ("csrf", &page.csrf()),
                ("reason", "lost"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(reply.status, 404);
    assert_eq!(
        taro_browser
            .get(&format!("/applications/{}", receipt.receipt_id))
            .await
            .status,
        404
    );
    assert!(
        certificates(sandbox, &hanako.resident)
            .await
            .iter()
            .all(|c| c.status == CertificateStatus::Active)
    );
    // Hanako sees her own receipt, re-checked from its kept evidence.
    let applications = hanako_browser.get("/applications").await.text();
    assert!(applications.contains(&receipt.receipt_id));
    assert!(applications.contains("転出届"));
    let detail = hanako_browser
        .get(&format!("/applications/{}", receipt.receipt_id))
        .await;
    assert_eq!(detail.status, 200);
    let detail = detail.text();
    assert!(detail.contains(&receipt.content_sha256));
    assert!(detail.contains("有効(保存した証拠で確認)"), "{detail}");
    // Without a session, nothing personal: the login page.
    let stranger = Browser::new(&world.url);
    for path in [
        "/dashboard",
        "/history",
        "/history.csv",
        "/history.json",
        "/history/bundle.json",
        "/applications",
    ] {
        let reply = stranger.get(path).await;
        assert_eq!(reply.status, 303, "{path}");
        assert_eq!(reply.location(), "/login");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hotline_suspension_in_the_console_reaches_the_citizens_pages_and_counter_cannot_suspend()
{
    let world = world().await;
    let sandbox = &world.sandbox;
    let mut taro = person(sandbox, &world.client, "公的 太郎").await;
    add_operator(
        sandbox,
        "alice",
        AccountRole::Hotline,
        "correct horse battery",
    )
    .await;
    add_operator(sandbox, "carol", AccountRole::Counter, "counter staff pass").await;
    let before = statuses(&certificates(sandbox, &taro.resident).await);

    // The counter finds the person by name and date of birth, sees them, cannot suspend.
    let counter = Browser::new(&world.url);
    operator_log_in(&counter, "carol", "counter staff pass").await;
    let found = counter
        .get(&format!(
            "/operator/search?name={}&birth_date=1990-01-02",
            jpki_web_encode("公的 太郎")
        ))
        .await;
    assert_eq!(found.status, 200, "{}", found.text());
    let person_path = format!("/operator/residents/{}", taro.resident.id.0);
    assert!(found.text().contains(&person_path));
    let person_page = counter.get(&person_path).await;
    assert_eq!(person_page.status, 200);
    assert!(!person_page.text().contains("id=\"suspend\""));
    assert!(person_page.text().contains("一時利用停止はできません"));
    let token = person_page.csrf();
    let refused = counter
        .post(
            &format!("{person_path}/suspend"),
            &[("csrf", &token), ("scope", "all")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused.text().contains("ROLE_FORBIDDEN"));
    assert_eq!(
        statuses(&certificates(sandbox, &taro.resident).await),
        before
    );
    let audit = sandbox.store.audit_entries("account:carol").await.unwrap();
    assert!(
        audit
            .iter()
            .any(|entry| entry.entry.action == "hotline.suspend.refused"
                && entry.entry.actor == "operator:carol"),
        "{audit:?}"
    );

    // The hotline searches by resident number and suspends the phone.
    let hotline = Browser::new(&world.url);
    operator_log_in(&hotline, "alice", "correct horse battery").await;
    let found = hotline
        .get(&format!(
            "/operator/search?resident_id={}",
            taro.resident.id.0
        ))
        .await;
    assert!(found.text().contains("公的 太郎"));
    let person_page = hotline.get(&person_path).await;
    assert!(person_page.text().contains("id=\"suspend\""));
    let done = hotline
        .post(
            &format!("{person_path}/suspend"),
            &[
                ("csrf", &person_page.csrf()),
                ("scope", "phone"),
                ("note", "紛失の申出(電話)"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.text());
    let after = hotline.get(&done.location()).await;
    assert!(after.text().contains("一時保留にしました"));
    for certificate in certificates(sandbox, &taro.resident).await {
        let held = matches!(certificate.status, CertificateStatus::Held { .. });
        assert_eq!(
            held,
            certificate.kind.medium == Medium::Phone,
            "{certificate:?}"
        );
    }
    // The audit log names the operator; the person's history has the suspension.
    let audit = sandbox
        .store
        .audit_entries(&format!("resident:{}", taro.resident.id.0))
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|entry| entry.entry.action == "hotline.suspend"
                && entry.entry.actor == "operator:alice"
                && entry.entry.detail_json["note"] == "紛失の申出(電話)"),
        "{audit:?}"
    );
    assert!(audit.iter().any(
        |entry| entry.entry.action == "hotline.lookup" && entry.entry.actor == "operator:carol"
    ));
    // The phone is told (its certificates are held); OCSP already answers it.
    let events = sandbox
        .store
        .events_after(taro.phone.se.serial().as_str(), 0, 100)
        .await
        .unwrap();
    assert!(!events.is_empty());

    // A held phone can no longer log in: its approval is refused, the browser waits.
    let citizen = Browser::new(&world.url);
    let home = citizen.get("/").await;
    citizen
        .post("/login/start", &[("csrf", &home.csrf())])
        .await;
    let code = login_code(&citizen.get("/login").await.text());
    assert!(
        jpki_app::relying::login(
            &mut taro.phone,
            &world.client,
            Some(&code),
            &phone_auth_pin().unwrap()
        )
        .await
        .is_err(),
        "a held certificate does not log in"
    );
    assert_eq!(
        citizen.get("/login/status").await.text(),
        r#"{"state":"pending"}"#
    );
}

/// Percent-encoding for test URLs.
fn jpki_web_encode(text: &str) -> String {
    serde_urlencoded::to_string([("x", text)]).unwrap()[2..].to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_citizens_pages_show_a_suspension_made_while_logged_in() {
    let world = world().await;
    let sandbox = &world.sandbox;
    let mut taro = person(sandbox, &world.client, "公的 太郎").await;
    add_operator(sandbox, "dave", AccountRole::Admin, "administrator pass").await;
    let citizen = Browser::new(&world.url);
    log_in(&world, &citizen, &mut taro.phone).await;

    let admin = Browser::new(&world.url);
    operator_log_in(&admin, "dave", "administrator pass").await;
    let person_path = format!("/operator/residents/{}", taro.resident.id.0);
    let page = admin.get(&person_path).await;
    let done = admin
        .post(
            &format!("{person_path}/suspend"),
            &[("csrf", &page.csrf()), ("scope", "card")],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.text());

    let dashboard = citizen.get("/dashboard").await.text();
    let rows = table_rows(&dashboard, "certificates");
    for row in &rows {
        let card = row.contains("data-kind=\"card_");
        assert_eq!(row.contains("一時保留"), card, "{row}");
        assert_eq!(row.contains("有効"), !card, "{row}");
    }
    let history = citizen.get("/history?kind=status").await.text();
    let rows = table_rows(&history, "history");
    assert!(
        rows.iter()
            .all(|row| row.contains("data-action=\"suspended\""))
            && !rows.is_empty(),
        "{history}"
    );
    assert!(history.contains("一時利用停止(一時保留)"));
    let csv = String::from_utf8(citizen.get("/history.csv?kind=status").await.bytes).unwrap();
    assert!(csv.contains("suspended"));
    assert_eq!(csv.lines().count(), 2, "{csv}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_attempts_are_rate_limited_per_account_and_per_address() {
    let world = world().await;
    let sandbox = &world.sandbox;
    add_operator(
        sandbox,
        "alice",
        AccountRole::Hotline,
        "correct horse battery",
    )
    .await;
    let browser = Browser::new(&world.url);
    let form = browser.get("/operator").await;
    let token = form.csrf();
    let attempt = |password: &'static str| {
        let token = token.clone();
        let browser = &browser;
        async move {
            browser
                .post(
                    "/operator/login",
                    &[("csrf", &token), ("name", "alice"), ("password", password)],
                )
                .await
        }
    };
    for _ in 0..5 {
        let reply = attempt("wrong password!").await;
        assert_eq!(reply.status, 401);
        assert!(
            reply
                .text()
                .contains("職員IDまたはパスワードが正しくありません")
        );
    }
    // The account's bucket is empty: even the right password waits.
    let limited = attempt("correct horse battery").await;
    assert_eq!(limited.status, 429, "{}", limited.text());
    assert!(limited.header("retry-after").parse::<u64>().unwrap() > 0);
    assert!(limited.text().contains("TOO_MANY_REQUESTS"));
    assert!(browser.cookie("__Host-jpki-operator").is_none());
    // Failures are audited with the account.
    let audit = sandbox.store.audit_entries("account:alice").await.unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|entry| entry.entry.action == "console.login.refused")
            .count(),
        5
    );
    sandbox.clock.advance(TimeDuration::minutes(15));
    let reply = attempt("correct horse battery").await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    assert!(
        browser
            .set_cookies
            .lock()
            .unwrap()
            .iter()
            .any(|line| line.starts_with("__Host-jpki-operator=")
                && line.contains("SameSite=Strict"))
    );

    // Starting citizen logins: 10 a minute from one address.
    let citizen = Browser::new(&world.url);
    let home = citizen.get("/").await;
    for _ in 0..10 {
        let reply = citizen
            .post("/login/start", &[("csrf", &home.csrf())])
            .await;
        assert_eq!(reply.status, 303);
    }
    let limited = citizen
        .post("/login/start", &[("csrf", &home.csrf())])
        .await;
    assert_eq!(limited.status, 429);
    assert!(limited.text().contains("しばらく待ってから"));
    sandbox.clock.advance(TimeDuration::seconds(6));
    let again = citizen
        .post("/login/start", &[("csrf", &home.csrf())])
        .await;
    assert_eq!(again.status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_english_toggle_switches_every_page_and_stays_on_this_site() {
    let world = world().await;
    let mut taro = person(&world.sandbox, &world.client, "公的 太郎").await;
    let browser = Browser::new(&world.url);
    log_in(&world, &browser, &mut taro.phone).await;
    let japanese = browser.get("/dashboard").await.text();
    assert!(japanese.contains("/lang/en?next=%2Fdashboard"));
    let toggled = browser.get("/lang/en?next=%2Fdashboard").await;
    assert_eq!(toggled.status, 303);
    assert_eq!(toggled.location(), "/dashboard");
    assert_eq!(browser.cookie("__Host-jpki-lang").as_deref(), Some("en"));
    for path in [
        "/dashboard",
        "/history",
        "/applications",
        "/login",
        "/operator",
    ] {
        let page = browser.get(path).await.text();
        assert!(page.contains("<html lang=\"en\">"), "{path}");
        assert!(page.contains("日本語"), "{path}: the toggle back");
    }
    let dashboard = browser.get("/dashboard").await.text();
    for text in [
        "Your electronic certificates",
        "Active",
        "Signature",
        "User authentication",
        "Phone",
        "Card",
        "Log out",
    ] {
        assert!(dashboard.contains(text), "{text}");
    }
    for text in ["有効", "署名用", "ログアウト"] {
        assert!(!dashboard.contains(text), "{text} on an English page");
    }
    let csv = String::from_utf8(browser.get("/history.csv").await.bytes).unwrap();
    assert!(
        csv.starts_with("\u{feff}Time (JST),Kind,Event,action,"),
        "{csv}"
    );
    // Back to Japanese; a redirect elsewhere is refused (to the home page instead).
    browser.get("/lang/ja").await;
    assert!(
        browser
            .get("/dashboard")
            .await
            .text()
            .contains("<html lang=\"ja\">")
    );
    for next in [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
    ] {
        let reply = browser
            .get(&format!("/lang/en?next={}", jpki_web_encode(next)))
            .await;
        assert_eq!(reply.location(), "/", "{next}");
    }
    assert_eq!(browser.get("/lang/fr").await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_exports_as_csv_for_excel_and_json_with_the_filters() {
    let world = world().await;
    let sandbox = &world.sandbox;
    let mut taro = person(sandbox, &world.client, "公的 太郎").await;
    let browser = Browser::new(&world.url);
    log_in(&world, &browser, &mut taro.phone).await;
    // A second login a day later.
    sandbox.clock.advance(TimeDuration::days(1));
    log_in(&world, &browser, &mut taro.phone).await;

    let csv = browser.get("/history.csv").await;
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), "text/csv; charset=utf-8");
    assert_eq!(
        csv.header("content-disposition"),
        "attachment; filename=\"jpki-history-20261127.csv\""
    );
    assert_eq!(&csv.bytes[..3], b"\xEF\xBB\xBF", "UTF-8 BOM for Excel");
    let text = String::from_utf8(csv.bytes.clone()).unwrap();
    let lines: Vec<&str> = text.trim_start_matches('\u{feff}').split("\r\n").collect();
    assert_eq!(
        lines[0],
        "日時(日本時間),種別,内容,action,端末・カード,事業者,結果,詳細"
    );
    let usage = sandbox
        .store
        .usage_of_resident(taro.resident.id)
        .await
        .unwrap();
    assert_eq!(lines.len() - 2, usage.len(), "every line, and a final CRLF");
    assert!(
        lines[1].starts_with("2026-11-27 "),
        "newest first: {}",
        lines[1]
    );
    assert!(
        lines
            .iter()
            .any(|line| line.contains(",ログイン,ログイン,login,"))
    );

    // Filters: logins of the second day only.
    let filtered = browser
        .get("/history.csv?from=2026-11-27&to=2026-11-27&kind=login")
        .await;
    let text = String::from_utf8(filtered.bytes).unwrap();
    assert_eq!(text.trim_end().split("\r\n").count(), 2, "{text}");
    let json = browser.get("/history.json?kind=login").await;
    assert_eq!(json.header("content-type"), "application/json");
    let document: serde_json::Value = serde_json::from_slice(&json.bytes).unwrap();
    let entries = document["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert!(entries.iter().all(|entry| entry["action"] == "login"));
    assert_eq!(document["filter"]["kind"], "login");
    assert_eq!(entries[0]["device_id"], taro.phone.se.serial().as_str());
    // The verifiable bundle: every line, with proofs that check against the log's key.
    let bundle = browser.get("/history/bundle.json").await;
    assert_eq!(bundle.status, 200, "{}", bundle.text());
    assert!(
        bundle
            .header("content-disposition")
            .contains("jpki-history-bundle-")
    );
    let bundle: jpki_log::HistoryBundle = serde_json::from_slice(&bundle.bytes).unwrap();
    let verified = jpki_log::verify_bundle(&bundle, sandbox.log.public_key()).unwrap();
    assert_eq!(verified.entries.len(), usage.len());
    // The page links the exports with the same filter; bad filters change nothing.
    let page = browser.get("/history?kind=login").await.text();
    assert!(page.contains("href=\"/history.csv?kind=login\""));
    assert!(page.contains("href=\"/history/bundle.json\""));
    for bad in [
        "from=tomorrow",
        "kind=gossip",
        "from=2026-11-28&to=2026-11-27",
        "before=x",
    ] {
        let reply = browser.get(&format!("/history?{bad}")).await;
        assert_eq!(reply.status, 400, "{bad}");
        assert!(reply.text().contains("MALFORMED_REQUEST"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_pages_follow_the_cursor() {
    let world = world().await;
    let sandbox = &world.sandbox;
    let mut taro = person(sandbox, &world.client, "公的 太郎").await;
    let browser = Browser::new(&world.url);
    log_in(&world, &browser, &mut taro.phone).await;
    // 120 more lines (relying-party logins written straight to the history).
    for n in 0..120 {
        sandbox
            .store
            .append_usage(&jpki_store::UsageEntry {
                resident_id: taro.resident.id,
                at: sandbox.clock.now() + TimeDuration::seconds(n),
                device_id: None,
                action: "platform_login".into(),
                outcome: jpki_store::UsageOutcome::Ok,
                detail: serde_json::json!({ "relying_party": format!("RP {n}") }),
            })
            .await
            .unwrap();
    }
    let total = sandbox
        .store
        .usage_of_resident(taro.resident.id)
        .await
        .unwrap()
        .len();
    let mut seen = 0;
    let mut path = "/history".to_owned();
    let mut pages = 0;
    loop {
        let page = browser.get(&path).await.text();
        let rows = table_rows(&page, "history");
        assert!(rows.len() <= 50);
        seen += rows.len();
        pages += 1;
        if pages == 1 {
            assert!(rows[0].contains("RP 119"), "newest first");
        }
        let Some(start) = page.find("rel=\"next\"") else {
            break;
        };
        let href = &page[..start];
        let href = &href[href.rfind("href=\"").unwrap() + 6..];
        path = href[..href.find('"').unwrap()].replace("&amp;", "&");
    }
    assert_eq!(seen, total);
    assert_eq!(pages, total.div_ceil(50));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_phone_certificate_needs_confirmation_and_a_recent_login() {
    let world = world().await;
    let sandbox = &world.sandbox;
    let mut taro = person(sandbox, &world.client, "公的 太郎").await;
    let browser = Browser::new(&world.url);
    log_in(&world, &browser, &mut taro.phone).await;
    let phone_sign = certificates(sandbox, &taro.resident)
        .await
        .into_iter()
        .find(|c| c.kind == CertificateKind::PHONE_SIGNATURE)
        .unwrap();
    let path = format!(
        "/certificates/{}/{}/revoke",
        phone_sign.issuer_name,
        phone_sign.serial.to_hex()
    );
    let before = statuses(&certificates(sandbox, &taro.resident).await);

    // The confirmation page; without the box ticked, nothing happens.
    let page = browser.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("元に戻せません"));
    let token = page.text()[page.text().find("action=\"/certificates").unwrap()..].to_owned();
    let token = {
        let start = token.find("name=\"csrf\" value=\"").unwrap() + 19;
        token[start..start + token[start..].find('"').unwrap()].to_owned()
    };
    let reply = browser
        .post(&path, &[("csrf", &token), ("reason", "unneeded")])
        .await;
    assert_eq!(reply.status, 400);
    let reply = browser
        .post(
            &path,
            &[("csrf", &token), ("reason", "because"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(reply.status, 400);
    // A card certificate is not revoked here.
    let card = certificates(sandbox, &taro.resident)
        .await
        .into_iter()
        .find(|c| c.kind.medium == Medium::Card)
        .unwrap();
    let card_path = format!(
        "/certificates/{}/{}/revoke",
        card.issuer_name,
        card.serial.to_hex()
    );
    let reply = browser
        .post(
            &card_path,
            &[("csrf", &token), ("reason", "unneeded"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(reply.status, 400);
    assert_eq!(
        statuses(&certificates(sandbox, &taro.resident).await),
        before
    );

    // Eleven minutes later the login is too old: the page asks to log in again.
    sandbox.clock.advance(TimeDuration::minutes(11));
    let page = browser.get(&path).await.text();
    assert!(page.contains("直前のログインが必要です"), "{page}");
    let reply = browser
        .post(
            &path,
            &[("csrf", &token), ("reason", "unneeded"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(reply.status, 303);
    assert_eq!(reply.location(), path);
    assert_eq!(
        statuses(&certificates(sandbox, &taro.resident).await),
        before
    );

    // A fresh login, then "no longer needed": that one certificate only.
    let dashboard = log_in(&world, &browser, &mut taro.phone).await;
    let token = dashboard.csrf();
    let reply = browser
        .post(
            &path,
            &[("csrf", &token), ("reason", "unneeded"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    assert_eq!(reply.location(), "/dashboard?revoked=1");
    let record = sandbox
        .store
        .certificate(&phone_sign.issuer_name, &phone_sign.serial)
        .await
        .unwrap()
        .unwrap();
    assert!(matches!(
        record.status,
        CertificateStatus::Revoked {
            reason: RevocationReason::CessationOfOperation,
            ..
        }
    ));
    let live = sandbox
        .store
        .certificates_of_holder(&device_of(&taro.phone))
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.status == CertificateStatus::Active)
        .count();
    assert_eq!(live, 1, "the phone's authentication certificate stays");
    let dashboard = browser.get("/dashboard?revoked=1").await.text();
    assert!(dashboard.contains("電子証明書を失効させました"));
    assert!(dashboard.contains("失効"));
    let history = browser.get("/history?kind=status").await.text();
    assert!(history.contains("data-action=\"revoked\""));
    let audit = sandbox
        .store
        .audit_entries(&format!("resident:{}", taro.resident.id.0))
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|entry| entry.entry.action == "portal.revoke"
                && entry.entry.actor == format!("citizen:{}", taro.resident.id.0))
    );

    // "Lost": every live certificate of that phone, and the phone is told to wipe.
    let phone_auth = sandbox
        .store
        .certificates_of_holder(&device_of(&taro.phone))
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.status == CertificateStatus::Active)
        .unwrap();
    let auth_path = format!(
        "/certificates/{}/{}/revoke",
        phone_auth.issuer_name,
        phone_auth.serial.to_hex()
    );
    let reply = browser
        .post(
            &auth_path,
            &[("csrf", &token), ("reason", "lost"), ("confirm", "yes")],
        )
        .await;
    assert_eq!(reply.status, 303, "{}", reply.text());
    assert!(
        sandbox
            .store
            .certificates_of_holder(&device_of(&taro.phone))
            .await
            .unwrap()
            .iter()
            .all(|c| matches!(c.status, CertificateStatus::Revoked { .. }))
    );
    let events = sandbox
        .store
        .events_after(taro.phone.se.serial().as_str(), 0, 100)
        .await
        .unwrap();
    assert!(
        events.iter().any(|event| event.kind == "wipe"),
        "{events:?}"
    );
    // Revoked certificates are not offered again.
    let dashboard = browser.get("/dashboard").await.text();
    assert_eq!(dashboard.matches("/revoke\"").count(), 0, "{dashboard}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_login_page_works_without_script_and_its_qr_code_names_the_code() {
    let world = world().await;
    let browser = Browser::new(&world.url);
    let page = browser.get("/login").await;
    assert_eq!(page.status, 200);
    assert!(page.text().contains("action=\"/login/start\""));
    assert_eq!(browser.get("/login/qr.svg").await.status, 404);
    assert_eq!(
        browser.get("/login/status").await.text(),
        r#"{"state":"none"}"#
    );
    browser
        .post("/login/start", &[("csrf", &page.csrf())])
        .await;
    let page = browser.get("/login").await.text();
    let code = login_code(&page);
    // Works without script: a refresh inside <noscript>, and the Check button.
    assert!(page.contains("<noscript><meta http-equiv=\"refresh\" content=\"10\"></noscript>"));
    assert!(page.contains("<script defer src=\"/static/login.js\"></script>"));
    assert!(page.contains(&format!("jpki phone login phone.json --code {code}")));
    let svg = browser.get("/login/qr.svg").await;
    assert_eq!(svg.status, 200);
    assert!(svg.header("content-type").starts_with("image/svg+xml"));
    assert!(svg.text().contains("<svg"));
    let script = browser.get("/static/login.js").await;
    assert!(script.header("content-type").starts_with("text/javascript"));
    assert!(script.text().contains("/login/status"));
    // The code expires with its challenge.
    world.sandbox.clock.advance(TimeDuration::minutes(6));
    assert_eq!(
        browser.get("/login/status").await.text(),
        r#"{"state":"expired"}"#
    );
    assert!(
        browser
            .get("/login")
            .await
            .text()
            .contains("有効期限が切れました")
    );
}
