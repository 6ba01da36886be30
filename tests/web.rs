//! The web pages as served by the real binary: every page and asset with its media type and
//! the Content-Security-Policy that forbids inline scripts and other origins; nothing in them
//! reaches outside the server (no CDN, no tracker); every script or stylesheet a page names is
//! served. (Behaviour in a browser is tested with a real browser.)

mod common;

use common::Server;

const PAGES: &[&str] = &["/", "/verify", "/explorer", "/consent"];

fn attr_values<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!("{attr}=\"");
    html.match_indices(&needle)
        .filter_map(|(i, _)| {
            let rest = &html[i + needle.len()..];
            rest.find('"').map(|end| &rest[..end])
        })
        .collect()
}

#[test]
fn pages_and_assets_are_served_self_contained_under_a_strict_csp() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("data"));
    let vkey = server.vkey();
    for asset in datapole::web::ASSETS {
        let a = server.get(asset.path);
        assert_eq!(a.status, 200, "{}", asset.path);
        assert_eq!(a.content_type, asset.content_type, "{}", asset.path);
        // A page carries the log's key (pinned by its scripts); an asset is served as built.
        let expected = if asset.content_type.starts_with("text/html") {
            datapole::web::with_log_key(asset.body, &vkey)
        } else {
            asset.body.to_vec()
        };
        assert_eq!(a.body, expected, "{}", asset.path);
        let head = server.request("HEAD", asset.path, &[], b"");
        assert_eq!(head.status, 200, "HEAD {}", asset.path);
        let text = String::from_utf8(a.body.clone()).unwrap();
        // Nothing from elsewhere: no absolute URL to another origin, anywhere.
        for scheme in ["http://", "https://", "//cdn", "@import"] {
            assert!(!text.contains(scheme), "{} mentions {scheme}", asset.path);
        }
    }
    let csp = datapole::web::CSP;
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"));
    assert!(csp.contains("default-src 'none'") && csp.contains("connect-src 'self'"));
    for page in PAGES {
        let a = server.request("GET", page, &[], b"");
        let raw = ureq::get(&format!("{}{page}", server.base)).call().unwrap();
        assert_eq!(raw.header("content-security-policy"), Some(csp), "{page}");
        assert_eq!(raw.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(raw.header("x-frame-options"), Some("DENY"));
        let html = a.text();
        assert!(html.starts_with("<!doctype html>"), "{page}");
        assert!(
            html.contains(&format!(
                "<meta name=\"datapole-log-key\" content=\"{vkey}\">"
            )),
            "{page}: the log key for the scripts to pin"
        );
        assert!(
            html.contains("<html lang=\"fr\">"),
            "{page}: French by default"
        );
        assert!(
            html.contains("name=\"viewport\""),
            "{page}: usable on a phone"
        );
        // Scripts only by src (an inline one would be blocked by the CSP anyway), as modules.
        assert_eq!(
            html.matches("<script").count(),
            html.matches("<script type=\"module\" src=\"/assets/")
                .count(),
            "{page}: every script is an external module"
        );
        for handler in [
            "onclick=",
            "onload=",
            "onsubmit=",
            "onchange=",
            "onerror=",
            "oninput=",
        ] {
            assert!(!html.contains(handler), "{page}: inline handler {handler}");
        }
        assert!(!html.contains("javascript:"), "{page}: javascript: URL");
        assert!(
            !html.contains(" style="),
            "{page}: inline style (the CSP blocks it)"
        );
        // Every local reference is served.
        for url in attr_values(&html, "src")
            .into_iter()
            .chain(attr_values(&html, "href"))
        {
            if url.starts_with('#') {
                continue;
            }
            assert!(url.starts_with('/'), "{page}: {url} is not local");
            assert_eq!(server.get(url).status, 200, "{page} refers to {url}");
        }
        // Form fields have labels.
        for id in attr_values(&html, "id") {
            for tag in ["input", "textarea", "select"] {
                if html.contains(&format!("<{tag} id=\"{id}\"")) {
                    assert!(
                        html.contains(&format!("<label for=\"{id}\"")),
                        "{page}: {tag} {id} has no label"
                    );
                }
            }
        }
        // Every page's navigation leads to every page, and marks the page itself as current.
        let nav = &html[html.find("<nav").unwrap()..html.find("</nav>").unwrap()];
        for other in PAGES {
            let current = format!("<a href=\"{other}\" aria-current=\"page\"");
            if other == page {
                assert!(nav.contains(&current), "{page}: not marked current");
            } else {
                assert!(
                    nav.contains(&format!("<a href=\"{other}\" ")) && !nav.contains(&current),
                    "{page}: no link to {other}"
                );
            }
        }
        // Every text the page names is in both languages.
        let i18n = String::from_utf8(server.get("/assets/i18n.js").body).unwrap();
        for key in attr_values(&html, "data-i18n") {
            assert_eq!(
                i18n.matches(&format!("\n    {key}: ")).count(),
                2,
                "{page}: {key} is not in French and English"
            );
        }
    }
    // A path under /assets that is not an asset is a JSON 404, not a page.
    server
        .get("/assets/missing.js")
        .assert_error(404, "not_found", "an unknown asset");
}
