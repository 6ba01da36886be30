//! The web pages for citizens and auditors, served by `datapole serve` at `/`: static HTML,
//! CSS and plain ES modules embedded in the binary (no build step, nothing fetched from
//! elsewhere). Every page and asset goes out with a Content-Security-Policy that allows only
//! this origin's scripts and styles (no inline script, no eval) and only same-origin requests.
//!
//! The pages call the public JSON API and the C2SP read paths; whatever they show about the
//! log's integrity they check in the browser (WebCrypto), not on the server's word.

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
];

fn serve(asset: &'static Asset) -> HttpResponse {
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
    res.body(asset.body)
}

/// Registers the pages and assets.
pub fn routes(cfg: &mut web::ServiceConfig) {
    for asset in ASSETS {
        cfg.service(
            crate::api::resource(asset.path, "GET, HEAD")
                .route(crate::api::get().to(move || async move { serve(asset) })),
        );
    }
}
