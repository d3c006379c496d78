//! `jpki serve`: the portal (API for the phone app, the hotline, notifications), the
//! status services (OCSP, CRLs) beside it, and their background workers (the
//! service-hours queue, delayed activation, status polling and CRL publication, OCSP
//! responder renewal).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use jpki_authority::ca::CertificateAuthority;
use jpki_authority::hotline::HotlineService;
use jpki_authority::phone::{PhoneConfig, PhoneService, ServiceHours};
use jpki_portal::{AppState, SeAttestationVerifier};
use jpki_status::{StatusNotifier, StatusService};
use jpki_store::Store;
use time::{Duration as TimeDuration, OffsetDateTime};

use crate::cli::ServeArgs;
use crate::commands::se_vendor::vendor_roots;
use crate::context::Context;

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
    let services =
        portal_services(&context, &passphrase, service_hours, delay, roots.clone()).await?;
    let state = services.state.clone();
    let status = Arc::clone(&services.status);
    let web = web_state(&context, &services)?;
    status
        .catch_up()
        .await
        .context("publishing the first CRLs")?;
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;

    // The banner is written in one piece, and a closed stdout is not an error: a
    // supervisor (or a test) may read the first line and stop listening.
    let field = |label: &str, value: String| format!("  {label:<22} {value}\n");
    let mut banner = format!("jpki portal listening on http://{address}\n");
    banner += &field(
        "API",
        format!("http://{address}/api/v1 (OpenAPI: /api/v1/openapi.json)"),
    );
    banner += &field(
        "web pages",
        format!("http://{address}/ (citizens), http://{address}/operator (operators)"),
    );
    banner += &field(
        "service hours (JST)",
        if service_hours.is_always() {
            "always".to_owned()
        } else {
            hours_text
        },
    );
    banner += &field("activation delay", format!("{delay} s"));
    banner += &field(
        "OCSP",
        format!(
            "http://{address}/ocsp (certificates name {})",
            status.settings().ocsp_url()
        ),
    );
    banner += &field(
        "CRLs",
        format!(
            "http://{address}/crl/<sign|auth>/<shard>.crl and -delta.crl ({} shards per CA{})",
            status.shards().first().map_or(0, |(_, n)| *n),
            if status.settings().open {
                ""
            } else {
                "; registered verifiers only"
            }
        ),
    );
    banner += &field("trusted SE vendors", roots.len().to_string());
    if let Some(log) = &state.log {
        banner += &field(
            "usage log",
            format!(
                "http://{address}/api/v1/log/sth (log id {})",
                log.public_key().log_id()
            ),
        );
    }
    if roots.is_empty() {
        eprintln!(
            "warning: no SE vendor root is trusted, so every phone application will be refused; run `jpki se-vendor init`"
        );
    }
    {
        use std::io::Write;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(banner.as_bytes());
        let _ = stdout.flush();
    }

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
    let status_worker = tokio::spawn(Arc::clone(&status).run({
        let mut stop = stop_rx.clone();
        async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        }
    }));
    // The usage log's tree heads: on demand (at most once a second) and on this timer.
    let log_signer = state.log.clone().map(|log| {
        let every = Duration::from_secs(context.config.log.sign_interval_seconds);
        let mut stop = stop_rx.clone();
        tokio::spawn(super::log::sign_periodically(log, every, async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        }))
    });
    let renewal = tokio::spawn(renew_responders(Arc::new(context), services, passphrase, {
        let mut stop = stop_rx.clone();
        async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        }
    }));
    let app = jpki_portal::app(state)
        .merge(status.router())
        .merge(jpki_web::router(web));
    // The peer address reaches the pages' login rate limits.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    })
    .await
    .context("serving")?;
    let _ = worker.await;
    let _ = status_worker.await;
    let _ = renewal.await;
    if let Some(log_signer) = log_signer {
        let _ = log_signer.await;
    }
    eprintln!("jpki portal stopped");
    Ok(())
}

/// The web pages (citizens' and the operator console) over the portal's services.
pub fn web_state(
    context: &Context,
    services: &PortalServices,
) -> anyhow::Result<jpki_web::WebState> {
    Ok(jpki_web::WebState::from_portal(
        &services.state,
        context.store.clone(),
        context.clock.clone(),
        Some(Arc::clone(&services.status) as Arc<dyn StatusNotifier>),
        jpki_web::WebConfig::default(),
    )?)
}

/// What `jpki serve` runs: the portal's state, the status services it notifies, and
/// the CA (for responder renewals).
pub struct PortalServices {
    pub state: AppState,
    pub status: Arc<StatusService>,
    pub ca: Arc<CertificateAuthority<Store>>,
    /// The earliest expiry of the OCSP responder certificates.
    pub responders_expire: OffsetDateTime,
}

/// The portal's services over the data directory's store and CAs: the phone RA, the
/// hotline, the relying-party services, and the status services (OCSP, CRLs) that
/// every issuance and status change notifies. Certificates name the status services at
/// `[status] base_url`.
pub async fn portal_services(
    context: &Context,
    passphrase: &jpki_crypto::SecretString,
    service_hours: ServiceHours,
    delay_seconds: u64,
    vendor_roots: Vec<Vec<u8>>,
) -> anyhow::Result<PortalServices> {
    let (sign, auth) = context.open_cas(passphrase)?;
    let (status, responders_expire) =
        super::status::start(context, [&sign, &auth], passphrase).await?;
    let ca = Arc::new(
        CertificateAuthority::new(context.store.clone(), sign, auth, context.clock.clone())?
            .with_endpoints(super::status::endpoints(context))
            .with_notifier(Arc::clone(&status) as Arc<dyn StatusNotifier>),
    );
    let config = PhoneConfig {
        service_hours,
        propagation_delay: TimeDuration::seconds(
            i64::try_from(delay_seconds).context("propagation delay")?,
        ),
        ..PhoneConfig::default()
    };
    let phone = Arc::new(PhoneService::new(
        context.store.clone(),
        Arc::clone(&ca),
        context.clock.clone(),
        Arc::new(SeAttestationVerifier::new(vendor_roots)),
        config,
    ));
    let hotline = Arc::new(HotlineService::new(
        context.store.clone(),
        context.clock.clone(),
        Some(Arc::clone(&status) as Arc<dyn StatusNotifier>),
    ));
    let state = AppState::new(phone)
        .with_relying(relying_service(
            context,
            Arc::new(jpki_status::LocalTransport::new(
                Arc::clone(&status),
                tokio::runtime::Handle::current(),
                Arc::new(jpki_verify::status::http::StdHttpTransport::default()),
            )),
        )?)
        .with_hotline(hotline)
        .with_log(super::log::open_usage_log(context, passphrase).await?);
    Ok(PortalServices {
        state,
        status,
        ca,
        responders_expire,
    })
}

/// Issues new OCSP responder certificates before the current ones expire
/// (`[status] responder_renew_days`), and has the running responder use them.
async fn renew_responders(
    context: Arc<Context>,
    services: PortalServices,
    passphrase: jpki_crypto::SecretString,
    shutdown: impl std::future::Future<Output = ()>,
) {
    tokio::pin!(shutdown);
    let renew_before = TimeDuration::days(i64::from(context.config.status.responder_renew_days));
    let mut expires = services.responders_expire;
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
        }
        if context.clock.now() + renew_before < expires {
            continue;
        }
        let cas = [
            services.ca.ca(jpki_model::Purpose::Signature),
            services.ca.ca(jpki_model::Purpose::Authentication),
        ];
        match super::status::authorities(&context, cas, &passphrase).await {
            Ok((keys, earliest)) => match services.status.replace_responders(&keys) {
                Ok(()) => expires = earliest,
                Err(error) => {
                    tracing::error!(code = "STATUS0010", %error, "the renewed OCSP responders were refused")
                }
            },
            Err(error) => {
                tracing::error!(code = "STATUS0011", error = %format!("{error:#}"), "renewing the OCSP responder certificates failed")
            }
        }
    }
}

/// The portal's relying-party services: a `jpki-verify` verifier trusting this data
/// directory's CAs, asking for status afresh through `transport` (the running portal's
/// own status service, in-process; plain HTTP for commands without one).
pub fn relying_service(
    context: &Context,
    transport: Arc<dyn jpki_verify::status::http::HttpTransport>,
) -> anyhow::Result<Arc<jpki_authority::relying::RelyingService<jpki_store::Store>>> {
    let mut trust = jpki_verify::TrustStore::new();
    for path in [
        &context.config.ca.sign_certificate,
        &context.config.ca.auth_certificate,
    ] {
        trust
            .add_file(context.data.path(path))
            .with_context(|| format!("loading the trust anchor {}", path.display()))?;
    }
    let verifier = Arc::new(jpki_authority::relying::portal_verifier(trust, transport));
    Ok(Arc::new(jpki_authority::relying::RelyingService::new(
        context.store.clone(),
        verifier,
        context.clock.clone(),
        jpki_authority::relying::RelyingConfig::default(),
    )))
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
