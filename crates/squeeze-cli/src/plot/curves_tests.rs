use std::path::PathBuf;

use super::*;
use crate::plot::run::Meta;

fn run(dir: &str, seed: i64, ys: &[f64]) -> Run {
    let cfg: toml::Table =
        "[method]\nname = \"ef21\"\ncompressor = \"top_k:k=1\"\n[problem]\nn_workers = 4"
            .parse()
            .unwrap();
    Run {
        dir: PathBuf::from(dir),
        name: "ef21".into(),
        labelled: false,
        points: ys.iter().enumerate().map(|(i, &y)| (i as f64, y)).collect(),
        meta: Meta {
            method: Some("ef21".into()),
            compressor: Some("top_k:k=1".into()),
            n_workers: Some(4),
            seed: Some(seed),
            config_but_seed: Some(cfg),
            ..Meta::default()
        },
    }
}

fn opts(group: bool) -> Options {
    Options {
        y: YAxis::GradNormSq,
        f_star: None,
        log: true,
        group_by_seed: group,
    }
}

#[test]
fn seed_groups_become_the_mean_with_a_min_max_band() {
    let runs = vec![run("a", 1, &[1.0, 0.5, 0.1]), run("b", 2, &[3.0, 1.5, 0.3])];
    let spec = build(runs.clone(), &opts(true)).unwrap();
    assert_eq!(spec.curves.len(), 1);
    let c = &spec.curves[0];
    assert_eq!(c.points, [(0.0, 2.0), (1.0, 1.0), (2.0, 0.2)]);
    assert_eq!(
        c.band.as_deref().unwrap(),
        [(0.0, 1.0, 3.0), (1.0, 0.5, 1.5), (2.0, 0.1, 0.3)]
    );
    assert!(c.name.contains("mean of 2 seeds"), "{}", c.name);
    let cap = spec.caption.unwrap();
    for part in [
        "method ef21",
        "compressor top_k:k=1",
        "n = 4",
        "2 seeds per curve",
    ] {
        assert!(cap.contains(part), "{cap}");
    }
    // Without the flag: two curves, named apart by their directories, no band.
    let spec = build(runs, &opts(false)).unwrap();
    assert_eq!(spec.curves.len(), 2);
    assert_eq!(spec.curves[1].name, "ef21 (b)");
    assert!(spec.curves.iter().all(|c| c.band.is_none()));
    assert!(!spec.caption.unwrap().contains("seed "), "two seeds differ");
}

#[test]
fn runs_with_other_settings_are_not_grouped() {
    let mut other = run("c", 3, &[1.0, 0.5, 0.1]);
    if let Some(t) = other.meta.config_but_seed.as_mut() {
        t.insert("precision".into(), "f32".into());
    }
    let spec = build(vec![run("a", 1, &[1.0, 0.5, 0.1]), other], &opts(true)).unwrap();
    assert_eq!(spec.curves.len(), 2);
}

#[test]
fn bad_input_is_a_clear_error() {
    let msg = |r: CliResult<PlotSpec>| r.unwrap_err().error.to_string();
    assert!(msg(build(vec![], &opts(false))).contains("no runs"));
    let e = msg(build(
        vec![run("a", 1, &[1.0, 0.5]), run("b", 2, &[1.0])],
        &opts(true),
    ));
    assert!(e.contains("2 records") && e.contains("same length"), "{e}");
    let e = msg(build(vec![run("a", 1, &[1.0, 0.0])], &opts(false)));
    assert!(e.contains("≤ 0") && e.contains("--linear"), "{e}");
    // The same values draw on a linear axis.
    let lin = Options {
        log: false,
        ..opts(false)
    };
    assert!(build(vec![run("a", 1, &[1.0, 0.0])], &lin).is_ok());
    let e = msg(build(vec![run("a", 1, &[f64::NAN])], &opts(false)));
    assert!(e.contains("nothing to plot"), "{e}");
    let mut bare = run("a", 1, &[1.0]);
    bare.meta.config_but_seed = None;
    let e = msg(build(vec![bare], &opts(true)));
    assert!(e.contains("config.resolved.toml"), "{e}");
}

#[test]
fn f_star_is_subtracted_and_must_stay_below_the_loss() {
    let loss = Options {
        y: YAxis::Loss,
        f_star: Some(0.25),
        ..opts(false)
    };
    let spec = build(vec![run("a", 1, &[1.25, 0.5])], &loss).unwrap();
    assert_eq!(spec.y_label, "f(x) − f*");
    assert_eq!(spec.curves[0].points, [(0.0, 1.0), (1.0, 0.25)]);
    let e = build(vec![run("a", 1, &[1.25, 0.2])], &loss).unwrap_err();
    assert!(
        e.error.to_string().contains("smaller --f-star"),
        "{:#}",
        e.error
    );
    // From summary.json when every run has one.
    let mut r = run("a", 1, &[1.25, 0.5]);
    r.meta.f_star = Some(0.25);
    let from_summary = Options {
        f_star: None,
        ..loss
    };
    assert_eq!(build(vec![r], &from_summary).unwrap().y_label, "f(x) − f*");
    let plain = build(vec![run("a", 1, &[1.25, 0.5])], &from_summary).unwrap();
    assert_eq!(plain.y_label, "f(x)");
}

#[test]
fn thinning_keeps_first_and_last_and_the_band_aligned() {
    let idx = thin_indices(10_001, 2000);
    assert!(idx.len() <= 2001 && idx[0] == 0 && *idx.last().unwrap() == 10_000);
    assert_eq!(thin_indices(1, 2000), [0]);
    let c = Curve {
        name: "c".into(),
        points: (0..5000).map(|i| (i as f64, 1.0)).collect(),
        band: Some((0..5000).map(|i| (i as f64, 0.5, 2.0)).collect()),
    };
    let t = thin_curve(c, 100);
    let band = t.band.unwrap();
    assert_eq!(band.len(), t.points.len());
    assert!(band.iter().zip(&t.points).all(|(b, p)| b.0 == p.0));
}

#[test]
fn short_numbers() {
    assert_eq!(short(0.0123), "0.0123");
    assert_eq!(short(2.5e-5), "2.500e-5");
    assert_eq!(short(1.0), "1");
}
