//! Deep Gradient Compression (`dgc`): with sparsity 0, momentum 0 and no clipping it is GD
//! bit for bit; its configuration mistakes name their key; at high sparsity it sends a small
//! share of GD's bits.

use crate::common::*;
use squeeze_driver::config::MethodConfig;
use squeeze_methods::Stepsize;

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
    let (problem, x0) = embedded_logreg::<f64>(10, 3);
    let step = Stepsize::Theory { multiplier: 1.0 };
    let mut gd = engine(&method("gd", None, step), &problem, &x0);
    let mut d = engine(
        &dgc(&[("sparsity", 0.0.into()), ("momentum", 0.0.into())]),
        &problem,
        &x0,
    );
    let first = gd.evaluate().unwrap().grad_norm_sq;
    for t in 1..=200 {
        gd.round().unwrap();
        d.round().unwrap();
        let (xg, xd) = (gd.iterate_f64(), d.iterate_f64());
        assert!(
            xg.iter().zip(&xd).all(|(a, b)| a.to_bits() == b.to_bits()),
            "round {t}: iterates differ"
        );
        let (mg, md) = (gd.evaluate().unwrap(), d.evaluate().unwrap());
        assert_eq!(mg.loss.to_bits(), md.loss.to_bits(), "round {t}: loss");
        assert_eq!(
            mg.grad_norm_sq.to_bits(),
            md.grad_norm_sq.to_bits(),
            "round {t}: ‖∇f‖²"
        );
        assert_eq!(gd.totals().bits_up, d.totals().bits_up, "round {t}: bits");
    }
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
    let (problem, x0) = embedded_logreg::<f64>(4, 2);
    let step = Stepsize::Theory { multiplier: 1.0 };
    let mut gd = engine(&method("gd", None, step), &problem, &x0);
    let mut d = engine(
        &dgc(&[
            ("sparsity", 0.95.into()),
            ("warmup_stage_rounds", 20.into()),
            ("warmup_sparsities", toml::Value::Array(vec![0.75.into()])),
        ]),
        &problem,
        &x0,
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
