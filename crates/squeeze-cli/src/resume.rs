//! `squeeze run --resume`: check that the output directory holds a resumable run of the same
//! experiment and cut its records back to the checkpoint.

use std::fs::{self, OpenOptions};
use std::path::Path;

use anyhow::Context;
use squeeze_driver::{ExperimentConfig, RoundRecord};
use toml::{Table, Value};

use crate::fail::{CliResult, runtime, usage};
use crate::output::{CHECKPOINT, CONFIG_RESOLVED, RECORDS_CSV, RECORDS_JSONL};

/// Check that the directory holds a resumable run of the same experiment, and cut its records
/// back to the checkpoint's round. Returns the checkpoint's record.
pub(crate) fn prepare_resume(out: &Path, cfg: &ExperimentConfig) -> CliResult<RoundRecord> {
    let ckpt = out.join(CHECKPOINT);
    if !ckpt.exists() {
        return Err(usage(format!(
            "--resume: no checkpoint at {}; set run.checkpoint_every (the run must have passed \
             one) or run without --resume",
            ckpt.display()
        )));
    }
    let prev_path = out.join(CONFIG_RESOLVED);
    if let Ok(text) = fs::read_to_string(&prev_path) {
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
            if !["stop", "run", "name"].contains(&top) {
                return Err(usage(format!(
                    "--resume: {key} differs from the interrupted run's {}; resume with the same \
                     problem, method and seed (only stop.*, run.* and name may change)",
                    prev_path.display()
                )));
            }
        }
    }
    let last: RoundRecord = squeeze_driver::executor::checkpoint_record(&ckpt).map_err(|e| {
        usage(format!(
            "--resume: {e}; delete {} and run without --resume",
            ckpt.display()
        ))
    })?;
    truncate_records(&out.join(RECORDS_CSV), last.round, true)?;
    truncate_records(&out.join(RECORDS_JSONL), last.round, false)?;
    Ok(last)
}

/// The dotted path of the first difference between two TOML values, if any.
fn first_difference(a: &Value, b: &Value, path: &str) -> Option<String> {
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
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

/// Keep the header and the complete rows with round ≤ `round` (later rows, or a half-written
/// last line, come from after the checkpoint and will be recomputed). The row for `round`
/// itself must be there.
fn truncate_records(path: &Path, round: u64, csv: bool) -> CliResult {
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
        let r = if csv {
            line.split(',')
                .next()
                .and_then(|f| f.trim().parse::<u64>().ok())
        } else {
            serde_json::from_str::<RoundRecord>(line)
                .ok()
                .map(|r| r.round)
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
    let f = OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(keep as u64).map(|_| f))
        .map_err(|e| runtime(format!("cannot truncate {}: {e}", path.display())))?;
    f.sync_all()
        .map_err(|e| runtime(format!("cannot sync {}: {e}", path.display())))?;
    Ok(())
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
