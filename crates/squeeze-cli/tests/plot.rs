//! `squeeze plot` on hand-written run directories: labels, dash patterns, seed bands, log
//! ticks, the caption, and one-line errors for bad input.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("squeeze-plot-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

fn squeeze(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_squeeze"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// A run directory with records `g[i]` = ‖∇f‖² and `f[i]` = f at round i (bits = 100 i).
fn fake_run(root: &Path, name: &str, seed: u64, stepsize: f64, g: &[f64], f: &[f64]) {
    let d = root.join(name);
    fs::create_dir_all(&d).unwrap();
    let mut csv = String::from("round,bits_up_per_worker,grad_norm_sq,loss\n");
    for (i, (gi, fi)) in g.iter().zip(f).enumerate() {
        csv.push_str(&format!("{i},{},{gi},{fi}\n", 100 * i));
    }
    fs::write(d.join("records.csv"), csv).unwrap();
    fs::write(
        d.join("config.resolved.toml"),
        format!(
            "name = \"ef21\"\nseed = {seed}\n[problem]\nn_workers = 8\n[method]\nname = \"ef21\"\ncompressor = \"top_k:k=1\"\nstepsize = {{ rule = \"theory\", multiplier = {stepsize} }}\n[run]\nthreads = 1\n"
        ),
    )
    .unwrap();
    fs::write(
        d.join("summary.json"),
        format!("{{\"name\": \"ef21\", \"stepsize\": {stepsize}, \"version\": \"9.9.9\"}}"),
    )
    .unwrap();
}

/// The text elements of an SVG, trimmed.
fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let body = t.split_once('>')?.1;
            Some(body.split("</text>").next()?.trim().to_string())
        })
        .collect()
}

fn ok(o: &Output) {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn error(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(2), "{o:?}");
    let e = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(e.starts_with("error: ") && e.lines().count() == 1, "{e}");
    e
}

#[test]
fn labels_dashes_bands_log_ticks_and_caption() {
    let dir = temp_dir("look");
    let g = [4.0, 1.0, 0.1, 0.01];
    let f = [0.7, 0.5, 0.4, 0.35];
    for (name, seed, m, scale) in [
        ("a1", 1, 1.0, 1.0),
        ("a2", 2, 1.0, 2.0),
        ("b1", 1, 4.0, 0.5),
    ] {
        let gs: Vec<f64> = g.iter().map(|v| v * scale).collect();
        fake_run(&dir, name, seed, m, &gs, &f);
    }
    let o = squeeze(
        &dir,
        &["plot", "a1", "b1", "--label", "slow", "--label", "b1=fast"],
    );
    ok(&o);
    let svg = fs::read_to_string(dir.join("plot.svg")).unwrap();
    let t = texts(&svg);
    assert!(
        t.contains(&"slow".into()) && t.contains(&"fast".into()),
        "labels: {t:?}"
    );
    assert_eq!(
        svg.matches("stroke-dasharray=\"10 5\"").count(),
        2,
        "curve and legend"
    );
    assert!(svg.contains("10⁻²") && svg.contains("10⁰"), "decade ticks");
    assert!(!svg.contains("<polygon"), "no band without grouping");
    assert!(
        svg.contains("method ef21") && svg.contains("n = 8"),
        "caption"
    );
    assert!(!svg.contains("γ ="), "the stepsizes differ");
    assert!(
        fs::read(dir.join("plot.png"))
            .unwrap()
            .starts_with(b"\x89PNG")
    );

    let o = squeeze(
        &dir,
        &["plot", "a1", "a2", "b1", "--group-by-seed", "--out", "g"],
    );
    ok(&o);
    let svg = fs::read_to_string(dir.join("g.svg")).unwrap();
    assert_eq!(svg.matches("<polygon").count(), 1, "one band: a1 + a2");
    assert!(svg.contains("mean of 2 seeds"));

    // The loss (0.35 … 0.7) spans less than a decade: 2× and 5× ticks are labelled.
    let o = squeeze(&dir, &["plot", "a1", "--y", "loss", "--out", "l"]);
    ok(&o);
    let svg = fs::read_to_string(dir.join("l.svg")).unwrap();
    let t = texts(&svg);
    for tick in ["0.5", "0.2", "10⁻¹", "10⁰", "f(x)"] {
        assert!(t.contains(&tick.into()), "{tick}: {t:?}");
    }
    let o = squeeze(&dir, &["plot", "a1", "--f-star", "0.3", "--out", "gap"]);
    ok(&o);
    assert!(
        fs::read_to_string(dir.join("gap.svg"))
            .unwrap()
            .contains("f(x) − f*")
    );
}

#[test]
fn bad_input_is_one_line_not_a_panic() {
    let dir = temp_dir("bad");
    fake_run(&dir, "a", 1, 1.0, &[1.0, 0.0], &[0.5, 0.4]);
    fake_run(&dir, "b", 2, 1.0, &[1.0], &[0.5]);
    assert!(error(&squeeze(&dir, &["plot", "a"])).contains("--linear"));
    ok(&squeeze(&dir, &["plot", "a", "--linear"]));
    assert!(error(&squeeze(&dir, &["plot", "a", "--f-star", "0.45"])).contains("--f-star"));
    let e = error(&squeeze(
        &dir,
        &["plot", "a", "b", "--group-by-seed", "--linear"],
    ));
    assert!(e.contains("same length"), "{e}");
    let e = error(&squeeze(
        &dir,
        &["plot", "a", "--label", "x", "--label", "y"],
    ));
    assert!(e.contains("2 labels for 1 runs"), "{e}");
    let e = error(&squeeze(
        &dir,
        &["plot", "a", "--y", "grad_norm_sq", "--f-star", "0"],
    ));
    assert!(e.contains("--f-star"), "{e}");
    error(&squeeze(&dir, &["plot"]));
    assert!(error(&squeeze(&dir, &["plot", "nowhere"])).contains("no records.csv"));
}
