//! `jpki demo`: the whole flow that exists so far, in a temporary data directory, each
//! step explained. It drives the same code the individual commands use.

use std::path::PathBuf;

use anyhow::Context as _;
use jpki_apdu::Response;
use jpki_card::VirtualCard;
use jpki_crypto::{DigestAlgorithm, DigestInfo, SignatureAlgorithm, verify_signature};
use jpki_pkix::JpkiCertificate;

use crate::cli::{
    CaPassphraseArgs, CardIssueArgs, CardPinArgs, DemoArgs, InitArgs, ResidentAddArgs,
};
use crate::commands::{card, init, resident};
use crate::context::Context;
use crate::output;

const SIGN_PASSWORD: &str = "JPKI2026";
const AUTH_PIN: &str = "1234";
const SUPPORT_PIN: &str = "5678";

pub async fn run(args: DemoArgs) -> anyhow::Result<()> {
    let temporary;
    let root: PathBuf = match &args.keep {
        Some(dir) => dir.clone(),
        None => {
            temporary = tempfile::Builder::new()
                .prefix("jpki-demo-")
                .tempdir()
                .context("creating a temporary directory")?;
            temporary.path().join("data")
        }
    };
    let work = root.with_extension("work");
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let secret = |name: &str, value: &str| -> anyhow::Result<PathBuf> {
        let path = work.join(name);
        std::fs::write(&path, format!("{value}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    let passphrase_file = secret(
        "ca-passphrase",
        &hex::encode(jpki_crypto::random_bytes(16)?),
    )?;
    let pins = CardPinArgs {
        sign_password_file: Some(secret("sign-password", SIGN_PASSWORD)?),
        auth_pin_file: Some(secret("auth-pin", AUTH_PIN)?),
        support_pin_file: Some(secret("support-pin", SUPPORT_PIN)?),
    };
    let data_dir = Some(root.as_path());

    step(
        1,
        "発行者の準備 — set up the issuer",
        &[
            "Two certificate authorities, shaped like J-LIS's: one for signature certificates",
            "(署名用) and one for user-authentication certificates (利用者証明用). Their keys are",
            "stored encrypted (PKCS#8, PBKDF2 + AES-256) under a passphrase read from a file.",
            "The database is SQLite in the data directory: nothing to install.",
        ],
    );
    init::run(
        data_dir,
        InitArgs {
            database: None,
            ca_ou: jpki_pkix::DEFAULT_SECOND_OU.to_owned(),
            ca_years: 10,
            passphrase: CaPassphraseArgs {
                ca_passphrase_file: Some(passphrase_file.clone()),
            },
            remember_passphrase_file: true,
        },
    )
    .await?;

    step(
        2,
        "住民の登録 — register a resident",
        &[
            "The registry holds the basic 4 information (基本4情報: name, address, date of birth,",
            "sex) and the My Number, whose check digit is validated.",
        ],
    );
    let resident = resident::add(
        data_dir,
        ResidentAddArgs {
            name: "公的 太郎".into(),
            name_substitute: None,
            address: "東京都千代田区霞が関2-1-2".into(),
            address_substitute: None,
            birth_date: "1990-01-02".into(),
            sex: "1".into(),
            my_number: None,
            generate_my_number: true,
        },
    )
    .await?;

    step(
        3,
        "マイナンバーカードの交付 — issue a My Number card at the counter",
        &[
            "A blank virtual card generates its own RSA-2048 key pairs (the private keys never leave",
            "it), the citizen's PINs are set, the card signs a certificate request for each key,",
            "the RA checks the resident, the CA issues both certificates, and they are written to",
            "the card with the CA certificates and the card-face data. The card is then activated.",
            &format!(
                "PINs used in this demo: signature password {SIGN_PASSWORD}, auth PIN {AUTH_PIN}, card-face PIN {SUPPORT_PIN}."
            ),
        ],
    );
    let card_file = work.join("taro.card");
    card::issue(
        data_dir,
        CardIssueArgs {
            resident: resident.id.0,
            out: card_file.clone(),
            no_signature: false,
            pins,
            passphrase: CaPassphraseArgs {
                ca_passphrase_file: None,
            },
        },
    )
    .await?;

    let context = Context::open(data_dir).await?;
    let kek = context.device_kek()?;
    let mut card = jpki_card::file::load(&card_file, &kek)?;

    step(
        4,
        "カードとの対話 — talk to the card as JPKI software does",
        &[
            "The same APDUs OpenSC's jpki driver and jpki/myna send: select the JPKI applet, read",
            "the token name, read the user-authentication certificate (free on a card).",
        ],
    );
    exchange(
        &mut card,
        "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01",
        "SELECT the JPKI AP by its AID",
    )?;
    exchange(
        &mut card,
        "00 A4 02 0C 02 00 06",
        "SELECT EF 0006 (token information)",
    )?;
    let token = exchange(&mut card, "00 B0 00 00 20", "READ BINARY 32 bytes")?;
    println!(
        "    token: {:?}",
        String::from_utf8_lossy(&token.data).trim_end()
    );
    exchange(
        &mut card,
        "00 A4 02 0C 02 00 0A",
        "SELECT EF 000A (user-authentication certificate)",
    )?;
    let auth_der = read_whole_ef(&mut card)?;
    let auth = JpkiCertificate::from_der(&auth_der)?;
    println!(
        "    user-authentication certificate: subject {} — no personal data",
        auth.subject().to_der_order_string()
    );

    step(
        5,
        "署名用電子証明書 — the signature certificate needs the password",
        &[
            "EF 0001 carries the basic 4 information, so the card refuses to read it until the",
            "signature password is verified. A wrong password costs one of 5 tries (63 Cx).",
        ],
    );
    exchange(
        &mut card,
        "00 A4 02 0C 02 00 01",
        "SELECT EF 0001 (signature certificate)",
    )?;
    exchange(
        &mut card,
        "00 B0 00 00 04",
        "READ BINARY before the password: refused",
    )?;
    exchange(
        &mut card,
        "00 A4 02 0C 02 00 1B",
        "SELECT EF 001B (signature password)",
    )?;
    exchange(
        &mut card,
        &verify_apdu("WRONG1"),
        "VERIFY with a wrong password",
    )?;
    exchange(
        &mut card,
        "00 20 00 80",
        "VERIFY without data: how many tries are left",
    )?;
    exchange(
        &mut card,
        &verify_apdu(SIGN_PASSWORD),
        "VERIFY with the right password: counter back to 5",
    )?;
    exchange(&mut card, "00 A4 02 0C 02 00 01", "SELECT EF 0001 again")?;
    let sign_der = read_whole_ef(&mut card)?;
    card::print_certificate("signature certificate (subjectAltName decoded)", &sign_der);

    step(
        6,
        "電子署名 — the card signs",
        &[
            "The host hashes a document and sends the SHA-256 DigestInfo; the card applies",
            "PKCS#1 v1.5 with the signature key (select EF 001A, then 80 2A 00 80). The signature",
            "verifies with the public key from the signature certificate.",
        ],
    );
    let document = "電子申請書: 転入届 (demo)".as_bytes();
    let digest_info = DigestInfo::of(DigestAlgorithm::Sha256, document).to_der();
    exchange(
        &mut card,
        "00 A4 02 0C 02 00 1A",
        "SELECT EF 001A (signature key)",
    )?;
    let command = format!(
        "80 2A 00 80 {:02X} {} 00",
        digest_info.len(),
        output::spaced_hex(&digest_info)
    );
    let signed = exchange(&mut card, &command, "COMPUTE DIGITAL SIGNATURE")?;
    let sign = JpkiCertificate::from_der(&sign_der)?;
    verify_signature(
        SignatureAlgorithm::RsaPkcs1Sha256,
        sign.public_key_der(),
        document,
        &signed.data,
    )
    .context("the card's signature must verify")?;
    println!(
        "    signature of {} bytes verifies with the certificate's key ✔",
        signed.data.len()
    );

    step(
        7,
        "状態は保存される — PIN counters survive",
        &[
            "A wrong auth PIN costs a try; the counter is written back to the card file (sealed",
            "under the device key) and is still there when the card is opened again, as a real",
            "chip keeps it across sessions. A reset clears every verified PIN.",
        ],
    );
    exchange(
        &mut card,
        "00 A4 02 0C 02 00 18",
        "SELECT EF 0018 (auth PIN)",
    )?;
    exchange(
        &mut card,
        &verify_apdu("9999"),
        "VERIFY with a wrong auth PIN",
    )?;
    jpki_card::file::save(&card_file, &mut card, &kek)?;
    println!("    card file saved; opening it again …");
    let mut card = jpki_card::file::load(&card_file, &kek)?;
    exchange(
        &mut card,
        "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01",
        "SELECT the JPKI AP",
    )?;
    exchange(
        &mut card,
        "00 A4 02 0C 02 00 18",
        "SELECT EF 0018 (auth PIN)",
    )?;
    exchange(
        &mut card,
        "00 20 00 80",
        "VERIFY without data: still 2 tries left",
    )?;
    exchange(
        &mut card,
        &verify_apdu(AUTH_PIN),
        "VERIFY with the right PIN: back to 3",
    )?;
    card.reset();
    exchange(
        &mut card,
        "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01",
        "SELECT the JPKI AP after a reset",
    )?;
    exchange(&mut card, "00 A4 02 0C 02 00 01", "SELECT EF 0001")?;
    exchange(
        &mut card,
        "00 B0 00 00 04",
        "READ BINARY: refused, the reset cleared the verified password",
    )?;
    jpki_card::file::save(&card_file, &mut card, &kek)?;

    phone_steps(data_dir, &work, &card_file, &passphrase_file).await?;

    println!();
    match &args.keep {
        Some(dir) => println!(
            "Done. Data directory kept at {} (card file {}). Try:\n  jpki --data-dir {} card info {}",
            dir.display(),
            card_file.display(),
            dir.display(),
            card_file.display()
        ),
        None => {
            println!("Done. The temporary data directory is removed; use --keep DIR to keep it.")
        }
    }
    Ok(())
}

fn step(number: u32, title: &str, lines: &[&str]) {
    println!("\n── Step {number}. {title}");
    for line in lines {
        println!("   {line}");
    }
    println!();
}

fn verify_apdu(pin: &str) -> String {
    format!(
        "00 20 00 80 {:02X} {}",
        pin.len(),
        output::spaced_hex(pin.as_bytes())
    )
}

/// Sends one APDU (hex) and prints it masked, with its meaning.
fn exchange(card: &mut VirtualCard, hex: &str, what: &str) -> anyhow::Result<Response> {
    let bytes = card::parse_hex_apdu(hex)?;
    println!("  {what}");
    println!("    > {}", card::describe_command(&bytes));
    let response = card.transmit(&bytes);
    println!("    < {}", card::describe_response(&response));
    Ok(Response::parse(&response)?)
}

/// Reads the selected EF as real clients do: the DER header, then 256-byte chunks.
fn read_whole_ef(card: &mut VirtualCard) -> anyhow::Result<Vec<u8>> {
    let head = Response::parse(&card.transmit(&[0x00, 0xB0, 0x00, 0x00, 0x04]))?;
    anyhow::ensure!(
        head.is_ok() && head.data.len() == 4,
        "cannot read the certificate header: {}",
        head.sw
    );
    let total = (usize::from(head.data[2]) << 8 | usize::from(head.data[3])) + 4;
    let mut out = Vec::with_capacity(total);
    while out.len() < total {
        let [hi, lo] = u16::try_from(out.len())?.to_be_bytes();
        let chunk = Response::parse(&card.transmit(&[0x00, 0xB0, hi, lo, 0x00]))?;
        anyhow::ensure!(
            chunk.is_ok() && !chunk.data.is_empty(),
            "READ BINARY failed: {}",
            chunk.sw
        );
        out.extend_from_slice(&chunk.data);
    }
    out.truncate(total);
    println!(
        "    read {total} bytes in {} READ BINARY commands",
        1 + total.div_ceil(256)
    );
    Ok(out)
}

/// Steps 8–13: the smartphone certificates (guide sections 2-C to 2-E).
async fn phone_steps(
    data_dir: Option<&std::path::Path>,
    work: &std::path::Path,
    card_file: &std::path::Path,
    passphrase_file: &std::path::Path,
) -> anyhow::Result<()> {
    use crate::cli::{
        PhoneApplyArgs, PhoneFileArgs, PhoneNewArgs, PhonePinArgs, PhoneRegisterArgs,
        PhoneWaitArgs, PortalArgs, SeVendorInitArgs, VendorPassphraseArgs,
    };
    use crate::commands::{phone, se_vendor, serve};

    let write = |name: &str, value: &str| -> anyhow::Result<PathBuf> {
        let path = work.join(name);
        std::fs::write(&path, format!("{value}\n"))
            .with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    };
    let vendor_passphrase = VendorPassphraseArgs {
        vendor_passphrase_file: Some(write(
            "vendor-passphrase",
            &hex::encode(jpki_crypto::random_bytes(16)?),
        )?),
    };

    step(
        8,
        "スマホの製造 — a phone with a secure element",
        &[
            "An SE vendor certifies the device key of every secure element it makes; the RA trusts",
            "only configured vendor roots. The phone's JPKI AP answers only the portal app (an",
            "access rule on the app's identity, as GlobalPlatform SEAC does).",
        ],
    );
    se_vendor::init(
        data_dir,
        SeVendorInitArgs {
            name: "jpki demo SE vendor".into(),
            passphrase: vendor_passphrase.clone(),
        },
    )
    .await?;
    let phone_file = work.join("phone.json");
    phone::new(
        data_dir,
        PhoneNewArgs {
            out: phone_file.clone(),
            passphrase: vendor_passphrase,
        },
    )
    .await?;

    step(
        9,
        "ポータル(マイナポータルの役) — the portal",
        &[
            "`jpki serve` runs the portal: the JSON API the phone app uses (/api/v1, OpenAPI at",
            "/api/v1/openapi.json), notifications over Server-Sent Events, and the issuance queue.",
            "Real issuance runs 08:00–19:30 JST; the demo's portal issues at any hour.",
        ],
    );
    let context = Context::open(data_dir).await?;
    let passphrase = jpki_crypto::read_passphrase(&jpki_crypto::PassphraseSource::File(
        passphrase_file.to_owned(),
    ))?;
    let roots = se_vendor::vendor_roots(&context)?;
    let services = serve::portal_services(
        &context,
        &passphrase,
        jpki_authority::phone::ServiceHours::ALWAYS,
        0,
        roots,
    )
    .await?;
    services.status.catch_up().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = jpki_portal::app(services.state.clone()).merge(services.status.router());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    println!("  portal listening on {url}");
    let portal = PortalArgs { portal: Some(url) };

    step(
        10,
        "スマホ用電子証明書を申請する — apply with the My Number card",
        &[
            "The phone generates two key pairs in its SE, sets the phone's own PINs, attests each",
            "key over the portal's nonce and signs a CSR with it; the card verifies its signature",
            "password and signs the application. The RA checks nonce, card, resident, attestations,",
            "CSRs and kinds, in that order; the CA issues both phone certificates.",
            &format!(
                "Phone PINs in this demo: signature password {PHONE_SIGN_PASSWORD}, auth PIN {PHONE_AUTH_PIN}."
            ),
        ],
    );
    let phone_pins = PhonePinArgs {
        phone_sign_password_file: Some(write("phone-sign-password", PHONE_SIGN_PASSWORD)?),
        phone_auth_pin_file: Some(write("phone-auth-pin", PHONE_AUTH_PIN)?),
    };
    phone::apply(
        data_dir,
        PhoneApplyArgs {
            phone: phone_file.clone(),
            card: card_file.to_owned(),
            kinds: vec!["sign".into(), "auth".into()],
            sign_password_file: Some(work.join("sign-password")),
            phone_pins: phone_pins.clone(),
            portal: portal.clone(),
        },
    )
    .await?;

    step(
        11,
        "プッシュ通知 — the notification",
        &["The app follows the portal's event stream until the certificates are ready."],
    );
    phone::wait(
        data_dir,
        PhoneWaitArgs {
            phone: phone_file.clone(),
            timeout: 30,
            long_poll: false,
            portal: portal.clone(),
        },
    )
    .await?;

    step(
        12,
        "スマホ用電子証明書の登録 — registration",
        &[
            "The app writes the certificates into the SE and confirms with a signature by the new",
            "authentication key over a fresh nonce. The certificates are active at once (the real",
            "service asks you to wait ~15 minutes); any other phone of the person is revoked.",
        ],
    );
    phone::register(
        data_dir,
        PhoneRegisterArgs {
            phone: phone_file.clone(),
            phone_auth_pin_file: phone_pins.phone_auth_pin_file.clone(),
            portal: portal.clone(),
        },
    )
    .await?;
    phone::status(
        data_dir,
        PhoneFileArgs {
            phone: phone_file.clone(),
            portal: portal.clone(),
        },
    )
    .await?;
    phone::history(
        data_dir,
        crate::log_cli::PhoneHistoryArgs {
            phone: phone_file.clone(),
            portal,
            bundle: None,
            key: None,
            checkpoint: None,
        },
    )
    .await?;

    step(
        13,
        "スマホだけで — the phone alone",
        &[
            "Card software reading the phone through its contactless interface sees a phone token,",
            "and the phone's authentication certificate only after the phone's auth PIN.",
        ],
    );
    let mut phone =
        jpki_app::Phone::load(&phone_file, &context.device_kek()?, context.clock.clone())?;
    let mut session = phone.se.open_session(jpki_se::Interface::Contactless);
    exchange_session(
        &mut session,
        "00 A4 04 0C 0A D3 92 F0 00 26 01 00 00 00 01",
        "SELECT the JPKI AP",
    )?;
    exchange_session(
        &mut session,
        "00 A4 02 0C 02 00 06",
        "SELECT EF 0006 (token information)",
    )?;
    let token = exchange_session(&mut session, "00 B0 00 00 20", "READ BINARY 32 bytes")?;
    println!(
        "    token: {:?}",
        String::from_utf8_lossy(&token.data).trim_end()
    );
    exchange_session(
        &mut session,
        "00 A4 02 0C 02 00 0A",
        "SELECT EF 000A (auth certificate)",
    )?;
    exchange_session(
        &mut session,
        "00 B0 00 00 04",
        "READ BINARY before the phone's auth PIN: refused",
    )?;
    Ok(())
}

const PHONE_SIGN_PASSWORD: &str = "PHONE2026";
const PHONE_AUTH_PIN: &str = "4321";

fn exchange_session(
    session: &mut jpki_se::Session<&mut jpki_se::VirtualSecureElement>,
    hex: &str,
    what: &str,
) -> anyhow::Result<Response> {
    let bytes = card::parse_hex_apdu(hex)?;
    println!("  {what}");
    println!("    > {}", card::describe_command(&bytes));
    let response = session.transmit(&bytes);
    println!("    < {}", card::describe_response(&response));
    Ok(Response::parse(&response)?)
}
