//! Drawing a [`PlotSpec`] into SVG text or a PNG file: axes, log-scale ticks drawn by hand
//! (decades, and 2× / 5× when the data spans two decades or less), the seed bands, the curves
//! in the Okabe–Ito colours with a dash pattern each (`stroke-dasharray` in the SVG, dashes
//! rasterised in the PNG), the legend in the emptiest corner and the caption line.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::FontStyle;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::Curve;

/// The font used for text in PNG files.
static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

/// Image size in pixels (PNG) or user units (SVG).
const SIZE: (u32, u32) = (1000, 640);

/// Height of the caption line under the plot.
const CAPTION_H: u32 = 30;

/// The Okabe–Ito palette (Okabe & Ito 2008), distinguishable with any colour vision
/// deficiency; yellow, hard to see on white, comes last.
const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(230, 159, 0),   // orange
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(0, 0, 0),       // black
    RGBColor(240, 228, 66),  // yellow
];

/// Dash patterns (dash, gap in pixels), so that curves differ without colour.
const DASHES: [Option<(u32, u32)>; 6] = [
    None,
    Some((10, 5)),
    Some((2, 4)),
    Some((18, 6)),
    Some((6, 3)),
    Some((3, 8)),
];

/// Stroke width of the curves and their legend samples.
const LINE_W: u32 = 2;

/// Curve `i`'s colour and dash. Beyond eight curves the colours repeat with the blue channel
/// nudged by a unit per cycle (invisible, but it keeps every curve's SVG colour unique).
fn style(i: usize) -> (RGBColor, Option<(u32, u32)>) {
    let RGBColor(r, g, b) = COLORS[i % COLORS.len()];
    let nudge = (i / COLORS.len()) as u8;
    let b = if b > 127 {
        b.wrapping_sub(nudge)
    } else {
        b.wrapping_add(nudge)
    };
    (RGBColor(r, g, b), DASHES[i % DASHES.len()])
}

/// Everything a plot shows.
#[derive(Debug, Clone)]
pub struct PlotSpec {
    /// The curves, in legend order.
    pub curves: Vec<Curve>,
    /// Log scale on y.
    pub log: bool,
    /// y axis label.
    pub y_label: String,
    /// x axis label.
    pub x_label: String,
    /// Title above the plot.
    pub title: Option<String>,
    /// Caption line under the plot.
    pub caption: Option<String>,
}

impl PlotSpec {
    /// The plot as SVG text; dashed curves (and their legend samples) get `stroke-dasharray`.
    pub fn svg(&self) -> anyhow::Result<String> {
        register_font()?;
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, SIZE).into_drawing_area();
            self.render(root, false)?;
        }
        Ok(self.dash_svg(&text))
    }

    /// The plot as a PNG file.
    pub fn png(&self, path: &Path) -> anyhow::Result<()> {
        register_font()?;
        self.render(BitMapBackend::new(path, SIZE).into_drawing_area(), true)
    }

    fn dash_svg(&self, svg: &str) -> String {
        let mut out = svg.to_string();
        for i in 0..self.curves.len() {
            if let (c, Some((a, b))) = style(i) {
                let RGBColor(r, g, bl) = c;
                let attr = format!("stroke=\"#{r:02X}{g:02X}{bl:02X}\" stroke-width=\"{LINE_W}\"");
                out = out.replace(&attr, &format!("{attr} stroke-dasharray=\"{a} {b}\""));
            }
        }
        out
    }

    /// (x range, y range) of the drawn values; y as log₁₀ y on a log scale, widened to whole
    /// decades there.
    fn ranges(&self) -> anyhow::Result<((f64, f64), (f64, f64))> {
        let ty = |v: f64| if self.log { v.log10() } else { v };
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        let band = self.curves.iter().flat_map(|c| c.band.iter().flatten());
        let all = self
            .curves
            .iter()
            .flat_map(|c| c.points.iter().copied())
            .chain(band.flat_map(|&(x, lo, hi)| [(x, lo), (x, hi)]));
        for (a, b) in all {
            x0 = x0.min(a);
            x1 = x1.max(a);
            y0 = y0.min(ty(b));
            y1 = y1.max(ty(b));
        }
        if x0 > x1 || !y0.is_finite() || !y1.is_finite() {
            return Err(anyhow!("nothing to plot: no finite values"));
        }
        let x0 = x0.min(0.0);
        let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
        let (y0, y1) = if self.log {
            let (lo, hi) = (y0.floor(), y1.ceil());
            (lo, if hi > lo { hi } else { lo + 1.0 })
        } else {
            let pad = ((y1 - y0) * 0.05).max(1e-12 * y1.abs().max(1.0));
            (y0 - pad, y1 + pad)
        };
        Ok(((x0, x1), (y0, y1)))
    }

    /// Draw on `root`; `raster` draws dashes as segments (the SVG gets `stroke-dasharray`).
    fn render<DB: DrawingBackend>(
        &self,
        root: DrawingArea<DB, Shift>,
        raster: bool,
    ) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e}");
        let ((x0, x1), (y0, y1)) = self.ranges()?;
        root.fill(&WHITE).map_err(e)?;
        let area = match &self.caption {
            Some(text) => {
                let (upper, lower) = root.split_vertically(SIZE.1 - CAPTION_H);
                let style = TextStyle::from(("sans-serif", 15).into_font())
                    .color(&RGBColor(70, 70, 70))
                    .pos(Pos::new(HPos::Center, VPos::Center));
                lower
                    .draw_text(
                        text,
                        &style,
                        ((SIZE.0 / 2) as i32, (CAPTION_H / 2) as i32 - 4),
                    )
                    .map_err(e)?;
                upper
            }
            None => root.clone(),
        };
        let mut builder = ChartBuilder::on(&area);
        builder
            .margin(18)
            .x_label_area_size(52)
            .y_label_area_size(82);
        if let Some(t) = &self.title {
            builder.caption(t, ("sans-serif", 24));
        }
        let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(e)?;
        let x_fmt = |v: &f64| si(*v);
        let decimals = (2 - (y1 - y0).log10().floor() as i32).clamp(0, 12) as usize;
        let y_fmt = move |v: &f64| {
            let s = format!("{v:.decimals$}");
            if s.contains('.') {
                s.trim_end_matches('0').trim_end_matches('.').to_string()
            } else {
                s
            }
        };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(self.x_label.as_str())
            .y_desc(self.y_label.as_str())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(205, 205, 205));
        if self.log {
            mesh.disable_y_mesh().y_labels(0);
        }
        mesh.draw().map_err(e)?;
        if self.log {
            for t in log_ticks(y0, y1) {
                let grey = if t.label.is_some() { 205 } else { 238 };
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(x0, t.at), (x1, t.at)],
                        RGBColor(grey, grey, grey),
                    )))
                    .map_err(e)?;
                if let Some(label) = t.label {
                    let (px, py) = chart.backend_coord(&(x0, t.at));
                    let style = TextStyle::from(("sans-serif", 16).into_font())
                        .pos(Pos::new(HPos::Right, VPos::Center));
                    area.draw_text(&label, &style, (px - 8, py)).map_err(e)?;
                }
            }
        }
        let ty = |v: f64| if self.log { v.log10() } else { v };
        for (i, c) in self.curves.iter().enumerate() {
            let (color, _) = style(i);
            if let Some(band) = &c.band {
                let poly: Vec<(f64, f64)> = band
                    .iter()
                    .map(|&(x, _, hi)| (x, ty(hi)))
                    .chain(band.iter().rev().map(|&(x, lo, _)| (x, ty(lo))))
                    .collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(poly, color.mix(0.2).filled())))
                    .map_err(e)?;
            }
        }
        let mut plotted = Vec::with_capacity(self.curves.len());
        for (i, c) in self.curves.iter().enumerate() {
            let (color, dash) = style(i);
            let line = color.stroke_width(LINE_W);
            let pts: Vec<(f64, f64)> = c.points.iter().map(|&(x, y)| (x, ty(y))).collect();
            let anno = match dash.filter(|_| raster) {
                Some((a, b)) => chart
                    .draw_series(std::iter::once(DashedPathElement::new(
                        pts.clone(),
                        a,
                        b,
                        line,
                    )))
                    .map_err(e)?,
                None => chart
                    .draw_series(LineSeries::new(pts.clone(), line))
                    .map_err(e)?,
            };
            // The legend sample: dashed in the PNG; one segment in the SVG (dashed by
            // `dash_svg`).
            let (a, b) = dash.filter(|_| raster).unwrap_or((1000, 1));
            anno.label(c.name.clone()).legend(move |(x, y)| {
                DashedPathElement::new(vec![(x, y), (x + 30, y)], a, b, line)
            });
            plotted.push(pts);
        }
        chart
            .configure_series_labels()
            .position(legend_corner(&plotted, (x0, x1), (y0, y1)))
            .label_font(("sans-serif", 16))
            .legend_area_size(36)
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(e)?;
        root.present().map_err(e)?;
        Ok(())
    }
}

/// A horizontal line of the log axis at log₁₀ y = `at`, labelled or not.
#[derive(Debug, Clone, PartialEq)]
struct LogTick {
    at: f64,
    label: Option<String>,
}

/// Lines at every decade of [y0, y1] (log₁₀ values, whole numbers), labelled (every k-th
/// when there are more than 12); light lines at 2…9 × 10ᵉ up to 6 decades; and labels at 2×
/// and 5× when the axis spans at most 2 decades.
fn log_ticks(y0: f64, y1: f64) -> Vec<LogTick> {
    let (lo, hi) = (y0.round() as i32, y1.round() as i32);
    let decades = (hi - lo).max(1) as usize;
    let step = decades.div_ceil(12).max(1) as i32;
    let mut out = Vec::new();
    for e in lo..=hi {
        out.push(LogTick {
            at: f64::from(e),
            label: ((e - lo) % step == 0).then(|| power_of_ten(e)),
        });
        if e == hi || decades > 6 {
            continue;
        }
        for k in 2..=9u32 {
            let label = (decades <= 2 && (k == 2 || k == 5)).then(|| times_ten(k, e));
            out.push(LogTick {
                at: f64::from(e) + f64::from(k).log10(),
                label,
            });
        }
    }
    out
}

/// `k × 10ᵉ` as a plain decimal for 10⁻³ ≤ it < 10⁴ (`0.02`, `500`), else `2·10⁻⁵`.
fn times_ten(k: u32, e: i32) -> String {
    if (-3..=3).contains(&e) {
        let v = f64::from(k) * 10f64.powi(e);
        let s = format!("{v:.3}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{k}·{}", power_of_ten(e))
    }
}

fn register_font() -> anyhow::Result<()> {
    static DONE: OnceLock<bool> = OnceLock::new();
    let ok = *DONE.get_or_init(|| {
        plotters::style::register_font("sans-serif", FontStyle::Normal, FONT).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(anyhow!("internal: the embedded font could not be loaded"))
    }
}

/// `1.5k`, `20M`, … for axis ticks.
fn si(v: f64) -> String {
    let a = v.abs();
    let (scaled, suffix) = if a >= 1e9 {
        (v / 1e9, "G")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let s = format!("{scaled:.2}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}{suffix}")
}

/// `10⁻³`-style label for a decade.
fn power_of_ten(exp: i32) -> String {
    const SUP: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let mut s = String::from("10");
    if exp < 0 {
        s.push('⁻');
    }
    for d in exp.unsigned_abs().to_string().bytes() {
        s.push(SUP[usize::from(d - b'0')]);
    }
    s
}

/// The corner of the plot crossed by the fewest points (the legend goes there).
fn legend_corner(
    curves: &[Vec<(f64, f64)>],
    (x0, x1): (f64, f64),
    (y0, y1): (f64, f64),
) -> SeriesLabelPosition {
    // (position, right half?, upper half?), in order of preference on ties.
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::LowerLeft, false, false),
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::UpperLeft, false, true),
    ];
    let mut counts = [0usize; 4];
    for &(a, b) in curves.iter().flatten() {
        let u = (a - x0) / (x1 - x0);
        let v = (b - y0) / (y1 - y0);
        for (k, &(_, right, upper)) in corners.iter().enumerate() {
            let in_x = if right { u > 0.55 } else { u < 0.45 };
            let in_y = if upper { v > 0.6 } else { v < 0.4 };
            counts[k] += usize::from(in_x && in_y);
        }
    }
    let best = (0..4).min_by_key(|&k| counts[k]).unwrap_or(0);
    corners[best].0.clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn si_suffixes() {
        assert_eq!(si(0.0), "0");
        assert_eq!(si(1500.0), "1.5k");
        assert_eq!(si(2_000_000.0), "2M");
        assert_eq!(si(12.5), "12.5");
    }

    #[test]
    fn decade_labels_use_superscripts() {
        assert_eq!(power_of_ten(0), "10⁰");
        assert_eq!(power_of_ten(-12), "10⁻¹²");
        assert_eq!(power_of_ten(3), "10³");
    }

    #[test]
    fn legend_avoids_the_data() {
        // A curve from the upper left to the lower right leaves the other two corners free.
        let falling: Vec<(f64, f64)> = (0..=100).map(|i| (i as f64, 100.0 - i as f64)).collect();
        let pos = legend_corner(&[falling], (0.0, 100.0), (0.0, 100.0));
        assert!(matches!(pos, SeriesLabelPosition::UpperRight), "{pos:?}");
        let rising: Vec<(f64, f64)> = (0..=100).map(|i| (i as f64, i as f64)).collect();
        let pos = legend_corner(&[rising], (0.0, 100.0), (0.0, 100.0));
        assert!(matches!(pos, SeriesLabelPosition::LowerRight), "{pos:?}");
    }

    #[test]
    fn the_embedded_font_loads() {
        register_font().unwrap();
    }

    #[test]
    fn log_ticks_label_decades_and_fill_in_short_spans() {
        let labels = |y0, y1| -> Vec<String> {
            log_ticks(y0, y1)
                .into_iter()
                .filter_map(|t| t.label)
                .collect()
        };
        assert_eq!(labels(-1.0, 0.0), ["10⁻¹", "0.2", "0.5", "10⁰"]);
        assert_eq!(
            labels(-6.0, -4.0),
            [
                "10⁻⁶",
                "2·10⁻⁶",
                "5·10⁻⁶",
                "10⁻⁵",
                "2·10⁻⁵",
                "5·10⁻⁵",
                "10⁻⁴"
            ]
        );
        let wide = labels(-30.0, 0.0);
        assert_eq!(wide.len(), 11, "{wide:?}"); // every 3rd decade
        assert!(
            log_ticks(-30.0, 0.0).len() == 31,
            "no light lines beyond 6 decades"
        );
        assert_eq!(log_ticks(-2.0, 0.0).len(), 3 + 2 * 8);
    }

    #[test]
    fn styles_differ_in_colour_and_dash_and_colours_stay_unique() {
        let s: Vec<_> = (0..24).map(style).collect();
        for i in 0..s.len() {
            for j in 0..i {
                assert_ne!(s[i].0, s[j].0, "{i} and {j} share a colour");
            }
        }
        assert_eq!(s[0].1, None);
        assert!(s[1..6].iter().all(|x| x.1.is_some()));
        assert_eq!(s[0].0, RGBColor(0, 114, 178));
    }
}
