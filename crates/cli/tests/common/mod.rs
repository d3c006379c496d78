//! The scratch directory and `jpki` runner the binary's tests share (`cli.rs`, `log.rs`):
//! secret files, the data directory, commands run with a clean environment, and a
//! running `jpki serve`.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::PathBuf;
use std::process::{Command, Output};

pub struct Sandbox {
    pub dir: tempfile::TempDir,
}

impl Sandbox {
    /// A fresh directory with the passphrase, PIN and password files the tests use.
    pub fn new() -> Self {
        let sandbox = Self {
            dir: tempfile::tempdir().unwrap(),
        };
        for (name, content) in [
            ("passphrase", "correct horse battery\n"),
            ("sign", "ABC123\n"),
            ("auth", "1234\n"),
            ("support", "5678\n"),
            ("vendor", "vendor passphrase\n"),
            ("phone-sign", "PHONE2026\n"),
            ("phone-auth", "4321\n"),
        ] {
            sandbox.write(name, content);
        }
        sandbox
    }

    /// `jpki init`, then resident 1 (公的 太郎).
    pub fn initialized() -> Self {
        Self::initialized_with(&["init"])
    }

    /// `jpki INIT…`, then resident 1 (公的 太郎).
    pub fn initialized_with(init: &[&str]) -> Self {
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

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn arg(&self, name: &str) -> String {
        self.path(name).to_str().unwrap().to_owned()
    }

    pub fn write(&self, name: &str, content: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    /// `jpki ARGS` on the sandbox's data directory, with none of the caller's secrets or
    /// locations in its environment.
    pub fn jpki(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_jpki"))
            .args(args)
            .env("JPKI_DATA_DIR", self.path("data"))
            .env("JPKI_CA_PASSPHRASE_FILE", self.path("passphrase"))
            .env_remove("JPKI_CA_PASSPHRASE")
            .env_remove("JPKI_DATABASE_URL")
            .env_remove("JPKI_PORTAL_URL")
            .env_remove("JPKI_SIGN_PASSWORD")
            .env_remove("JPKI_AUTH_PIN")
            .env_remove("JPKI_SUPPORT_PIN")
            .output()
            .unwrap()
    }

    /// Runs a command that must succeed; returns its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = self.jpki(args);
        assert!(
            output.status.success(),
            "jpki {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs a command that must fail with a clear error; returns its stderr.
    pub fn fails(&self, args: &[&str]) -> String {
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

    /// `jpki serve` on a free loopback port, service hours always open.
    pub fn serve(&self) -> Served {
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

/// A running `jpki serve`, stopped when dropped.
pub struct Served {
    pub child: std::process::Child,
    pub url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
