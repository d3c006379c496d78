//! The virtual card on the real PC/SC stack: `jpki card attach` inserts a freshly issued
//! card file into vsmartcard's vpcd reader, then OpenSC (opensc-tool, pkcs15-tool,
//! pkcs11-tool), OpenSSL and `jpki card read|sign` use it through pcscd.
//!
//! Needs pcscd running with vpcd, OpenSC and OpenSSL (`.ci/run` installs and starts
//! them). Where they are missing the test prints `SKIPPED pcsc: <reason>` on stderr and
//! passes, unless `JPKI_REQUIRE_PCSC=1` (set by `.ci/run`), which makes it fail.
//!
//! Everything runs in one test function: there is one vpcd slot 0 (port 35963), and
//! a file lock keeps other processes using this test from sharing it.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs::File;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const READER: &str = "Virtual PCD 00 00";
const PORT: u16 = 35963;
const PKCS11_MODULE: &str = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so";
const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";

/// Writes to the real stderr, past the test harness's capture, so a skip is seen.
fn announce(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
        .unwrap_or(false)
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run {program}: {error}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `Some(line)` of `opensc-tool -l` for the reader: "0    Yes             Virtual PCD 00 00".
fn reader_line() -> Option<String> {
    let output = run("opensc-tool", &["-l"]);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find(|line| line.trim_end().ends_with(READER))
        .map(str::to_owned)
}

fn card_present() -> bool {
    reader_line().is_some_and(|line| line.split_whitespace().nth(1) == Some("Yes"))
}

/// What is missing to run this test, if anything.
fn missing_prerequisite() -> Option<String> {
    if !cfg!(feature = "pcsc") {
        return Some(
            "jpki was built without the `pcsc` feature (cargo test -p jpki --features pcsc)".into(),
        );
    }
    for (program, package) in [
        ("opensc-tool", "opensc"),
        ("pkcs15-tool", "opensc"),
        ("pkcs11-tool", "opensc"),
        ("openssl", "openssl"),
        ("kill", "procps"),
    ] {
        if !on_path(program) {
            return Some(format!(
                "{program} is not installed (apt-get install {package})"
            ));
        }
    }
    if !Path::new(PKCS11_MODULE).exists() {
        return Some(format!(
            "{PKCS11_MODULE} is missing (apt-get install opensc-pkcs11)"
        ));
    }
    if !Path::new(VPCD_DRIVER).exists() {
        return Some("vpcd is not installed (apt-get install vsmartcard-vpcd)".into());
    }
    if reader_line().is_none() {
        let listing = text(&run("opensc-tool", &["-l"]));
        return Some(format!(
            "pcscd is not running or has no reader {READER:?} (start it: pcscd); opensc-tool -l says: {}",
            listing.trim()
        ));
    }
    None
}

/// Holds vpcd slot 0 for this process: a lock file other runs of this test wait for.
struct SlotLock {
    _file: File,
}

impl SlotLock {
    fn acquire() -> Self {
        let path = std::env::temp_dir().join(format!("jpki-vpcd-{PORT}.lock"));
        let file = File::create(&path).unwrap();
        file.lock().unwrap();
        Self { _file: file }
    }
}

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        let sandbox = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        sandbox.write("passphrase", "correct horse battery\n");
        // Lower case on purpose: `jpki card read|sign` upper-case it as clients do.
        sandbox.write("sign", "ABC123\n");
        sandbox.write("sign-typed", "abc123\n");
        sandbox.write("auth", "1234\n");
        sandbox.write("support", "5678\n");
        sandbox
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    fn command(&self) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_jpki"));
        command
            .env("JPKI_DATA_DIR", self.path("data"))
            .env("JPKI_CA_PASSPHRASE_FILE", self.path("passphrase"))
            .env_remove("JPKI_CA_PASSPHRASE")
            .env_remove("JPKI_DATABASE_URL")
            .env_remove("JPKI_SIGN_PASSWORD")
            .env_remove("JPKI_SIGN_PASSWORD_FILE")
            .env_remove("JPKI_AUTH_PIN")
            .env_remove("JPKI_AUTH_PIN_FILE")
            .env_remove("JPKI_SUPPORT_PIN")
            .env_remove("JPKI_SUPPORT_PIN_FILE")
            .stdin(Stdio::null());
        command
    }

    fn jpki(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let output = self.jpki(args);
        assert!(
            output.status.success(),
            "jpki {args:?} failed:\n{}",
            text(&output)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs `jpki card attach` and waits until pcscd sees the card.
    fn attach(&self, card: &str) -> Attached {
        static ATTACHES: AtomicUsize = AtomicUsize::new(0);
        let number = ATTACHES.fetch_add(1, Ordering::SeqCst);
        let log = self.path(&format!("attach-{number}.log"));
        let child = self
            .command()
            .args([
                "card",
                "attach",
                &self.arg(card),
                "--reader-port",
                &PORT.to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(File::create(&log).unwrap())
            .spawn()
            .unwrap();
        let attached = Attached { child, log };
        let deadline = Instant::now() + Duration::from_secs(15);
        while !(attached.log().contains("card inserted") && card_present()) {
            assert!(
                Instant::now() < deadline,
                "pcscd did not see the card within 15 s; attach said:\n{}",
                attached.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        attached
    }
}

/// A running `jpki card attach`; killed if the test fails before stopping it.
struct Attached {
    child: Child,
    log: PathBuf,
}

impl Attached {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM, as a service manager stops it: it must exit 0 with the file saved.
    fn stop(mut self) -> String {
        let pid = self.child.id().to_string();
        let killed = run("kill", &["-TERM", &pid]);
        assert!(killed.status.success(), "{}", text(&killed));
        let deadline = Instant::now() + Duration::from_secs(10);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "attach ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let log = self.log();
        assert!(status.success(), "attach exited with {status}:\n{log}");
        assert!(log.contains("stopped;"), "{log}");
        assert!(!log.contains("panicked"), "{log}");
        log
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Tries left of the auth PIN and the signature password, as `pkcs15-tool` shows them.
fn tries_left() -> Vec<u8> {
    let output = run("pkcs15-tool", &["-r", READER, "--list-pins"]);
    assert!(output.status.success(), "{}", text(&output));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.trim().strip_prefix("Tries left"))
        .map(|rest| {
            rest.trim_start_matches([' ', ':', '\t'])
                .trim()
                .parse()
                .unwrap()
        })
        .collect()
}

/// One wrong VERIFY of the auth PIN through OpenSC.
fn wrong_auth_pin() {
    let output = run(
        "pkcs15-tool",
        &[
            "-r",
            READER,
            "--verify-pin",
            "--auth-id",
            "01",
            "--pin",
            "0000",
        ],
    );
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("PIN code or key incorrect"),
        "{}",
        text(&output)
    );
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn virtual_card_through_pcscd_vpcd_opensc_and_openssl() {
    if let Some(reason) = missing_prerequisite() {
        if std::env::var("JPKI_REQUIRE_PCSC").as_deref() == Ok("1") {
            panic!("JPKI_REQUIRE_PCSC=1, but {reason}");
        }
        announce(&format!("SKIPPED pcsc: {reason}"));
        return;
    }
    let _slot = SlotLock::acquire();
    assert!(
        !card_present(),
        "another card is already attached to {READER} (port {PORT}); stop it first"
    );

    // A fresh card, issued as at the counter.
    let sandbox = Sandbox::new();
    sandbox.ok(&["init"]);
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
    sandbox.ok(&[
        "card",
        "issue",
        "--resident",
        "1",
        "--out",
        &sandbox.arg("taro.card"),
        "--sign-password-file",
        &sandbox.arg("sign"),
        "--auth-pin-file",
        &sandbox.arg("auth"),
        "--support-pin-file",
        &sandbox.arg("support"),
    ]);
    let attached = sandbox.attach("taro.card");

    // 1. OpenSC recognises the card by its ATR and names its driver.
    let name = run("opensc-tool", &["-r", READER, "-n"]);
    assert_eq!(
        String::from_utf8_lossy(&name.stdout).trim(),
        "jpki",
        "{}",
        text(&name)
    );

    // 2. The PKCS#15 emulation finds the 4 certificates.
    let certificates = run("pkcs15-tool", &["-r", READER, "--list-certificates"]);
    let listing = text(&certificates);
    assert!(certificates.status.success(), "{listing}");
    assert_eq!(
        listing.matches("X.509 Certificate [").count(),
        4,
        "{listing}"
    );
    for label in [
        "User Authentication Certificate]",
        "Digital Signature Certificate]",
        "User Authentication Certificate CA]",
        "Digital Signature Certificate CA]",
    ] {
        assert!(listing.contains(label), "{label}: {listing}");
    }

    // 3. PIN counters, and one wrong VERIFY through OpenSC.
    assert_eq!(tries_left(), [3, 5]);
    wrong_auth_pin();
    assert_eq!(tries_left(), [2, 5]);

    // 4. PKCS#11: sign with the auth key; OpenSSL verifies with the auth certificate's
    //    public key. The correct PIN restores the counter.
    let message = sandbox.write("message.txt", "ログイン challenge 2026\n");
    let signature = sandbox.path("message.sig");
    let signed = run(
        "pkcs11-tool",
        &[
            "--module",
            PKCS11_MODULE,
            "--slot-description",
            READER,
            "--login",
            "--pin",
            "1234",
            "--id",
            "01",
            "--sign",
            "-m",
            "SHA256-RSA-PKCS",
            "-i",
            message.to_str().unwrap(),
            "-o",
            signature.to_str().unwrap(),
        ],
    );
    assert!(signed.status.success(), "{}", text(&signed));
    assert_eq!(std::fs::metadata(&signature).unwrap().len(), 256);
    let certificate = run("pkcs15-tool", &["-r", READER, "--read-certificate", "01"]);
    assert!(certificate.status.success(), "{}", text(&certificate));
    let auth_pem = sandbox.path("auth.pem");
    std::fs::write(&auth_pem, &certificate.stdout).unwrap();
    let public_key = run(
        "openssl",
        &[
            "x509",
            "-in",
            auth_pem.to_str().unwrap(),
            "-pubkey",
            "-noout",
        ],
    );
    assert!(public_key.status.success(), "{}", text(&public_key));
    let public_pem = sandbox.path("auth.pub.pem");
    std::fs::write(&public_pem, &public_key.stdout).unwrap();
    let verify = |file: &Path| {
        run(
            "openssl",
            &[
                "dgst",
                "-sha256",
                "-verify",
                public_pem.to_str().unwrap(),
                "-signature",
                signature.to_str().unwrap(),
                file.to_str().unwrap(),
            ],
        )
    };
    let verified = verify(&message);
    assert!(
        text(&verified).contains("Verified OK"),
        "{}",
        text(&verified)
    );
    let other = sandbox.write("other.txt", "another challenge\n");
    assert!(
        !verify(&other).status.success(),
        "a signature over other bytes must not verify"
    );
    assert_eq!(tries_left(), [3, 5]);

    // 5. `jpki card read` through pcsc-lite, with the signature password typed in lower
    //    case and the card-face PIN.
    let read = sandbox.ok(&[
        "card",
        "read",
        "--reader",
        READER,
        "--sign-password-file",
        &sandbox.arg("sign-typed"),
        "--support-pin-file",
        &sandbox.arg("support"),
    ]);
    for expected in [
        "[card]  Virtual PCD 00 00",
        "ATR                    3B E0 00 FF 81 31 FE 45 14",
        "protocol               T=1",
        "JPKIAPICCTOKEN2 (My Number card)",
        "auth PIN tries left    3",
        "user-authentication certificate:",
        "user-authentication CA:",
        "signature CA:",
        "signature certificate:",
        "OU=JPKI for digital signature",
        "card-face data (券面事項入力補助AP):",
        "my number            ********9018",
        "name                 公的 太郎",
        "address              東京都千代田区霞が関2-1-2",
        "date of birth        1990-01-02",
    ] {
        assert!(
            read.contains(expected),
            "{expected:?} missing from:\n{read}"
        );
    }
    assert!(
        !read.contains("123456789018"),
        "the My Number is masked:\n{read}"
    );
    // The basic 4 information appears twice: in the signature certificate and on the
    // card face.
    assert_eq!(read.matches("公的 太郎").count(), 2, "{read}");

    // 6. `jpki card sign`: a detached CMS that OpenSSL verifies against the signature
    //    CA, and refuses for other content.
    let document = sandbox.write("document.txt", "契約書 第1条\n");
    let cms = sandbox.path("document.p7s");
    let signed = sandbox.ok(&[
        "card",
        "sign",
        "--reader",
        READER,
        "--in",
        document.to_str().unwrap(),
        "--out",
        cms.to_str().unwrap(),
        "--sign-password-file",
        &sandbox.arg("sign"),
    ]);
    assert!(signed.contains("detached CMS SignedData"), "{signed}");
    let sign_ca = sandbox.path("data/ca/sign-ca.pem");
    let cms_verify = |content: &Path| {
        run(
            "openssl",
            &[
                "cms",
                "-verify",
                "-binary",
                "-inform",
                "DER",
                "-in",
                cms.to_str().unwrap(),
                "-content",
                content.to_str().unwrap(),
                "-CAfile",
                sign_ca.to_str().unwrap(),
                "-out",
                "/dev/null",
            ],
        )
    };
    let verified = cms_verify(&document);
    assert!(verified.status.success(), "{}", text(&verified));
    assert!(
        text(&verified).contains("Verification successful"),
        "{}",
        text(&verified)
    );
    assert!(
        !cms_verify(&other).status.success(),
        "CMS over other content must not verify"
    );

    // 7. Three wrong auth PINs block it; the block survives a restart of the bridge,
    //    because every counter change is written to the card file before the answer.
    for _ in 0..3 {
        wrong_auth_pin();
    }
    assert_eq!(tries_left(), [0, 5]);
    let log = attached.stop();
    for line in [
        "card inserted",
        "reader powered the card on",
        "reader reset",
    ] {
        assert!(log.contains(line), "{line:?} missing from:\n{log}");
    }
    let info = sandbox.ok(&["card", "info", &sandbox.arg("taro.card")]);
    assert!(info.contains("auth PIN tries left    0"), "{info}");

    // Without the card, PC/SC clients get a clear error, not a hang or a panic.
    wait_until("pcscd to see the card removed", || !card_present());
    let absent = sandbox.jpki(&["card", "read", "--reader", READER]);
    assert!(!absent.status.success());
    let stderr = String::from_utf8_lossy(&absent.stderr);
    assert!(
        stderr.contains("no card in the reader Virtual PCD 00 00"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");

    let attached = sandbox.attach("taro.card");
    assert_eq!(tries_left(), [0, 5]);
    let blocked = run(
        "pkcs15-tool",
        &[
            "-r",
            READER,
            "--verify-pin",
            "--auth-id",
            "01",
            "--pin",
            "1234",
        ],
    );
    assert!(
        !blocked.status.success(),
        "a blocked PIN refuses even the right value"
    );
    assert_eq!(tries_left(), [0, 5]);
    attached.stop();
}
