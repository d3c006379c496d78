//! The frame of every page: `<html lang>`, the skip link, the banner with the navigation
//! and the language toggle, `<main>`, the footer. Landmarks and a visible focus ring
//! (in the stylesheet) on every page; no inline script or style anywhere (the CSP
//! forbids them).

use jpki_store::AccountRole;
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::i18n::{Lang, M};

/// Which navigation the banner shows.
#[derive(Debug)]
pub enum Nav<'a> {
    /// Not logged in.
    Public,
    /// A logged-in citizen; `here` marks the current page.
    Citizen {
        name: &'a str,
        csrf: &'a str,
        here: CitizenPage,
    },
    /// A logged-in operator.
    Operator {
        name: &'a str,
        role: AccountRole,
        csrf: &'a str,
    },
    /// The operator login page.
    OperatorLogin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CitizenPage {
    Dashboard,
    History,
    Applications,
    Other,
}

/// Extra content of `<head>`.
#[derive(Debug, Default)]
pub struct Head {
    /// A script of ours under `/static/`, loaded with `defer`.
    pub script: Option<&'static str>,
    /// Reload the page after this many seconds when scripts are off (`<noscript>`).
    pub refresh_without_script: Option<u32>,
}

/// Percent-encodes a URL query component.
pub fn encode_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

pub fn role_label(lang: Lang, role: AccountRole) -> &'static str {
    lang.t(match role {
        AccountRole::Hotline => M::RoleHotline,
        AccountRole::Counter => M::RoleCounter,
        AccountRole::Admin => M::RoleAdmin,
        AccountRole::Auditor => M::RoleAuditor,
        AccountRole::Verifier => M::RoleVerifier,
    })
}

pub fn page(lang: Lang, title: &str, nav: &Nav<'_>, here: Option<&str>, body: Markup) -> Markup {
    page_with(lang, title, nav, here, &Head::default(), body)
}

/// A whole page. `here` is the current path and query, where the language toggle
/// comes back to.
pub fn page_with(
    lang: Lang,
    title: &str,
    nav: &Nav<'_>,
    here: Option<&str>,
    head: &Head,
    body: Markup,
) -> Markup {
    let other = lang.other();
    let toggle = format!(
        "/lang/{}?next={}",
        other.code(),
        encode_component(here.unwrap_or("/"))
    );
    let current = |page: CitizenPage| -> Option<&'static str> {
        match nav {
            Nav::Citizen { here, .. } if *here == page => Some("page"),
            _ => None,
        }
    };
    html! {
        (DOCTYPE)
        html lang=(lang.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " — " (lang.t(M::SiteName)) }
                link rel="stylesheet" href="/static/style.css";
                link rel="icon" type="image/svg+xml" href="/static/icon.svg";
                @if let Some(script) = head.script {
                    script defer src=(script) {}
                }
                @if let Some(seconds) = head.refresh_without_script {
                    noscript { meta http-equiv="refresh" content=(seconds); }
                }
            }
            body {
                a.skip href="#main" { (lang.t(M::SkipToContent)) }
                header.banner {
                    div.brand {
                        a href=(match nav { Nav::Operator { .. } | Nav::OperatorLogin => "/operator", _ => "/" }) {
                            (lang.t(M::SiteName))
                            @if matches!(nav, Nav::Operator { .. } | Nav::OperatorLogin) {
                                " — " (lang.t(M::OperatorConsole))
                            }
                        }
                    }
                    nav aria-label=(lang.t(M::MainNavigation)) {
                        ul {
                            @match nav {
                                Nav::Citizen { .. } => {
                                    li { a href="/dashboard" aria-current=[current(CitizenPage::Dashboard)] { (lang.t(M::Dashboard)) } }
                                    li { a href="/history" aria-current=[current(CitizenPage::History)] { (lang.t(M::History)) } }
                                    li { a href="/applications" aria-current=[current(CitizenPage::Applications)] { (lang.t(M::Applications)) } }
                                }
                                Nav::Operator { .. } => {
                                    li { a href="/operator" { (lang.t(M::SearchTitle)) } }
                                }
                                Nav::Public => {
                                    li { a href="/" { (lang.t(M::Home)) } }
                                    li { a href="/login" { (lang.t(M::Login)) } }
                                }
                                Nav::OperatorLogin => {
                                    li { a href="/" { (lang.t(M::Home)) } }
                                }
                            }
                            li {
                                a.lang href=(toggle) lang=(other.code()) hreflang=(other.code())
                                    aria-label=(lang.t(M::LanguageToggleLabel)) {
                                    (lang.t(M::LanguageToggle))
                                }
                            }
                        }
                    }
                    @match nav {
                        Nav::Citizen { name, csrf, .. } => {
                            div.who {
                                span { (lang.pick(format!("{name} {}", M::Welcome.ja()), format!("{} {name}", M::Welcome.en()))) }
                                form method="post" action="/logout" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button type="submit" { (lang.t(M::Logout)) }
                                }
                            }
                        }
                        Nav::Operator { name, role, csrf } => {
                            div.who {
                                span { (lang.t(M::OperatorSignedIn)) ": " strong { (name) } " (" (role_label(lang, *role)) ")" }
                                form method="post" action="/operator/logout" {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button type="submit" { (lang.t(M::Logout)) }
                                }
                            }
                        }
                        _ => {}
                    }
                }
                main id="main" tabindex="-1" {
                    (body)
                }
                footer.footer {
                    p { (lang.t(M::Footer)) }
                }
            }
        }
    }
}

/// A table's header row: one `<th scope="col">` per column title, in order.
pub fn column_heads(lang: Lang, columns: &[M]) -> Markup {
    html! {
        thead {
            tr {
                @for column in columns {
                    th scope="col" { (lang.t(*column)) }
                }
            }
        }
    }
}

/// A status shown as text with a shape, never by colour alone.
pub fn badge(class: &'static str, symbol: &'static str, text: &str) -> Markup {
    html! {
        span class=(format!("badge {class}")) {
            span aria-hidden="true" { (PreEscaped(symbol)) } " " (text)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_have_lang_landmarks_and_no_inline_script_or_style() {
        for lang in [Lang::Ja, Lang::En] {
            let html = page(
                lang,
                "t",
                &Nav::Citizen {
                    name: "公的 太郎",
                    csrf: "tok",
                    here: CitizenPage::Dashboard,
                },
                Some("/dashboard?x=1"),
                html! { p { "body" } },
            )
            .into_string();
            assert!(html.contains(&format!("<html lang=\"{}\">", lang.code())));
            for landmark in ["<header", "<nav", "<main", "<footer", "class=\"skip\""] {
                assert!(html.contains(landmark), "{landmark}");
            }
            assert!(!html.contains("style="), "no inline style");
            assert!(!html.contains("<script>"), "no inline script");
            assert!(html.contains("next=%2Fdashboard%3Fx%3D1"));
            assert!(html.contains("aria-current=\"page\""));
        }
    }
}
