//! The `[output]` section: which record files a run writes.
//!
//! ```toml
//! [output]
//! formats = ["csv", "jsonl"]   # default ["csv"]
//! ```

use serde::{Deserialize, Serialize};

use super::{ConfigError, ExperimentConfig, invalid};

/// A file format for the per-round records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordFormat {
    /// `records.csv`: a header line, then one row per record (what `squeeze plot` reads).
    Csv,
    /// `records.jsonl`: one JSON object per record.
    Jsonl,
}

impl RecordFormat {
    /// Every format, in the order the files are written.
    pub const ALL: [RecordFormat; 2] = [RecordFormat::Csv, RecordFormat::Jsonl];

    /// The name in a configuration (`csv`, `jsonl`).
    pub fn name(self) -> &'static str {
        match self {
            RecordFormat::Csv => "csv",
            RecordFormat::Jsonl => "jsonl",
        }
    }
}

/// Output section (optional; absent means CSV records only, and an absent section is not
/// written to `config.resolved.toml`, so configurations of earlier runs resume unchanged).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// Record files to write: any of `"csv"` and `"jsonl"`, at least one, each once.
    #[serde(default = "default_formats")]
    pub formats: Vec<RecordFormat>,
}

fn default_formats() -> Vec<RecordFormat> {
    vec![RecordFormat::Csv]
}

impl Default for OutputConfig {
    fn default() -> Self {
        Self {
            formats: default_formats(),
        }
    }
}

impl ExperimentConfig {
    /// The record formats this run writes (`output.formats`, default `["csv"]`), checked:
    /// not empty and no format twice.
    ///
    /// ```
    /// use squeeze_driver::config::RecordFormat;
    /// use squeeze_driver::ExperimentConfig;
    /// let base = "[problem]\nn_workers = 2\n[method]\nname = \"gd\"\n[stop]\nmax_rounds = 1\n";
    /// let cfg = ExperimentConfig::from_toml(base).unwrap();
    /// assert_eq!(cfg.record_formats().unwrap(), [RecordFormat::Csv]);
    /// let both = format!("{base}[output]\nformats = [\"csv\", \"jsonl\"]\n");
    /// let cfg = ExperimentConfig::from_toml(&both).unwrap();
    /// assert_eq!(cfg.record_formats().unwrap(), [RecordFormat::Csv, RecordFormat::Jsonl]);
    /// let bad = format!("{base}[output]\nformats = [\"xml\"]\n");
    /// let e = ExperimentConfig::from_toml(&bad).unwrap_err().to_string();
    /// assert!(e.contains("`csv` or `jsonl`"), "{e}");
    /// ```
    pub fn record_formats(&self) -> Result<Vec<RecordFormat>, ConfigError> {
        let formats = self
            .output
            .as_ref()
            .map_or_else(default_formats, |o| o.formats.clone());
        let accepted = "the accepted formats are \"csv\" and \"jsonl\"";
        if formats.is_empty() {
            return Err(invalid(
                "output.formats",
                format!("is empty, so no records would be written; {accepted} (default [\"csv\"])"),
            ));
        }
        for (i, f) in formats.iter().enumerate() {
            if formats[..i].contains(f) {
                return Err(invalid(
                    "output.formats",
                    format!(
                        "\"{}\" is listed twice; list each format once ({accepted})",
                        f.name()
                    ),
                ));
            }
        }
        Ok(formats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str =
        "[problem]\nn_workers = 2\n[method]\nname = \"gd\"\n[stop]\nmax_rounds = 1\n";

    fn formats(section: &str) -> Result<Vec<RecordFormat>, ConfigError> {
        ExperimentConfig::from_toml(&format!("{BASE}{section}"))?.record_formats()
    }

    #[test]
    fn formats_parse_and_bad_ones_are_refused_with_the_accepted_names() {
        assert_eq!(formats("").unwrap(), [RecordFormat::Csv]);
        assert_eq!(formats("[output]\n").unwrap(), [RecordFormat::Csv]);
        assert_eq!(
            formats("[output]\nformats = [\"jsonl\"]").unwrap(),
            [RecordFormat::Jsonl]
        );
        for (section, want) in [
            (
                "[output]\nformats = [\"parquet\"]",
                "expected `csv` or `jsonl`",
            ),
            ("[output]\nformats = \"csv\"", "invalid type"),
            ("[output]\nformat = [\"csv\"]", "unknown field `format`"),
            ("[output]\nformats = []", "output.formats: is empty"),
            (
                "[output]\nformats = [\"csv\", \"csv\"]",
                "\"csv\" is listed twice",
            ),
        ] {
            let e = formats(section).unwrap_err().to_string();
            assert!(e.contains(want), "{section}: {e}");
        }
        let e = formats("[output]\nformats = []").unwrap_err().to_string();
        assert!(e.contains("\"csv\" and \"jsonl\""), "{e}");
    }

    /// An absent `[output]` is not written (resolved configurations and fingerprints of runs
    /// before the section existed stay valid); a set one is.
    #[test]
    fn an_unset_output_section_is_not_serialised() {
        let cfg = ExperimentConfig::from_toml(BASE).unwrap();
        let text = toml::to_string(&cfg).unwrap();
        assert!(
            !text.contains("[output]") && !text.contains("formats"),
            "{text}"
        );
        let cfg = ExperimentConfig::from_toml(&format!("{BASE}[output]\nformats = [\"jsonl\"]\n"))
            .unwrap();
        let text = toml::to_string(&cfg).unwrap();
        assert!(text.contains("formats = [\"jsonl\"]"), "{text}");
        assert_eq!(
            ExperimentConfig::from_toml(&text).unwrap().output,
            cfg.output
        );
    }
}
