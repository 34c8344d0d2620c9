//! Spec parsing: the nesting limit is checked at parse time and matches exactly what the wire
//! format encodes and decodes; very deep specs fail fast without overflowing the stack; error
//! hints say how to write compositions and wrappers instead of suggesting the same word.

mod common;

use common::assert_refused;
use proptest::prelude::*;
use squeeze_compress::conformance::check_wire;
use squeeze_compress::registry::{entries, parse};
use squeeze_compress::{Compose, RegistryError};
use squeeze_core::message::MAX_DEPTH;
use squeeze_core::{CompressCtx, Compressor, Message, Scratch, SqueezeRng};

/// Compress a fixed input of dimension `d`, then encode and decode the message.
fn round_trip(c: &dyn Compressor<f32>, d: usize) -> Message<f32> {
    let x: Vec<f32> = (0..d).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.25).collect();
    let (mut rng, mut scratch) = (SqueezeRng::from_seed_u64(3), Scratch::default());
    let mut ctx = CompressCtx::new(&mut rng, &mut scratch);
    let m = c.compress(&x, &mut ctx).unwrap();
    let bytes = m.try_to_bytes().unwrap();
    assert_eq!(Message::<f32>::decode(&bytes, d).unwrap(), m);
    check_wire(&m, d).unwrap();
    m
}

/// Wrappers on the deepest path of a message, as the decoder counts them.
fn depth(m: &Message<f32>) -> u32 {
    match m {
        Message::Scaled { inner, .. }
        | Message::Composed { inner, .. }
        | Message::Indexed { inner, .. } => 1 + depth(inner),
        Message::Pair(p) => 1 + depth(&p[0]).max(depth(&p[1])),
        _ => 0,
    }
}

/// Each row: a spec at the deepest nesting the wire format encodes (accepted, and its message
/// round-trips at that depth), and one a wrapper deeper (refused at parse time, naming the
/// limit).
#[test]
fn the_nesting_limit_is_exact_at_parse_time() {
    let h = "top_k:ratio=0.5";
    for (deepest, deeper) in [
        (
            format!("{h} | {h} | {h} | {h} | qsgd:s=2"),
            format!("{h} | {h} | {h} | {h} | {h} | qsgd:s=2"),
        ),
        (
            format!("{h} | {h} | {h} | scaled(qsgd:s=2)"),
            format!("{h} | {h} | {h} | {h} | scaled(qsgd:s=2)"),
        ),
        (
            "scaled(rand_k:k=16 | rand_k:k=8 | rand_k:k=4 | qsgd:s=2)".to_string(),
            "scaled(rand_k:k=16 | rand_k:k=8 | rand_k:k=4 | rand_k:k=2 | qsgd:s=2)".to_string(),
        ),
        (
            format!("{h} | scaled(rand_k:k=8 | rand_k:k=4 | natural)"),
            format!("scaled(scaled(scaled(scaled(scaled({h})))))"),
        ),
    ] {
        let c = parse::<f32>(&deepest).unwrap_or_else(|e| panic!("{deepest}: {e}"));
        assert_eq!(c.nesting(), MAX_DEPTH, "{deepest}");
        let m = round_trip(c.as_ref(), 64);
        assert_eq!(depth(&m), MAX_DEPTH, "{deepest}");
        let e = parse::<f32>(&deeper).unwrap_err();
        assert!(
            matches!(e, RegistryError::TooDeep { max: MAX_DEPTH, .. }),
            "{deeper}: {e}"
        );
        let text = e.to_string();
        assert!(text.contains("at most 4 wrappers"), "{text}");
    }
}

#[test]
fn compose_and_scaled_constructors_check_the_limit_too() {
    let deepest = parse::<f32>("top_k:k=4 | top_k:k=3 | top_k:k=2 | top_k:k=1 | natural").unwrap();
    let first = parse::<f32>("top_k:k=8").unwrap();
    let e = Compose::new(first, deepest).unwrap_err().to_string();
    assert!(e.contains("at most 4 nested wrappers"), "{e}");
    let deepest =
        parse::<f32>("rand_k:k=5 | rand_k:k=4 | rand_k:k=3 | rand_k:k=2 | natural").unwrap();
    let e = squeeze_compress::ScaledUnbiased::new(deepest)
        .unwrap_err()
        .to_string();
    assert!(e.contains("at most 4 nested wrappers"), "{e}");
}

#[test]
fn ten_thousand_deep_specs_fail_fast() {
    let n = 10_000;
    for spec in [
        format!("{}rand_k:k=1{}", "scaled(".repeat(n), ")".repeat(n)),
        format!("{}qsgd:s=2", "top_k:k=1 | ".repeat(n)),
        format!("{}qsgd:s=2", "scaled(top_k:k=1 | ".repeat(n)),
        format!("{}qsgd:s=2{}", "(".repeat(n), ")".repeat(n)),
    ] {
        let e = parse::<f32>(&spec).unwrap_err().to_string();
        assert!(e.len() < 400, "error of {} bytes", e.len());
    }
}

#[test]
fn hints_say_how_to_write_compositions_and_never_suggest_the_same_word() {
    let e = parse::<f32>("compose").unwrap_err().to_string();
    assert!(
        e.contains("written A | B") && !e.contains("did you mean compose"),
        "{e}"
    );
    let e = parse::<f32>("scaled:Q=qsgd").unwrap_err().to_string();
    assert!(
        e.contains("scaled(Q)") && !e.contains("did you mean"),
        "{e}"
    );
    assert_refused("composed", "a composition is written A | B");
    assert_refused("scale", "did you mean scaled(Q)?");
    assert_refused("topk:k=2", "did you mean top_k?");
    let e = parse::<f32>("nope").unwrap_err().to_string();
    assert!(
        e.contains("known compressors: identity") && e.contains("A | B (compose), scaled(Q)"),
        "{e}"
    );
    // No entry's own name (with or without parameters) is answered by "did you mean" itself.
    for entry in entries() {
        for spec in [entry.name.to_string(), format!("{}:zzz=1", entry.name)] {
            if let Err(e) = parse::<f32>(&spec) {
                let e = e.to_string();
                assert!(
                    !e.contains(&format!("did you mean {}?", entry.name)),
                    "{spec}: {e}"
                );
            }
        }
    }
}

/// A random spec: atoms, `A | B` with a sparsifier `A`, and `scaled(...)`.
#[derive(Debug, Clone)]
enum Tree {
    Atom(&'static str),
    Compose(&'static str, Box<Tree>),
    Scaled(Box<Tree>),
}

impl Tree {
    fn render(&self) -> String {
        match self {
            Tree::Atom(a) => a.to_string(),
            Tree::Compose(a, b) => format!("{a} | {}", b.render()),
            Tree::Scaled(q) => format!("scaled({})", q.render()),
        }
    }

    fn nesting(&self) -> u32 {
        match self {
            Tree::Atom(_) => 0,
            Tree::Compose(_, b) => 1 + b.nesting(),
            Tree::Scaled(q) => 1 + q.nesting(),
        }
    }
}

fn tree() -> impl Strategy<Value = Tree> {
    let atom = prop::sample::select(vec![
        "qsgd:s=2",
        "natural",
        "rand_k:k=1",
        "top_k:k=1",
        "scaled_sign",
        "terngrad",
        "identity",
    ])
    .prop_map(Tree::Atom);
    let sparsifier = prop::sample::select(vec!["top_k:ratio=0.5", "rand_k:ratio=0.5"]);
    atom.prop_recursive(8, 16, 1, move |inner| {
        prop_oneof![
            (sparsifier.clone(), inner.clone()).prop_map(|(a, b)| Tree::Compose(a, Box::new(b))),
            inner.prop_map(|q| Tree::Scaled(Box::new(q))),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: squeeze_core::proptest_cases(256),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Parsing refuses exactly the specs nested deeper than the wire format carries; every
    /// accepted one compresses to a message that encodes and decodes.
    #[test]
    fn parse_time_limit_matches_the_wire(t in tree()) {
        let spec = t.render();
        match parse::<f32>(&spec) {
            Err(RegistryError::TooDeep { max, .. }) => {
                prop_assert_eq!(max, MAX_DEPTH);
                prop_assert!(t.nesting() > MAX_DEPTH, "{}", spec);
            }
            Err(e) => {
                // Refused for its meaning (e.g. scaled(Q) of a biased Q), not its depth.
                prop_assert!(t.nesting() <= MAX_DEPTH, "{}: {}", spec, e);
            }
            Ok(c) => {
                prop_assert!(t.nesting() <= MAX_DEPTH, "{}", spec);
                prop_assert_eq!(c.nesting(), t.nesting());
                if c.check_dim(64).is_ok() {
                    let m = round_trip(c.as_ref(), 64);
                    prop_assert!(depth(&m) <= c.nesting());
                }
            }
        }
    }
}

/// The generator reaches accepted specs at the limit, and specs over it.
#[test]
fn generator_covers_both_sides_of_the_limit() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut at_limit, mut over) = (0, 0);
    for _ in 0..500 {
        let t = tree().new_tree(&mut runner).unwrap().current();
        let ok = parse::<f32>(&t.render()).is_ok();
        at_limit += usize::from(ok && t.nesting() == MAX_DEPTH);
        over += usize::from(t.nesting() > MAX_DEPTH);
    }
    assert!(
        at_limit >= 5 && over >= 20,
        "at the limit {at_limit}, over {over}"
    );
}
