//! `squeeze plot`: ‖∇f‖² or f (log scale; f − f* with `--f-star`) against bits/n, rounds,
//! gradient samples or 32-bit-convention bits, for several runs, into `STEM.svg` and
//! `STEM.png` — curves told apart by colour (Okabe–Ito, colour-blind safe) *and* dash pattern,
//! labels from `--label`, runs that differ only in `seed` drawn as their mean with a min–max
//! band (`--group-by-seed`), and a caption with what the runs share (method, compressor, n,
//! stepsize, seeds).
//!
//! Both files come from the same drawing code. The PNG is rasterised in pure Rust (plotters'
//! bitmap backend, text through `ab_glyph`) with DejaVu Sans embedded in the binary
//! (`assets/DejaVuSans.ttf`, Bitstream Vera licence in `assets/LICENSE-DejaVu.txt`), so PNG
//! output needs no fontconfig, freetype or installed fonts. The SVG names the font family
//! `sans-serif` and lets the viewer render the text (its layout is measured with the same
//! embedded font); its dashed curves carry `stroke-dasharray`.

mod curves;
mod draw;
mod run;

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::fail::{CliResult, runtime, usage};

pub use self::curves::Curve;
use self::run::Run;

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
    /// ‖∇f(x)‖².
    #[value(name = "grad_norm_sq")]
    GradNormSq,
    /// f(x), or f(x) − f* when f* is known (`--f-star`, or `f_star` in summary.json).
    Loss,
}

impl YAxis {
    fn column(self) -> &'static str {
        match self {
            YAxis::GradNormSq => "grad_norm_sq",
            YAxis::Loss => "loss",
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
    /// Quantity on the y axis (default grad_norm_sq; loss when --f-star is given).
    #[arg(long, value_enum)]
    pub y: Option<YAxis>,
    /// Plot f(x) − f* for this optimal value f* (implies --y loss).
    #[arg(long, value_name = "VALUE", allow_hyphen_values = true)]
    pub f_star: Option<f64>,
    /// A linear y axis instead of the log scale.
    #[arg(long)]
    pub linear: bool,
    /// Legend label: `NAME` for the runs in order, or `RUN_DIR=NAME` (repeat the flag).
    #[arg(long, value_name = "NAME|RUN_DIR=NAME")]
    pub label: Vec<String>,
    /// Draw runs whose configurations differ only in `seed` as one curve: the mean and a
    /// shaded min–max band.
    #[arg(long)]
    pub group_by_seed: bool,
    /// Output file stem: writes STEM.svg and STEM.png (default: RUN_DIR/plot for one run,
    /// ./plot for several).
    #[arg(long, value_name = "FILE_STEM")]
    pub out: Option<PathBuf>,
    /// Title above the plot.
    #[arg(long)]
    pub title: Option<String>,
    /// No caption line (method, compressor, n, stepsize, seeds) under the plot.
    #[arg(long)]
    pub no_caption: bool,
}

/// Run `squeeze plot`.
pub fn plot(args: PlotArgs) -> CliResult {
    let y = match (args.y, args.f_star) {
        (Some(YAxis::GradNormSq), Some(_)) => {
            return Err(usage(
                "--f-star applies to the loss: use --y loss (or leave --y out)",
            ));
        }
        (Some(y), _) => y,
        (None, Some(_)) => YAxis::Loss,
        (None, None) => YAxis::GradNormSq,
    };
    if let Some(f) = args.f_star
        && !f.is_finite()
    {
        return Err(usage(format!("--f-star {f}: give a finite number")));
    }
    let labels = assign_labels(&args.runs, &args.label)?;
    let runs = args
        .runs
        .iter()
        .zip(labels)
        .map(|(d, label)| Run::read(d, args.x, y, label))
        .collect::<CliResult<Vec<_>>>()?;
    let spec = curves::build(
        runs,
        &curves::Options {
            y,
            f_star: args.f_star,
            log: !args.linear,
            group_by_seed: args.group_by_seed,
        },
    )?;
    let spec = draw::PlotSpec {
        title: args.title.clone(),
        caption: if args.no_caption {
            None
        } else {
            spec.caption.clone()
        },
        x_label: args.x.label().to_string(),
        ..spec
    };
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
    let svg = with_ext(&stem, "svg");
    let png = with_ext(&stem, "png");
    let text = spec
        .svg()
        .map_err(|e| runtime(format!("cannot draw {}: {e:#}", svg.display())))?;
    std::fs::write(&svg, text)
        .map_err(|e| runtime(format!("cannot write {}: {e}", svg.display())))?;
    spec.png(&png)
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

/// Each run's `--label`: `RUN_DIR=NAME` for the run given as `RUN_DIR`, a plain `NAME` for
/// the next run in order that has none.
fn assign_labels(runs: &[PathBuf], labels: &[String]) -> CliResult<Vec<Option<String>>> {
    let mut out: Vec<Option<String>> = vec![None; runs.len()];
    let same = |a: &Path, b: &Path| {
        a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
    };
    let mut plain = Vec::new();
    for l in labels {
        let mapped = l.split_once('=').and_then(|(dir, name)| {
            let i = runs.iter().position(|r| same(r, Path::new(dir)))?;
            Some((i, name))
        });
        match mapped {
            Some((i, name)) => {
                if out[i].is_some() {
                    return Err(usage(format!(
                        "--label {l}: {} has a label already; give one per run",
                        runs[i].display()
                    )));
                }
                out[i] = Some(name.to_string());
            }
            None => plain.push(l.clone()),
        }
    }
    let mut free = (0..runs.len())
        .filter(|&i| out[i].is_none())
        .collect::<Vec<_>>();
    if plain.len() > free.len() {
        return Err(usage(format!(
            "{} labels for {} runs; give at most one --label per run (RUN_DIR=NAME names the run)",
            labels.len(),
            runs.len()
        )));
    }
    for (name, i) in plain.into_iter().zip(free.drain(..)) {
        out[i] = Some(name);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_go_in_order_or_by_directory() {
        let runs = [PathBuf::from("a"), PathBuf::from("b"), PathBuf::from("c")];
        let l =
            |v: &[&str]| assign_labels(&runs, &v.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            l(&["A", "B"]).unwrap(),
            [Some("A".into()), Some("B".into()), None]
        );
        assert_eq!(
            l(&["c=C", "A"]).unwrap(),
            [Some("A".into()), None, Some("C".into())]
        );
        // `=` in a name that is not a directory is part of the name.
        assert_eq!(l(&["γ=0.1"]).unwrap()[0].as_deref(), Some("γ=0.1"));
        let e = l(&["1", "2", "3", "4"]).unwrap_err();
        assert!(
            e.error.to_string().contains("4 labels for 3 runs"),
            "{:#}",
            e.error
        );
        let e = l(&["a=x", "a=y"]).unwrap_err();
        assert!(
            e.error.to_string().contains("has a label already"),
            "{:#}",
            e.error
        );
    }
}
