//! The `jpki` binary as a person or a script uses it: the happy path, and every bad
//! input giving a clear error, a non-zero exit code and no change.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let sandbox = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        sandbox.write("passphrase", "correct horse battery\n");
        sandbox.write("sign", "ABC123\n");
        sandbox.write("auth", "1234\n");
        sandbox.write("support", "5678\n");
        sandbox
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn jpki(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_jpki"))
            .args(args)
            .env("JPKI_DATA_DIR", self.path("data"))
            .env("JPKI_CA_PASSPHRASE_FILE", self.path("passphrase"))
            .env_remove("JPKI_CA_PASSPHRASE")
            .env_remove("JPKI_DATABASE_URL")
            .env_remove("JPKI_SIGN_PASSWORD")
            .env_remove("JPKI_AUTH_PIN")
            .env_remove("JPKI_SUPPORT_PIN")
            .output()
            .unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.jpki(args);
        assert!(
            output.status.success(),
            "jpki {args:?} failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs a command that must fail; returns its stderr.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.jpki(args);
        assert!(!output.status.success(), "jpki {args:?} should have failed");
        assert_ne!(output.status.code(), Some(0));
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(
            stderr.starts_with("error:"),
            "a clear error, not a panic: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
        stderr
    }

    fn initialized() -> Self {
        Self::initialized_with(&["init"])
    }

    fn initialized_with(init: &[&str]) -> Self {
        let sandbox = Self::new();
        sandbox.ok(init);
        sandbox.ok(&[
            "resident",
            "add",
            "--name",
            "公的 太郎",
            "--address",
            "東京都千代田区霞が関2-1-2",
            "--birth-date",
            "1990-01-02",
            "--sex",
            "male",
            "--my-number",
            "123456789018",
        ]);
        sandbox
    }

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

/// A running `jpki serve`, stopped when dropped.
struct Served {
    child: std::process::Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Sandbox {
    fn serve(&self) -> Served {
        use std::io::BufRead;
        let mut child = Command::new(env!("CARGO_BIN_EXE_jpki"))
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--service-hours",
                "always",
            ])
            .env("JPKI_DATA_DIR", self.path("data"))
            .env("JPKI_CA_PASSPHRASE_FILE", self.path("passphrase"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut first = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut first)
            .unwrap();
        let url = first.trim().rsplit(' ').next().unwrap().to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{first}");
        Served { child, url }
    }
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

    phone_answers_opensc_through_pcsc(&sandbox, phone);
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
