//! How the CLI talks to a person: error chains, headings, key-value lines.

/// Prints an error and its causes, one per line, to stderr.
pub fn print_error(error: &anyhow::Error) {
    eprintln!("error: {error}");
    for cause in error.chain().skip(1) {
        eprintln!("  caused by: {cause}");
    }
}

/// A `label: value` line with the labels aligned.
pub fn field(label: &str, value: impl std::fmt::Display) {
    println!("  {label:<22} {value}");
}

/// A formatted UTC instant, with its JST rendering.
pub fn instant(at: time::OffsetDateTime) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]:[second]");
    let utc = at
        .to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default();
    let jst = at
        .to_offset(jpki_model::time::JST)
        .format(&format)
        .unwrap_or_default();
    format!("{utc} UTC ({jst} JST)")
}

/// Upper-case hex with a space between bytes, as APDU traces are usually written.
pub fn spaced_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}
