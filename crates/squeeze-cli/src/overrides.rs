//! `--set key=value` overrides, applied to the parsed TOML before it is deserialised, so that
//! any key of the configuration can be set and type errors name the key.
//!
//! The value is read as a TOML value (`10`, `4.0`, `true`, `"top_k:k=2"`, `[1, 2]`,
//! `{ rule = "constant", gamma = 0.1 }`); if it is not valid TOML it is taken as a bare string,
//! so `--set method.compressor=top_k:k=2` needs no quotes through the shell.

use anyhow::{Context, bail};
use toml::{Table, Value};

/// One `key=value` override.
#[derive(Debug, Clone, PartialEq)]
pub struct Override {
    /// The dotted key as written, e.g. `problem.n_workers`.
    pub key: String,
    /// The key's segments.
    pub path: Vec<String>,
    /// The value.
    pub value: Value,
}

impl Override {
    /// Parse `key=value`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let Some((key, raw)) = text.split_once('=') else {
            bail!("--set {text}: expected key=value, e.g. --set stop.max_rounds=500");
        };
        let key = key.trim();
        let path: Vec<String> = key.split('.').map(|s| s.trim().to_string()).collect();
        if path.iter().any(|s| {
            s.is_empty()
                || !s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        }) {
            bail!(
                "--set {text}: '{key}' is not a dotted key of letters, digits, '_' and '-' \
                 (e.g. method.stepsize.multiplier)"
            );
        }
        let raw = raw.trim();
        if raw.is_empty() {
            bail!("--set {key}=: empty value; write e.g. --set {key}=10 or --set {key}='\"text\"'");
        }
        let value = match format!("v = {raw}").parse::<Table>() {
            Ok(mut t) => t.remove("v").context("internal: parsed value vanished")?,
            Err(_) => Value::String(raw.to_string()),
        };
        Ok(Override {
            key: key.to_string(),
            path,
            value,
        })
    }

    /// Set the key in `root`, creating intermediate tables.
    pub fn apply(&self, root: &mut Table) -> anyhow::Result<()> {
        let (last, parents) = self
            .path
            .split_last()
            .context("internal: empty override key")?;
        let mut table = root;
        for (i, seg) in parents.iter().enumerate() {
            let entry = table
                .entry(seg.clone())
                .or_insert_with(|| Value::Table(Table::new()));
            table = match entry {
                Value::Table(t) => t,
                other => bail!(
                    "--set {}: '{}' is a {}, not a table, so it has no key '{}'",
                    self.key,
                    self.path[..=i].join("."),
                    other.type_str(),
                    self.path[i + 1]
                ),
            };
        }
        table.insert(last.clone(), self.value.clone());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_toml_or_bare_strings() {
        let o = Override::parse("problem.n_workers=10").unwrap();
        assert_eq!(o.path, ["problem", "n_workers"]);
        assert_eq!(o.value, Value::Integer(10));
        let o = Override::parse("method.compressor=top_k:k=2").unwrap();
        assert_eq!(o.value, Value::String("top_k:k=2".into()));
        let o = Override::parse("method.compressor=\"top_k:k=2\"").unwrap();
        assert_eq!(o.value, Value::String("top_k:k=2".into()));
        let o = Override::parse("method.stepsize.multiplier=4.5").unwrap();
        assert_eq!(o.value, Value::Float(4.5));
        let o = Override::parse("problem.init={ kind = \"zeros\" }").unwrap();
        assert!(o.value.is_table());
    }

    #[test]
    fn malformed_overrides_are_errors() {
        assert!(Override::parse("stop.max_rounds").is_err());
        assert!(Override::parse("stop..max_rounds=3").is_err());
        assert!(Override::parse("=3").is_err());
        assert!(Override::parse("stop.max_rounds=").is_err());
    }

    #[test]
    fn apply_creates_tables_and_refuses_scalars_as_tables() {
        let mut t: Table = "[method]\nname = \"ef21\"\ncompressor = \"top_k:k=1\"\n"
            .parse()
            .unwrap();
        Override::parse("method.stepsize.multiplier=4")
            .unwrap()
            .apply(&mut t)
            .unwrap();
        assert_eq!(
            t["method"]["stepsize"]["multiplier"],
            Value::Integer(4),
            "{t:?}"
        );
        let err = Override::parse("method.compressor.k=2")
            .unwrap()
            .apply(&mut t)
            .unwrap_err()
            .to_string();
        assert!(err.contains("'method.compressor' is a string"), "{err}");
    }
}
