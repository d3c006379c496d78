//! `jpki serve`: the portal (API for the phone app, notifications) and its background
//! worker (the service-hours queue, delayed activation).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use jpki_authority::ca::CertificateAuthority;
use jpki_authority::phone::{PhoneConfig, PhoneService, ServiceHours};
use jpki_portal::{AppState, SeAttestationVerifier};
use time::Duration as TimeDuration;

use crate::cli::ServeArgs;
use crate::commands::se_vendor::vendor_roots;
use crate::context::Context;
use crate::output;

pub async fn run(data_dir: Option<&Path>, args: ServeArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let settings = &context.config.phone;
    let listen = args
        .listen
        .clone()
        .unwrap_or_else(|| settings.listen.clone());
    let hours_text = args
        .service_hours
        .clone()
        .unwrap_or_else(|| settings.service_hours.clone());
    let service_hours = ServiceHours::parse(&hours_text)
        .map_err(anyhow::Error::msg)
        .context("service hours")?;
    let delay = args
        .propagation_delay
        .unwrap_or(settings.propagation_delay_seconds);
    let roots = vendor_roots(&context)?;

    let passphrase = context.ca_passphrase(&args.passphrase)?;
    let state = portal_state(&context, &passphrase, service_hours, delay, roots.clone())?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;

    println!("jpki portal listening on http://{address}");
    output::field(
        "API",
        format!("http://{address}/api/v1 (OpenAPI: /api/v1/openapi.json)"),
    );
    output::field(
        "service hours (JST)",
        if service_hours.is_always() {
            "always".to_owned()
        } else {
            hours_text
        },
    );
    output::field("activation delay", format!("{delay} s"));
    output::field("trusted SE vendors", roots.len());
    if roots.is_empty() {
        eprintln!(
            "warning: no SE vendor root is trusted, so every phone application will be refused; run `jpki se-vendor init`"
        );
    }
    use std::io::Write;
    let _ = std::io::stdout().flush();

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(jpki_portal::run_worker(
        state.clone(),
        Duration::from_secs(5),
        {
            let mut stop = stop_rx.clone();
            async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            }
        },
    ));
    axum::serve(listener, jpki_portal::app(state))
        .with_graceful_shutdown(async move {
            shutdown_signal().await;
            let _ = stop_tx.send(true);
        })
        .await
        .context("serving")?;
    let _ = worker.await;
    eprintln!("jpki portal stopped");
    Ok(())
}

/// The portal's shared state over the data directory's store and CAs.
pub fn portal_state(
    context: &Context,
    passphrase: &jpki_crypto::SecretString,
    service_hours: ServiceHours,
    delay_seconds: u64,
    vendor_roots: Vec<Vec<u8>>,
) -> anyhow::Result<AppState> {
    let (sign, auth) = context.open_cas(passphrase)?;
    let ca = Arc::new(CertificateAuthority::new(
        context.store.clone(),
        sign,
        auth,
        context.clock.clone(),
    )?);
    let config = PhoneConfig {
        service_hours,
        propagation_delay: TimeDuration::seconds(
            i64::try_from(delay_seconds).context("propagation delay")?,
        ),
        ..PhoneConfig::default()
    };
    let phone = Arc::new(PhoneService::new(
        context.store.clone(),
        ca,
        context.clock.clone(),
        Arc::new(SeAttestationVerifier::new(vendor_roots)),
        config,
    ));
    Ok(AppState::new(phone))
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
