//! The login code as a QR code, drawn on the server as SVG (no script, no external
//! service). It encodes the portal URL a phone app resolves the code at
//! (`GET /api/v1/login/codes/{code}`), so scanning it is the same as typing the code.

use qrcode::QrCode;
use qrcode::render::svg;

use crate::error::WebError;

/// The URL the QR code carries for `code`, at the portal `origin`.
pub fn login_url(origin: &str, code: &str) -> String {
    format!(
        "{}/api/v1/login/codes/{}",
        origin.trim_end_matches('/'),
        crate::layout::encode_component(code)
    )
}

/// An SVG document of the QR code for `text` (error correction level M, quiet zone).
pub fn svg(text: &str) -> Result<String, WebError> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), qrcode::EcLevel::M)
        .map_err(|error| WebError::Internal(format!("QR code: {error}")))?;
    Ok(code
        .render::<svg::Color<'_>>()
        .min_dimensions(240, 240)
        .quiet_zone(true)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_qr_code_is_an_svg_of_the_code_url() {
        let url = login_url("http://127.0.0.1:8080/", "ABCD-EFGH");
        assert_eq!(url, "http://127.0.0.1:8080/api/v1/login/codes/ABCD-EFGH");
        let image = svg(&url).unwrap();
        assert!(image.contains("<svg"), "{image}");
        assert!(!image.contains("<script"));
        assert!(!image.contains("style="));
    }
}
