//! `jpki rp add|request|result`: a private relying party on the platform-operator API.

use std::path::Path;

use anyhow::{Context as _, bail};
use jpki_api::{PhoneKind, SignRequestCreate, decode_der, encode_der};
use jpki_app::PortalClient;

use crate::cli::{RpAddArgs, RpCommand, RpKeyArgs, RpRequestArgs, RpResultArgs};
use crate::context::Context;
use crate::output;
use crate::secrets::{self, Purpose as SecretPurpose, RP_KEY};

pub async fn run(data_dir: Option<&Path>, command: RpCommand) -> anyhow::Result<()> {
    match command {
        RpCommand::Add(args) => add(data_dir, args).await,
        RpCommand::Request(args) => request(data_dir, args).await,
        RpCommand::Result(args) => result(data_dir, args).await,
    }
}

async fn add(data_dir: Option<&Path>, args: RpAddArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let service = crate::commands::serve::relying_service(
        &context,
        std::sync::Arc::new(jpki_verify::status::http::StdHttpTransport::default()),
    )?;
    let (party, key) = service.add_relying_party(&args.name).await?;
    println!("Registered relying party #{} \"{}\"", party.id, party.name);
    println!("API key (shown once; keep it in a file and pass --key-file): {key}");
    Ok(())
}

fn client_and_key(context: &Context, args: &RpKeyArgs) -> anyhow::Result<(PortalClient, String)> {
    let key = secrets::read_secret(RP_KEY, args.key_file.as_deref(), SecretPurpose::Existing)?;
    let url = args
        .portal
        .clone()
        .unwrap_or_else(|| context.config.phone.portal_url.clone());
    Ok((PortalClient::new(&url)?, key.expose().to_owned()))
}

async fn request(data_dir: Option<&Path>, args: RpRequestArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let kind = match args.kind.as_str() {
        "sign" | "signature" => PhoneKind::Signature,
        "auth" | "authentication" => PhoneKind::Authentication,
        other => bail!("--kind must be sign or auth, not {other:?}"),
    };
    let content =
        std::fs::read(&args.input).with_context(|| format!("reading {}", args.input.display()))?;
    let (client, key) = client_and_key(&context, &args.key)?;
    let created = client
        .create_sign_request(
            &key,
            &SignRequestCreate {
                user_id: args.user.clone(),
                purpose: args.purpose.clone(),
                kind,
                content: encode_der(&content),
            },
        )
        .await?;
    println!(
        "Sign request {} sent to user {}",
        created.request_id, args.user
    );
    output::field("verification code", &created.verification_code);
    output::field("expires", &created.expires_at);
    println!("Show the verification code to the person: their phone shows the same one.");
    Ok(())
}

async fn result(data_dir: Option<&Path>, args: RpResultArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let (client, key) = client_and_key(&context, &args.key)?;
    let result = client.sign_request_result(&key, &args.request).await?;
    println!("Request {}: {}", result.request_id, result.state);
    if let (Some(out), Some(signature)) = (&args.out, &result.signature) {
        let bytes = decode_der(signature).context("the signature is not base64")?;
        std::fs::write(out, &bytes).with_context(|| format!("writing {}", out.display()))?;
        output::field("signature", out.display());
        if let Some(certificate) = &result.certificate {
            let certificate_path = out.with_extension("cer");
            std::fs::write(
                &certificate_path,
                decode_der(certificate).context("certificate")?,
            )?;
            output::field("certificate", certificate_path.display());
        }
        if let Some(content) = &args.content {
            println!(
                "Verify it with: jpki verify --signature {} --content {}",
                out.display(),
                content.display()
            );
        }
    }
    Ok(())
}
