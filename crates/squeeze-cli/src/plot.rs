//! `squeeze plot`: ‖∇f‖² (log scale) or f against bits/n, rounds, gradient samples or
//! 32-bit-convention bits, for several runs, into `STEM.svg` and `STEM.png`.
//!
//! Both files come from the same drawing code. The PNG is rasterised in pure Rust (plotters'
//! bitmap backend, text through `ab_glyph`) with DejaVu Sans embedded in the binary
//! (`assets/DejaVuSans.ttf`, Bitstream Vera licence in `assets/LICENSE-DejaVu.txt`), so PNG
//! output needs no fontconfig, freetype or installed fonts. The SVG names the font family
//! `sans-serif` and lets the viewer render the text (its layout is measured with the same
//! embedded font).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::anyhow;
use clap::{Args, ValueEnum};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::fail::{CliResult, runtime, usage};
use crate::output::{CONFIG_RESOLVED, RECORDS_CSV, SUMMARY, SummaryFile};

/// The font used for text in PNG files.
static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Most points drawn per run (longer records are thinned evenly; the last point is kept).
const MAX_POINTS: usize = 2000;

/// Image size in pixels (PNG) or user units (SVG).
const SIZE: (u32, u32) = (1000, 640);

/// What goes on the x axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum XAxis {
    /// Mean uplink bits per worker (exact encoded bits): the papers' "#bits/n".
    Bits,
    /// Communication rounds.
    Rounds,
    /// Gradient work in samples.
    #[value(name = "grad_samples")]
    GradSamples,
    /// Uplink bits per worker at 32 bits per transmitted value (the EF21 papers' convention).
    Bits32,
}

impl XAxis {
    fn column(self) -> &'static str {
        match self {
            XAxis::Bits => "bits_up_per_worker",
            XAxis::Rounds => "round",
            XAxis::GradSamples => "grad_samples",
            XAxis::Bits32 => "bits_up_values32_per_worker",
        }
    }
    fn label(self) -> &'static str {
        match self {
            XAxis::Bits => "uplink bits per worker (#bits/n)",
            XAxis::Rounds => "communication rounds",
            XAxis::GradSamples => "gradient samples",
            XAxis::Bits32 => "uplink bits per worker, 32 bits per value (#bits/n)",
        }
    }
}

/// What goes on the y axis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum YAxis {
    /// ‖∇f(x)‖², log scale.
    #[value(name = "grad_norm_sq")]
    GradNormSq,
    /// f(x), linear scale.
    Loss,
}

impl YAxis {
    fn column(self) -> &'static str {
        match self {
            YAxis::GradNormSq => "grad_norm_sq",
            YAxis::Loss => "loss",
        }
    }
    fn label(self) -> &'static str {
        match self {
            YAxis::GradNormSq => "‖∇f(x)‖²",
            YAxis::Loss => "f(x)",
        }
    }
}

/// Arguments of `squeeze plot`.
#[derive(Debug, Args)]
pub struct PlotArgs {
    /// Run directories written by `squeeze run` (each holds records.csv).
    #[arg(required = true, value_name = "RUN_DIR")]
    pub runs: Vec<PathBuf>,
    /// Quantity on the x axis.
    #[arg(long, value_enum, default_value_t = XAxis::Bits)]
    pub x: XAxis,
    /// Quantity on the y axis.
    #[arg(long, value_enum, default_value_t = YAxis::GradNormSq)]
    pub y: YAxis,
    /// Output file stem: writes STEM.svg and STEM.png (default: RUN_DIR/plot for one run,
    /// ./plot for several).
    #[arg(long, value_name = "FILE_STEM")]
    pub out: Option<PathBuf>,
    /// Title above the plot.
    #[arg(long)]
    pub title: Option<String>,
}

/// One run's curve.
#[derive(Debug, Clone)]
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
}

/// Run `squeeze plot`.
pub fn plot(args: PlotArgs) -> CliResult {
    let mut series = args
        .runs
        .iter()
        .map(|d| read_run(d, args.x, args.y))
        .collect::<CliResult<Vec<_>>>()?;
    // Runs started from one config with different --set share a name: add the directory.
    let names: Vec<String> = series.iter().map(|s| s.name.clone()).collect();
    for (s, dir) in series.iter_mut().zip(&args.runs) {
        if names.iter().filter(|n| **n == s.name).count() > 1 {
            s.name = format!("{} ({})", s.name, dir.display());
        }
    }
    let stem = match (&args.out, args.runs.as_slice()) {
        (Some(s), _) => s.clone(),
        (None, [one]) => one.join("plot"),
        (None, _) => PathBuf::from("plot"),
    };
    if let Some(parent) = stem.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            usage(format!(
                "cannot create {} for the plot: {e}; choose another --out",
                parent.display()
            ))
        })?;
    }
    let spec = PlotSpec {
        series,
        x: args.x,
        y: args.y,
        title: args.title.clone(),
    };
    let svg = with_ext(&stem, "svg");
    let png = with_ext(&stem, "png");
    // Text layout (both backends) and PNG rasterisation use the embedded font.
    register_font().map_err(runtime)?;
    spec.render(SVGBackend::new(&svg, SIZE).into_drawing_area())
        .map_err(|e| runtime(format!("cannot draw {}: {e:#}", svg.display())))?;
    spec.render(BitMapBackend::new(&png, SIZE).into_drawing_area())
        .map_err(|e| runtime(format!("cannot draw {}: {e:#}", png.display())))?;
    crate::console::out(&format!("wrote {} and {}\n", svg.display(), png.display()))?;
    Ok(())
}

fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    let mut s = stem.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
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

/// The run's display name: summary.json, else config.resolved.toml, else the directory name.
fn run_name(dir: &Path) -> String {
    if let Ok(text) = std::fs::read_to_string(dir.join(SUMMARY))
        && let Ok(s) = serde_json::from_str::<SummaryFile>(&text)
    {
        return s.name;
    }
    if let Ok(text) = std::fs::read_to_string(dir.join(CONFIG_RESOLVED))
        && let Ok(t) = text.parse::<toml::Table>()
        && let Some(n) = t.get("name").and_then(|v| v.as_str())
    {
        return n.to_string();
    }
    dir.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string())
}

fn read_run(dir: &Path, x: XAxis, y: YAxis) -> CliResult<Series> {
    let path = dir.join(RECORDS_CSV);
    if !path.is_file() {
        return Err(usage(format!(
            "{}: no {RECORDS_CSV}; give directories written by `squeeze run`",
            dir.display()
        )));
    }
    let mut reader = csv::Reader::from_path(&path)
        .map_err(|e| usage(format!("cannot read {}: {e}", path.display())))?;
    let headers = reader
        .headers()
        .map_err(|e| usage(format!("{}: {e}", path.display())))?
        .clone();
    let col = |name: &str| {
        headers.iter().position(|h| h == name).ok_or_else(|| {
            usage(format!(
                "{}: no column '{name}'; is it a squeeze records file?",
                path.display()
            ))
        })
    };
    let (xi, yi) = (col(x.column())?, col(y.column())?);
    let mut points = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let row = match row {
            Ok(r) => r,
            // A killed run may leave a half-written last line: plot what is complete.
            Err(_) => break,
        };
        let get = |j: usize| row.get(j).and_then(|v| v.parse::<f64>().ok());
        match (get(xi), get(yi)) {
            (Some(a), Some(b)) => points.push((a, b)),
            _ => {
                return Err(usage(format!(
                    "{}: row {} is not numeric",
                    path.display(),
                    i + 2
                )));
            }
        }
    }
    Ok(Series {
        name: run_name(dir),
        points: thin(points, MAX_POINTS),
    })
}

/// At most `max` points, evenly strided, always keeping the first and the last.
fn thin(points: Vec<(f64, f64)>, max: usize) -> Vec<(f64, f64)> {
    if points.len() <= max || max < 2 {
        return points;
    }
    let step = points.len().div_ceil(max - 1);
    let last = *points.last().unwrap_or(&(0.0, 0.0));
    let mut out: Vec<_> = points.into_iter().step_by(step).collect();
    if out.last() != Some(&last) {
        out.push(last);
    }
    out
}

/// Ten distinct colours (the "tab10" palette).
const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

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

struct PlotSpec {
    series: Vec<Series>,
    x: XAxis,
    y: YAxis,
    title: Option<String>,
}

impl PlotSpec {
    /// Whether y is drawn as log₁₀ y (‖∇f‖²) or as is (f).
    fn log_y(&self) -> bool {
        self.y == YAxis::GradNormSq
    }

    /// The plotted points of each series: finite, y > 0 on the log axis, y as log₁₀ y there.
    fn plotted(&self) -> Vec<Vec<(f64, f64)>> {
        let log = self.log_y();
        self.series
            .iter()
            .map(|s| {
                s.points
                    .iter()
                    .filter(|&&(a, b)| a.is_finite() && b.is_finite() && (!log || b > 0.0))
                    .map(|&(a, b)| (a, if log { b.log10() } else { b }))
                    .collect()
            })
            .collect()
    }

    fn render<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static,
    {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e}");
        let curves = self.plotted();
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for &(a, b) in curves.iter().flatten() {
            x0 = x0.min(a);
            x1 = x1.max(a);
            y0 = y0.min(b);
            y1 = y1.max(b);
        }
        if x0 > x1 {
            return Err(anyhow!(
                "nothing to plot: the runs have no finite{} {} values",
                if self.log_y() { ", positive" } else { "" },
                self.y.column()
            ));
        }
        let x0 = x0.min(0.0);
        let x1 = if x1 > x0 { x1 } else { x0 + 1.0 };
        let (y0, y1) = if self.log_y() {
            // Whole decades around the data.
            let (lo, hi) = (y0.floor(), y1.ceil());
            (lo, if hi > lo { hi } else { lo + 1.0 })
        } else {
            let pad = ((y1 - y0) * 0.05).max(1e-12 * y1.abs().max(1.0));
            (y0 - pad, y1 + pad)
        };

        root.fill(&WHITE).map_err(e)?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .margin(18)
            .x_label_area_size(52)
            .y_label_area_size(78);
        if let Some(t) = &self.title {
            builder.caption(t, ("sans-serif", 24));
        }
        let mut chart = builder.build_cartesian_2d(x0..x1, y0..y1).map_err(e)?;
        let x_fmt = |v: &f64| si(*v);
        let log = self.log_y();
        let decades = (y1 - y0).round() as usize;
        let decimals = (2 - (y1 - y0).log10().floor() as i32).clamp(0, 12) as usize;
        let y_fmt = move |v: &f64| {
            if !log {
                let s = format!("{v:.decimals$}");
                if s.contains('.') {
                    s.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    s
                }
            } else if (v - v.round()).abs() < 1e-9 {
                power_of_ten(v.round() as i32)
            } else {
                String::new()
            }
        };
        let mut mesh = chart.configure_mesh();
        mesh.x_desc(self.x.label())
            .y_desc(self.y.label())
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 18))
            .light_line_style(RGBColor(238, 238, 238))
            .bold_line_style(RGBColor(205, 205, 205));
        if log {
            // Ticks on whole decades: at most ~12 labels, every k-th decade.
            let step = decades.div_ceil(12).max(1);
            mesh.y_labels(decades / step + 1);
        }
        mesh.draw().map_err(e)?;
        for (i, (s, pts)) in self.series.iter().zip(&curves).enumerate() {
            let color = COLORS[i % COLORS.len()];
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), color.stroke_width(2)))
                .map_err(e)?
                .label(s.name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 24, y)], color.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(legend_corner(&curves, (x0, x1), (y0, y1)))
            .label_font(("sans-serif", 16))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(160, 160, 160))
            .draw()
            .map_err(e)?;
        root.present().map_err(e)?;
        Ok(())
    }
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
    fn thin_keeps_first_and_last_and_bounds_the_count() {
        let pts: Vec<(f64, f64)> = (0..10_001).map(|i| (i as f64, 1.0)).collect();
        let t = thin(pts, 2000);
        assert!(t.len() <= 2001, "{}", t.len());
        assert_eq!(t[0].0, 0.0);
        assert_eq!(t.last().unwrap().0, 10_000.0);
        let few = thin(vec![(1.0, 2.0)], 2000);
        assert_eq!(few, vec![(1.0, 2.0)]);
    }

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
}
