//! The `jpki` binary as a person or a script uses it: the happy path, and every bad
//! input giving a clear error, a non-zero exit code and no change.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::{Sandbox, Served};

impl Sandbox {
    fn issue(&self, out: &str, sign_password_file: &Path) -> Output {
        let out = self.path(out);
        self.jpki(&[
            "card",
            "issue",
            "--resident",
            "1",
            "--out",
            out.to_str().unwrap(),
            "--sign-password-file",
            sign_password_file.to_str().unwrap(),
            "--auth-pin-file",
            self.path("auth").to_str().unwrap(),
            "--support-pin-file",
            self.path("support").to_str().unwrap(),
        ])
    }

    fn certificate_count(&self) -> usize {
        self.ok(&["resident", "show", "1"])
            .lines()
            .filter(|line| line.contains("serial "))
            .count()
    }
}

#[test]
fn demo_runs_on_a_fresh_machine() {
    let output = Command::new(env!("CARGO_BIN_EXE_jpki"))
        .arg("demo")
        .env_remove("JPKI_DATA_DIR")
        .env_remove("JPKI_DATABASE_URL")
        .env_remove("JPKI_CA_PASSPHRASE_FILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("verifies with the certificate's key"),
        "{stdout}"
    );
    assert!(stdout.contains("still 2 tries left"), "{stdout}");
}

#[test]
fn init_resident_card_issue_info_and_apdu() {
    let sandbox = Sandbox::initialized();
    let output = sandbox.issue("taro.card", &sandbox.path("sign"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(sandbox.certificate_count(), 2);

    let card = sandbox.path("taro.card");
    let card = card.to_str().unwrap();
    let info = sandbox.ok(&["card", "info", card]);
    assert!(info.contains("JPKIAPICCTOKEN2"), "{info}");
    assert!(info.contains("auth PIN tries left    3"), "{info}");
    assert!(
        !info.contains("公的 太郎"),
        "the card-face data and signature certificate stay protected: {info}"
    );

    // A wrong PIN through raw APDUs is remembered in the card file.
    let trace = sandbox.ok(&[
        "card",
        "apdu",
        card,
        "00A4040C0AD392F000260100000001",
        "00 A4 02 0C 02 00 18",
        "0020008004 39393939",
    ]);
    assert!(trace.contains("63C2"), "{trace}");
    assert!(
        !trace.contains("39 39 39 39"),
        "PIN bytes are never printed: {trace}"
    );
    let info = sandbox.ok(&["card", "info", card]);
    assert!(info.contains("auth PIN tries left    2"), "{info}");
}

#[test]
fn init_refuses_an_existing_data_directory() {
    let sandbox = Sandbox::initialized();
    let config = std::fs::read(sandbox.path("data/jpki.toml")).unwrap();
    let error = sandbox.fails(&["init"]);
    assert!(error.contains("already a jpki data directory"), "{error}");
    assert_eq!(
        std::fs::read(sandbox.path("data/jpki.toml")).unwrap(),
        config
    );
}

#[test]
fn commands_before_init_explain_what_to_do() {
    let sandbox = Sandbox::new();
    let error = sandbox.fails(&["resident", "list"]);
    assert!(error.contains("jpki init"), "{error}");
}

#[test]
fn invalid_my_number_check_digit_is_refused() {
    let sandbox = Sandbox::initialized();
    let error = sandbox.fails(&[
        "resident",
        "add",
        "--name",
        "公的 花子",
        "--address",
        "東京都千代田区",
        "--birth-date",
        "1992-03-04",
        "--sex",
        "2",
        "--my-number",
        "123456789017",
    ]);
    assert!(error.contains("check digit"), "{error}");
    let list = sandbox.ok(&["resident", "list"]);
    assert_eq!(list.lines().count(), 1, "nothing was registered: {list}");
}

#[test]
fn bad_resident_fields_are_refused() {
    let sandbox = Sandbox::initialized();
    for (flag, value, message) in [
        ("--birth-date", "1992-02-30", "date of birth"),
        ("--sex", "3", "sex code"),
    ] {
        let mut args = vec![
            "resident",
            "add",
            "--name",
            "x",
            "--address",
            "y",
            "--birth-date",
            "1992-01-01",
        ];
        args.extend(["--sex", "1", "--generate-my-number"]);
        let position = args.iter().position(|arg| *arg == flag).unwrap();
        args[position + 1] = value;
        let error = sandbox.fails(&args);
        assert!(error.contains(message), "{flag}: {error}");
    }
    assert_eq!(sandbox.ok(&["resident", "list"]).lines().count(), 1);
}

#[test]
fn bad_signature_passwords_are_refused_and_nothing_is_issued() {
    let sandbox = Sandbox::initialized();
    for (name, password) in [
        ("lower", "abc123\n"),
        ("long", "ABCDEFGHIJ1234567\n"),
        ("short", "AB12\n"),
    ] {
        let file = sandbox.write(name, password);
        let output = sandbox.issue(&format!("{name}.card"), &file);
        assert!(!output.status.success());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("signature password must be 6 to 16 characters"),
            "{stderr}"
        );
        assert!(
            !stderr.contains(password.trim()),
            "the password is not echoed: {stderr}"
        );
        assert!(
            !sandbox.path(&format!("{name}.card")).exists(),
            "no card file"
        );
    }
    assert_eq!(sandbox.certificate_count(), 0, "no certificate was issued");
}

#[test]
fn unknown_resident_is_refused() {
    let sandbox = Sandbox::initialized();
    let output = sandbox.jpki(&[
        "card",
        "issue",
        "--resident",
        "42",
        "--out",
        sandbox.path("x.card").to_str().unwrap(),
    ]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no resident #42"), "{stderr}");
    assert!(!sandbox.path("x.card").exists());
}

#[test]
fn wrong_ca_passphrase_is_refused_and_nothing_is_issued() {
    let sandbox = Sandbox::initialized();
    sandbox.write("passphrase", "not the passphrase\n");
    let output = sandbox.issue("taro.card", &sandbox.path("sign"));
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("wrong passphrase"), "{stderr}");
    assert!(!sandbox.path("taro.card").exists());
    assert_eq!(sandbox.certificate_count(), 0);
}

#[test]
fn corrupt_card_files_are_refused_and_left_alone() {
    let sandbox = Sandbox::initialized();
    assert!(
        sandbox
            .issue("taro.card", &sandbox.path("sign"))
            .status
            .success()
    );
    let path = sandbox.path("taro.card");
    let original = std::fs::read_to_string(&path).unwrap();
    for (name, content) in [
        ("truncated", original[..original.len() / 2].to_owned()),
        ("garbage", "not a card".to_owned()),
        (
            "tampered",
            original.replacen("\"tries_left\": 3", "\"tries_left\": 9", 1),
        ),
    ] {
        assert_ne!(content, original, "{name} must differ from the real file");
        let file = sandbox.write(&format!("{name}.card"), &content);
        let file = file.to_str().unwrap();
        let error = sandbox.fails(&["card", "info", file]);
        assert!(error.contains("opening the card file"), "{name}: {error}");
        let error = sandbox.fails(&["card", "apdu", file, "00A4040C0AD392F000260100000001"]);
        assert!(error.contains("opening the card file"), "{name}: {error}");
        assert_eq!(
            std::fs::read_to_string(sandbox.path(&format!("{name}.card"))).unwrap(),
            content
        );
    }
}

#[test]
fn malformed_apdu_text_is_refused_before_anything_is_sent() {
    let sandbox = Sandbox::initialized();
    assert!(
        sandbox
            .issue("taro.card", &sandbox.path("sign"))
            .status
            .success()
    );
    let card = sandbox.path("taro.card");
    let before = std::fs::read(&card).unwrap();
    for bad in ["00A4", "zz", "00A4040"] {
        let error = sandbox.fails(&[
            "card",
            "apdu",
            card.to_str().unwrap(),
            "002000800439393939",
            bad,
        ]);
        assert!(error.contains("APDU #2"), "{error}");
    }
    assert_eq!(
        std::fs::read(&card).unwrap(),
        before,
        "the wrong PIN in APDU #1 was never sent"
    );
}

#[test]
fn a_card_file_is_never_overwritten() {
    let sandbox = Sandbox::initialized();
    sandbox.write("taken.card", "precious");
    let output = sandbox.issue("taken.card", &sandbox.path("sign"));
    assert!(!output.status.success());
    assert_eq!(
        std::fs::read_to_string(sandbox.path("taken.card")).unwrap(),
        "precious"
    );
    assert_eq!(sandbox.certificate_count(), 0);
}

/// `jpki init --database postgres://…`: the same flow on PostgreSQL (in a private schema).
#[test]
fn init_and_issue_on_postgres() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(database) = runtime
        .block_on(jpki_store::testing::TestDatabase::postgres())
        .unwrap()
    else {
        return; // the testing module printed "SKIPPED postgres: …"
    };
    let schema = database.postgres_schema().unwrap();
    let base = jpki_store::testing::postgres_url();
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
    let sandbox = Sandbox::initialized_with(&["init", "--database", &url]);
    assert!(
        !sandbox.path("data/jpki.db").exists(),
        "no SQLite file with PostgreSQL"
    );
    let output = sandbox.issue("taro.card", &sandbox.path("sign"));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(sandbox.certificate_count(), 2);
    // A second data directory cannot take over a database that already has CAs.
    let other = Sandbox::new();
    let error = other.fails(&["init", "--database", &url]);
    assert!(error.contains("already holds CAs"), "{error}");
    assert!(!other.path("data").exists(), "nothing was left behind");
    drop(database);
}

#[test]
fn phone_commands_against_a_running_portal() {
    let sandbox = Sandbox::initialized();
    assert!(
        sandbox
            .issue("taro.card", &sandbox.path("sign"))
            .status
            .success()
    );
    sandbox.write("vendor", "vendor passphrase\n");
    sandbox.write("phone-sign", "PHONE2026\n");
    sandbox.write("phone-auth", "4321\n");
    let vendor = sandbox.path("vendor");
    let vendor = vendor.to_str().unwrap();
    sandbox.ok(&["se-vendor", "init", "--vendor-passphrase-file", vendor]);
    let phone = sandbox.path("phone.json");
    let phone = phone.to_str().unwrap();
    sandbox.ok(&[
        "phone",
        "new",
        "--out",
        phone,
        "--vendor-passphrase-file",
        vendor,
    ]);
    let served = sandbox.serve();
    let card = sandbox.path("taro.card");
    let (sign, phone_sign, phone_auth) = (
        sandbox.path("sign"),
        sandbox.path("phone-sign"),
        sandbox.path("phone-auth"),
    );
    let apply = |phone_sign: &Path| {
        sandbox.jpki(&[
            "phone",
            "apply",
            phone,
            "--card",
            card.to_str().unwrap(),
            "--sign-password-file",
            sign.to_str().unwrap(),
            "--phone-sign-password-file",
            phone_sign.to_str().unwrap(),
            "--phone-auth-pin-file",
            phone_auth.to_str().unwrap(),
            "--portal",
            &served.url,
        ])
    };

    // A lower-case new phone password is refused before anything is generated.
    let before = std::fs::read(sandbox.path("phone.json")).unwrap();
    let lower = sandbox.write("phone-sign-lower", "phone2026\n");
    let output = apply(&lower);
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("lower-case"));
    assert_eq!(
        std::fs::read(sandbox.path("phone.json")).unwrap(),
        before,
        "nothing written"
    );

    let output = apply(&phone_sign);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("accepted: Issued"));
    let waited = sandbox.ok(&["phone", "wait", phone, "--timeout", "20"]);
    assert!(waited.contains("ready to register"), "{waited}");
    let registered = sandbox.ok(&[
        "phone",
        "register",
        phone,
        "--phone-auth-pin-file",
        phone_auth.to_str().unwrap(),
    ]);
    assert!(registered.contains("registered"), "{registered}");
    let status = sandbox.ok(&["phone", "status", phone]);
    assert_eq!(status.matches(" active ").count(), 2, "{status}");
    let history = sandbox.ok(&["phone", "history", phone]);
    for action in ["applied", "issued", "notified", "registered"] {
        assert!(history.contains(action), "{history}");
    }
    let error = sandbox.fails(&[
        "phone",
        "apply",
        phone,
        "--card",
        card.to_str().unwrap(),
        "--kinds",
        "selfie",
    ]);
    assert!(error.contains("unknown certificate kind"), "{error}");

    relying_party_commands(&sandbox, phone, &served);
    phone_answers_opensc_through_pcsc(&sandbox, phone);
}

/// `jpki phone sign` and `jpki verify` both ways against OpenSSL, the cross-device login,
/// a signed online application, and a private service's sign request approved on the phone.
fn relying_party_commands(sandbox: &Sandbox, phone: &str, served: &Served) {
    let form = sandbox.write("form.json", "{\"申請\": \"転入届\", \"世帯\": 1}\n");
    let form = form.to_str().unwrap();
    let p7s = sandbox.path("form.p7s");
    let p7s = p7s.to_str().unwrap();
    let phone_sign = sandbox.path("phone-sign");
    let phone_sign = phone_sign.to_str().unwrap();
    let phone_auth = sandbox.path("phone-auth");
    let phone_auth = phone_auth.to_str().unwrap();
    let ocsp = format!("{}/ocsp", served.url);
    let sign_ca = sandbox.path("data/ca/sign-ca.pem");
    let sign_ca = sign_ca.to_str().unwrap();

    let signed = sandbox.ok(&[
        "phone",
        "sign",
        phone,
        "--in",
        form,
        "--out",
        p7s,
        "--phone-sign-password-file",
        phone_sign,
    ]);
    assert!(signed.contains("Signed"), "{signed}");
    // OpenSSL accepts the phone's CMS...
    let (ok, text) = openssl(&[
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        p7s,
        "-content",
        form,
        "-CAfile",
        sign_ca,
        "-purpose",
        "any",
        "-out",
        "/dev/null",
    ]);
    assert!(ok && text.contains("Verification successful"), "{text}");
    // ...and jpki verify, with live status from the portal's responder: exit 0, the
    // signer's basic 4 information, as text and as JSON.
    let verify = |content: &str, extra: &[&str]| {
        let mut args = vec![
            "verify",
            "--signature",
            p7s,
            "--content",
            content,
            "--ocsp",
            &ocsp,
        ];
        args.extend_from_slice(extra);
        sandbox.jpki(&args)
    };
    let output = verify(form, &[]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("公的 太郎"), "{stdout}");
    let output = verify(form, &["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["verdict"]["verdict"], "valid", "{json}");
    // Other content: invalid (1). A missing file: no verdict at all (3).
    let other = sandbox.write("other.json", "{\"申請\": \"転出届\"}\n");
    assert_eq!(verify(other.to_str().unwrap(), &[]).status.code(), Some(1));
    assert_eq!(verify("/nonexistent/form.json", &[]).status.code(), Some(3));

    // Checked as an authentication signature, the signature certificate is refused.
    let output = verify(form, &["--purpose", "auth"]);
    assert_eq!(output.status.code(), Some(1));

    // Cross-device login: the CLI phone logs itself in.
    let login = sandbox.ok(&["phone", "login", phone, "--phone-auth-pin-file", phone_auth]);
    assert!(login.contains("公的 太郎"), "{login}");

    // A signed online application with its receipt, then listed.
    let submitted = sandbox.ok(&[
        "phone",
        "submit",
        phone,
        "--in",
        form,
        "--title",
        "転入届",
        "--phone-sign-password-file",
        phone_sign,
    ]);
    assert!(submitted.contains("receipt"), "{submitted}");
    let listed = sandbox.ok(&["phone", "applications", phone]);
    assert!(listed.contains("転入届"), "{listed}");

    // A private service: registered, the person links the phone, the service asks for a
    // signature, the phone shows the same verification code and approves, the service
    // fetches and verifies the signature.
    let added = sandbox.ok(&["rp", "add", "--name", "Example 保険"]);
    let key = added
        .lines()
        .find_map(|line| {
            line.split(": ")
                .nth(1)
                .filter(|_| line.starts_with("API key"))
        })
        .unwrap()
        .trim()
        .to_owned();
    let key_file = sandbox.write("rp-key", &format!("{key}\n"));
    let key_file = key_file.to_str().unwrap();
    let linked = sandbox.ok(&[
        "phone",
        "link",
        phone,
        "--rp-key-file",
        key_file,
        "--phone-sign-password-file",
        phone_sign,
    ]);
    assert!(linked.contains("公的 太郎"), "{linked}");
    let user = linked
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    let logged_in = sandbox.ok(&[
        "phone",
        "link",
        phone,
        "--login",
        "--rp-key-file",
        key_file,
        "--phone-auth-pin-file",
        phone_auth,
    ]);
    assert!(logged_in.contains(&user), "same user id: {logged_in}");
    let contract = sandbox.write("contract.txt", "保険契約 #42 に同意します\n");
    let contract = contract.to_str().unwrap();
    let requested = sandbox.ok(&[
        "rp",
        "request",
        "--user",
        &user,
        "--purpose",
        "保険契約への同意",
        "--in",
        contract,
        "--key-file",
        key_file,
        "--portal",
        &served.url,
    ]);
    let request_id = requested.split_whitespace().nth(2).unwrap().to_owned();
    let code = field(&requested, "verification code");
    let pending = sandbox.ok(&["phone", "requests", phone]);
    assert!(pending.contains(&request_id), "{pending}");
    assert_eq!(field(&pending, "verification code"), code, "{pending}");
    assert!(pending.contains("Example 保険"), "{pending}");
    sandbox.ok(&[
        "phone",
        "approve",
        phone,
        &request_id,
        "--phone-sign-password-file",
        phone_sign,
    ]);
    let signature = sandbox.path("contract.p7s");
    let result = sandbox.ok(&[
        "rp",
        "result",
        &request_id,
        "--out",
        signature.to_str().unwrap(),
        "--content",
        contract,
        "--key-file",
        key_file,
        "--portal",
        &served.url,
    ]);
    assert!(result.contains("approved"), "{result}");
    let (ok, text) = openssl(&[
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        signature.to_str().unwrap(),
        "-content",
        contract,
        "-CAfile",
        sign_ca,
        "-purpose",
        "any",
        "-out",
        "/dev/null",
    ]);
    assert!(ok, "{text}");
    let output = sandbox.jpki(&[
        "verify",
        "--signature",
        signature.to_str().unwrap(),
        "--content",
        contract,
        "--ocsp",
        &ocsp,
    ]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
}

/// The value printed by `output::field(name, …)` in `text`.
fn field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|line| line.trim().strip_prefix(name))
        .unwrap_or_else(|| panic!("no {name:?} in {text}"))
        .trim_start_matches([' ', ':'])
        .trim()
        .to_owned()
}

/// `jpki phone attach` on vpcd slot 1: OpenSC's jpki driver lists the phone's four
/// certificates through pcscd. Skipped (visibly) where the PC/SC stack is missing,
/// unless JPKI_REQUIRE_PCSC=1.
fn phone_answers_opensc_through_pcsc(sandbox: &Sandbox, phone: &str) {
    let reader = "Virtual PCD 00 01";
    let listing = Command::new("opensc-tool").arg("-l").output();
    let available = listing
        .as_ref()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).contains(reader));
    if !available {
        let required = std::env::var("JPKI_REQUIRE_PCSC").is_ok_and(|value| value == "1");
        assert!(
            !required,
            "JPKI_REQUIRE_PCSC=1 but pcscd has no reader {reader:?}"
        );
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED pcsc (phone): pcscd with vpcd reader {reader:?} is not available"
        );
        return;
    }
    let mut attach = Command::new(env!("CARGO_BIN_EXE_jpki"))
        .args(["phone", "attach", phone, "--reader-port", "35964"])
        .env("JPKI_DATA_DIR", sandbox.path("data"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    let mut certificates = String::new();
    while std::time::Instant::now() < deadline {
        let output = Command::new("pkcs15-tool")
            .args(["-r", "1", "--list-certificates"])
            .output()
            .unwrap();
        certificates = String::from_utf8_lossy(&output.stdout).into_owned();
        if certificates.matches("X.509 Certificate").count() == 4 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let name = Command::new("opensc-tool")
        .args(["-r", "1", "-n"])
        .output()
        .unwrap();
    let _ = attach.kill();
    let _ = attach.wait();
    assert_eq!(
        certificates.matches("X.509 Certificate").count(),
        4,
        "{certificates}"
    );
    assert_eq!(String::from_utf8_lossy(&name.stdout).trim(), "jpki");
}

// ------------------------------------------------------------------------- lifecycle

/// Runs `openssl` with `args`; (success, stdout + stderr).
fn openssl(args: &[&str]) -> (bool, String) {
    let output = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be installed");
    (
        output.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ),
    )
}

/// The phone's certificates of the data directory's resident 1, read from its database
/// (SQLite: a second reader beside the running portal).
fn certificates(sandbox: &Sandbox) -> Vec<jpki_store::CertificateRecord> {
    use jpki_store::CertificateStore;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = jpki_store::Store::open_sqlite(&sandbox.path("data/jpki.db"))
            .await
            .unwrap();
        let certificates = store
            .certificates_of_resident(jpki_store::ResidentId(1))
            .await
            .unwrap();
        store.close().await;
        certificates
    })
}

/// `openssl ocsp` at the running portal about the newest certificate of `kind`, until
/// `expected` appears (the portal polls changes made by other processes every second).
fn ocsp_until(sandbox: &Sandbox, url: &str, kind: &str, expected: &str) -> String {
    let mut last = String::new();
    for _ in 0..40 {
        let certificate = certificates(sandbox)
            .into_iter()
            .filter(|c| c.kind.as_str() == kind)
            .max_by_key(|c| c.issued_at)
            .unwrap();
        let cert = sandbox.write(
            &format!("{kind}.pem"),
            &jpki_pkix::certificate_pem(&certificate.der).unwrap(),
        );
        let issuer = sandbox.path(&format!("data/ca/{}-ca.pem", certificate.issuer_name));
        let (_, output) = openssl(&[
            "ocsp",
            "-issuer",
            issuer.to_str().unwrap(),
            "-cert",
            cert.to_str().unwrap(),
            "-url",
            &format!("{url}/ocsp"),
            "-CAfile",
            issuer.to_str().unwrap(),
        ]);
        if output.contains("Response verify OK") && output.contains(expected) {
            return output;
        }
        last = output;
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    panic!("never {expected:?} for {kind}:\n{last}");
}

#[test]
fn lifecycle_commands_against_a_running_portal() {
    let sandbox = Sandbox::initialized();
    assert!(
        sandbox
            .issue("taro.card", &sandbox.path("sign"))
            .status
            .success()
    );
    sandbox.write("vendor", "vendor passphrase\n");
    sandbox.write("phone-sign", "PHONE2026\n");
    sandbox.write("phone-auth", "4321\n");
    let vendor = sandbox.path("vendor");
    let vendor = vendor.to_str().unwrap();
    sandbox.ok(&["se-vendor", "init", "--vendor-passphrase-file", vendor]);
    let phone = sandbox.path("phone.json");
    let phone = phone.to_str().unwrap();
    sandbox.ok(&[
        "phone",
        "new",
        "--out",
        phone,
        "--vendor-passphrase-file",
        vendor,
    ]);
    let served = sandbox.serve();
    let url = served.url.clone();
    let card = sandbox.path("taro.card");
    let card = card.to_str().unwrap();
    let sign = sandbox.path("sign");
    let sign = sign.to_str().unwrap();
    let phone_sign = sandbox.path("phone-sign");
    let phone_sign = phone_sign.to_str().unwrap();
    let phone_auth = sandbox.path("phone-auth");
    let phone_auth = phone_auth.to_str().unwrap();
    sandbox.ok(&[
        "phone",
        "apply",
        phone,
        "--card",
        card,
        "--sign-password-file",
        sign,
        "--phone-sign-password-file",
        phone_sign,
        "--phone-auth-pin-file",
        phone_auth,
        "--portal",
        &url,
    ]);
    sandbox.ok(&["phone", "wait", phone, "--timeout", "20"]);
    sandbox.ok(&[
        "phone",
        "register",
        phone,
        "--phone-auth-pin-file",
        phone_auth,
    ]);
    ocsp_until(&sandbox, &url, "phone_auth", ": good");

    // Accounts: the key is printed once and written where asked; only a digest is kept.
    let alice = sandbox.path("alice.key");
    let bob = sandbox.path("bob.key");
    let rp = sandbox.path("rp.key");
    let added = sandbox.ok(&[
        "operator",
        "add",
        "alice",
        "--role",
        "hotline",
        "--key-out",
        alice.to_str().unwrap(),
    ]);
    let key = std::fs::read_to_string(&alice).unwrap();
    assert!(
        key.starts_with("jpki_") && added.contains(key.trim()),
        "{added}"
    );
    sandbox.ok(&[
        "operator",
        "add",
        "bob",
        "--role",
        "auditor",
        "--key-out",
        bob.to_str().unwrap(),
    ]);
    sandbox.ok(&["verifier", "add", "rp", "--key-out", rp.to_str().unwrap()]);
    let error = sandbox.fails(&["operator", "add", "eve", "--role", "root"]);
    assert!(error.contains("unknown operator role"), "{error}");
    let listed = sandbox.ok(&["operator", "list"]);
    assert!(
        listed.contains("alice") && listed.contains("verifier") && !listed.contains(key.trim()),
        "{listed}"
    );
    let database = std::fs::read(sandbox.path("data/jpki.db")).unwrap();
    assert!(
        !database
            .windows(key.trim().len())
            .any(|w| w == key.trim().as_bytes()),
        "the key is not stored in clear"
    );

    // The hotline: the auditor may not suspend; the hotline operator may.
    let suspend = |key_file: &Path| {
        sandbox.jpki(&[
            "hotline",
            "suspend",
            "--my-number",
            "123456789018",
            "--api-key-file",
            key_file.to_str().unwrap(),
            "--portal",
            &url,
        ])
    };
    let refused = suspend(&bob);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("ROLE_FORBIDDEN"),
        "{refused:?}"
    );
    let suspended = suspend(&alice);
    assert!(suspended.status.success(), "{suspended:?}");
    assert!(String::from_utf8_lossy(&suspended.stdout).contains("certificateHold"));
    ocsp_until(&sandbox, &url, "phone_auth", "Reason: certificateHold");
    ocsp_until(&sandbox, &url, "phone_sign", "Reason: certificateHold");
    let status = sandbox.ok(&[
        "hotline",
        "status",
        "--name",
        "公的 太郎",
        "--birth-date",
        "1990-01-02",
        "--api-key-file",
        bob.to_str().unwrap(),
        "--portal",
        &url,
    ]);
    assert_eq!(status.matches(" held ").count(), 2, "{status}");

    let old_sign = certificates(&sandbox)
        .into_iter()
        .filter(|c| c.kind.as_str() == "phone_sign")
        .max_by_key(|c| c.issued_at)
        .unwrap();
    // Lifting on the found phone: auth good again, sign revoked and re-issued.
    sandbox.write("found-sign", "FOUND2026\n");
    let lifted = sandbox.ok(&[
        "phone",
        "lift",
        phone,
        "--card",
        card,
        "--sign-password-file",
        sign,
        "--phone-sign-password-file",
        sandbox.path("found-sign").to_str().unwrap(),
    ]);
    assert!(
        lifted.contains("released") && lifted.contains("superseded"),
        "{lifted}"
    );
    ocsp_until(&sandbox, &url, "phone_auth", ": good");
    sandbox.ok(&["phone", "wait", phone, "--timeout", "20"]);
    sandbox.ok(&[
        "phone",
        "register",
        phone,
        "--phone-auth-pin-file",
        phone_auth,
    ]);
    ocsp_until(&sandbox, &url, "phone_sign", ": good");
    let new_sign = certificates(&sandbox)
        .into_iter()
        .filter(|c| c.kind.as_str() == "phone_sign")
        .max_by_key(|c| c.issued_at)
        .unwrap();
    assert_ne!(new_sign.serial, old_sign.serial);
    let links = sandbox.ok(&[
        "verifier",
        "links",
        "--issuer",
        "sign",
        "--serial",
        &new_sign.serial.to_hex(),
        "--api-key-file",
        rp.to_str().unwrap(),
        "--portal",
        &url,
    ]);
    assert!(links.contains("replaces (新旧紐付け)"), "{links}");

    // Moving house, from the registry's CLI (another process): the signature
    // certificates are revoked, the portal answers within its poll interval.
    let moved = sandbox.ok(&[
        "resident",
        "move",
        "1",
        "--address",
        "大阪府大阪市北区中之島1-3-20",
    ]);
    assert_eq!(moved.matches("affiliationChanged").count(), 2, "{moved}");
    ocsp_until(&sandbox, &url, "phone_sign", "Reason: affiliationChanged");
    ocsp_until(&sandbox, &url, "phone_auth", ": good");
    let error = sandbox.fails(&["resident", "move", "99", "--address", "どこか"]);
    assert!(error.contains("no resident"), "{error}");

    // CRLs on demand, served by the portal, checked by OpenSSL.
    let published = sandbox.ok(&["crl", "publish"]);
    assert!(published.contains("Published"), "{published}");
    let number: u64 = published
        .lines()
        .find(|line| line.contains("/crl/sign/0.crl "))
        .and_then(|line| line.split('#').nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no sign/0 CRL number in {published}"));
    let base = sandbox.path("base.crl");
    // The portal loads what `jpki crl publish` saved at its next poll, and serves it.
    let mut served_number = String::new();
    for _ in 0..40 {
        let output = Command::new("curl")
            .args([
                "-sS",
                "--fail",
                "-o",
                base.to_str().unwrap(),
                &format!("{url}/crl/sign/0.crl"),
            ])
            .output()
            .expect("curl must be installed");
        assert!(output.status.success(), "{output:?}");
        let (ok, out) = openssl(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            base.to_str().unwrap(),
            "-noout",
            "-crlnumber",
            "-CAfile",
            sandbox.path("data/ca/sign-ca.pem").to_str().unwrap(),
        ]);
        assert!(ok && out.contains("verify OK"), "{out}");
        served_number = out;
        if served_number.contains(&format!("crlNumber=0x{number:X}")) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(250));
    }
    assert!(
        served_number.contains(&format!("crlNumber=0x{number:X}")),
        "expected CRL #{number} ({number:X}), served:\n{served_number}"
    );

    // Death: everything revoked.
    let died = sandbox.ok(&["resident", "death", "1"]);
    assert!(died.contains("cessationOfOperation"), "{died}");
    ocsp_until(&sandbox, &url, "phone_auth", "Reason: cessationOfOperation");
    let error = sandbox.fails(&["resident", "rename", "1", "--name", "公的 次郎"]);
    assert!(error.contains("deceased"), "{error}");
    drop(served);
}

/// The operator console's accounts: counter and admin need a password (read from a file,
/// checked before anything is created), kept as an argon2id hash only.
#[test]
fn operator_console_accounts_get_argon2id_passwords() {
    let sandbox = Sandbox::initialized();
    let short = sandbox.write("short.pw", "too short\n");
    let good = sandbox.write("carol.pw", "counter staff 2026\n");
    let other = sandbox.write("new.pw", "a brand new passphrase\n");
    let error = sandbox.fails(&["operator", "add", "carol", "--role", "counter"]);
    assert!(error.contains("console password"), "{error}");
    let error = sandbox.fails(&[
        "operator",
        "add",
        "carol",
        "--role",
        "counter",
        "--password-file",
        short.to_str().unwrap(),
    ]);
    assert!(error.contains("at least 12 characters"), "{error}");
    assert!(sandbox.ok(&["operator", "list"]).contains("No accounts."));
    let error = sandbox.fails(&["operator", "add", "eve", "--role", "root"]);
    assert!(
        error.contains("hotline, auditor, counter or admin"),
        "{error}"
    );

    let added = sandbox.ok(&[
        "operator",
        "add",
        "carol",
        "--role",
        "counter",
        "--password-file",
        good.to_str().unwrap(),
    ]);
    assert!(added.contains("argon2id"), "{added}");
    sandbox.ok(&[
        "operator",
        "add",
        "dave",
        "--role",
        "admin",
        "--password-file",
        good.to_str().unwrap(),
    ]);
    let list = sandbox.ok(&["operator", "list"]);
    assert!(list.contains("carol") && list.contains("counter"), "{list}");
    assert!(list.contains("dave") && list.contains("admin"), "{list}");
    sandbox.ok(&[
        "operator",
        "password",
        "carol",
        "--password-file",
        other.to_str().unwrap(),
    ]);
    let error = sandbox.fails(&[
        "operator",
        "password",
        "nobody",
        "--password-file",
        other.to_str().unwrap(),
    ]);
    assert!(error.contains("nobody"), "{error}");

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use jpki_store::OperatorStore;
        let store = jpki_store::Store::open_sqlite(&sandbox.path("data/jpki.db"))
            .await
            .unwrap();
        let (account, hash) = store.account_credentials("carol").await.unwrap().unwrap();
        assert_eq!(account.role, jpki_store::AccountRole::Counter);
        let hash = hash.unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(!hash.contains("brand new") && !hash.contains("counter staff"));
        assert!(jpki_authority::hotline::verify_password(
            &hash,
            "a brand new passphrase"
        ));
        assert!(!jpki_authority::hotline::verify_password(
            &hash,
            "counter staff 2026"
        ));
        store.close().await;
    });
}
