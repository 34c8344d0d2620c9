//! What every engine's snapshot (checkpoint state) starts with, and the checks a restore makes
//! of it before it takes any state.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::engine::{EngineError, Totals};

/// The fields every engine's snapshot shares, flattened into it (the checkpoint's JSON object
/// has them at the top level, next to the engine's own states).
#[derive(Serialize, Deserialize)]
pub(crate) struct SnapshotHeader {
    /// The engine's format tag (`squeeze-star-v1`, `squeeze-gossip-v1`).
    format: String,
    /// The experiment seed.
    seed: u64,
    /// `describe` of the writer's method (compressor, stepsize rule, options).
    method: String,
    /// Model dimension of the writer's problem.
    pub(crate) dim: usize,
    /// The counters reached.
    pub(crate) totals: Totals,
}

impl SnapshotHeader {
    /// The header of a snapshot in `format` of a run with `seed`, `method` (its `describe`),
    /// dimension `dim` and counters `totals`.
    pub(crate) fn new(format: &str, seed: u64, method: String, dim: usize, totals: Totals) -> Self {
        Self {
            format: format.to_string(),
            seed,
            method,
            dim,
            totals,
        }
    }

    /// The checkpoint is in `format` and was written with the configured `seed`.
    pub(crate) fn check_origin(&self, format: &str, seed: u64) -> Result<(), EngineError> {
        if self.format != format {
            return Err(EngineError::Snapshot(format!(
                "unknown checkpoint format '{}' (expected {format})",
                self.format
            )));
        }
        if self.seed != seed {
            return Err(EngineError::Snapshot(format!(
                "checkpoint seed {} differs from the configured seed {seed}",
                self.seed
            )));
        }
        Ok(())
    }

    /// The checkpoint was written by the configured method (`method`: its `describe`). The
    /// state deserialises into any configuration of the same method type; a different setting
    /// (compressor, stepsize rule, init) would resume silently under this configuration.
    pub(crate) fn check_method(&self, method: &str) -> Result<(), EngineError> {
        if self.method != method {
            return Err(EngineError::Snapshot(format!(
                "checkpoint was written by {}, this configuration runs {method}: resume with the configuration that wrote it",
                self.method
            )));
        }
        Ok(())
    }
}

/// `snap` as the checkpoint's JSON value.
pub(crate) fn to_value<T: Serialize>(snap: &T) -> Result<serde_json::Value, EngineError> {
    serde_json::to_value(snap).map_err(|e| EngineError::Snapshot(e.to_string()))
}

/// The snapshot read back from `value`; an error says it does not fit `what` (the engine's
/// method and configuration).
pub(crate) fn from_value<T: DeserializeOwned>(
    value: &serde_json::Value,
    what: &str,
) -> Result<T, EngineError> {
    serde_json::from_value(value.clone()).map_err(|e| {
        EngineError::Snapshot(format!(
            "the checkpoint does not match this {what} ({e}): resume with the configuration that wrote it"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Snap {
        #[serde(flatten)]
        header: SnapshotHeader,
        nodes: Vec<u64>,
    }

    fn snap() -> Snap {
        let totals = Totals {
            rounds: 3,
            bits_up: vec![7, u64::MAX],
            ..Totals::default()
        };
        Snap {
            header: SnapshotHeader::new("fmt-v1", 9, "m(k=1)".into(), 4, totals),
            nodes: vec![1, 2],
        }
    }

    #[test]
    fn the_header_sits_at_the_top_level_and_reads_back() {
        let v = to_value(&snap()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        let mut want = ["format", "seed", "method", "dim", "totals", "nodes"];
        want.sort_unstable();
        let mut got = keys.clone();
        got.sort_unstable();
        assert_eq!(got, want);
        assert_eq!(v["seed"], 9);
        let back: Snap = from_value(&v, "test").unwrap();
        assert_eq!(back.header.totals, snap().header.totals);
        assert_eq!((back.header.dim, back.nodes), (4, vec![1, 2]));
        back.header.check_origin("fmt-v1", 9).unwrap();
        back.header.check_method("m(k=1)").unwrap();
    }

    #[test]
    fn mismatches_say_what_differs() {
        let h = snap().header;
        let err = |r: Result<(), EngineError>| r.unwrap_err().to_string();
        assert!(err(h.check_origin("fmt-v2", 9)).contains("unknown checkpoint format 'fmt-v1'"));
        assert!(
            err(h.check_origin("fmt-v1", 8)).contains("seed 9 differs from the configured seed 8")
        );
        assert!(
            err(h.check_method("m(k=2)"))
                .contains("written by m(k=1), this configuration runs m(k=2)")
        );
        let bad = serde_json::json!({"format": "fmt-v1"});
        let e = from_value::<Snap>(&bad, "test setup")
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("does not match this test setup"), "{e}");
    }
}
