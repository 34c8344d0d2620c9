//! The key tables against the structs: the same keys, defaults that hold, examples that parse.

use std::collections::BTreeSet;

use squeeze_methods::registry::struct_fields;

use super::*;
use crate::config::{ExperimentConfig, ProblemConfig, RegularizerConfig, RunConfig};

/// The smallest configuration that parses, with a topology so that its defaults show.
const MINIMAL: &str =
    "[problem]\nn_workers = 3\n[method]\nname = \"gd\"\n[stop]\n[topology]\nkind = \"ring\"\n";

fn minimal() -> toml::Table {
    let cfg = ExperimentConfig::from_toml(MINIMAL).unwrap();
    toml::Table::try_from(&cfg).unwrap()
}

/// The section's table (the top-level table for `""`).
fn table<'t>(t: &'t mut toml::Table, section: &str) -> &'t mut toml::Table {
    if section.is_empty() {
        return t;
    }
    t.entry(section)
        .or_insert_with(|| toml::Value::Table(toml::Table::new()))
        .as_table_mut()
        .unwrap()
}

fn get<'t>(t: &'t toml::Table, dotted: &str) -> Option<&'t toml::Value> {
    let (head, rest) = match dotted.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (dotted, None),
    };
    match rest {
        None => t.get(head),
        Some(r) => get(t.get(head)?.as_table()?, r),
    }
}

fn set(t: &mut toml::Table, dotted: &str, v: toml::Value) {
    match dotted.split_once('.') {
        None => {
            t.insert(dotted.to_string(), v);
        }
        Some((h, r)) => set(table(t, h), r, v),
    }
}

fn value(text: &str) -> toml::Value {
    let t: toml::Table = format!("v = {text}")
        .parse()
        .unwrap_or_else(|e| panic!("{text}: {e}"));
    t["v"].clone()
}

fn documented(section: &str, prefix: Option<&str>) -> BTreeSet<String> {
    let keys = section_keys(section);
    keys.iter()
        .filter_map(|k| match prefix {
            None => Some(k.key.split('.').next().unwrap_or(k.key).to_string()),
            Some(p) => k
                .key
                .strip_prefix(p)
                .and_then(|r| r.strip_prefix('.'))
                .map(str::to_string),
        })
        .collect()
}

fn section_keys(name: &str) -> &'static [KeyDoc] {
    section(name).unwrap().keys
}

fn set_of(fields: &[&str]) -> BTreeSet<String> {
    fields.iter().map(|f| f.to_string()).collect()
}

/// Every field serde accepts has a line, and every line names a field.
#[test]
fn the_tables_list_exactly_the_fields_serde_accepts() {
    let mut top = documented("", None);
    top.extend(
        SECTIONS
            .iter()
            .filter(|s| !s.name.is_empty())
            .map(|s| s.name.to_string()),
    );
    assert_eq!(
        set_of(struct_fields::<ExperimentConfig>()),
        top,
        "top level"
    );
    assert_eq!(
        set_of(struct_fields::<ProblemConfig>()),
        documented("problem", None)
    );
    assert_eq!(
        set_of(struct_fields::<RegularizerConfig>()),
        documented("problem", Some("regularizer"))
    );
    assert_eq!(
        set_of(struct_fields::<crate::StopRules>()),
        documented("stop", None)
    );
    assert_eq!(
        set_of(struct_fields::<RunConfig>()),
        documented("run", None)
    );
    assert_eq!(
        set_of(struct_fields::<squeeze_topology::TopologyConfig>()),
        documented("topology", None)
    );
    assert_eq!(
        set_of(struct_fields::<crate::config::OutputConfig>()),
        documented("output", None)
    );
    // `[method]` is `name`, the stepsize's L rule, and the method's own keys (from the
    // registry).
    assert_eq!(documented("method", None), set_of(&["name", "smoothness"]));
}

/// A TOML default is what the structs fill in; an unset key is absent from the resolved
/// configuration.
#[test]
fn documented_defaults_are_the_struct_defaults() {
    let resolved = minimal();
    for s in SECTIONS {
        for k in s.keys {
            let path = if s.name.is_empty() {
                k.key.to_string()
            } else {
                format!("{}.{}", s.name, k.key)
            };
            let got = get(&resolved, &path);
            match k.default {
                "required" => assert!(got.is_some(), "{path}: required but absent"),
                UNSET => assert!(got.is_none(), "{path}: documented unset, resolved {got:?}"),
                d => assert_eq!(got, Some(&value(d)), "{path}: documented default {d}"),
            }
        }
    }
}

/// The other topology keys an example key needs.
fn topology_context(key: &str) -> &'static [(&'static str, &'static str)] {
    match key {
        "rows" | "cols" => &[("kind", "\"torus\"")],
        "p" => &[("kind", "\"erdos_renyi\"")],
        "seed" => &[("kind", "\"erdos_renyi\""), ("p", "0.5")],
        "edges" => &[("kind", "\"edges\"")],
        _ => &[],
    }
}

/// Each example, written into the minimal configuration, parses and reads back as written.
#[test]
fn every_example_parses_at_its_key() {
    for s in SECTIONS {
        for k in s.keys {
            let mut t = minimal();
            let sec = table(&mut t, s.name);
            if s.name == "topology" {
                for &(key, v) in topology_context(k.key) {
                    sec.insert(key.into(), value(v));
                }
            }
            if k.key == "name" && s.name == "method" {
                sec.clear(); // gd's defaults are not ef21's
            }
            set(sec, k.key, value(k.example));
            let text = toml::to_string(&t).unwrap();
            let cfg = ExperimentConfig::from_toml(&text)
                .unwrap_or_else(|e| panic!("{}.{} = {}: {e}", s.name, k.key, k.example));
            let back = toml::Table::try_from(&cfg).unwrap();
            let got = get(table(&mut back.clone(), s.name), k.key).cloned();
            assert_eq!(got, Some(value(k.example)), "{}.{}", s.name, k.key);
        }
    }
}

#[test]
fn the_lines_are_filled_in() {
    for s in SECTIONS {
        for k in s.keys {
            assert!(
                !k.ty.is_empty() && !k.doc.is_empty() && !k.example.is_empty(),
                "{}.{}",
                s.name,
                k.key
            );
        }
    }
    assert!(section("nope").is_none());
}

/// Every method key has a known TOML type and an example that the method accepts.
#[test]
fn every_method_key_has_a_type_and_an_example_it_accepts() {
    for m in METHODS {
        let base = m.example_table().unwrap();
        for k in m.keys() {
            let ty = toml_type(k.rust_type);
            assert!(
                ty.chars().all(|c| c.is_ascii_lowercase() || c == ' '),
                "{}.{}: add {} to toml_type",
                m.name,
                k.name,
                k.rust_type
            );
            let ex = method_key_example(m, k.name)
                .unwrap_or_else(|| panic!("{}.{}: add it to METHOD_KEY_EXAMPLES", m.name, k.name));
            let mut t = base.clone();
            t.insert(k.name.to_string(), value(&ex));
            m.normalized(&t)
                .unwrap_or_else(|e| panic!("{}.{} = {ex}: {e}", m.name, k.name));
        }
    }
}
