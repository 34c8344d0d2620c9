//! Deep Gradient Compression (`dgc`): with sparsity 0, momentum 0 and no clipping it is GD
//! bit for bit; its configuration mistakes name their key; at high sparsity it sends a small
//! share of GD's bits.

use crate::common::*;
use squeeze_driver::Engine;
use squeeze_driver::config::MethodConfig;
use squeeze_methods::Stepsize;

/// GD and DGC with the `extra` settings, on the embedded nonconvex logistic regression over
/// `n` workers from x⁰ drawn with `seed`, both at the theory stepsize 1/L.
fn gd_and_dgc(
    n: usize,
    seed: u64,
    extra: &[(&str, toml::Value)],
) -> (Box<dyn Engine>, Box<dyn Engine>) {
    let (problem, x0) = embedded_logreg::<f64>(n, seed);
    let step = Stepsize::Theory { multiplier: 1.0 };
    let gd = engine(&method("gd", None, step), &problem, &x0);
    (gd, engine(&dgc(extra), &problem, &x0))
}

fn dgc(extra: &[(&str, toml::Value)]) -> MethodConfig {
    let mut m = method("dgc", None, Stepsize::Theory { multiplier: 1.0 });
    for (k, v) in extra {
        m = m.with(k, v.clone());
    }
    m
}

/// DGC(s = 0, m = 0) sends its whole gradient (v = u = g after the masking of the previous
/// round), the server averages in worker order and steps x − γ·avg: exactly GD's arithmetic,
/// so iterates, losses, gradient norms and uplink bits agree bit for bit for 200 rounds on
/// real data (nonconvex logistic regression, embedded data, n = 10), with the same theory
/// stepsize 1/L.
#[test]
fn dgc_without_sparsity_or_momentum_is_gd_bit_for_bit() {
    let zero = [("sparsity", 0.0.into()), ("momentum", 0.0.into())];
    let (mut gd, mut d) = gd_and_dgc(10, 3, &zero);
    let first = gd.evaluate().unwrap().grad_norm_sq;
    assert_bitwise(gd.as_mut(), d.as_mut(), 200, "dgc(s = 0, m = 0) vs gd");
    assert!(gd.evaluate().unwrap().grad_norm_sq < first / 10.0);
}

/// Each bad parameter is refused under its own key with the fix.
#[test]
fn bad_parameters_name_their_key() {
    let (problem, x0) = embedded_logreg::<f64>(4, 1);
    let cases: [(&str, toml::Value, &str); 6] = [
        ("sparsity", 1.0.into(), "[0, 1)"),
        ("sparsity", (-0.5).into(), "[0, 1)"),
        ("momentum", (-0.1).into(), "[0, 1)"),
        ("sample_fraction", 0.0.into(), "(0, 1]"),
        ("compressor", "top_k:k=1".into(), "set sparsity"),
        ("warmup_rounds", 10.into(), "warmup_stage_rounds"),
    ];
    for (key, value, hint) in cases {
        let m = dgc(&[(key, value.clone())]);
        let err = match squeeze_driver::config::build_engine::<f64>(&m, problem.clone(), &x0, 3, 1)
        {
            Ok(_) => panic!("{key} = {value} was accepted"),
            Err(e) => e.to_string(),
        };
        assert!(
            err.contains(&format!("method.{key}")) && err.contains(hint),
            "{key} = {value}: {err}"
        );
    }
}

/// At 99 % sparsity with the paper's warm-up DGC still drives the loss down, while each
/// worker sends a small fraction of GD's uplink bits.
#[test]
fn dgc_at_high_sparsity_descends_at_a_fraction_of_the_bits() {
    let (mut gd, mut d) = gd_and_dgc(
        4,
        2,
        &[
            ("sparsity", 0.95.into()),
            ("warmup_stage_rounds", 20.into()),
            ("warmup_sparsities", toml::Value::Array(vec![0.75.into()])),
        ],
    );
    let f0 = d.evaluate().unwrap().loss;
    for _ in 0..400 {
        gd.round().unwrap();
        d.round().unwrap();
    }
    let (fg, fd) = (gd.evaluate().unwrap().loss, d.evaluate().unwrap().loss);
    assert!(fd < f0 - 0.5 * (f0 - fg), "f: {f0} → dgc {fd}, gd {fg}");
    let (bg, bd) = (gd.totals().bits_up[0], d.totals().bits_up[0]);
    assert!(bd * 5 < bg, "bits per worker: dgc {bd}, gd {bg}");
}
