//! Where the CLI gets PINs, passwords and passphrases: a file named by a flag, an
//! environment variable, or a prompt on the terminal. Never a plain command-line value:
//! the process list shows arguments to every user of the machine.

use std::io::IsTerminal;
use std::path::Path;

use anyhow::{Context, bail};
use jpki_crypto::{Pin, PinPolicy, SecretString};

/// One secret the command needs.
#[derive(Debug, Clone, Copy)]
pub struct SecretSpec {
    /// What to call it in prompts and errors, e.g. "signature password".
    pub label: &'static str,
    /// Environment variable that may hold it.
    pub env: &'static str,
    /// The flag that names a file holding it.
    pub file_flag: &'static str,
}

pub const SIGN_PASSWORD: SecretSpec = SecretSpec {
    label: "signature password (署名用電子証明書パスワード)",
    env: "JPKI_SIGN_PASSWORD",
    file_flag: "--sign-password-file",
};
pub const AUTH_PIN: SecretSpec = SecretSpec {
    label: "user-authentication PIN (利用者証明用暗証番号)",
    env: "JPKI_AUTH_PIN",
    file_flag: "--auth-pin-file",
};
pub const SUPPORT_PIN: SecretSpec = SecretSpec {
    label: "card-face data PIN (券面事項入力補助用暗証番号)",
    env: "JPKI_SUPPORT_PIN",
    file_flag: "--support-pin-file",
};
pub const PHONE_SIGN_PASSWORD: SecretSpec = SecretSpec {
    label: "phone signature password (スマホ用署名用電子証明書パスワード)",
    env: "JPKI_PHONE_SIGN_PASSWORD",
    file_flag: "--phone-sign-password-file",
};
pub const PHONE_AUTH_PIN: SecretSpec = SecretSpec {
    label: "phone user-authentication PIN (スマホ用利用者証明用暗証番号)",
    env: "JPKI_PHONE_AUTH_PIN",
    file_flag: "--phone-auth-pin-file",
};
pub const VENDOR_PASSPHRASE: SecretSpec = SecretSpec {
    label: "SE vendor key passphrase",
    env: "JPKI_SE_VENDOR_PASSPHRASE",
    file_flag: "--vendor-passphrase-file",
};
pub const RP_KEY: SecretSpec = SecretSpec {
    label: "relying-party API key",
    env: "JPKI_RP_KEY",
    file_flag: "--key-file",
};
pub const API_KEY: SecretSpec = SecretSpec {
    label: "API key",
    env: "JPKI_API_KEY",
    file_flag: "--api-key-file",
};
pub const OPERATOR_PASSWORD: SecretSpec = SecretSpec {
    label: "operator-console password",
    env: "JPKI_OPERATOR_PASSWORD",
    file_flag: "--password-file",
};
pub const CA_PASSPHRASE: SecretSpec = SecretSpec {
    label: "CA key passphrase",
    env: "JPKI_CA_PASSPHRASE",
    file_flag: "--ca-passphrase-file",
};

/// Whether a secret is being set (ask twice) or used (ask once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    New,
    Existing,
}

/// Reads a secret text from `file`, else the environment, else the terminal.
pub fn read_secret(
    spec: SecretSpec,
    file: Option<&Path>,
    purpose: Purpose,
) -> anyhow::Result<SecretString> {
    if let Some(path) = file {
        return jpki_crypto::read_passphrase(&jpki_crypto::PassphraseSource::File(path.to_owned()))
            .with_context(|| format!("reading the {} from {}", spec.label, path.display()));
    }
    if std::env::var_os(spec.env).is_some() {
        return jpki_crypto::read_passphrase(&jpki_crypto::PassphraseSource::Env(
            spec.env.to_owned(),
        ))
        .with_context(|| format!("reading the {} from ${}", spec.label, spec.env));
    }
    if !std::io::stdin().is_terminal() {
        bail!(
            "no {} given: pass {} FILE or set {} (standard input is not a terminal, so it cannot be asked for)",
            spec.label,
            spec.file_flag,
            spec.env
        );
    }
    let first = prompt(&format!("{}: ", spec.label))?;
    if purpose == Purpose::New {
        let second = prompt(&format!("{} (again): ", spec.label))?;
        if first.expose() != second.expose() {
            bail!("the two entries of the {} differ", spec.label);
        }
    }
    if first.is_empty() {
        bail!("the {} is empty", spec.label);
    }
    Ok(first)
}

/// Reads a PIN or password and checks it against its policy.
pub fn read_pin(
    spec: SecretSpec,
    policy: PinPolicy,
    file: Option<&Path>,
    purpose: Purpose,
) -> anyhow::Result<Pin> {
    let text = read_secret(spec, file, purpose)?;
    Ok(Pin::new(policy, text.expose())?)
}

/// Reads an existing signature password the way real JPKI clients take it: upper-cased
/// before it is checked and sent (JPKI-FACTS §1.3).
pub fn read_existing_sign_password(spec: SecretSpec, file: Option<&Path>) -> anyhow::Result<Pin> {
    let text = read_secret(spec, file, Purpose::Existing)?;
    Ok(Pin::new(
        PinPolicy::SignPassword,
        &text.expose().to_ascii_uppercase(),
    )?)
}

fn prompt(text: &str) -> anyhow::Result<SecretString> {
    let value = rpassword::prompt_password(text).context("reading from the terminal")?;
    Ok(SecretString::new(value))
}
