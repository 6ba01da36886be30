//! Draws latency percentiles against offered load from `loadgen --json` results, as an SVG
//! (plain SVG text: no plotting dependency), for docs/BENCHMARKS.md. Runs at the same offered
//! rate are drawn as their median, with a whisker from the minimum to the maximum.
//!
//! ```text
//! cargo run --release --example chart -- docs/latency.svg results/*.json
//! ```

use std::fmt::Write as _;

use anyhow::Context;
use serde_json::Value;

/// One run: offered rate (or achieved, when unlimited), achieved rate, p50, p90, p99.
type Point = (f64, f64, f64, f64, f64);

const W: f64 = 720.0;
const H: f64 = 420.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 60.0;

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args
        .next()
        .context("usage: chart OUT.svg RESULT.json ...")?;
    let mut points: Vec<Point> = Vec::new();
    for path in args {
        let v: Value = serde_json::from_slice(&std::fs::read(&path)?)
            .with_context(|| format!("reading {path}"))?;
        let offered = v["offered_rate"].as_f64().unwrap_or(0.0);
        let x = if offered > 0.0 {
            offered
        } else {
            v["throughput"].as_f64().unwrap_or(0.0)
        };
        let get = |k: &str| v[k].as_f64().unwrap_or(0.0);
        points.push((
            x,
            get("throughput"),
            get("p50_ms"),
            get("p90_ms"),
            get("p99_ms"),
        ));
    }
    anyhow::ensure!(!points.is_empty(), "no results given");
    points.sort_by(|a, b| a.0.total_cmp(&b.0));
    // Several runs at one offered rate: the line goes through their medians, a whisker spans
    // their minimum to maximum.
    let mut groups: Vec<Vec<Point>> = Vec::new();
    for p in &points {
        match groups.last_mut() {
            Some(g) if g[0].0 == p.0 => g.push(*p),
            _ => groups.push(vec![*p]),
        }
    }
    let x_max = points.iter().map(|p| p.0).fold(0.0, f64::max) * 1.1;
    let y_max = points.iter().map(|p| p.4).fold(1.0, f64::max);
    // Log scale on latency: 0.1 ms to the next power of ten above the worst p99.
    let y_lo = 0.1f64.log10();
    let y_hi = 10f64.powf(y_max.log10().ceil()).log10();
    let px = |x: f64| LEFT + x / x_max * (W - LEFT - RIGHT);
    let py = |y: f64| {
        let l = y.max(0.1).log10();
        H - BOTTOM - (l - y_lo) / (y_hi - y_lo) * (H - TOP - BOTTOM)
    };
    let mut svg = String::new();
    writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">"#
    )?;
    writeln!(svg, r#"<rect width="{W}" height="{H}" fill="white"/>"#)?;
    writeln!(
        svg,
        r#"<text x="{}" y="22" text-anchor="middle" font-size="14">Deposit latency against offered load (server and load generator on the same 2 cores)</text>"#,
        W / 2.0
    )?;
    // Axes and grid.
    let mut decade = y_lo.floor() as i32;
    while f64::from(decade) <= y_hi {
        let v = 10f64.powi(decade);
        let y = py(v);
        writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{}" y2="{y:.1}" stroke="#ddd"/><text x="{}" y="{:.1}" text-anchor="end">{} ms</text>"##,
            W - RIGHT,
            LEFT - 6.0,
            y + 4.0,
            if v < 1.0 {
                format!("{v:.1}")
            } else {
                format!("{v:.0}")
            }
        )?;
        decade += 1;
    }
    for k in 0..=5 {
        let x = x_max * f64::from(k) / 5.0;
        writeln!(
            svg,
            r##"<line x1="{:.1}" y1="{TOP}" x2="{:.1}" y2="{}" stroke="#eee"/><text x="{:.1}" y="{}" text-anchor="middle">{:.0}</text>"##,
            px(x),
            px(x),
            H - BOTTOM,
            px(x),
            H - BOTTOM + 18.0,
            x
        )?;
    }
    writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">offered load (deposits/s; unlimited runs at their achieved rate)</text>"#,
        (LEFT + W - RIGHT) / 2.0,
        H - 15.0
    )?;
    for (name, colour, pick) in [
        ("p50", "#1b9e77", 2usize),
        ("p90", "#7570b3", 3),
        ("p99", "#d95f02", 4),
    ] {
        let value = |p: &Point| match pick {
            2 => p.2,
            3 => p.3,
            _ => p.4,
        };
        let spread = |g: &[Point]| {
            let mut v: Vec<f64> = g.iter().map(value).collect();
            v.sort_by(f64::total_cmp);
            (v[0], v[v.len() / 2], v[v.len() - 1])
        };
        let path: Vec<String> = groups
            .iter()
            .map(|g| format!("{:.1},{:.1}", px(g[0].0), py(spread(g).1)))
            .collect();
        writeln!(
            svg,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="2" points="{}"/>"#,
            path.join(" ")
        )?;
        for g in &groups {
            let (lo, mid, hi) = spread(g);
            let x = px(g[0].0);
            writeln!(
                svg,
                r#"<line x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="{colour}" stroke-width="1"/><circle cx="{x:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#,
                py(lo),
                py(hi),
                py(mid)
            )?;
        }
        let y = TOP + 16.0 * f64::from(pick as u8 - 1);
        writeln!(
            svg,
            r#"<rect x="{}" y="{}" width="12" height="3" fill="{colour}"/><text x="{}" y="{}">{name}</text>"#,
            LEFT + 12.0,
            y - 4.0,
            LEFT + 30.0,
            y
        )?;
    }
    writeln!(svg, "</svg>")?;
    std::fs::write(&out, svg).with_context(|| format!("writing {out}"))?;
    println!(
        "wrote {out} from {} results at {} offered rates",
        points.len(),
        groups.len()
    );
    Ok(())
}
