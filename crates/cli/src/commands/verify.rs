//! `jpki verify`: a relying party's check of a detached CMS signature — path to the
//! trust anchors, status (OCSP, CRL, or offline), the basic 4 information — printed for a
//! person or as JSON, with exit codes 0 valid, 1 invalid, 2 indeterminate, and
//! [`EXIT_ERROR`] when the check could not run at all (unreadable file, bad argument):
//! a script must never mistake a typo for an invalid signature.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};
use jpki_model::Purpose;
use jpki_verify::status::http::StdHttpTransport;
use jpki_verify::{StatusOptions, StatusPolicy, TrustStore, Verifier};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cli::VerifyArgs;
use crate::datadir::DataDir;

/// Exit code when no verdict could be reached: the inputs could not be read or used.
pub const EXIT_ERROR: u8 = 3;

pub fn run(data_dir: Option<&Path>, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    match check(data_dir, args) {
        Ok(code) => Ok(code),
        Err(error) => {
            crate::output::print_error(&error);
            Ok(ExitCode::from(EXIT_ERROR))
        }
    }
}

fn check(data_dir: Option<&Path>, args: VerifyArgs) -> anyhow::Result<ExitCode> {
    let signature = std::fs::read(&args.signature)
        .with_context(|| format!("reading the signature {}", args.signature.display()))?;
    let content = std::fs::read(&args.content)
        .with_context(|| format!("reading the content {}", args.content.display()))?;
    let at = match &args.at {
        Some(text) => OffsetDateTime::parse(text, &Rfc3339)
            .with_context(|| format!("--at {text:?} is not RFC 3339"))?,
        None => OffsetDateTime::now_utc(),
    };
    let purpose = match args.purpose.as_str() {
        "sign" | "signature" => Purpose::Signature,
        "auth" | "authentication" => Purpose::Authentication,
        other => bail!("--purpose must be sign or auth, not {other:?}"),
    };

    let trust = trust_store(data_dir, &args.trust)?;
    let mut options = StatusOptions::default();
    if args.offline {
        options.policy = StatusPolicy::Offline;
    } else if !args.crl.is_empty() {
        options.policy = StatusPolicy::CrlOnly;
    } else if let Some(url) = &args.ocsp {
        options.ocsp_url_override = Some(url.clone());
    }
    let verifier = Verifier::with_status(trust, options, Arc::new(StdHttpTransport::default()));
    for crl in &args.crl {
        let bytes =
            std::fs::read(crl).with_context(|| format!("reading the CRL {}", crl.display()))?;
        verifier
            .supply_crl(&bytes)
            .with_context(|| format!("{} is not a usable CRL", crl.display()))?;
    }
    for response in &args.ocsp_response {
        let bytes =
            std::fs::read(response).with_context(|| format!("reading {}", response.display()))?;
        verifier
            .supply_ocsp_response(&bytes)
            .with_context(|| format!("{} is not a usable OCSP response", response.display()))?;
    }

    let report = verifier.verify_cms_detached_for(&signature, &content, purpose, at);
    if args.json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.render());
    }
    Ok(ExitCode::from(
        u8::try_from(report.exit_code()).unwrap_or(2),
    ))
}

/// The anchors: this data directory's CAs when it exists, plus every `--trust DIR`.
fn trust_store(
    data_dir: Option<&Path>,
    extra: &[std::path::PathBuf],
) -> anyhow::Result<TrustStore> {
    let mut trust = TrustStore::new();
    if let Ok(data) = DataDir::resolve(data_dir)
        && data.is_initialized()
    {
        let config = data.load_config()?;
        for path in [&config.ca.sign_certificate, &config.ca.auth_certificate] {
            trust
                .add_file(data.path(path))
                .with_context(|| format!("loading the trust anchor {}", path.display()))?;
        }
    }
    for dir in extra {
        let added = if dir.is_dir() {
            trust.add_dir(dir)
        } else {
            trust.add_file(dir)
        }
        .with_context(|| format!("loading trust anchors from {}", dir.display()))?;
        if added == 0 {
            bail!("{} holds no certificate to trust", dir.display());
        }
    }
    if trust.is_empty() {
        bail!(
            "no trust anchors: pass --trust DIR (or run in a jpki data directory, whose CAs are trusted)"
        );
    }
    Ok(trust)
}
