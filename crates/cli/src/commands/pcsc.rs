//! The card on a real PC/SC stack: `jpki card attach` (a card file into vsmartcard's
//! vpcd reader; plain TCP, always built) and, with the Cargo feature `pcsc`,
//! `jpki card read|sign` and `jpki bench apdu`, which reach any card in any PC/SC
//! reader — the virtual card through vpcd exactly as a real My Number card in a USB
//! reader, by the same code.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use jpki_reader::vpcd::{self, BridgeConfig, BridgeEvent, CardAction, CardFile};

use crate::cli::CardAttachArgs;
#[cfg(not(feature = "pcsc"))]
use crate::cli::{BenchApduArgs, CardReadArgs, CardSignArgs};
use crate::context::Context;

/// `jpki card attach FILE`: serves the card to vpcd until SIGINT/SIGTERM, reconnecting
/// whenever pcscd is not there or restarts. Status lines go to stderr.
pub async fn attach(data_dir: Option<&Path>, args: CardAttachArgs) -> anyhow::Result<()> {
    let context = Context::open(data_dir).await?;
    let kek = context.device_kek()?;
    let card = CardFile::open(&args.file, kek)
        .with_context(|| format!("opening the card file {}", args.file.display()))?;
    let config = BridgeConfig {
        host: args.host.clone(),
        port: args.reader_port,
        quickack: !args.no_quickack,
        ..BridgeConfig::default()
    };
    eprintln!(
        "card {} ({}) → vpcd on {}:{}{}; stop with Ctrl-C",
        card.card().id(),
        args.file.display(),
        config.host,
        config.port,
        if config.quickack {
            ""
        } else {
            " (TCP_QUICKACK off)"
        }
    );

    let stop = Arc::new(AtomicBool::new(false));
    let signals = tokio::spawn(raise_on_signal(stop.clone()));
    let bridge_stop = stop.clone();
    let bridge = tokio::task::spawn_blocking(move || {
        let mut card = card;
        let result = vpcd::run_bridge(&mut card, &config, &bridge_stop, &mut print_event);
        (result, card.saves())
    });
    let joined = bridge.await;
    signals.abort();
    let (result, saves) = joined.context("the vpcd bridge thread failed")?;
    result?;
    eprintln!(
        "stopped; {} is up to date ({saves} write{} of changed PIN counters)",
        args.file.display(),
        if saves == 1 { "" } else { "s" }
    );
    Ok(())
}

/// Raises `stop` on SIGINT or SIGTERM.
pub(crate) async fn raise_on_signal(stop: Arc<AtomicBool>) {
    let terminate = async {
        #[cfg(unix)]
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        std::future::pending::<()>().await;
    };
    tokio::select! {
        result = tokio::signal::ctrl_c() => {
            if let Err(error) = result {
                tracing::warn!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
        () = terminate => {}
    }
    eprintln!("stopping…");
    stop.store(true, Ordering::SeqCst);
}

pub(crate) fn print_event(event: BridgeEvent<'_>) {
    match event {
        // Per APDU: the log, not the terminal.
        BridgeEvent::Card(CardAction::Answered { ins }) => {
            tracing::debug!("answered INS {ins:02X}");
        }
        BridgeEvent::Card(CardAction::AtrSent) => tracing::debug!("ATR sent"),
        event => eprintln!("{event}"),
    }
}

#[cfg(not(feature = "pcsc"))]
const NO_PCSC: &str = "this jpki was built without PC/SC support; rebuild with \
     `cargo build -p jpki --features pcsc` (needs libpcsclite-dev and pkg-config)";

#[cfg(not(feature = "pcsc"))]
pub async fn read(_args: CardReadArgs) -> anyhow::Result<()> {
    anyhow::bail!(NO_PCSC)
}

#[cfg(not(feature = "pcsc"))]
pub async fn sign(_args: CardSignArgs) -> anyhow::Result<()> {
    anyhow::bail!(NO_PCSC)
}

#[cfg(not(feature = "pcsc"))]
pub fn bench_apdu(_args: BenchApduArgs) -> anyhow::Result<()> {
    anyhow::bail!(NO_PCSC)
}

#[cfg(feature = "pcsc")]
pub use with_pcsc::{bench_apdu, read, sign};

#[cfg(feature = "pcsc")]
mod with_pcsc {
    use std::path::Path;
    use std::time::{Duration, Instant};

    use anyhow::Context as _;
    use jpki_crypto::{Pin, PinPolicy, SecretString};
    use jpki_pkix::JpkiCertificate;
    use jpki_reader::{
        CardSigner, CertificateSlot, JPKI_AID, JpkiAp, KeySlot, PcscTransport, PinSlot,
        ReaderError, SupportAp, Token,
    };

    use crate::cli::{BenchApduArgs, CardReadArgs, CardSignArgs};
    use crate::commands::card::print_certificate;
    use crate::output;
    use crate::secrets::{self, AUTH_PIN, Purpose, SIGN_PASSWORD, SUPPORT_PIN, SecretSpec};

    /// Reads a PIN the way clients do: the signature password upper-cased before
    /// VERIFY (JPKI-FACTS §1.3).
    fn pin_from(spec: SecretSpec, policy: PinPolicy, file: Option<&Path>) -> anyhow::Result<Pin> {
        let text = secrets::read_secret(spec, file, Purpose::Existing)?;
        let text = match policy {
            PinPolicy::SignPassword => SecretString::new(text.expose().to_uppercase()),
            _ => text,
        };
        Pin::new(policy, text.expose()).with_context(|| format!("the {}", spec.label))
    }

    /// A PIN only when the user gave one (file flag or environment): `read` works
    /// without any.
    fn optional_pin(
        spec: SecretSpec,
        policy: PinPolicy,
        file: Option<&Path>,
    ) -> anyhow::Result<Option<Pin>> {
        if file.is_none() && std::env::var_os(spec.env).is_none() {
            return Ok(None);
        }
        pin_from(spec, policy, file).map(Some)
    }

    fn connect(reader: Option<&str>) -> anyhow::Result<PcscTransport> {
        let transport = PcscTransport::connect(reader).context("connecting to the card")?;
        let atr = transport
            .atr()
            .map(|atr| output::spaced_hex(&atr))
            .unwrap_or_else(|error| format!("unknown ({error})"));
        let protocol = transport
            .protocol()
            .map_or_else(|| "unknown".to_owned(), |p| p.to_string());
        println!("Card in {}", transport.reader());
        output::field("ATR", atr);
        output::field("protocol", protocol);
        Ok(transport)
    }

    fn verify(ap: &mut JpkiAp<PcscTransport>, slot: PinSlot, pin: &Pin) -> anyhow::Result<()> {
        let what = match slot {
            PinSlot::Auth => "the auth PIN",
            PinSlot::Sign => "the signature password",
        };
        ap.verify(slot, pin)
            .map_err(ReaderError::from)
            .with_context(|| format!("VERIFY of {what}"))
    }

    /// `jpki card read`: the readers, then what the card shows.
    pub async fn read(args: CardReadArgs) -> anyhow::Result<()> {
        // Every PIN is read before the card is touched.
        let sign_password = optional_pin(
            SIGN_PASSWORD,
            PinPolicy::SignPassword,
            args.sign_password_file.as_deref(),
        )?;
        let auth_pin = optional_pin(
            AUTH_PIN,
            PinPolicy::FourDigits,
            args.auth_pin_file.as_deref(),
        )?;
        let support_pin = optional_pin(
            SUPPORT_PIN,
            PinPolicy::FourDigits,
            args.support_pin_file.as_deref(),
        )?;
        tokio::task::spawn_blocking(move || {
            read_blocking(args.reader.as_deref(), sign_password, auth_pin, support_pin)
        })
        .await
        .context("the PC/SC thread failed")?
    }

    fn read_blocking(
        reader: Option<&str>,
        sign_password: Option<Pin>,
        auth_pin: Option<Pin>,
        support_pin: Option<Pin>,
    ) -> anyhow::Result<()> {
        let readers = jpki_reader::list_readers().context("listing the PC/SC readers")?;
        println!("Readers");
        for entry in &readers {
            println!(
                "  {}  {}",
                if entry.card_present {
                    "[card]"
                } else {
                    "[    ]"
                },
                entry.name
            );
        }
        let transport = connect(reader)?;
        let mut ap = JpkiAp::select(transport).context("SELECT of the JPKI AP")?;
        let token = ap.token()?;
        output::field(
            "token",
            format!(
                "{token} ({})",
                match token {
                    Token::Card => "My Number card",
                    Token::Phone => "smartphone secure element",
                    Token::OldCard => "住基カード",
                    Token::Other(_) => "unknown",
                }
            ),
        );
        output::field("auth PIN tries left", ap.tries_left(PinSlot::Auth)?);
        output::field("sign password tries", ap.tries_left(PinSlot::Sign)?);
        if let Some(pin) = &auth_pin {
            verify(&mut ap, PinSlot::Auth, pin)?;
        }
        for (slot, label) in [
            (CertificateSlot::Auth, "user-authentication certificate"),
            (CertificateSlot::AuthCa, "user-authentication CA"),
            (CertificateSlot::SignCa, "signature CA"),
        ] {
            match ap.read_certificate(slot) {
                Ok(der) => print_certificate(label, &der),
                Err(error) if slot == CertificateSlot::Auth && token == Token::Phone => println!(
                    "  {label}: a phone shows it after the auth PIN (--auth-pin-file) ({error})"
                ),
                Err(error) => println!("  {label}: {error}"),
            }
        }
        match &sign_password {
            Some(password) => {
                verify(&mut ap, PinSlot::Sign, password)?;
                let der = ap.read_certificate(CertificateSlot::Sign)?;
                print_certificate("signature certificate", &der);
            }
            None => println!(
                "  signature certificate: needs the signature password (--sign-password-file)"
            ),
        }
        if let Some(pin) = &support_pin {
            match SupportAp::select(ap.into_transport()) {
                Ok(mut support) => {
                    let (my_number, attributes) = support
                        .read_support_data(pin)
                        .context("reading the card-face data (券面事項入力補助AP)")?;
                    println!("  card-face data (券面事項入力補助AP):");
                    output::field("  my number", my_number.masked());
                    output::field("  name", attributes.name());
                    output::field("  address", attributes.address());
                    output::field("  date of birth", attributes.date_of_birth());
                    output::field(
                        "  sex",
                        format!(
                            "{} ({})",
                            attributes.sex().code(),
                            attributes.sex().label_ja()
                        ),
                    );
                }
                // A phone has no 券面事項入力補助AP.
                Err(error) => println!("  card-face data: not on this token ({error})"),
            }
        } else {
            println!("  card-face data: needs the card-face data PIN (--support-pin-file)");
        }
        Ok(())
    }

    /// `jpki card sign`: a detached CMS SignedData made by the card's signature key.
    pub async fn sign(args: CardSignArgs) -> anyhow::Result<()> {
        let content = std::fs::read(&args.input)
            .with_context(|| format!("reading {}", args.input.display()))?;
        let password = pin_from(
            SIGN_PASSWORD,
            PinPolicy::SignPassword,
            args.sign_password_file.as_deref(),
        )?;
        let reader = args.reader.clone();
        let (cms, certificate) = tokio::task::spawn_blocking(move || {
            sign_blocking(reader.as_deref(), &password, &content)
        })
        .await
        .context("the PC/SC thread failed")??;
        jpki_card::file::save_atomically(&args.out, &cms)
            .with_context(|| format!("writing {}", args.out.display()))?;
        println!(
            "Signed {} → {} ({} bytes, detached CMS SignedData)",
            args.input.display(),
            args.out.display(),
            cms.len()
        );
        output::field("signer", certificate.subject().to_der_order_string());
        output::field("serial", certificate.serial());
        Ok(())
    }

    fn sign_blocking(
        reader: Option<&str>,
        password: &Pin,
        content: &[u8],
    ) -> anyhow::Result<(Vec<u8>, JpkiCertificate)> {
        let transport = connect(reader)?;
        let mut ap = JpkiAp::select(transport).context("SELECT of the JPKI AP")?;
        verify(&mut ap, PinSlot::Sign, password)?;
        let der = ap
            .read_certificate(CertificateSlot::Sign)
            .context("reading the signature certificate")?;
        let certificate = JpkiCertificate::from_der(&der)
            .context("the card's signature certificate cannot be read")?;
        let signer = CardSigner::new(
            &mut ap,
            KeySlot::Sign,
            certificate.public_key_der().to_vec(),
        );
        let cms = jpki_pkix::cms::sign_detached(
            content,
            &signer,
            &der,
            &[],
            time::OffsetDateTime::now_utc(),
        )
        .context("making the CMS signature with the card")?;
        Ok((cms, certificate))
    }

    /// `jpki bench apdu`: SELECT of the JPKI AP, timed one by one.
    pub fn bench_apdu(args: BenchApduArgs) -> anyhow::Result<()> {
        const WARM_UP: u32 = 50;
        let transport = connect(args.reader.as_deref())?;
        let mut ap = JpkiAp::select(transport).context("SELECT of the JPKI AP")?;
        let channel = ap.channel();
        for _ in 0..WARM_UP {
            channel.select_application(&JPKI_AID)?;
        }
        let mut samples = Vec::with_capacity(args.count as usize);
        let started = Instant::now();
        for _ in 0..args.count {
            let before = Instant::now();
            channel.select_application(&JPKI_AID)?;
            samples.push(before.elapsed());
        }
        let total = started.elapsed();
        let summary = Summary::of(&mut samples)
            .ok_or_else(|| anyhow::anyhow!("no round trip was measured"))?;
        println!(
            "{} SELECT round trips (00 A4 04 0C 0A D3 92 F0 …) after {WARM_UP} untimed, {:.2} s",
            args.count,
            total.as_secs_f64()
        );
        output::field("median", micros(summary.median));
        output::field("p99", micros(summary.p99));
        output::field("mean", micros(summary.mean));
        output::field("min", micros(summary.min));
        output::field("max", micros(summary.max));
        if summary.median > Duration::from_millis(20) {
            println!(
                "  note: ~40 ms per APDU is vpcd's split write meeting delayed ACK: is the bridge running with --no-quickack?"
            );
        }
        println!(
            "  target: median ≤ 200 µs per APDU on loopback — {}",
            if summary.median <= Duration::from_micros(200) {
                "met"
            } else {
                "NOT met"
            }
        );
        Ok(())
    }

    fn micros(duration: Duration) -> String {
        format!("{:.1} µs", duration.as_secs_f64() * 1e6)
    }

    /// Order statistics of round-trip times.
    #[derive(Debug, PartialEq)]
    pub(super) struct Summary {
        pub median: Duration,
        pub p99: Duration,
        pub mean: Duration,
        pub min: Duration,
        pub max: Duration,
    }

    impl Summary {
        /// Nearest-rank percentiles over the samples (sorted in place).
        pub(super) fn of(samples: &mut [Duration]) -> Option<Self> {
            samples.sort_unstable();
            let count = samples.len();
            let rank = |percent: usize| -> Option<Duration> {
                let index = (percent * count).div_ceil(100).max(1) - 1;
                samples.get(index).copied()
            };
            let total: Duration = samples.iter().sum();
            Some(Self {
                median: rank(50)?,
                p99: rank(99)?,
                mean: total / u32::try_from(count).ok()?,
                min: *samples.first()?,
                max: *samples.last()?,
            })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn summary_uses_nearest_rank_percentiles() {
            let mut samples: Vec<Duration> = (1..=1000).rev().map(Duration::from_micros).collect();
            let summary = Summary::of(&mut samples).unwrap();
            assert_eq!(summary.median, Duration::from_micros(500));
            assert_eq!(summary.p99, Duration::from_micros(990));
            assert_eq!(summary.min, Duration::from_micros(1));
            assert_eq!(summary.max, Duration::from_micros(1000));
            assert_eq!(summary.mean, Duration::from_nanos(500_500));
            assert_eq!(Summary::of(&mut []), None);
            let mut one = [Duration::from_micros(7)];
            assert_eq!(Summary::of(&mut one).unwrap().p99, Duration::from_micros(7));
        }
    }
}
