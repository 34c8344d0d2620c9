//! Mixing matrices: closed-form spectra, the matrix contract for every generator × weighting,
//! and the spectral quantities against independent routes (nalgebra SVD).

use std::f64::consts::{PI, TAU};

use nalgebra::DMatrix;
use proptest::prelude::*;
use squeeze_topology::{Graph, MixingMatrix, WEIGHT_TOL, Weighting};

const EIG_TOL: f64 = 1e-12;

fn sorted_desc(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| b.total_cmp(a));
    v
}

fn assert_spectrum(w: &MixingMatrix, expected: Vec<f64>, what: &str) {
    let expected = sorted_desc(expected);
    let got = w.eigenvalues();
    assert_eq!(got.len(), expected.len(), "{what}");
    for (k, (g, e)) in got.iter().zip(&expected).enumerate() {
        assert!(
            (g - e).abs() < EIG_TOL,
            "{what}: λ_{} = {g}, expected {e}",
            k + 1
        );
    }
    let rate = expected[1..].iter().map(|l| l.abs()).fold(0.0, f64::max);
    assert!((w.spectral_gap() - (1.0 - rate)).abs() < EIG_TOL, "{what}");
    let beta = expected.iter().map(|l| (1.0 - l).abs()).fold(0.0, f64::max);
    assert!((w.beta() - beta).abs() < EIG_TOL, "{what}");
}

/// Largest singular value, an independent route to the spectral norm.
fn norm2(m: DMatrix<f64>) -> f64 {
    m.singular_values().iter().copied().fold(0.0, f64::max)
}

#[test]
fn ring_spectrum_is_one_third_plus_two_thirds_cos() {
    for n in 3..=40 {
        let g = Graph::ring(n).unwrap();
        let expected: Vec<f64> = (0..n)
            .map(|k| 1.0 / 3.0 + 2.0 / 3.0 * (TAU * k as f64 / n as f64).cos())
            .collect();
        for weighting in [Weighting::Uniform, Weighting::MetropolisHastings] {
            let w = MixingMatrix::new(&g, weighting);
            assert_spectrum(&w, expected.clone(), &format!("ring({n}) {weighting:?}"));
        }
    }
    // n = 20: ρ = 1 − (1/3 + 2/3·cos(2π/20)) = 2/3·(1 − cos(π/10)) ≈ 0.03263.
    let w = MixingMatrix::uniform(&Graph::ring(20).unwrap());
    assert!(
        (w.spectral_gap() - 0.032_628_989_136_564_31).abs() < 1e-12,
        "{}",
        w.spectral_gap()
    );
    // Even n: λ_n = −1/3, so β = 4/3.
    assert!((w.beta() - 4.0 / 3.0).abs() < 1e-12);
}

#[test]
fn two_node_ring_is_the_half_half_matrix() {
    let g = Graph::ring(2).unwrap();
    assert_eq!(g.num_edges(), 1);
    for weighting in [Weighting::Uniform, Weighting::MetropolisHastings] {
        let w = MixingMatrix::new(&g, weighting);
        assert_eq!(
            w.dense(),
            &[0.5, 0.5, 0.5, 0.5],
            "spec §5.1: all entries 1/2"
        );
        assert_spectrum(&w, vec![1.0, 0.0], "ring(2)");
    }
}

#[test]
fn torus_spectrum_is_a_sum_of_cosines() {
    for (r, c) in [(3, 3), (3, 4), (4, 4), (4, 5), (5, 7), (6, 6)] {
        let g = Graph::torus(r, c).unwrap();
        let mut expected = Vec::new();
        for a in 0..r {
            for b in 0..c {
                let ca = (TAU * a as f64 / r as f64).cos();
                let cb = (TAU * b as f64 / c as f64).cos();
                expected.push((1.0 + 2.0 * ca + 2.0 * cb) / 5.0);
            }
        }
        let w = MixingMatrix::uniform(&g);
        for i in 0..g.n() {
            assert!(w.neighbor_weights(i).iter().all(|&x| x == 0.2));
            assert!((w.self_weight(i) - 0.2).abs() < 1e-15);
        }
        assert_spectrum(&w, expected.clone(), &format!("torus({r}x{c})"));
        assert_eq!(
            MixingMatrix::metropolis_hastings(&g),
            w,
            "regular graph: MH = uniform"
        );
    }
}

#[test]
fn small_torus_sides_merge_neighbours() {
    // 2×2: a 4-cycle (0-1-3-2), so the spectrum is ring(4)'s.
    let t = Graph::torus(2, 2).unwrap();
    assert_eq!((t.num_edges(), t.max_degree(), t.min_degree()), (4, 2, 2));
    let ring4 = MixingMatrix::uniform(&Graph::ring(4).unwrap());
    let w = MixingMatrix::uniform(&t);
    for (a, b) in w.eigenvalues().iter().zip(ring4.eigenvalues()) {
        assert!((a - b).abs() < EIG_TOL);
    }
    // 1×c is the ring on c nodes, with the same numbering.
    let t = Graph::torus(1, 7).unwrap();
    let ring = Graph::ring(7).unwrap();
    assert!((0..7).all(|i| t.neighbors(i) == ring.neighbors(i)));
    // 2×5: degree 3 (one vertical neighbour).
    let t = Graph::torus(2, 5).unwrap();
    assert!((0..10).all(|i| t.degree(i) == 3));
}

#[test]
fn path_and_grid_spectra_are_laplacian_cosines() {
    // Path: Δ = 2 and every edge touches a degree-2 node (n ≥ 3), so MH = uniform = I − L/3,
    // with L's eigenvalues 2 − 2cos(πk/n).
    for n in 3..=25 {
        let g = Graph::path(n).unwrap();
        let expected: Vec<f64> = (0..n)
            .map(|k| 1.0 - (2.0 - 2.0 * (PI * k as f64 / n as f64).cos()) / 3.0)
            .collect();
        let w = MixingMatrix::uniform(&g);
        assert_spectrum(&w, expected, &format!("path({n})"));
        assert_eq!(MixingMatrix::metropolis_hastings(&g), w);
    }
    // Grid (uniform, Δ = 4 when both sides ≥ 3): W = I − L/5, L = L_path(r) ⊕ L_path(c).
    for (r, c) in [(3, 3), (8, 5), (4, 6)] {
        let g = Graph::grid(r, c).unwrap();
        let mut expected = Vec::new();
        for a in 0..r {
            for b in 0..c {
                let la = 2.0 - 2.0 * (PI * a as f64 / r as f64).cos();
                let lb = 2.0 - 2.0 * (PI * b as f64 / c as f64).cos();
                expected.push(1.0 - (la + lb) / 5.0);
            }
        }
        assert_spectrum(
            &MixingMatrix::uniform(&g),
            expected,
            &format!("grid({r}x{c})"),
        );
    }
}

#[test]
fn complete_graph_has_gap_one_under_every_weighting() {
    for n in 1..=30 {
        let g = Graph::complete(n).unwrap();
        let exact = MixingMatrix::complete(&g).unwrap();
        assert!(exact.dense().iter().all(|&x| x == 1.0 / n as f64));
        for w in [
            exact,
            MixingMatrix::uniform(&g),
            MixingMatrix::metropolis_hastings(&g),
        ] {
            let mut expected = vec![0.0; n];
            expected[0] = 1.0;
            assert_spectrum(&w, expected, &format!("complete({n}) {}", w.label()));
            assert!((w.spectral_gap() - 1.0).abs() < EIG_TOL, "not ChocoSGD's 0");
            assert!(w.mixing_rate() < EIG_TOL);
            for i in 0..n {
                for j in 0..n {
                    assert!((w.get(i, j) - 1.0 / n as f64).abs() < 1e-15);
                }
            }
        }
    }
}

#[test]
fn star_metropolis_hastings_weights_and_gap_one_over_n() {
    for n in [2, 3, 5, 10, 40, 100] {
        let g = Graph::star(n).unwrap();
        let w = MixingMatrix::metropolis_hastings(&g);
        let inv = 1.0 / n as f64;
        assert!(
            w.neighbor_weights(0).iter().all(|&x| x == inv),
            "hub–leaf 1/n"
        );
        assert!(
            (w.self_weight(0) - inv).abs() < 1e-14,
            "hub self-weight 1/n"
        );
        for leaf in 1..n {
            assert_eq!(w.neighbor_weights(leaf), &[inv]);
            assert!(
                (w.self_weight(leaf) - (1.0 - inv)).abs() < 1e-15,
                "leaf self-weight 1 − 1/n"
            );
        }
        // W = I − L/n with L's eigenvalues 0, 1 (×(n−2)), n: λ(W) = 1, 1 − 1/n, 0; ρ = 1/n
        // for n ≥ 3 (n = 2 is one edge: λ = 1, 0 and ρ = 1).
        let mut expected = vec![1.0 - inv; n];
        expected[0] = 1.0;
        expected[n - 1] = 0.0;
        assert_spectrum(&w, expected, &format!("star({n})"));
        assert!(
            (w.spectral_gap() - if n == 2 { 1.0 } else { inv }).abs() < 1e-12,
            "gap = 1/n"
        );
        assert_eq!(MixingMatrix::uniform(&g), w, "star: uniform = MH");
    }
}

#[test]
fn mixing_rate_and_beta_match_singular_values() {
    let graphs = [
        Graph::ring(9).unwrap(),
        Graph::torus(4, 5).unwrap(),
        Graph::star(12).unwrap(),
        Graph::grid(8, 5).unwrap(),
        Graph::erdos_renyi(40, 0.2, 11).unwrap(),
        Graph::from_edges(5, &[[0, 1], [1, 2], [2, 0], [2, 3], [3, 4]]).unwrap(),
    ];
    for g in &graphs {
        for weighting in [Weighting::Uniform, Weighting::MetropolisHastings] {
            let w = MixingMatrix::new(g, weighting);
            let n = g.n();
            let m = w.to_nalgebra();
            let j = DMatrix::from_element(n, n, 1.0 / n as f64);
            let rate = norm2(&m - j);
            let beta = norm2(DMatrix::identity(n, n) - &m);
            let what = format!("{} {weighting:?}", g.label());
            assert!(
                (w.mixing_rate() - rate).abs() < 1e-10,
                "{what}: {} vs {rate}",
                w.mixing_rate()
            );
            assert!((w.spectral_gap() - (1.0 - rate)).abs() < 1e-10, "{what}");
            assert!(
                (w.beta() - beta).abs() < 1e-10,
                "{what}: {} vs {beta}",
                w.beta()
            );
            assert!((w.eigenvalues()[0] - 1.0).abs() < 1e-12, "{what}: λ₁ = 1");
        }
    }
}

#[test]
fn gossip_converges_to_the_mean_at_the_mixing_rate() {
    let g = Graph::erdos_renyi(30, 0.15, 5).unwrap();
    let w = MixingMatrix::metropolis_hastings(&g);
    let mut x: Vec<f64> = (0..30).map(|i| (i * i % 7) as f64 - 2.0).collect();
    let mean = x.iter().sum::<f64>() / 30.0;
    let dev = |x: &[f64]| x.iter().map(|v| (v - mean).powi(2)).sum::<f64>().sqrt();
    let mut out = vec![0.0; 30];
    for _ in 0..50 {
        let before = dev(&x);
        w.apply(&x, &mut out).unwrap();
        let new_mean = out.iter().sum::<f64>() / 30.0;
        assert!((new_mean - mean).abs() < 1e-12, "W preserves the average");
        assert!(
            dev(&out) <= w.mixing_rate() * before + 1e-12,
            "‖Wx − x̄1‖ ≤ (1 − ρ)‖x − x̄1‖"
        );
        std::mem::swap(&mut x, &mut out);
    }
    assert!(dev(&x) < 1e-3 * 10.0, "consensus reached");
    let e = w.apply(&x[..29], &mut out).unwrap_err();
    assert_eq!((e.expected, e.got), (30, 29));
}

#[test]
fn neighbour_lists_match_the_dense_matrix_and_the_graph() {
    let g = Graph::erdos_renyi(25, 0.3, 2).unwrap();
    let w = MixingMatrix::metropolis_hastings(&g);
    let dense = w.to_nalgebra();
    for i in 0..25 {
        assert_eq!(w.neighbors(i), g.neighbors(i));
        assert!(
            w.neighbors(i).windows(2).all(|p| p[0] < p[1]),
            "sorted delivery order"
        );
        for (&j, &wij) in w.neighbors(i).iter().zip(w.neighbor_weights(i)) {
            assert_eq!(wij, dense[(i, j)]);
            assert_eq!(wij, w.get(i, j));
            let expect = 1.0 / (1 + g.degree(i).max(g.degree(j))) as f64;
            assert_eq!(wij, expect);
        }
        assert_eq!(w.self_weight(i), w.row(i)[i]);
    }
}

/// Every generator on (about) n nodes.
fn generators(n: usize, seed: u64) -> Vec<Graph> {
    let side = n.isqrt().max(1);
    let mut v = vec![
        Graph::ring(n).unwrap(),
        Graph::complete(n).unwrap(),
        Graph::star(n).unwrap(),
        Graph::path(n).unwrap(),
        Graph::torus(side, n.div_ceil(side)).unwrap(),
        Graph::grid(side, n.div_ceil(side)).unwrap(),
        Graph::erdos_renyi(n, 0.5, seed).unwrap(),
        // a tree plus chords: irregular degrees
        Graph::from_edges(
            n,
            &(1..n)
                .map(|i| [i / 2, i])
                .chain(
                    (3..n)
                        .step_by(3)
                        .map(|i| [i, i - 2])
                        .filter(|&[a, b]| b / 2 != a && a / 2 != b),
                )
                .collect::<Vec<_>>(),
        )
        .unwrap(),
    ];
    if n * n <= MAX_SQUARE {
        v.push(Graph::torus_square(n * n).unwrap());
    }
    v
}

const MAX_SQUARE: usize = 64;

/// The contract, checked entry by entry (independently of `validate`).
fn check_contract(g: &Graph, w: &MixingMatrix) {
    let n = g.n();
    let what = format!("{} {}", g.label(), w.label());
    assert_eq!(w.validate(g), Ok(()), "{what}");
    for i in 0..n {
        let mut row = 0.0;
        let mut col = 0.0;
        for j in 0..n {
            let wij = w.get(i, j);
            assert!(wij >= 0.0, "{what}: W[{i}][{j}] = {wij} < 0");
            assert!(
                (wij - w.get(j, i)).abs() <= WEIGHT_TOL,
                "{what}: asymmetric at ({i}, {j})"
            );
            if i != j && !g.has_edge(i, j) {
                assert_eq!(wij, 0.0, "{what}: weight off the edges at ({i}, {j})");
            }
            if i != j && g.has_edge(i, j) {
                assert!(wij > 0.0, "{what}: zero weight on edge ({i}, {j})");
            }
            row += wij;
            col += w.get(j, i);
        }
        assert!(
            (row - 1.0).abs() <= WEIGHT_TOL,
            "{what}: row {i} sums to {row}"
        );
        assert!(
            (col - 1.0).abs() <= WEIGHT_TOL,
            "{what}: column {i} sums to {col}"
        );
        assert!(
            w.self_weight(i) >= 1.0 / (g.max_degree() + 1) as f64 - 1e-15,
            "{what}: W_ii"
        );
    }
    let rho = w.spectral_gap();
    assert!(rho > 0.0 && rho <= 1.0 + EIG_TOL, "{what}: ρ = {rho}");
    assert!(
        (w.eigenvalues()[0] - 1.0).abs() < 1e-10,
        "{what}: λ₁ = {}",
        w.eigenvalues()[0]
    );
    assert!(
        w.eigenvalues().iter().all(|&l| l > -1.0 && l < 1.0 + 1e-10),
        "{what}"
    );
    assert!(w.beta() < 2.0, "{what}");
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: squeeze_core::proptest_cases(48),
        ..ProptestConfig::default()
    })]

    #[test]
    fn every_generator_and_weighting_is_a_mixing_matrix(n in 2usize..40, seed in any::<u64>()) {
        for g in generators(n, seed) {
            for weighting in [Weighting::Uniform, Weighting::MetropolisHastings] {
                check_contract(&g, &MixingMatrix::new(&g, weighting));
            }
            if g.is_complete() {
                check_contract(&g, &MixingMatrix::complete(&g).unwrap());
            }
        }
    }

    #[test]
    fn dense_round_trip_through_from_dense(n in 2usize..30, seed in any::<u64>()) {
        let g = Graph::erdos_renyi(n, 0.4, seed).unwrap();
        let w = MixingMatrix::metropolis_hastings(&g);
        let back = MixingMatrix::from_dense(&g, w.dense().to_vec()).unwrap();
        prop_assert_eq!(&back, &w);
        prop_assert_eq!(back.label(), "custom");
        prop_assert!((back.spectral_gap() - w.spectral_gap()).abs() < 1e-14);
    }
}

#[test]
fn headline_gaps() {
    // Values quoted in the crate's report; pinned so that a change is noticed.
    let ring = MixingMatrix::uniform(&Graph::ring(20).unwrap()).spectral_gap();
    let torus = MixingMatrix::uniform(&Graph::torus(4, 5).unwrap()).spectral_gap();
    let er =
        MixingMatrix::metropolis_hastings(&Graph::erdos_renyi(40, 0.2, 0).unwrap()).spectral_gap();
    let star = MixingMatrix::metropolis_hastings(&Graph::star(40).unwrap()).spectral_gap();
    let grid = MixingMatrix::metropolis_hastings(&Graph::grid(8, 5).unwrap()).spectral_gap();
    println!(
        "ring20 {ring:.6} torus4x5 {torus:.6} er40(0.2,seed0) MH {er:.6} star40 MH {star:.6} grid8x5 MH {grid:.6}"
    );
    // torus 4×5: 1 − max over (a, b) ≠ (0, 0) of |1 + 2cos(2πa/4) + 2cos(2πb/5)|/5.
    let c5 = (TAU / 5.0).cos();
    let torus_expected = 1.0 - (1.0 + 2.0 + 2.0 * c5) / 5.0;
    assert!(
        (torus - torus_expected).abs() < 1e-12,
        "{torus} vs {torus_expected}"
    );
    assert!((ring - (1.0 - (1.0 / 3.0 + 2.0 / 3.0 * (TAU / 20.0).cos()))).abs() < 1e-12);
    assert!((star - 1.0 / 40.0).abs() < 1e-12);
    assert!(
        er > 0.1 && er < 0.6,
        "ER(40, 0.2) mixes much faster than the ring: {er}"
    );
    assert!(er > 5.0 * ring && er > 5.0 * grid && er > 5.0 * star);
}
