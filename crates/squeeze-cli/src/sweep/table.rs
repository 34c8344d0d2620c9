//! From the runs of a sweep to its cells: the tuned choice per cell, the cost's median and
//! spread over seeds, whether the best cell is separated from the runner-up by more than that
//! spread, and the tables (`sweep.csv`, `sweep.md`).

use std::fmt::Write as _;
use std::path::PathBuf;

use super::spec::{Sweep, value_text};

/// How a run ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// ‖∇f‖² reached the tolerance.
    Reached,
    /// The run stopped (round limit, budget) above the tolerance.
    NotReached,
    /// The run failed (diverged, exploded): the message.
    Failed(String),
}

impl Outcome {
    fn label(&self) -> &'static str {
        match self {
            Outcome::Reached => "reached",
            Outcome::NotReached => "not_reached",
            Outcome::Failed(_) => "failed",
        }
    }
}

/// One run of the sweep.
#[derive(Debug, Clone)]
pub struct RunResult {
    /// The grid point (a value index per key).
    pub point: Vec<usize>,
    /// Seed.
    pub seed: u64,
    /// How it ended.
    pub outcome: Outcome,
    /// The cost at the round that reached the tolerance (`None` unless reached).
    pub cost: Option<f64>,
    /// Rounds run.
    pub rounds: Option<f64>,
    /// ‖∇f‖² of the last record.
    pub grad_norm_sq: Option<f64>,
    /// The run's directory, relative to the sweep's.
    pub dir: PathBuf,
}

impl RunResult {
    /// The cost, +∞ unless the tolerance was reached.
    fn cost_or_inf(&self) -> f64 {
        match self.outcome {
            Outcome::Reached => self.cost.unwrap_or(f64::INFINITY),
            _ => f64::INFINITY,
        }
    }
}

/// Median, minimum and maximum of costs (+∞ for runs that did not reach the tolerance).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    /// Median (the mean of the two middle values for an even count).
    pub median: f64,
    /// Minimum.
    pub min: f64,
    /// Maximum.
    pub max: f64,
    /// Runs that reached the tolerance.
    pub reached: usize,
    /// Runs.
    pub runs: usize,
}

impl Spread {
    /// The spread of `costs` (non-empty).
    pub fn of(costs: &[f64]) -> Spread {
        let mut v = costs.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            // ∞ + x = ∞: a median that needs an unreached run is unreached.
            0.5 * (v[n / 2 - 1] + v[n / 2])
        };
        Spread {
            median,
            min: v[0],
            max: v[n - 1],
            reached: v.iter().filter(|c| c.is_finite()).count(),
            runs: n,
        }
    }

    /// `(median, max)`: lower is better.
    fn key(&self) -> (f64, f64) {
        (self.median, self.max)
    }
}

/// A cell: one value of every untuned key, its tuned choice and the cost over the judged seeds.
#[derive(Debug, Clone)]
pub struct Cell {
    /// The grid point of the chosen tuned values.
    pub point: Vec<usize>,
    /// The cost over the judged seeds at that point.
    pub judged: Spread,
}

/// The cells of `runs`, in grid order: per cell the tuned values with the lowest median cost
/// over the tuning seeds (ties: lower maximum, then the first in grid order).
pub fn cells(sweep: &Sweep, runs: &[RunResult]) -> Vec<Cell> {
    let tuned: Vec<bool> = sweep
        .grid
        .iter()
        .map(|(k, _)| sweep.tune.contains(k))
        .collect();
    let untuned_part = |p: &[usize]| -> Vec<usize> {
        p.iter()
            .zip(&tuned)
            .filter(|(_, t)| !**t)
            .map(|(i, _)| *i)
            .collect()
    };
    let costs_at = |point: &[usize], seeds: &[u64]| -> Vec<f64> {
        seeds
            .iter()
            .map(|s| {
                runs.iter()
                    .find(|r| r.point == point && r.seed == *s)
                    .map_or(f64::INFINITY, RunResult::cost_or_inf)
            })
            .collect()
    };
    let mut out: Vec<(Vec<usize>, Cell, (f64, f64))> = Vec::new();
    for point in sweep.points() {
        let key = untuned_part(&point);
        let tuning = Spread::of(&costs_at(&point, &sweep.tune_seeds)).key();
        match out.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, cell, best)) => {
                if tuning < *best {
                    *best = tuning;
                    cell.point = point;
                }
            }
            None => out.push((
                key,
                Cell {
                    point,
                    judged: Spread::of(&[0.0]),
                },
                tuning,
            )),
        }
    }
    out.into_iter()
        .map(|(_, mut cell, _)| {
            cell.judged = Spread::of(&costs_at(&cell.point, &sweep.judge_seeds));
            cell
        })
        .collect()
}

/// A number for a table: integers as integers, others with 4 significant digits; `—` for +∞.
pub fn num(v: f64) -> String {
    if v.is_infinite() {
        "—".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{v:.0}")
    } else if (1e-3..1e6).contains(&v.abs()) {
        format!("{}", (v * 1e4).round() / 1e4)
    } else {
        format!("{v:.3e}")
    }
}

/// What the best cell's lead amounts to, given the spread over seeds.
pub fn verdict(sweep: &Sweep, cells: &[Cell]) -> String {
    let mut order: Vec<&Cell> = cells.iter().collect();
    order.sort_by(|a, b| {
        a.judged
            .key()
            .partial_cmp(&b.judged.key())
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    let Some(best) = order.first() else {
        return "No cell.".into();
    };
    if !best.judged.median.is_finite() {
        return "No cell reached the tolerance on most judged seeds.".into();
    }
    let describe = |c: &Cell| describe_point(sweep, &c.point);
    let Some(second) = order.get(1) else {
        return format!(
            "One cell: {} (median {}).",
            describe(best),
            num(best.judged.median)
        );
    };
    let lead = if second.judged.median.is_finite() {
        format!(
            "{:.1} % below the runner-up {} (median {})",
            100.0 * (1.0 - best.judged.median / second.judged.median),
            describe(second),
            num(second.judged.median)
        )
    } else {
        format!(
            "the runner-up {} did not reach the tolerance",
            describe(second)
        )
    };
    let separated = best.judged.max < second.judged.min;
    format!(
        "Best cell: {} (median {} over {} judged seed{}), {lead}. {}",
        describe(best),
        num(best.judged.median),
        best.judged.runs,
        if best.judged.runs == 1 { "" } else { "s" },
        if separated {
            "Separated: the best cell's worst seed beats the runner-up's best seed."
        } else {
            "Within the spread over seeds: the best cell's worst seed does not beat the \
             runner-up's best seed, so the ranking of these two is not settled by this sweep."
        }
    )
}

/// `key=value, …` of a grid point.
pub fn describe_point(sweep: &Sweep, point: &[usize]) -> String {
    sweep
        .grid
        .iter()
        .zip(point)
        .map(|((k, v), &i)| format!("{k}={}", value_text(&v[i])))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `sweep.csv`: one row per run.
pub fn runs_csv(sweep: &Sweep, runs: &[RunResult]) -> anyhow::Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = sweep.grid.iter().map(|(k, _)| k.clone()).collect();
    header.extend(
        [
            "seed",
            "outcome",
            "rounds",
            sweep.target.x.name(),
            "grad_norm_sq",
            "dir",
            "error",
        ]
        .map(String::from),
    );
    w.write_record(&header)?;
    for r in runs {
        let mut row: Vec<String> = sweep
            .grid
            .iter()
            .zip(&r.point)
            .map(|((_, v), &i)| value_text(&v[i]))
            .collect();
        let opt = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_default();
        row.push(r.seed.to_string());
        row.push(r.outcome.label().into());
        row.push(opt(r.rounds));
        row.push(opt(r.cost));
        row.push(opt(r.grad_norm_sq));
        row.push(r.dir.display().to_string());
        row.push(match &r.outcome {
            Outcome::Failed(m) => m.clone(),
            _ => String::new(),
        });
        w.write_record(&row)?;
    }
    Ok(w.into_inner()?)
}

/// `sweep.md`: the protocol, the cells, the verdict and (for two untuned keys) the 2-D table.
pub fn markdown(sweep: &Sweep, cells: &[Cell]) -> String {
    let mut s = String::new();
    let seeds = |v: &[u64]| v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ");
    let _ = writeln!(s, "# Sweep `{}`\n", sweep.name);
    let _ = writeln!(
        s,
        "Base configuration `{}`; each run stops at ‖∇f‖² ≤ {:e} (checked on logged rounds); \
         cost: {} at that round. Seeds {}{}.",
        sweep.config.display(),
        sweep.target.grad_norm_sq,
        sweep.target.x.name(),
        seeds(&sweep.seeds),
        if sweep.tune.is_empty() {
            String::new()
        } else if sweep.tune_seeds == sweep.judge_seeds {
            format!(
                "; tuned per cell: {} (lowest median over all seeds)",
                sweep.tune.join(", ")
            )
        } else {
            format!(
                "; tuned per cell: {} on seeds {}, judged on seeds {}",
                sweep.tune.join(", "),
                seeds(&sweep.tune_seeds),
                seeds(&sweep.judge_seeds)
            )
        }
    );
    let _ = writeln!(s, "\n{}\n", verdict(sweep, cells));
    let keys: Vec<&str> = sweep.grid.iter().map(|(k, _)| k.as_str()).collect();
    let _ = writeln!(s, "| {} | median | min | max | reached |", keys.join(" | "));
    let _ = writeln!(s, "|{}", "---|".repeat(keys.len() + 4));
    for c in cells {
        let values: Vec<String> = sweep
            .grid
            .iter()
            .zip(&c.point)
            .map(|((_, v), &i)| value_text(&v[i]))
            .collect();
        let j = &c.judged;
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {}/{} |",
            values.join(" | "),
            num(j.median),
            num(j.min),
            num(j.max),
            j.reached,
            j.runs
        );
    }
    if let Some((rows, cols)) = layout(sweep) {
        s.push_str(&two_d(sweep, cells, rows, cols));
    }
    s
}

/// The row and column key indices of the 2-D table, if there is one.
fn layout(sweep: &Sweep) -> Option<(usize, usize)> {
    let index = |k: &str| sweep.grid.iter().position(|(g, _)| g == k);
    if let Some(l) = &sweep.table {
        return Some((index(&l.rows)?, index(&l.columns)?));
    }
    let untuned: Vec<usize> = (0..sweep.grid.len())
        .filter(|&i| !sweep.tune.contains(&sweep.grid[i].0))
        .collect();
    match untuned[..] {
        [a, b] => Some((a, b)),
        _ => None,
    }
}

fn two_d(sweep: &Sweep, cells: &[Cell], rows: usize, cols: usize) -> String {
    let (rk, rv) = &sweep.grid[rows];
    let (ck, cv) = &sweep.grid[cols];
    let mut s = format!(
        "\n{} (rows) × {} (columns): median [min–max] of {} over the judged seeds; other untuned \
         keys at their best cell.\n\n| | {} |\n|{}\n",
        rk,
        ck,
        sweep.target.x.name(),
        cv.iter().map(value_text).collect::<Vec<_>>().join(" | "),
        "---|".repeat(cv.len() + 1)
    );
    for (ri, r) in rv.iter().enumerate() {
        let mut line = format!("| **{}** |", value_text(r));
        for ci in 0..cv.len() {
            let best = cells
                .iter()
                .filter(|c| c.point[rows] == ri && c.point[cols] == ci)
                .min_by(|a, b| {
                    a.judged
                        .key()
                        .partial_cmp(&b.judged.key())
                        .unwrap_or(std::cmp::Ordering::Equal)
                });
            let text = best.map_or("".into(), |c| {
                let j = &c.judged;
                if j.median.is_finite() {
                    format!("{} [{}–{}]", num(j.median), num(j.min), num(j.max))
                } else {
                    format!("— ({}/{} reached)", j.reached, j.runs)
                }
            });
            let _ = write!(line, " {text} |");
        }
        s.push_str(&line);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_counts_unreached_runs_as_infinite() {
        let s = Spread::of(&[3.0, 1.0, 2.0]);
        assert_eq!((s.median, s.min, s.max, s.reached), (2.0, 1.0, 3.0, 3));
        let s = Spread::of(&[4.0, 1.0, f64::INFINITY, 2.0]);
        assert_eq!(
            (s.median, s.max, s.reached, s.runs),
            (3.0, f64::INFINITY, 3, 4)
        );
        let s = Spread::of(&[1.0, f64::INFINITY]);
        assert!(s.median.is_infinite());
    }

    #[test]
    fn numbers_print_for_tables() {
        assert_eq!(num(66375.0), "66375");
        assert_eq!(num(12.34567), "12.3457");
        assert_eq!(num(1.5e-9), "1.500e-9");
        assert_eq!(num(f64::INFINITY), "—");
    }
}
