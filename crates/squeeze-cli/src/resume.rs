//! `squeeze run --resume`: check that the output directory holds a resumable run of the same
//! experiment, then cut its records back to the checkpoint.
//!
//! Resuming is atomic: [`check`] reads and validates everything (the checkpoint, the previous
//! `config.resolved.toml`, the problem fingerprint in `fingerprint.json`, the records up to the
//! checkpoint's round) and the caller restores the engine in memory, all before
//! [`commit`] changes the first file. A refused resume leaves the directory as it was.

use std::fs::{self, OpenOptions};
use std::path::Path;

use anyhow::Context;
use squeeze_driver::fingerprint::{Fingerprint, dotted_key};
use squeeze_driver::{ExperimentConfig, RoundRecord};
use toml::{Table, Value};

use crate::fail::{CliResult, runtime, usage};
use squeeze_driver::config::RecordFormat;

use crate::output::{
    CHECKPOINT, CONFIG_RESOLVED, FINGERPRINT, RecordWriters, records_file, write_atomic,
};

/// What [`check`] found: where to cut the records, and what [`commit`] must write.
#[derive(Debug)]
pub(crate) struct Plan {
    /// The checkpoint's record.
    pub(crate) last: RoundRecord,
    /// Record files to cut back, with the bytes to keep.
    cuts: Vec<(RecordFormat, u64)>,
    /// Formats the run now writes but the interrupted run did not (`output.formats` changed):
    /// written on commit from the records up to the checkpoint.
    backfill: Vec<RecordFormat>,
    /// Those records, read from a file the interrupted run wrote (when `backfill` is set).
    earlier: Vec<RoundRecord>,
    /// A run of an older squeeze has no `fingerprint.json`: write it on commit.
    write_fingerprint: bool,
    /// Say so on stderr.
    pub(crate) note: Option<String>,
}

/// Check, without changing anything, that `out` holds a resumable run of `cfg` whose problem
/// has the fingerprint `now`.
pub(crate) fn check(out: &Path, cfg: &ExperimentConfig, now: &Fingerprint) -> CliResult<Plan> {
    let ckpt = out.join(CHECKPOINT);
    if !ckpt.exists() {
        return Err(usage(format!(
            "--resume: no checkpoint at {}; set run.checkpoint_every (the run must have passed \
             one) or run without --resume",
            ckpt.display()
        )));
    }
    let prev_path = out.join(CONFIG_RESOLVED);
    let has_config = prev_path.exists();
    if has_config {
        let text = fs::read_to_string(&prev_path).map_err(|e| {
            usage(format!(
                "--resume: cannot read {} ({e}); run without --resume",
                prev_path.display()
            ))
        })?;
        let prev: Value = text.parse::<Table>().map(Value::Table).map_err(|e| {
            usage(format!(
                "--resume: {} is not valid TOML ({}); run without --resume",
                prev_path.display(),
                e.message().trim()
            ))
        })?;
        let now = Value::try_from(cfg).context("internal: config does not serialise")?;
        if let Some(key) = first_difference(&prev, &now, "") {
            let top = key.split('.').next().unwrap_or("");
            if !["stop", "run", "name", "output"].contains(&top) {
                return Err(usage(format!(
                    "--resume: {key} differs from the interrupted run's {}; resume with the same \
                     problem, method and seed (only stop.*, run.*, output.* and name may change)",
                    prev_path.display()
                )));
            }
        }
    }
    let fp_path = out.join(FINGERPRINT);
    let (write_fingerprint, note) = if fp_path.exists() {
        let stored: Fingerprint = fs::read(&fp_path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            .map_err(|e| {
                usage(format!(
                    "--resume: {} is unreadable ({e}), so the problem cannot be checked; run \
                     without --resume",
                    fp_path.display()
                ))
            })?;
        if let Some(d) = stored.first_difference(now) {
            let what = if d.key.starts_with("data") {
                "the data file's contents differ from the interrupted run's".to_string()
            } else {
                format!("{} differs from the interrupted run's", d.key)
            };
            return Err(usage(format!(
                "--resume: {what} ({d}; stored in {}): the checkpoint belongs to another \
                 problem; resume with the same data, problem, method and seed, or run without \
                 --resume",
                fp_path.display()
            )));
        }
        (false, None)
    } else if has_config {
        (
            true,
            Some(format!(
                "note: {} has no {FINGERPRINT} (written by an older squeeze): the data file's \
                 contents cannot be checked, only the configuration",
                out.display()
            )),
        )
    } else {
        return Err(usage(format!(
            "--resume: {} has neither {FINGERPRINT} nor {CONFIG_RESOLVED}, so the checkpoint's \
             problem cannot be checked; run without --resume",
            out.display()
        )));
    };
    let last: RoundRecord = squeeze_driver::executor::checkpoint_record(&ckpt).map_err(|e| {
        usage(format!(
            "--resume: {e}; delete {} and run without --resume",
            ckpt.display()
        ))
    })?;
    let formats = cfg
        .record_formats()
        .map_err(|e| usage(format!("--resume: {e}")))?;
    let (mut cuts, mut backfill, mut kept_only) = (Vec::new(), Vec::new(), Vec::new());
    for f in RecordFormat::ALL {
        let path = out.join(records_file(f));
        match (path.exists(), formats.contains(&f)) {
            (true, true) => cuts.push((f, records_to_keep(&path, last.round, f)?)),
            // Written before, not continued: cut back too, so it ends at the checkpoint.
            (true, false) => {
                if let Ok(keep) = records_to_keep(&path, last.round, f) {
                    cuts.push((f, keep));
                    kept_only.push(records_file(f));
                }
            }
            (false, true) => backfill.push(f),
            (false, false) => {}
        }
    }
    let earlier = match (backfill.is_empty(), cuts.first()) {
        (true, _) => Vec::new(),
        (false, Some(&(from, _))) => read_records(&out.join(records_file(from)), last.round, from)?,
        (false, None) => {
            return Err(usage(format!(
                "--resume: {} has no records file ({}), so the records before the checkpoint \
                 are lost; run without --resume",
                out.display(),
                RecordFormat::ALL.map(records_file).join(", ")
            )));
        }
    };
    let mut notes: Vec<String> = note.into_iter().collect();
    if !kept_only.is_empty() {
        notes.push(format!(
            "note: {} of the interrupted run ends at round {} (output.formats no longer \
             includes it)",
            kept_only.join(" and "),
            last.round
        ));
    }
    Ok(Plan {
        last,
        cuts,
        backfill,
        earlier,
        write_fingerprint,
        note: (!notes.is_empty()).then(|| notes.join("\n")),
    })
}

/// Cut the records back to the checkpoint's round (and store the fingerprint of an older
/// run): the first changes a resume makes.
pub(crate) fn commit(out: &Path, plan: &Plan, now: &Fingerprint) -> CliResult {
    for &(f, keep) in &plan.cuts {
        truncate(&out.join(records_file(f)), keep)?;
    }
    if !plan.backfill.is_empty() {
        let mut w = RecordWriters::open(out, &plan.backfill, true).map_err(runtime)?;
        for r in &plan.earlier {
            w.write(r).map_err(runtime)?;
        }
    }
    if plan.write_fingerprint {
        write_fingerprint(out, now)?;
    }
    Ok(())
}

/// Write `fingerprint.json` (atomically).
pub(crate) fn write_fingerprint(out: &Path, fp: &Fingerprint) -> CliResult {
    let path = out.join(FINGERPRINT);
    let bytes = serde_json::to_vec_pretty(fp).context("internal: fingerprint serialisation")?;
    write_atomic(&path, &bytes)
        .map_err(|e| runtime(format!("cannot write {}: {e}", path.display())))
}

fn truncate(path: &Path, keep: u64) -> CliResult {
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(keep).map(|_| f))
        .map_err(|e| runtime(format!("cannot truncate {}: {e}", path.display())))?;
    f.sync_all()
        .map_err(|e| runtime(format!("cannot sync {}: {e}", path.display())))
}

/// The dotted path of the first difference between two TOML values, if any.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    let join = |k: &str| dotted_key(path, k);
    match (a, b) {
        (Value::Table(x), Value::Table(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| match (x.get(k), y.get(k)) {
                (Some(u), Some(v)) => first_difference(u, v, &join(k)),
                _ => Some(join(k)),
            })
        }
        _ if a == b => None,
        _ => Some(if path.is_empty() {
            ".".into()
        } else {
            path.into()
        }),
    }
}

/// How many bytes to keep: the header and the complete rows with round ≤ `round` (later rows,
/// or a half-written last line, come from after the checkpoint and will be recomputed). The
/// row for `round` itself must be there.
fn records_to_keep(path: &Path, round: u64, format: RecordFormat) -> CliResult<u64> {
    scan_records(path, round, format, false).map(|(keep, _)| keep)
}

/// The records with round ≤ `round` of a records file (checked as [`records_to_keep`]).
fn read_records(path: &Path, round: u64, format: RecordFormat) -> CliResult<Vec<RoundRecord>> {
    scan_records(path, round, format, true).map(|(_, recs)| recs)
}

/// The bytes to keep of a records file and, if `parse`, its records up to `round`.
fn scan_records(
    path: &Path,
    round: u64,
    format: RecordFormat,
    parse: bool,
) -> CliResult<(u64, Vec<RoundRecord>)> {
    let csv = format == RecordFormat::Csv;
    let mut recs = Vec::new();
    let text = fs::read_to_string(path).map_err(|e| {
        usage(format!(
            "--resume: cannot read {}: {e}; run without --resume to start afresh",
            path.display()
        ))
    })?;
    let mut keep = 0usize;
    let mut found = false;
    let mut lines = text.split_inclusive('\n');
    if csv {
        let header = lines.next().unwrap_or("");
        if header.trim_end() != RoundRecord::CSV_HEADER {
            return Err(usage(format!(
                "--resume: {} does not start with the records header; run without --resume",
                path.display()
            )));
        }
        keep = header.len();
    }
    for line in lines {
        if !line.ends_with('\n') {
            break; // half-written by the killed run
        }
        // The CSV writer quotes no field of a record (`RoundRecord::csv_fields`).
        let row = line.trim_end_matches(['\n', '\r']);
        let r = if csv && !parse {
            row.split(',')
                .next()
                .and_then(|f| f.trim().parse::<u64>().ok())
        } else {
            let rec = if csv {
                RoundRecord::from_csv_fields(row.split(',')).ok()
            } else {
                serde_json::from_str::<RoundRecord>(row).ok()
            };
            rec.map(|rec| {
                let k = rec.round;
                if parse && k <= round {
                    recs.push(rec);
                }
                k
            })
        };
        let Some(r) = r else {
            return Err(usage(format!(
                "--resume: {} has a malformed row at byte {keep}; run without --resume",
                path.display()
            )));
        };
        if r > round {
            break;
        }
        found |= r == round;
        keep += line.len();
    }
    if !found {
        return Err(usage(format!(
            "--resume: {} has no row for the checkpoint's round {round}; the records do not \
             belong to this checkpoint: run without --resume",
            path.display()
        )));
    }
    Ok((keep as u64, recs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_difference_names_the_key() {
        let a: Value = Value::Table("[p]\nx = 1\ny = 2\n".parse().unwrap());
        let b: Value = Value::Table("[p]\nx = 1\ny = 3\n".parse().unwrap());
        assert_eq!(first_difference(&a, &b, ""), Some("p.y".into()));
        assert_eq!(first_difference(&a, &a, ""), None);
        let c: Value = Value::Table("[p]\nx = 1\n".parse().unwrap());
        assert_eq!(first_difference(&a, &c, ""), Some("p.y".into()));
    }
}
