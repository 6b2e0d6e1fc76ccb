//! Hand-written SVG: a plot frame with data-to-pixel mapping, axes with ticks and
//! labelled units, and the few primitives the report draws. Every text goes through
//! [`esc`]; coordinates are written with one decimal.

use std::fmt::Write as _;

/// Escapes text for HTML/SVG text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab/newline are not allowed in XML 1.0.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Axis ticks at 1, 2 or 5 × 10ᵏ steps covering `lo..=hi`, at most about `n` of them.
pub fn nice_ticks(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || hi <= lo || n == 0 {
        return vec![lo];
    }
    let raw = (hi - lo) / n as f64;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    if last - first < 2 && n < 64 {
        // Fewer than three ticks: a finer step.
        return nice_ticks(lo, hi, n * 2);
    }
    (first..=last).map(|k| k as f64 * step).collect()
}

/// A number for a tick label: no trailing zeros, at most 3 decimals.
pub fn num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = if v.abs() >= 100.0 {
        format!("{v:.0}")
    } else if v.abs() >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    };
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A plot area inside an SVG and the data ranges it maps.
#[derive(Debug, Clone, Copy)]
pub struct Frame {
    /// Left edge, px.
    pub left: f64,
    /// Top edge, px.
    pub top: f64,
    /// Width, px.
    pub width: f64,
    /// Height, px.
    pub height: f64,
    /// Data x range.
    pub x: (f64, f64),
    /// Data y range.
    pub y: (f64, f64),
    /// Logarithmic x axis.
    pub log_x: bool,
}

impl Frame {
    /// Pixel x of data `v` (clamped a little outside the frame).
    pub fn px(&self, v: f64) -> f64 {
        let (a, b, v) = if self.log_x {
            (self.x.0.log10(), self.x.1.log10(), v.max(1e-300).log10())
        } else {
            (self.x.0, self.x.1, v)
        };
        let t = if b > a { (v - a) / (b - a) } else { 0.5 };
        self.left + t.clamp(-0.01, 1.01) * self.width
    }

    /// Pixel y of data `v` (clamped a little outside the frame).
    pub fn py(&self, v: f64) -> f64 {
        let (a, b) = self.y;
        let t = if b > a { (v - a) / (b - a) } else { 0.5 };
        self.top + (1.0 - t.clamp(-0.02, 1.02)) * self.height
    }

    /// Right edge, px.
    pub fn right(&self) -> f64 {
        self.left + self.width
    }

    /// Bottom edge, px.
    pub fn bottom(&self) -> f64 {
        self.top + self.height
    }
}

/// An SVG document being written.
#[derive(Debug)]
pub struct Svg {
    buf: String,
    clip_id: Option<String>,
}

impl Svg {
    /// Opens an SVG of `w`×`h` px with an accessible `title` and a CSS class.
    pub fn new(w: f64, h: f64, title: &str, class: &str) -> Svg {
        let mut buf = String::new();
        let _ = write!(
            buf,
            r#"<svg xmlns="http://www.w3.org/2000/svg" class="{}" viewBox="0 0 {w:.0} {h:.0}" width="{w:.0}" height="{h:.0}" role="img" aria-label="{}"><title>{}</title>"#,
            esc(class),
            esc(title),
            esc(title)
        );
        Svg { buf, clip_id: None }
    }

    /// Defines a clip rectangle for `f` (used by later [`Svg::polyline`] calls with
    /// `clip`), named `id` (unique in the page).
    pub fn clip_to(&mut self, f: &Frame, id: &str) {
        let _ = write!(
            self.buf,
            r#"<defs><clipPath id="{}"><rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}"/></clipPath></defs>"#,
            esc(id),
            f.left,
            f.top,
            f.width,
            f.height
        );
        self.clip_id = Some(id.to_string());
    }

    /// A line.
    pub fn line(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, class: &str) {
        let _ = write!(
            self.buf,
            r#"<line x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" class="{}"/>"#,
            esc(class)
        );
    }

    /// A rectangle with an optional fill colour (else its class styles it).
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, class: &str, fill: Option<&str>) {
        let fill = fill
            .map(|f| format!(r#" fill="{}""#, esc(f)))
            .unwrap_or_default();
        let _ = write!(
            self.buf,
            r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{:.1}" class="{}"{fill}/>"#,
            w.max(0.0),
            h.max(0.0),
            esc(class)
        );
    }

    /// A text; `anchor` is `start`, `middle` or `end`.
    pub fn text(&mut self, x: f64, y: f64, s: &str, anchor: &str, class: &str) {
        let _ = write!(
            self.buf,
            r#"<text x="{x:.1}" y="{y:.1}" text-anchor="{anchor}" class="{}">{}</text>"#,
            esc(class),
            esc(s)
        );
    }

    /// A vertical text (for y-axis labels) centred on (`x`, `y`).
    pub fn vtext(&mut self, x: f64, y: f64, s: &str, class: &str) {
        let _ = write!(
            self.buf,
            r#"<text transform="translate({x:.1},{y:.1}) rotate(-90)" text-anchor="middle" class="{}">{}</text>"#,
            esc(class),
            esc(s)
        );
    }

    /// A polyline through pixel points, with a stroke colour, clipped to the frame of
    /// the last [`Svg::clip_to`] when `clip`.
    pub fn polyline(&mut self, pts: &[(f64, f64)], class: &str, stroke: Option<&str>, clip: bool) {
        if pts.is_empty() {
            return;
        }
        let mut d = String::with_capacity(pts.len() * 12);
        for (i, (x, y)) in pts.iter().enumerate() {
            if i > 0 {
                d.push(' ');
            }
            let _ = write!(d, "{x:.1},{y:.1}");
        }
        let stroke = stroke
            .map(|s| format!(r#" stroke="{}""#, esc(s)))
            .unwrap_or_default();
        let clip = match (&self.clip_id, clip) {
            (Some(id), true) => format!(r#" clip-path="url(#{})""#, esc(id)),
            _ => String::new(),
        };
        let _ = write!(
            self.buf,
            r#"<polyline points="{d}" class="{}"{stroke}{clip}/>"#,
            esc(class)
        );
    }

    /// A raw, already escaped fragment.
    pub fn raw(&mut self, s: &str) {
        self.buf.push_str(s);
    }

    /// Axes of `f`: a box, ticks and tick labels (`xt`, `yt` in data units, labelled by
    /// `fmt_x`/`fmt_y`), optional grid lines, and the axis titles with units.
    #[allow(clippy::too_many_arguments)]
    pub fn axes(
        &mut self,
        f: &Frame,
        xt: &[f64],
        yt: &[f64],
        xlabel: &str,
        ylabel: &str,
        grid: bool,
        fmt_x: &dyn Fn(f64) -> String,
        fmt_y: &dyn Fn(f64) -> String,
    ) {
        if grid {
            for &v in xt {
                let x = f.px(v);
                self.line(x, f.top, x, f.bottom(), "grid");
            }
            for &v in yt {
                let y = f.py(v);
                self.line(f.left, y, f.right(), y, "grid");
            }
        }
        self.rect(f.left, f.top, f.width, f.height, "frame", None);
        for &v in xt {
            let x = f.px(v);
            self.line(x, f.bottom(), x, f.bottom() + 4.0, "tick");
            self.text(x, f.bottom() + 15.0, &fmt_x(v), "middle", "tl");
        }
        for &v in yt {
            let y = f.py(v);
            self.line(f.left - 4.0, y, f.left, y, "tick");
            self.text(f.left - 6.0, y + 3.5, &fmt_y(v), "end", "tl");
        }
        self.text(
            f.left + f.width / 2.0,
            f.bottom() + 31.0,
            xlabel,
            "middle",
            "al",
        );
        self.vtext(f.left - 40.0, f.top + f.height / 2.0, ylabel, "al");
    }

    /// Closes the document.
    pub fn finish(mut self) -> String {
        self.buf.push_str("</svg>");
        self.buf
    }
}

/// Reduces a trace to at most two points (min and max) per pixel column, keeping the
/// look of a dense trace at a bounded size; `pts` are pixel points in x order.
pub fn decimate(pts: &[(f64, f64)], width_px: f64) -> Vec<(f64, f64)> {
    if pts.len() as f64 <= 2.0 * width_px {
        return pts.to_vec();
    }
    let mut out = Vec::with_capacity(2 * width_px as usize + 2);
    let mut i = 0;
    while i < pts.len() {
        let col = pts[i].0.floor();
        let mut lo = pts[i];
        let mut hi = pts[i];
        let mut j = i;
        while j < pts.len() && pts[j].0.floor() == col {
            if pts[j].1 < lo.1 {
                lo = pts[j];
            }
            if pts[j].1 > hi.1 {
                hi = pts[j];
            }
            j += 1;
        }
        if lo.0 <= hi.0 {
            out.push(lo);
            out.push(hi);
        } else {
            out.push(hi);
            out.push(lo);
        }
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(esc("a\u{1}b"), "a\u{FFFD}b");
        assert_eq!(esc("µV ±"), "µV ±");
    }

    #[test]
    fn ticks() {
        assert_eq!(
            nice_ticks(0.0, 10.0, 5),
            vec![0.0, 2.0, 4.0, 6.0, 8.0, 10.0]
        );
        assert_eq!(nice_ticks(-500.0, 500.0, 4), vec![-500.0, 0.0, 500.0]);
        assert_eq!(num(0.5), "0.5");
        assert_eq!(num(120.0), "120");
        assert_eq!(num(2.0), "2");
        assert_eq!(nice_ticks(1.0, 1.0, 4), vec![1.0]);
    }

    #[test]
    fn decimation_bounds_points_and_keeps_extremes() {
        let pts: Vec<(f64, f64)> = (0..10_000)
            .map(|i| {
                (
                    i as f64 / 100.0,
                    if i == 5_555 { 99.0 } else { (i % 7) as f64 },
                )
            })
            .collect();
        let d = decimate(&pts, 100.0);
        assert!(d.len() <= 202);
        assert!(d.iter().any(|p| p.1 == 99.0));
    }
}
