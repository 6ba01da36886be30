//! The web pages for citizens and auditors, served by `datapole serve` at `/`: static HTML,
//! CSS and plain ES modules embedded in the binary (no build step, nothing fetched from
//! elsewhere). Every page and asset goes out with a Content-Security-Policy that allows only
//! this origin's scripts and styles (no inline script, no eval) and only same-origin requests.
//!
//! The pages call the public JSON API and the C2SP read paths; whatever they show about the
//! log's integrity they check in the browser (WebCrypto), not on the server's word.
//!
//! This module knows the pages, their headers and the log's verifier key it is given; it must
//! not import the API ([`crate::api`]) or the log: the server that composes the API and the
//! pages registers both, handing the pages the key ([`routes`]).

use std::sync::Arc;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpResponse};

/// The Content-Security-Policy of every page and asset.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// An embedded file.
pub struct Asset {
    /// Where it is served.
    pub path: &'static str,
    /// Its media type.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

/// Every page and asset.
pub const ASSETS: &[Asset] = &[
    Asset {
        path: "/",
        content_type: HTML,
        body: include_bytes!("assets/index.html"),
    },
    Asset {
        path: "/explorer",
        content_type: HTML,
        body: include_bytes!("assets/explorer.html"),
    },
    Asset {
        path: "/verify",
        content_type: HTML,
        body: include_bytes!("assets/verify.html"),
    },
    Asset {
        path: "/consent",
        content_type: HTML,
        body: include_bytes!("assets/consent.html"),
    },
    Asset {
        path: "/assets/consent.js",
        content_type: JS,
        body: include_bytes!("assets/consent.js"),
    },
    Asset {
        path: "/assets/verify-page.js",
        content_type: JS,
        body: include_bytes!("assets/verify-page.js"),
    },
    Asset {
        path: "/assets/checks.js",
        content_type: JS,
        body: include_bytes!("assets/checks.js"),
    },
    Asset {
        path: "/assets/app.css",
        content_type: CSS,
        body: include_bytes!("assets/app.css"),
    },
    Asset {
        path: "/assets/i18n.js",
        content_type: JS,
        body: include_bytes!("assets/i18n.js"),
    },
    Asset {
        path: "/assets/api.js",
        content_type: JS,
        body: include_bytes!("assets/api.js"),
    },
    Asset {
        path: "/assets/home.js",
        content_type: JS,
        body: include_bytes!("assets/home.js"),
    },
    Asset {
        path: "/assets/verify.js",
        content_type: JS,
        body: include_bytes!("assets/verify.js"),
    },
    Asset {
        path: "/assets/explorer.js",
        content_type: JS,
        body: include_bytes!("assets/explorer.js"),
    },
    Asset {
        path: "/assets/dataset.js",
        content_type: JS,
        body: include_bytes!("assets/dataset.js"),
    },
];

/// The name of the `<meta>` that carries the log's verifier key in every page: the pages pin
/// it when they verify receipts, so a receipt signed with another key fails (the page's
/// scripts come from the same server, so this adds no trust in it).
pub const LOG_KEY_META: &str = "datapole-log-key";

/// `page` with `<meta name="datapole-log-key" content="<vkey>">` inserted right after its
/// `<head>` (the page unchanged if it has none).
pub fn with_log_key(page: &[u8], vkey: &str) -> Vec<u8> {
    const HEAD: &[u8] = b"<head>";
    let Some(at) = page.windows(HEAD.len()).position(|w| w == HEAD) else {
        return page.to_vec();
    };
    let mut escaped = String::with_capacity(vkey.len());
    for c in vkey.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    let meta = format!("\n<meta name=\"{LOG_KEY_META}\" content=\"{escaped}\">");
    let end = at + HEAD.len();
    [&page[..end], meta.as_bytes(), &page[end..]].concat()
}

fn serve(asset: &'static Asset, vkey: &str) -> HttpResponse {
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CONTENT_TYPE, asset.content_type))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        // Small, and changed only with the binary: revalidate, so an upgrade shows at once.
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if asset.content_type == HTML {
        res.body(with_log_key(asset.body, vkey))
    } else {
        res.body(asset.body)
    }
}

/// What registers the pages and assets, every page carrying the log's verifier key `vkey`
/// (see [`with_log_key`]): `app.configure(web::routes(vkey))`.
pub fn routes(vkey: &str) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    let vkey: Arc<str> = Arc::from(vkey);
    move |cfg: &mut web::ServiceConfig| {
        for asset in ASSETS {
            let vkey = vkey.clone();
            cfg.service(crate::http::resource(asset.path, "GET, HEAD").route(
                crate::http::get().to(move || {
                    let vkey = vkey.clone();
                    async move { serve(asset, &vkey) }
                }),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_log_key_goes_right_after_head_escaped() {
        let page = b"<!doctype html>\n<html><head>\n<title>x</title></head></html>";
        let out = String::from_utf8(with_log_key(page, "a\"<b>&'+1234abcd+AQ==")).unwrap();
        assert_eq!(
            out,
            "<!doctype html>\n<html><head>\n<meta name=\"datapole-log-key\" \
             content=\"a&quot;&lt;b&gt;&amp;&#39;+1234abcd+AQ==\">\n<title>x</title></head></html>"
        );
        assert_eq!(with_log_key(b"no head", "k"), b"no head");
    }

    #[test]
    fn every_page_gets_the_key() {
        for asset in ASSETS.iter().filter(|a| a.content_type == HTML) {
            let out = with_log_key(asset.body, "log+01234567+AQ==");
            let text = String::from_utf8(out).unwrap();
            assert!(
                text.contains("<meta name=\"datapole-log-key\" content=\"log+01234567+AQ==\">"),
                "{}",
                asset.path
            );
        }
    }
}
