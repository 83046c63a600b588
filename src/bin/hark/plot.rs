//! A hand-written SVG line chart (log-scale x axis) for `hark bench --plot`: no
//! plotting dependency, a file any browser or the README shows.

use std::fmt::Write;

/// One point of a series, with its label (the beam) written beside it.
#[derive(Debug, Clone)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub label: String,
}

/// A named polyline.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<Point>,
}

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 480.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 150.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Draws the series: x on a log10 scale spanning whole decades around the data, y
/// linear from 0 to the next multiple of 10 above the data. Points with a
/// non-finite or non-positive x are left out.
pub fn svg_line_chart(title: &str, x_label: &str, y_label: &str, series: &[Series]) -> String {
    let pts = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.x.is_finite() && p.x > 0.0 && p.y.is_finite())
    };
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    let mut ymax: f64 = 0.0;
    for p in pts() {
        lo = lo.min(p.x.log10());
        hi = hi.max(p.x.log10());
        ymax = ymax.max(p.y);
    }
    if !lo.is_finite() {
        (lo, hi) = (-3.0, 0.0);
    }
    let (lo, mut hi) = (lo.floor(), hi.ceil());
    if hi <= lo {
        hi = lo + 1.0;
    }
    let ymax = ((ymax / 10.0).ceil() * 10.0).max(10.0);
    let pw = WIDTH - LEFT - RIGHT;
    let ph = HEIGHT - TOP - BOTTOM;
    let sx = |x: f64| LEFT + (x.log10() - lo) / (hi - lo) * pw;
    let sy = |y: f64| TOP + ph - y / ymax * ph;

    let mut o = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(o, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        o,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="14">{}</text>"#,
        LEFT + pw / 2.0,
        escape(title)
    );
    // grid and ticks
    let mut d = lo;
    while d <= hi + 1e-9 {
        let x = LEFT + (d - lo) / (hi - lo) * pw;
        let _ = writeln!(
            o,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/>"##,
            TOP + ph
        );
        let _ = writeln!(
            o,
            r#"<text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
            TOP + ph + 18.0,
            format_decade(d as i32)
        );
        d += 1.0;
    }
    for k in 0..=5 {
        let v = ymax * f64::from(k) / 5.0;
        let y = sy(v);
        let _ = writeln!(
            o,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/>"##,
            LEFT + pw
        );
        let _ = writeln!(
            o,
            r#"<text x="{:.1}" y="{:.1}" text-anchor="end">{v:.0}</text>"#,
            LEFT - 6.0,
            y + 4.0
        );
    }
    let _ = writeln!(
        o,
        r#"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="black"/>"#
    );
    let _ = writeln!(
        o,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        HEIGHT - 16.0,
        escape(x_label)
    );
    let _ = writeln!(
        o,
        r#"<text transform="translate(18 {:.1}) rotate(-90)" text-anchor="middle">{}</text>"#,
        TOP + ph / 2.0,
        escape(y_label)
    );
    // series
    for (i, s) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let good: Vec<&Point> = s
            .points
            .iter()
            .filter(|p| p.x.is_finite() && p.x > 0.0 && p.y.is_finite())
            .collect();
        let path: Vec<String> = good
            .iter()
            .map(|p| format!("{:.1},{:.1}", sx(p.x), sy(p.y)))
            .collect();
        if path.len() > 1 {
            let _ = writeln!(
                o,
                r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
                path.join(" ")
            );
        }
        for p in &good {
            let (x, y) = (sx(p.x), sy(p.y));
            let _ = writeln!(
                o,
                r#"<circle cx="{x:.1}" cy="{y:.1}" r="3.5" fill="{color}"/>"#
            );
            if !p.label.is_empty() {
                let _ = writeln!(
                    o,
                    r#"<text x="{:.1}" y="{:.1}" font-size="10" fill="{color}">{}</text>"#,
                    x + 5.0,
                    y - 5.0,
                    escape(&p.label)
                );
            }
        }
        let ly = TOP + 16.0 + 20.0 * i as f64;
        let lx = LEFT + pw + 14.0;
        let _ = writeln!(
            o,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{color}" stroke-width="2"/>"#,
            lx + 22.0
        );
        let _ = writeln!(
            o,
            r#"<text x="{}" y="{:.1}">{}</text>"#,
            lx + 28.0,
            ly + 4.0,
            escape(&s.name)
        );
    }
    let _ = writeln!(
        o,
        r##"<text x="{:.1}" y="{:.1}" font-size="10" fill="#555">labels: beam</text>"##,
        LEFT + pw + 14.0,
        TOP + 16.0 + 20.0 * series.len() as f64
    );
    o.push_str("</svg>\n");
    o
}

/// `10^d` written plainly (0.001, 0.01, 0.1, 1, 10).
fn format_decade(d: i32) -> String {
    if d >= 0 {
        format!("{}", 10u64.pow(d as u32))
    } else {
        format!("{:.*}", (-d) as usize, 10f64.powi(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chart_has_one_polyline_per_series_and_escapes_text() {
        let s = vec![
            Series {
                name: "beam <ctc>".into(),
                points: vec![
                    Point {
                        x: 0.001,
                        y: 20.0,
                        label: "4".into(),
                    },
                    Point {
                        x: 0.01,
                        y: 12.5,
                        label: "16".into(),
                    },
                ],
            },
            Series {
                name: "hmm".into(),
                points: vec![
                    Point {
                        x: 0.002,
                        y: 15.0,
                        label: "8".into(),
                    },
                    Point {
                        x: f64::NAN,
                        y: 1.0,
                        label: "bad".into(),
                    },
                    Point {
                        x: 0.02,
                        y: 11.0,
                        label: "16".into(),
                    },
                ],
            },
        ];
        let svg = svg_line_chart("t & t", "x", "y", &s);
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("beam &lt;ctc&gt;") && svg.contains("t &amp; t"));
        assert!(!svg.contains("bad"));
        assert!(svg.trim_end().ends_with("</svg>"));
        // decades 10^-3 .. 10^-1 are labelled
        assert!(svg.contains(">0.001<") && svg.contains(">0.1<"));
    }

    #[test]
    fn decades_format_plainly() {
        assert_eq!(format_decade(-2), "0.01");
        assert_eq!(format_decade(0), "1");
        assert_eq!(format_decade(1), "10");
    }
}
