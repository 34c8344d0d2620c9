//! Per-round records: what every run writes (CSV, and JSON lines when asked) and plots read.

use serde::{Deserialize, Serialize};

use crate::engine::{Metrics, Totals};

/// One row of a run's record. Counters are cumulative from the start of the run.
///
/// `bits_up_per_worker` is the papers' "#bits/n" (exact encoded bits, mean over workers);
/// `bits_up_values32_per_worker` and `bits_up_values64_per_worker` redraw the EF21-paper and
/// 3PC/MoTEF conventions. Everything but `wall_time_s` is bit-identical across thread counts
/// and across checkpoint/resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    /// Rounds completed (0 = the initial point).
    pub round: u64,
    /// Mean uplink bits per worker (exact).
    pub bits_up_per_worker: f64,
    /// Largest uplink bits of any worker (exact).
    pub bits_up_max: u64,
    /// Downlink bits each worker received (exact).
    pub bits_down_per_worker: u64,
    /// Mean uplink bits per worker at 32 bits per transmitted value.
    pub bits_up_values32_per_worker: f64,
    /// Mean uplink bits per worker at 64 bits per transmitted entry.
    pub bits_up_values64_per_worker: f64,
    /// Coordinates sent uplink, all workers.
    pub entries_up: u64,
    /// Gradient work in samples (epochs = grad_samples / N).
    pub grad_samples: u64,
    /// f(x).
    pub loss: f64,
    /// ‖∇f(x)‖².
    pub grad_norm_sq: f64,
    /// Gossip: mean over nodes of the bits summed over each node's outgoing links (0 for star).
    #[serde(default)]
    pub bits_links_per_node: f64,
    /// Gossip: consensus error (1/n) Σ‖x_i − x̄‖² (0 for star).
    #[serde(default)]
    pub consensus_error: f64,
    /// AdaCGD: cumulative uplink level histogram, (worker, round) pairs per level — skipped,
    /// rung 1, …, rung m (sums to round × n); empty for other methods. CSV: one column,
    /// counts separated by `;`.
    #[serde(default)]
    pub levels: Vec<u64>,
    /// Bidirectional AdaCGD: cumulative downlink level histogram (rounds per level); empty
    /// otherwise. CSV: like `levels`.
    #[serde(default)]
    pub levels_down: Vec<u64>,
    /// MPI runs: uplink (gossip: node-to-node) frame bytes handed to MPI, headers included,
    /// since the start (0 in process; see `Totals::wire_bytes_up`).
    #[serde(default)]
    pub wire_bytes_up: u64,
    /// MPI runs: downlink bytes measured on the wire, per broadcast, frame header included
    /// (0 in process).
    #[serde(default)]
    pub wire_bytes_down: u64,
    /// Seconds since the run started (resumed runs continue the clock).
    pub wall_time_s: f64,
}

impl RoundRecord {
    /// Build from counters and metrics.
    pub fn new(totals: &Totals, metrics: Metrics, wall_time_s: f64) -> Self {
        let n = totals.bits_up.len().max(1) as f64;
        Self {
            round: totals.rounds,
            bits_up_per_worker: totals.bits_up_per_worker(),
            bits_up_max: totals.bits_up_max(),
            bits_down_per_worker: totals.bits_down_per_worker,
            bits_up_values32_per_worker: totals.bits_up_values32 as f64 / n,
            bits_up_values64_per_worker: totals.bits_up_values64 as f64 / n,
            entries_up: totals.entries_up,
            grad_samples: totals.grad_samples,
            loss: metrics.loss,
            grad_norm_sq: metrics.grad_norm_sq,
            bits_links_per_node: totals.bits_links as f64 / n,
            consensus_error: metrics.consensus_error,
            levels: totals.levels.clone(),
            levels_down: totals.levels_down.clone(),
            wire_bytes_up: totals.wire_bytes_up,
            wire_bytes_down: totals.wire_bytes_down,
            wall_time_s,
        }
    }

    /// Equal in everything but wall time and the measured wire bytes: what an MPI run
    /// guarantees against the same run in process.
    pub fn same_trajectory_as_in_process(&self, other: &Self) -> bool {
        let mut a = self.clone();
        a.wire_bytes_up = other.wire_bytes_up;
        a.wire_bytes_down = other.wire_bytes_down;
        a.same_trajectory(other)
    }

    /// Equal in everything but wall time (what determinism and resume guarantee).
    pub fn same_trajectory(&self, other: &Self) -> bool {
        let mut a = self.clone();
        a.wall_time_s = other.wall_time_s;
        a.loss.to_bits() == other.loss.to_bits()
            && a.grad_norm_sq.to_bits() == other.grad_norm_sq.to_bits()
            && a.consensus_error.to_bits() == other.consensus_error.to_bits()
            && a == *other
    }

    /// One CSV line (no newline): [`Self::csv_fields`] joined by commas.
    ///
    /// ```
    /// use squeeze_driver::RoundRecord;
    /// let line = "3,78.5,80,1924,32,64,10,1138,0.25,1e-300,0,0,1;2;0,,0,0,0.5";
    /// let r = RoundRecord::from_csv_fields(line.split(',')).unwrap();
    /// assert_eq!((r.round, r.levels.clone(), r.grad_norm_sq), (3, vec![1, 2, 0], 1e-300));
    /// // Floats are written in full (no exponent) and read back exactly.
    /// let again = RoundRecord::from_csv_fields(r.csv_row().split(',')).unwrap();
    /// assert!(again.same_trajectory(&r) && again.wall_time_s == 0.5);
    /// ```
    pub fn csv_row(&self) -> String {
        self.csv_fields().join(",")
    }

    /// Read a record from its CSV fields (the inverse of [`Self::csv_fields`]; floats parse
    /// back exactly).
    pub fn from_csv_fields<'a>(
        fields: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, CsvRecordError> {
        let fields: Vec<&str> = fields.into_iter().collect();
        if fields.len() != Self::CSV_COLUMNS.len() {
            return Err(CsvRecordError::Columns {
                got: fields.len(),
                want: Self::CSV_COLUMNS.len(),
            });
        }
        Self::from_columns(&fields)
    }
}

/// The columns of `records.csv`: [`RoundRecord`]'s fields in this order, each of kind `num`
/// (written with `Display`, read with `FromStr`) or `counts` (a level histogram, counts joined
/// by `;`). The one list behind [`RoundRecord::CSV_COLUMNS`], [`RoundRecord::CSV_HEADER`],
/// [`RoundRecord::csv_fields`] and [`RoundRecord::from_csv_fields`].
macro_rules! csv_columns {
    ($first:ident: $first_kind:ident $(, $field:ident: $kind:ident)* $(,)?) => {
        impl RoundRecord {
            /// The CSV column names, in order (the header of `records.csv`).
            pub const CSV_COLUMNS: [&'static str; Self::N_COLUMNS] =
                [stringify!($first) $(, stringify!($field))*];

            /// CSV header matching [`RoundRecord::csv_row`] ([`Self::CSV_COLUMNS`] joined by
            /// commas).
            pub const CSV_HEADER: &'static str =
                concat!(stringify!($first) $(, ",", stringify!($field))*);

            const N_COLUMNS: usize = [stringify!($first) $(, stringify!($field))*].len();

            /// The CSV fields, in [`Self::CSV_COLUMNS`] order: integers in decimal, floats in
            /// the shortest text that parses back to the same `f64` (Rust's `Display`: `0`
            /// rather than `0.0`, no exponent), level histograms as counts joined by `;`. A
            /// CSV writer quotes none of them (no field holds a comma, quote or line break).
            pub fn csv_fields(&self) -> [String; Self::N_COLUMNS] {
                [write::$first_kind(&self.$first) $(, write::$kind(&self.$field))*]
            }

            /// The record of `f`, a row of exactly [`Self::N_COLUMNS`] fields.
            fn from_columns(f: &[&str]) -> Result<Self, CsvRecordError> {
                let mut next = 0;
                let mut column = || {
                    next += 1;
                    next - 1
                };
                Ok(Self {
                    $first: read::$first_kind(f, column())?,
                    $($field: read::$kind(f, column())?,)*
                })
            }
        }
    };
}

csv_columns! {
    round: num,
    bits_up_per_worker: num,
    bits_up_max: num,
    bits_down_per_worker: num,
    bits_up_values32_per_worker: num,
    bits_up_values64_per_worker: num,
    entries_up: num,
    grad_samples: num,
    loss: num,
    grad_norm_sq: num,
    bits_links_per_node: num,
    consensus_error: num,
    levels: counts,
    levels_down: counts,
    wire_bytes_up: num,
    wire_bytes_down: num,
    wall_time_s: num,
}

/// How a CSV field of each kind is written ([`csv_columns!`]).
mod write {
    /// `Display`.
    pub(super) fn num(v: &impl ToString) -> String {
        v.to_string()
    }

    /// `a;b;c` (empty for no counts).
    pub(super) fn counts(counts: &[u64]) -> String {
        let mut out = String::new();
        for (i, c) in counts.iter().enumerate() {
            if i > 0 {
                out.push(';');
            }
            out.push_str(&c.to_string());
        }
        out
    }
}

/// How a CSV field of each kind is read ([`csv_columns!`]): field `i` of `f`, or the error
/// naming its column.
mod read {
    use super::{CsvRecordError, RoundRecord};

    pub(super) fn num<T: core::str::FromStr>(f: &[&str], i: usize) -> Result<T, CsvRecordError> {
        f[i].trim().parse().map_err(|_| CsvRecordError::Field {
            column: RoundRecord::CSV_COLUMNS[i],
            value: f[i].chars().take(40).collect(),
        })
    }

    pub(super) fn counts(f: &[&str], i: usize) -> Result<Vec<u64>, CsvRecordError> {
        let text = f[i].trim();
        if text.is_empty() {
            return Ok(Vec::new());
        }
        (text.split(';').map(|c| c.trim().parse()))
            .collect::<Result<_, _>>()
            .map_err(|_| CsvRecordError::Field {
                column: RoundRecord::CSV_COLUMNS[i],
                value: text.chars().take(40).collect(),
            })
    }
}

/// Why a CSV row is not a [`RoundRecord`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CsvRecordError {
    /// The row has the wrong number of fields.
    #[error("{got} fields where a records row has {want}; is it a squeeze records.csv?")]
    Columns {
        /// Fields in the row.
        got: usize,
        /// Fields a record has.
        want: usize,
    },
    /// A field does not parse.
    #[error("column {column}: '{value}' is not a number of the right kind")]
    Field {
        /// The column.
        column: &'static str,
        /// The field (first 40 characters).
        value: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> RoundRecord {
        RoundRecord {
            round: 7,
            bits_up_per_worker: 78.5,
            bits_up_max: 80,
            bits_down_per_worker: 1924,
            bits_up_values32_per_worker: 32.0,
            bits_up_values64_per_worker: 64.0,
            entries_up: 10,
            grad_samples: 1138,
            loss: 3.9654126964714003,
            grad_norm_sq: 1.5e-7,
            bits_links_per_node: 0.0,
            consensus_error: 0.0,
            levels: vec![3, 0, 11],
            levels_down: vec![],
            wire_bytes_up: 0,
            wire_bytes_down: 0,
            wall_time_s: 0.000139678,
        }
    }

    /// The text the records have always had (the format the plots and golden records read).
    #[test]
    fn csv_row_keeps_the_established_text_and_reads_back() {
        assert_eq!(RoundRecord::CSV_HEADER, RoundRecord::CSV_COLUMNS.join(","));
        let r = record();
        assert_eq!(
            r.csv_row(),
            "7,78.5,80,1924,32,64,10,1138,3.9654126964714003,0.00000015,0,0,3;0;11,,0,0,0.000139678"
        );
        let back = RoundRecord::from_csv_fields(r.csv_row().split(',')).unwrap();
        assert!(back.same_trajectory(&r) && back.wall_time_s == r.wall_time_s);
        assert_eq!(
            RoundRecord::from_csv_fields("1,2".split(',')).unwrap_err(),
            CsvRecordError::Columns { got: 2, want: 17 }
        );
        let bad = r.csv_row().replacen("3;0;11", "3;x", 1);
        let e = RoundRecord::from_csv_fields(bad.split(',')).unwrap_err();
        assert!(e.to_string().contains("column levels: '3;x'"), "{e}");
    }
}
