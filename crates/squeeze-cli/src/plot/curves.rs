//! From runs to the curves drawn: y transformed (f − f*), runs that differ only in `seed`
//! merged into their mean with a min–max band, values checked for the log scale, points
//! thinned, legend names made distinct, and the caption of what every run shares.

use super::YAxis;
use super::draw::PlotSpec;
use super::run::Run;
use crate::fail::{CliResult, usage};

/// Most points drawn per curve (longer records are thinned evenly; the last point is kept).
const MAX_POINTS: usize = 2000;

/// One curve: a run, or the mean of a seed group with its min–max band.
#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// Legend entry.
    pub name: String,
    /// (x, y) in order.
    pub points: Vec<(f64, f64)>,
    /// (x, min y, max y) over the group's runs (seed groups of two or more).
    pub band: Option<Vec<(f64, f64, f64)>>,
}

/// What `build` needs from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The y quantity.
    pub y: YAxis,
    /// `--f-star`.
    pub f_star: Option<f64>,
    /// Log scale on y.
    pub log: bool,
    /// `--group-by-seed`.
    pub group_by_seed: bool,
}

/// The plot of `runs` (title, x label and caption choice are the caller's).
pub fn build(runs: Vec<Run>, opts: &Options) -> CliResult<PlotSpec> {
    if runs.is_empty() {
        return Err(usage("no runs to plot; give one or more RUN_DIR"));
    }
    // f*: the flag, else every run's summary.json.
    let f_star: Option<Vec<f64>> = match (opts.y, opts.f_star) {
        (YAxis::Loss, Some(f)) => Some(vec![f; runs.len()]),
        (YAxis::Loss, None) => runs.iter().map(|r| r.meta.f_star).collect(),
        _ => None,
    };
    let y_label = match (opts.y, &f_star) {
        (YAxis::GradNormSq, _) => "‖∇f(x)‖²",
        (YAxis::Loss, None) => "f(x)",
        (YAxis::Loss, Some(_)) => "f(x) − f*",
    };
    let mut runs = runs;
    if let Some(fs) = &f_star {
        for (r, f) in runs.iter_mut().zip(fs) {
            for p in &mut r.points {
                p.1 -= f;
            }
        }
    }
    disambiguate(&mut runs);
    let groups = if opts.group_by_seed {
        seed_groups(&runs)?
    } else {
        (0..runs.len()).map(|i| vec![i]).collect()
    };
    let mut curves = Vec::with_capacity(groups.len());
    for g in &groups {
        let members: Vec<&Run> = g.iter().map(|&i| &runs[i]).collect();
        let c = merge(&members)?;
        if opts.log {
            check_positive(&c, y_label)?;
        }
        curves.push(thin_curve(c, MAX_POINTS));
    }
    if curves.iter().all(|c| c.points.is_empty()) {
        return Err(usage(format!(
            "nothing to plot: the runs have no finite {} values",
            opts.y.column()
        )));
    }
    Ok(PlotSpec {
        curves,
        log: opts.log,
        y_label: y_label.to_string(),
        x_label: String::new(),
        title: None,
        caption: caption(&runs, &groups),
    })
}

/// Runs sharing a name (one config, different `--set`) get their directory appended.
fn disambiguate(runs: &mut [Run]) {
    let names: Vec<String> = runs.iter().map(|r| r.name.clone()).collect();
    for r in runs.iter_mut().filter(|r| !r.labelled) {
        if names.iter().filter(|n| **n == r.name).count() > 1 {
            r.name = format!("{} ({})", r.name, r.dir.display());
        }
    }
}

/// Indices of runs whose configurations differ only in `seed` (and `name`, `[run]`), in
/// order of first appearance.
fn seed_groups(runs: &[Run]) -> CliResult<Vec<Vec<usize>>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, r) in runs.iter().enumerate() {
        let Some(cfg) = &r.meta.config_but_seed else {
            return Err(usage(format!(
                "--group-by-seed: {} has no readable config.resolved.toml to compare",
                r.dir.display()
            )));
        };
        match groups
            .iter_mut()
            .find(|g| runs[g[0]].meta.config_but_seed.as_ref() == Some(cfg))
        {
            Some(g) => g.push(i),
            None => groups.push(vec![i]),
        }
    }
    Ok(groups)
}

/// One run as it is; several as the mean and the min–max band (records must align).
fn merge(members: &[&Run]) -> CliResult<Curve> {
    let finite = |&&(a, b): &&(f64, f64)| a.is_finite() && b.is_finite();
    let first = members[0];
    if members.len() == 1 {
        return Ok(Curve {
            name: first.name.clone(),
            points: first.points.iter().filter(finite).copied().collect(),
            band: None,
        });
    }
    for r in &members[1..] {
        if r.points.len() != first.points.len() {
            return Err(usage(format!(
                "--group-by-seed: {} has {} records and {} has {}; the runs of a seed group \
                 must have the same length (same stop rules, none diverged or still running)",
                first.dir.display(),
                first.points.len(),
                r.dir.display(),
                r.points.len()
            )));
        }
    }
    let k = members.len() as f64;
    let (mut points, mut band) = (Vec::new(), Vec::new());
    for i in 0..first.points.len() {
        let row: Vec<(f64, f64)> = members.iter().map(|r| r.points[i]).collect();
        if !row.iter().all(|p| finite(&p)) {
            continue;
        }
        let x = row.iter().map(|p| p.0).sum::<f64>() / k;
        let mean = row.iter().map(|p| p.1).sum::<f64>() / k;
        let lo = row.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi = row.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
        points.push((x, mean));
        band.push((x, lo, hi));
    }
    Ok(Curve {
        name: format!("{} (mean of {} seeds, min–max)", first.name, members.len()),
        points,
        band: Some(band),
    })
}

/// Every value on a log axis must be > 0.
fn check_positive(c: &Curve, y_label: &str) -> CliResult {
    let lows = c
        .points
        .iter()
        .map(|p| (p.0, p.1))
        .chain(c.band.iter().flatten().map(|b| (b.0, b.1)));
    for (x, y) in lows {
        if y <= 0.0 {
            let hint = if y_label.contains("f*") {
                "f* is above the loss reached: give a smaller --f-star, or --linear"
            } else {
                "plot it with --linear"
            };
            return Err(usage(format!(
                "{}: {y_label} = {y:e} ≤ 0 at x = {x} cannot be drawn on a log scale; {hint}",
                c.name
            )));
        }
    }
    Ok(())
}

/// At most `max` evenly strided indices of `len`, always keeping the first and the last.
fn thin_indices(len: usize, max: usize) -> Vec<usize> {
    if len <= max || max < 2 {
        return (0..len).collect();
    }
    let step = len.div_ceil(max - 1);
    let mut out: Vec<usize> = (0..len).step_by(step).collect();
    if out.last() != Some(&(len - 1)) {
        out.push(len - 1);
    }
    out
}

fn thin_curve(c: Curve, max: usize) -> Curve {
    let keep = thin_indices(c.points.len(), max);
    Curve {
        points: keep.iter().map(|&i| c.points[i]).collect(),
        band: c.band.map(|b| keep.iter().map(|&i| b[i]).collect()),
        name: c.name,
    }
}

/// What every run shares: method, compressor, n, stepsize, seeds, version.
fn caption(runs: &[Run], groups: &[Vec<usize>]) -> Option<String> {
    fn common<T: PartialEq + Clone>(runs: &[Run], f: impl Fn(&Run) -> Option<T>) -> Option<T> {
        let first = f(&runs[0])?;
        runs.iter()
            .all(|r| f(r).as_ref() == Some(&first))
            .then_some(first)
    }
    let mut parts = Vec::new();
    if let Some(m) = common(runs, |r| r.meta.method.clone()) {
        parts.push(format!("method {m}"));
    }
    if let Some(c) = common(runs, |r| r.meta.compressor.clone()) {
        parts.push(format!("compressor {c}"));
    }
    if let Some(n) = common(runs, |r| r.meta.n_workers) {
        parts.push(format!("n = {n}"));
    }
    if let Some(g) = common(runs, |r| r.meta.stepsize) {
        parts.push(format!("γ = {}", short(g)));
    }
    let sizes: Vec<usize> = groups.iter().map(Vec::len).collect();
    if sizes.iter().any(|&s| s > 1) {
        if sizes.iter().all(|&s| s == sizes[0]) {
            parts.push(format!("{} seeds per curve (mean, min–max band)", sizes[0]));
        } else {
            parts.push("mean and min–max band over seeds".to_string());
        }
    } else if let Some(s) = common(runs, |r| r.meta.seed) {
        parts.push(format!("seed {s}"));
    }
    if let Some(v) = common(runs, |r| r.meta.version.clone()) {
        parts.push(format!("squeeze {v}"));
    }
    (!parts.is_empty()).then(|| parts.join("  ·  "))
}

/// Four significant digits, scientific outside [10⁻³, 10⁴).
fn short(v: f64) -> String {
    if v != 0.0 && !(1e-3..1e4).contains(&v.abs()) {
        format!("{v:.3e}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
#[path = "curves_tests.rs"]
mod tests;
