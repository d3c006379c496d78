//! The verifiable usage history through the `jpki` binary: a card and a phone make real
//! history rows; the phone downloads its history with proofs and `jpki log verify`
//! checks it offline; the operator audits the database. Then the SQLite file is edited
//! behind the store's back — (a) a usage row altered, (b) a row deleted, (c) two leaves
//! swapped — and each time both the citizen's check of a bundle downloaded after the
//! tampering and the operator's audit name the entry and exit non-zero; the untouched
//! (or restored) database exits 0.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::process::Command;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Row, SqliteConnection};

use common::Sandbox;

/// Exit codes of `jpki log verify` (commands/log.rs).
const EXIT_ENTRY: i32 = 3;
const EXIT_TREE: i32 = 4;
const EXIT_INPUT: i32 = 5;

impl Sandbox {
    /// The phone downloads its history into `bundle` (refused: exit 1) and the citizen
    /// checks that bundle offline (exit 3): both name `code` at entry `seq`.
    fn bundle_names(
        &self,
        phone: &str,
        portal: Option<&str>,
        bundle: &str,
        key: &str,
        code: &str,
        seq: u64,
    ) {
        let bundle = self.arg(bundle);
        let mut download = vec!["phone", "history", phone];
        if let Some(url) = portal {
            download.extend(["--portal", url]);
        }
        download.extend(["--bundle", &bundle]);
        assert_names(&self.exits(1, &download), code, seq);
        assert_names(
            &self.exits(EXIT_ENTRY, &["log", "verify", &bundle, "--key", key]),
            code,
            seq,
        );
    }

    /// Runs a command that must exit with `code`; returns stdout and stderr together.
    fn exits(&self, code: i32, args: &[&str]) -> String {
        let output = self.jpki(args);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert_eq!(output.status.code(), Some(code), "jpki {args:?}:\n{text}");
        assert!(!text.contains("panicked"), "{text}");
        text
    }

    /// The SQLite file, opened behind the store's back with its foreign keys off (the
    /// operator editing the database by hand).
    fn tamper(&self, sql: &str) {
        let path = self.path("data").join("jpki.db");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let options = SqliteConnectOptions::new()
                .filename(&path)
                .foreign_keys(false);
            let mut connection = SqliteConnection::connect_with(&options).await.unwrap();
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
                .execute(&mut connection)
                .await
                .unwrap();
            connection.close().await.unwrap();
        });
    }

    /// Resident 1's usage rows, oldest first: (id, every column as SQL literals).
    fn rows(&self) -> Vec<(i64, String)> {
        let path = self.path("data").join("jpki.db");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let options = SqliteConnectOptions::new().filename(&path);
            let mut connection = SqliteConnection::connect_with(&options).await.unwrap();
            let rows = sqlx::query(
                "SELECT id, resident_id, occurred_at, quote(device_id) AS device, \
                 quote(action) AS action, quote(outcome) AS outcome, quote(detail_json) AS detail \
                 FROM usage_history WHERE resident_id = 1 ORDER BY id",
            )
            .fetch_all(&mut connection)
            .await
            .unwrap();
            connection.close().await.unwrap();
            rows.iter()
                .map(|row| {
                    let id: i64 = row.get("id");
                    let values = format!(
                        "{id}, {}, {}, {}, {}, {}, {}",
                        row.get::<i64, _>("resident_id"),
                        row.get::<i64, _>("occurred_at"),
                        row.get::<String, _>("device"),
                        row.get::<String, _>("action"),
                        row.get::<String, _>("outcome"),
                        row.get::<String, _>("detail"),
                    );
                    (id, values)
                })
                .collect()
        })
    }
}

fn assert_names(text: &str, code: &str, seq: u64) {
    assert!(text.contains(code), "{code} expected:\n{text}");
    assert!(
        text.contains(&format!("seq {seq}")),
        "seq {seq} expected:\n{text}"
    );
}

#[test]
fn tampering_with_the_database_is_named_by_both_verifiers() {
    let sandbox = Sandbox::initialized();
    let (card, phone) = (sandbox.arg("taro.card"), sandbox.arg("phone.json"));
    sandbox.ok(&[
        "card",
        "issue",
        "--resident",
        "1",
        "--out",
        &card,
        "--sign-password-file",
        &sandbox.arg("sign"),
        "--auth-pin-file",
        &sandbox.arg("auth"),
        "--support-pin-file",
        &sandbox.arg("support"),
    ]);
    sandbox.ok(&[
        "se-vendor",
        "init",
        "--vendor-passphrase-file",
        &sandbox.arg("vendor"),
    ]);
    sandbox.ok(&[
        "phone",
        "new",
        "--out",
        &phone,
        "--vendor-passphrase-file",
        &sandbox.arg("vendor"),
    ]);
    let served = sandbox.serve();
    sandbox.ok(&[
        "phone",
        "apply",
        &phone,
        "--card",
        &card,
        "--sign-password-file",
        &sandbox.arg("sign"),
        "--phone-sign-password-file",
        &sandbox.arg("phone-sign"),
        "--phone-auth-pin-file",
        &sandbox.arg("phone-auth"),
        "--portal",
        &served.url,
    ]);
    sandbox.ok(&["phone", "wait", &phone, "--timeout", "20"]);
    sandbox.ok(&[
        "phone",
        "register",
        &phone,
        "--phone-auth-pin-file",
        &sandbox.arg("phone-auth"),
    ]);

    // Untouched: the operator's audit and the citizen's check both pass.
    let audit = sandbox.exits(0, &["log", "verify"]);
    assert!(audit.contains("Verified: every usage row"), "{audit}");
    let key = sandbox.arg("log.pub.pem");
    sandbox.ok(&["log", "key", "--out", &key]);
    let portal_key = sandbox.ok(&["log", "key", "--portal", &served.url]);
    assert_eq!(portal_key, std::fs::read_to_string(&key).unwrap());
    let downloaded = sandbox.ok(&[
        "phone",
        "history",
        &phone,
        "--bundle",
        &sandbox.arg("b0.json"),
    ]);
    assert!(downloaded.contains("Verified: 5 entries"), "{downloaded}");
    for action in ["card_issued", "applied", "issued", "notified", "registered"] {
        assert!(downloaded.contains(action), "{downloaded}");
    }
    assert!(sandbox.path("phone.checkpoint.json").exists());
    assert!(sandbox.path("phone.log-key.pem").exists());
    let verified = sandbox.exits(
        0,
        &["log", "verify", &sandbox.arg("b0.json"), "--key", &key],
    );
    assert!(verified.contains("Verified: 5 entries"), "{verified}");
    let sth = sandbox.ok(&[
        "log",
        "sth",
        "--portal",
        &served.url,
        "--key",
        &key,
        "--out",
        &sandbox.arg("sth.json"),
    ]);
    assert!(sth.contains("verified with"), "{sth}");
    sandbox.exits(
        0,
        &["log", "verify", &sandbox.arg("sth.json"), "--key", &key],
    );

    // Bad inputs: a clear error and exit code, never a verdict.
    let other_key = other_log_key(&sandbox);
    let text = sandbox.exits(
        EXIT_TREE,
        &[
            "log",
            "verify",
            &sandbox.arg("b0.json"),
            "--key",
            &other_key,
        ],
    );
    assert!(text.contains("LOGV-STH-LOG"), "{text}");
    let text = sandbox.exits(
        EXIT_INPUT,
        &["log", "verify", &sandbox.arg("passphrase"), "--key", &key],
    );
    assert!(text.contains("LOGV-MALFORMED"), "{text}");
    let text = sandbox.exits(
        EXIT_INPUT,
        &[
            "log",
            "verify",
            &sandbox.arg("b0.json"),
            "--key",
            &sandbox.arg("sign"),
        ],
    );
    assert!(text.contains("not a usable log key"), "{text}");
    let text = sandbox.exits(
        1,
        &["log", "verify", &sandbox.arg("missing.json"), "--key", &key],
    );
    assert!(text.starts_with("error:"), "{text}");
    let text = sandbox.exits(1, &["log", "verify", &sandbox.arg("b0.json")]);
    assert!(text.contains("--key"), "{text}");

    let rows = sandbox.rows();
    assert_eq!(rows.len(), 5);

    // (a) One usage row altered: entry 3 ("issued").
    sandbox.tamper(&format!(
        "UPDATE usage_history SET detail_json = '{{\"application\":\"forged\"}}' WHERE id = {}",
        rows[2].0
    ));
    sandbox.bundle_names(&phone, None, "b1.json", &key, "LOGV-ENTRY-CONTENT", 3);
    let text = sandbox.exits(EXIT_ENTRY, &["log", "verify"]);
    assert!(
        text.contains("resident 1, entry seq 3") && text.contains("edited"),
        "{text}"
    );
    sandbox.tamper(&format!(
        "DELETE FROM usage_history WHERE id = {id}; INSERT INTO usage_history \
         (id, resident_id, occurred_at, device_id, action, outcome, detail_json) VALUES ({values})",
        id = rows[2].0,
        values = rows[2].1
    ));
    sandbox.exits(0, &["log", "verify"]);

    // (b) One usage row deleted: entry 4 ("notified").
    sandbox.tamper(&format!(
        "DELETE FROM usage_history WHERE id = {}",
        rows[3].0
    ));
    sandbox.bundle_names(&phone, None, "b2.json", &key, "LOGV-ENTRY-GONE", 4);
    let text = sandbox.exits(EXIT_ENTRY, &["log", "verify"]);
    assert!(
        text.contains("resident 1, entry seq 4") && text.contains("deleted"),
        "{text}"
    );
    sandbox.tamper(&format!(
        "INSERT INTO usage_history (id, resident_id, occurred_at, device_id, action, outcome, detail_json) \
         VALUES ({})",
        rows[3].1
    ));
    sandbox.exits(0, &["log", "verify"]);
    // The restored history still extends the phone's checkpoint.
    sandbox.ok(&[
        "phone",
        "history",
        &phone,
        "--bundle",
        &sandbox.arg("b3.json"),
    ]);

    // (c) Two leaves swapped. New entries 6 and 7 (a move and a rename, made while the
    // portal is stopped, so no published head covers them yet); their leaves are
    // swapped before the portal starts again and signs its next head.
    drop(served);
    sandbox.ok(&[
        "resident",
        "move",
        "1",
        "--address",
        "大阪府大阪市北区中之島1-3-20",
    ]);
    sandbox.ok(&["resident", "rename", "1", "--name", "鈴木 太郎"]);
    sandbox.tamper(
        "CREATE TEMP TABLE newest AS SELECT leaf_index, leaf_hash FROM log_leaves \
         WHERE leaf_index >= (SELECT MAX(leaf_index) - 1 FROM log_leaves); \
         UPDATE log_leaves SET leaf_hash = (SELECT leaf_hash FROM newest \
         WHERE newest.leaf_index <> log_leaves.leaf_index) \
         WHERE leaf_index IN (SELECT leaf_index FROM newest);",
    );
    let text = sandbox.exits(EXIT_ENTRY, &["log", "verify"]);
    assert!(
        text.contains("resident 1, entry seq 6") && text.contains("resident 1, entry seq 7"),
        "{text}"
    );
    assert!(text.contains("stored leaf"), "{text}");
    let served = sandbox.serve();
    sandbox.bundle_names(
        &phone,
        Some(&served.url),
        "b4.json",
        &key,
        "LOGV-ENTRY-INCLUSION",
        6,
    );
    // Against the checkpoint the phone kept, the same verdict.
    let text = sandbox.exits(
        EXIT_ENTRY,
        &[
            "log",
            "verify",
            &sandbox.arg("b4.json"),
            "--key",
            &key,
            "--since",
            &sandbox.arg("phone.checkpoint.json"),
        ],
    );
    assert_names(&text, "LOGV-ENTRY-INCLUSION", 6);
}

/// A P-256 public key of some other log (OpenSSL's).
fn other_log_key(sandbox: &Sandbox) -> String {
    let private = sandbox.path("other.key");
    let public = sandbox.path("other.pub.pem");
    for args in [
        vec![
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            private.to_str().unwrap(),
        ],
        vec![
            "ec",
            "-in",
            private.to_str().unwrap(),
            "-pubout",
            "-out",
            public.to_str().unwrap(),
        ],
    ] {
        let output = Command::new("openssl")
            .args(&args)
            .output()
            .expect("openssl must be installed");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    public.to_str().unwrap().to_owned()
}

#[test]
fn log_commands_explain_what_is_missing() {
    let sandbox = Sandbox::new();
    let text = sandbox.exits(1, &["log", "verify"]);
    assert!(text.contains("jpki init"), "{text}");
    sandbox.ok(&["init"]);
    // `jpki log init` on a directory that has its keys changes nothing.
    let text = sandbox.ok(&["log", "init"]);
    assert!(text.contains("nothing was changed"), "{text}");
    // A data directory without the log's keys (made before the log) is told what to do,
    // and `jpki log init` adds them.
    std::fs::remove_file(sandbox.path("data/log/pseudonym.key")).unwrap();
    std::fs::remove_file(sandbox.path("data/log/log.key.pem")).unwrap();
    std::fs::remove_file(sandbox.path("data/log/log.pub.pem")).unwrap();
    let text = sandbox.exits(1, &["log", "verify"]);
    assert!(text.contains("jpki log init"), "{text}");
    let text = sandbox.exits(1, &["log", "key"]);
    assert!(text.contains("jpki log init"), "{text}");
    let text = sandbox.ok(&["log", "init"]);
    assert!(text.contains("3 files"), "{text}");
    let key = sandbox.ok(&["log", "key"]);
    assert!(key.starts_with("-----BEGIN PUBLIC KEY-----"), "{key}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for secret in ["data/log/log.key.pem", "data/log/pseudonym.key"] {
            let mode = sandbox
                .path(secret)
                .metadata()
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "{secret} is readable by others: {mode:o}");
        }
    }
    let text = sandbox.exits(0, &["log", "verify"]);
    assert!(text.contains("leaves                 0"), "{text}");
}
