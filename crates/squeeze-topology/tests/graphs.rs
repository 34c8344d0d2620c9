//! Graph generators, Erdős–Rényi determinism, every error message, and the config layer.

use proptest::prelude::*;
use squeeze_core::{Purpose, SqueezeRng};
use squeeze_topology::{
    ER_MAX_ATTEMPTS, Graph, GraphSpec, MAX_NODES, MixingMatrix, TopologyConfig, TopologyError,
    Weighting,
};

fn err_msg<T: std::fmt::Debug>(r: Result<T, TopologyError>) -> String {
    r.unwrap_err().to_string()
}

// ---------- generators ----------

#[test]
fn generator_shapes() {
    let r = Graph::ring(6).unwrap();
    assert_eq!(r.num_edges(), 6);
    assert!((0..6).all(|i| r.degree(i) == 2));
    assert_eq!(r.neighbors(5), &[0, 4]);
    assert_eq!(r.label(), "ring(6)");

    let t = Graph::torus(3, 3).unwrap();
    assert_eq!(t.num_edges(), 18);
    assert_eq!(t.neighbors(4), &[1, 3, 5, 7]);
    assert_eq!(t.neighbors(0), &[1, 2, 3, 6]);

    let s = Graph::star(5).unwrap();
    assert_eq!(s.neighbors(0), &[1, 2, 3, 4]);
    assert_eq!((s.max_degree(), s.min_degree()), (4, 1));

    let p = Graph::path(5).unwrap();
    assert_eq!(
        p.edges().collect::<Vec<_>>(),
        vec![(0, 1), (1, 2), (2, 3), (3, 4)]
    );

    let g = Graph::grid(2, 3).unwrap();
    assert_eq!(
        g.edges().collect::<Vec<_>>(),
        vec![(0, 1), (0, 3), (1, 2), (1, 4), (2, 5), (3, 4), (4, 5)]
    );
    let g1 = Graph::grid(1, 5).unwrap();
    assert!(
        (0..5).all(|i| g1.neighbors(i) == p.neighbors(i)),
        "grid(1, n) = path(n)"
    );

    let k = Graph::complete(1).unwrap();
    assert_eq!((k.n(), k.num_edges(), k.is_complete()), (1, 0, true));
    let w = MixingMatrix::metropolis_hastings(&k);
    assert_eq!(w.dense(), &[1.0]);
    assert_eq!(
        (w.spectral_gap(), w.beta(), w.mixing_rate()),
        (1.0, 0.0, 0.0)
    );

    assert!(!Graph::ring(5).unwrap().is_complete());
    assert!(Graph::ring(3).unwrap().is_complete());
    assert!(!r.has_edge(0, 0) && !r.has_edge(0, 99) && !r.has_edge(99, 0) && r.has_edge(0, 5));
}

#[test]
fn from_edges_sorts_neighbours_regardless_of_input_order() {
    let g = Graph::from_edges(5, &[[4, 0], [2, 0], [3, 1], [0, 1]]).unwrap();
    assert_eq!(g.neighbors(0), &[1, 2, 4]);
    assert_eq!(g.neighbors(1), &[0, 3]);
    assert_eq!(
        g.edges().collect::<Vec<_>>(),
        vec![(0, 1), (0, 2), (0, 4), (1, 3)]
    );
    assert_eq!(Graph::from_edges(1, &[]).unwrap().n(), 1);
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: squeeze_core::proptest_cases(64),
        ..ProptestConfig::default()
    })]

    /// Adjacency is symmetric, sorted, loop-free, and the edge count is half the degree sum.
    #[test]
    fn adjacency_invariants(n in 2usize..60, p in 0.05f64..1.0, seed in any::<u64>()) {
        let mut graphs = vec![Graph::ring(n).unwrap(), Graph::star(n).unwrap(), Graph::path(n).unwrap()];
        if let Ok(g) = Graph::erdos_renyi(n, p, seed) {
            graphs.push(g);
        }
        for g in graphs {
            let mut deg_sum = 0;
            for i in 0..g.n() {
                let l = g.neighbors(i);
                prop_assert!(l.windows(2).all(|w| w[0] < w[1]));
                prop_assert!(!l.contains(&i));
                for &j in l {
                    prop_assert!(g.neighbors(j).binary_search(&i).is_ok());
                }
                deg_sum += l.len();
            }
            prop_assert_eq!(deg_sum, 2 * g.num_edges());
            prop_assert_eq!(g.edges().count(), g.num_edges());
            // Rebuilding from its own edge list gives the same adjacency.
            let edges: Vec<[usize; 2]> = g.edges().map(|(a, b)| [a, b]).collect();
            let h = Graph::from_edges(g.n(), &edges).unwrap();
            for i in 0..g.n() {
                prop_assert_eq!(h.neighbors(i), g.neighbors(i));
            }
        }
    }
}

// ---------- Erdős–Rényi ----------

/// The documented sampling procedure, re-implemented.
fn er_sample(n: usize, p: f64, seed: u64, attempt: u64) -> Vec<(usize, usize)> {
    let mut rng = SqueezeRng::stream(seed, Purpose::Topology, attempt);
    let mut edges = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            if rng.next_f64() < p {
                edges.push((i, j));
            }
        }
    }
    edges
}

fn connected(n: usize, edges: &[(usize, usize)]) -> bool {
    let list: Vec<[usize; 2]> = edges.iter().map(|&(a, b)| [a, b]).collect();
    Graph::from_edges(n, &list).is_ok()
}

#[test]
fn erdos_renyi_is_deterministic_seeded_and_connected() {
    let a = Graph::erdos_renyi(40, 0.2, 123).unwrap();
    let b = Graph::erdos_renyi(40, 0.2, 123).unwrap();
    assert_eq!(a, b);
    let c = Graph::erdos_renyi(40, 0.2, 124).unwrap();
    assert_ne!(a.edges().collect::<Vec<_>>(), c.edges().collect::<Vec<_>>());
    for seed in 0..20 {
        let g = Graph::erdos_renyi(40, 0.2, seed).unwrap();
        let edges: Vec<[usize; 2]> = g.edges().map(|(a, b)| [a, b]).collect();
        assert!(Graph::from_edges(40, &edges).is_ok(), "connected");
    }
    // Density: 780 pairs at p = 0.2 → 156 expected edges (sd ≈ 11); n = 300 → 8970 ± 85.
    let big = Graph::erdos_renyi(300, 0.2, 9).unwrap();
    let m = big.num_edges() as f64;
    assert!((m - 8970.0).abs() < 500.0, "{m}");
    assert!(
        Graph::erdos_renyi(12, 1.0, 5).unwrap().is_complete(),
        "p = 1 is K_n"
    );
}

#[test]
fn erdos_renyi_follows_the_documented_stream_and_resamples() {
    // Near the threshold ln(40)/40 ≈ 0.092 many first samples are disconnected.
    let (n, p) = (40, 0.1);
    let mut resampled = 0;
    for seed in 0..60 {
        let g = Graph::erdos_renyi(n, p, seed).unwrap();
        let attempt: u64 = g
            .label()
            .rsplit("attempt=")
            .next()
            .unwrap()
            .trim_end_matches(')')
            .parse()
            .unwrap();
        for earlier in 0..attempt {
            assert!(
                !connected(n, &er_sample(n, p, seed, earlier)),
                "seed {seed}: attempt {earlier} was connected"
            );
        }
        assert_eq!(
            g.edges().collect::<Vec<_>>(),
            er_sample(n, p, seed, attempt),
            "seed {seed}"
        );
        if attempt > 0 {
            resampled += 1;
        }
    }
    assert!(
        resampled >= 5,
        "the test must exercise resampling ({resampled} seeds did)"
    );
}

#[test]
fn erdos_renyi_gives_up_with_a_hint() {
    let e = err_msg(Graph::erdos_renyi(40, 0.01, 7));
    assert_eq!(
        e,
        format!(
            "erdos_renyi(n = 40, p = 0.01): no connected sample in {ER_MAX_ATTEMPTS} attempts; G(n, p) is connected with high probability only above p ≈ ln(n)/n = 0.0922; raise p (e.g. to 0.184)"
        )
    );
    let g = Graph::erdos_renyi(40, 0.184, 7).unwrap();
    assert_eq!(g.n(), 40);
}

// ---------- every error message ----------

#[test]
fn too_few_and_too_many_nodes() {
    let cases = [
        (
            Graph::ring(1),
            "ring: n = 1 is too small, it needs n ≥ 2: n = 2 is a single edge, n ≥ 3 a proper cycle",
        ),
        (
            Graph::star(1),
            "star: n = 1 is too small, it needs n ≥ 2: a star needs a hub and at least one leaf",
        ),
        (
            Graph::path(0),
            "path: n = 0 is too small, it needs n ≥ 2: a path needs at least one edge",
        ),
        (
            Graph::complete(0),
            "complete: n = 0 is too small, it needs n ≥ 1: a complete graph needs at least one node",
        ),
        (
            Graph::erdos_renyi(1, 0.5, 0),
            "erdos_renyi: n = 1 is too small, it needs n ≥ 2: a random graph needs at least two nodes",
        ),
        (
            Graph::from_edges(0, &[]),
            "edges: n = 0 is too small, it needs n ≥ 1: a graph needs at least one node",
        ),
        (
            Graph::torus(0, 5),
            "torus: n = 0 is too small, it needs n ≥ 2: rows and cols must both be ≥ 1",
        ),
        (
            Graph::grid(1, 1),
            "grid: n = 1 is too small, it needs n ≥ 2: a 1×1 shape is a single node; use rows·cols ≥ 2",
        ),
    ];
    for (got, want) in cases {
        assert_eq!(err_msg(got), want);
    }
    assert_eq!(
        err_msg(Graph::ring(MAX_NODES + 1)),
        format!(
            "ring: n = {} exceeds the limit of {MAX_NODES} nodes (mixing matrices are dense n×n); use fewer nodes",
            MAX_NODES + 1
        )
    );
    assert!(matches!(
        Graph::torus(usize::MAX, 3),
        Err(TopologyError::TooManyNodes { n: usize::MAX, .. })
    ));
    assert!(matches!(
        Graph::complete(usize::MAX),
        Err(TopologyError::TooManyNodes { .. })
    ));
}

#[test]
fn torus_square_names_the_nearest_squares() {
    assert_eq!(
        err_msg(Graph::torus_square(20)),
        "torus_square: n = 20 is not a perfect square; nearest valid sizes: 16 (4×4) and 25 (5×5), or give rows and cols with rows·cols = n"
    );
    assert!(matches!(
        Graph::torus_square(2),
        Err(TopologyError::NotSquare {
            below: 1,
            above: 4,
            ..
        })
    ));
    assert!(matches!(
        Graph::torus_square(1),
        Err(TopologyError::TooFewNodes { .. })
    ));
    assert_eq!(Graph::torus_square(36).unwrap().n(), 36);
}

#[test]
fn disconnected_graphs_name_the_component_count() {
    assert_eq!(
        err_msg(Graph::from_edges(6, &[[0, 1], [2, 3], [4, 5]])),
        "edges: the graph on 6 nodes is disconnected (3 connected components; node 2 cannot be reached from node 0); add edges joining the components"
    );
    assert!(matches!(
        Graph::from_edges(3, &[[1, 2]]),
        Err(TopologyError::Disconnected {
            components: 2,
            unreached: 1,
            ..
        })
    ));
    assert!(matches!(
        Graph::from_edges(2, &[]),
        Err(TopologyError::Disconnected { components: 2, .. })
    ));
}

#[test]
fn edge_list_mistakes() {
    assert_eq!(
        err_msg(Graph::from_edges(4, &[[0, 1], [2, 2]])),
        "edges[1] = [2, 2] is a self-loop; list only edges between distinct nodes (self-weights come from the mixing matrix's diagonal)"
    );
    assert_eq!(
        err_msg(Graph::from_edges(4, &[[0, 1], [1, 4]])),
        "edges[1] = [1, 4] names node 4, but nodes are numbered 0..4 (n = 4)"
    );
    assert_eq!(
        err_msg(Graph::from_edges(4, &[[0, 1], [1, 2], [2, 1]])),
        "edges[2] = [2, 1] repeats edges[1] (edges are undirected: [a, b] and [b, a] are the same edge); list each edge once"
    );
    assert!(matches!(
        Graph::from_edges(4, &[[0, 1], [0, 1]]),
        Err(TopologyError::DuplicateEdge {
            index: 1,
            first: 0,
            ..
        })
    ));
}

#[test]
fn invalid_probabilities() {
    for p in [0.0, -0.1, 1.5, f64::NAN, f64::INFINITY] {
        let e = Graph::erdos_renyi(10, p, 0).unwrap_err();
        assert!(matches!(e, TopologyError::InvalidProbability { .. }), "{p}");
        assert_eq!(
            e.to_string(),
            format!("erdos_renyi: invalid p = {p}: the edge probability must lie in (0, 1]")
        );
    }
}

#[test]
fn user_matrix_mistakes() {
    let g = Graph::path(3).unwrap(); // edges 0-1, 1-2
    let ok = MixingMatrix::uniform(&g).dense().to_vec();
    assert!(MixingMatrix::from_dense(&g, ok.clone()).is_ok());
    assert_eq!(
        err_msg(MixingMatrix::from_dense(&g, vec![1.0; 4])),
        "mixing matrix has 4 entries but the graph has n = 3 nodes (expected n² = 9, row-major)"
    );
    let mut m = ok.clone();
    m[4] = f64::NAN;
    assert_eq!(
        err_msg(MixingMatrix::from_dense(&g, m)),
        "mixing matrix entry W[1][1] = NaN is not finite"
    );
    // (W row-major, the message naming the broken rule).
    let cases = [
        (
            [1.5, -0.5, 0.0, -0.5, 1.0, 0.5, 0.0, 0.5, 0.5],
            "mixing matrix entry W[0][1] = -0.5 is negative; mixing weights must be ≥ 0 (use metropolis_hastings or uniform weights)",
        ),
        (
            [0.5, 0.25, 0.25, 0.25, 0.5, 0.25, 0.25, 0.25, 0.5],
            "mixing matrix entry W[0][2] = 0.25 is non-zero but nodes 0 and 2 are not neighbours; W may only be non-zero on edges and the diagonal",
        ),
        (
            [0.6, 0.4, 0.0, 0.3, 0.4, 0.3, 0.0, 0.3, 0.7],
            "mixing matrix is not symmetric: W[0][1] = 0.4 but W[1][0] = 0.3 (tolerance 1e-10); gossip needs w_ij = w_ji",
        ),
        (
            [0.5, 0.4, 0.0, 0.4, 0.3, 0.3, 0.0, 0.3, 0.7],
            "mixing matrix row 0 sums to 0.9 (tolerance 1e-10); W must be doubly stochastic — put the remainder 1 − Σ_j w_ij on the diagonal",
        ),
    ];
    for (m, want) in cases {
        assert_eq!(err_msg(MixingMatrix::from_dense(&g, m.to_vec())), want);
    }
    // Within tolerance is accepted, beyond is not.
    let mut m = ok.clone();
    m[0] += 5e-11;
    assert!(MixingMatrix::from_dense(&g, m).is_ok());
    let mut m = ok;
    m[0] += 5e-10;
    assert!(matches!(
        MixingMatrix::from_dense(&g, m),
        Err(TopologyError::NotStochastic { row: 0, .. })
    ));
    // validate() against a different graph of the same size catches off-edge weights.
    let w = MixingMatrix::uniform(&Graph::complete(3).unwrap());
    assert!(matches!(
        w.validate(&g),
        Err(TopologyError::WeightOffEdge { i: 0, j: 2, .. })
    ));
    assert!(matches!(
        w.validate(&Graph::ring(4).unwrap()),
        Err(TopologyError::MatrixSize { n: 4, got: 9, .. })
    ));
}

#[test]
fn complete_weights_need_the_complete_graph() {
    assert_eq!(
        err_msg(MixingMatrix::complete(&Graph::star(4).unwrap())),
        "complete mixing (W = 11ᵀ/n) needs the complete graph, but nodes 1 and 2 are not neighbours; use Graph::complete(n) or uniform / metropolis_hastings weights"
    );
}

// ---------- config ----------

fn parse(s: &str) -> Result<TopologyConfig, String> {
    toml::from_str(s).map_err(|e| e.message().to_string())
}

#[test]
fn config_examples_build_the_same_as_the_constructors() {
    use Weighting::{MetropolisHastings as Mh, Uniform};
    // (configuration, n, the graph its constructor builds, the weighting).
    let cases = [
        (r#"kind = "ring""#, 20, Graph::ring(20), Mh),
        (
            "kind = \"torus\"\nrows = 4\ncols = 5\nweights = \"uniform\"",
            20,
            Graph::torus(4, 5),
            Uniform,
        ),
        ("kind = \"torus\"", 16, Graph::torus(4, 4), Mh),
        ("kind = \"torus\"\ncols = 5", 20, Graph::torus(4, 5), Mh),
        ("kind = \"grid\"\nrows = 8", 40, Graph::grid(8, 5), Mh),
        ("kind = \"grid\"", 9, Graph::grid(3, 3), Mh),
        ("kind = \"star\"", 7, Graph::star(7), Mh),
        ("kind = \"path\"", 7, Graph::path(7), Mh),
        ("kind = \"complete\"", 7, Graph::complete(7), Mh),
        (
            "kind = \"erdos_renyi\"\np = 0.2\nseed = 5\nweights = \"metropolis_hastings\"",
            40,
            Graph::erdos_renyi(40, 0.2, 5),
            Mh,
        ),
        (
            "kind = \"edges\"\nedges = [[0, 1], [1, 2]]",
            3,
            Graph::from_edges(3, &[[0, 1], [1, 2]]),
            Mh,
        ),
    ];
    for (text, n, graph, weighting) in cases {
        let graph = graph.unwrap();
        let c = parse(text).unwrap();
        assert_eq!(c.weights, weighting, "{text}");
        let (g, w) = c.build(n).unwrap();
        assert_eq!(g, graph, "{text}");
        assert_eq!(w, MixingMatrix::new(&graph, weighting), "{text}");
        // Round trip through TOML and JSON.
        let back: TopologyConfig = toml::from_str(&toml::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c, "{text}");
        let back: TopologyConfig =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c, "{text}");
    }
}

#[test]
fn config_erdos_renyi_seed_defaults_to_the_experiment_seed() {
    let c = parse("kind = \"erdos_renyi\"\np = 0.3").unwrap();
    assert_eq!(c.graph, GraphSpec::ErdosRenyi { p: 0.3, seed: None });
    let (g, _) = c.build_seeded(30, 77).unwrap();
    assert_eq!(g, Graph::erdos_renyi(30, 0.3, 77).unwrap());
    let (g0, _) = c.build(30).unwrap();
    assert_eq!(g0, Graph::erdos_renyi(30, 0.3, 0).unwrap());
    let fixed = parse("kind = \"erdos_renyi\"\np = 0.3\nseed = 4").unwrap();
    assert_eq!(
        fixed.build_seeded(30, 77).unwrap().0,
        Graph::erdos_renyi(30, 0.3, 4).unwrap()
    );
}

#[test]
fn config_mistakes_name_the_key_and_the_fix() {
    let e = parse("kind = \"rign\"").unwrap_err();
    assert!(
        e.contains("unknown variant `rign`") && e.contains("`ring`") && e.contains("`erdos_renyi`"),
        "{e}"
    );
    let e = parse("kind = \"ring\"\nsize = 4").unwrap_err();
    assert!(e.contains("unknown field `size`"), "{e}");
    let e = parse("kind = \"ring\"\nweights = \"fdla\"").unwrap_err();
    assert!(
        e.contains("unknown variant `fdla`") && e.contains("`metropolis_hastings`"),
        "{e}"
    );
    for (config, message) in [
        (
            "kind = \"ring\"\nrows = 4",
            "topology config: `rows` is not a parameter of kind = \"ring\", which takes no parameters besides weights",
        ),
        (
            "kind = \"torus\"\np = 0.5",
            "topology config: `p` is not a parameter of kind = \"torus\", which takes only rows, cols (and weights)",
        ),
        (
            "kind = \"erdos_renyi\"",
            "topology config: kind = \"erdos_renyi\" needs `p`, the edge probability in (0, 1] (e.g. p = 0.2)",
        ),
        (
            "kind = \"erdos_renyi\"\np = 2.0",
            "erdos_renyi: invalid p = 2: the edge probability must lie in (0, 1]",
        ),
        (
            "kind = \"edges\"",
            "topology config: kind = \"edges\" needs `edges`, a list of node pairs (e.g. edges = [[0, 1], [1, 2]])",
        ),
        (
            "kind = \"edges\"\nedges = [[0, 1], [0, 1, 2]]",
            "topology config: edges[1] = [0, 1, 2] has 3 entries; each edge is a pair [a, b] of node numbers",
        ),
    ] {
        assert_eq!(parse(config).unwrap_err(), message, "{config}");
    }
    assert!(
        parse("kind = \"edges\"\nedges = [[0]]")
            .unwrap_err()
            .contains("edges[0] = [0] has 1 entries")
    );
}

#[test]
fn config_build_errors_are_shape_aware() {
    let built = |config: &str, n: usize| err_msg(parse(config).unwrap().build(n));
    for (config, n, message) in [
        (
            "kind = \"torus\"\nrows = 4\ncols = 4",
            20,
            "torus 4×4 has 16 nodes but n = 20: choose rows·cols = n, e.g. 1×20, 2×10, 4×5, 5×4, 10×2, 20×1",
        ),
        (
            "kind = \"grid\"\nrows = 3",
            20,
            "grid 3×6 has 18 nodes but n = 20: choose rows·cols = n, e.g. 1×20, 2×10, 4×5, 5×4, 10×2, 20×1",
        ),
        (
            "kind = \"grid\"",
            20,
            "topology config: kind = \"grid\" without rows/cols needs a perfect square n, got n = 20; give rows (and cols) with rows·cols = n",
        ),
        (
            "kind = \"edges\"\nedges = [[0, 1], [1, 5]]",
            4,
            "edges[1] = [1, 5] names node 5, but nodes are numbered 0..4 (n = 4)",
        ),
    ] {
        assert_eq!(built(config, n), message, "{config}");
    }
    let c = parse("kind = \"grid\"\ncols = 0").unwrap();
    assert!(matches!(
        c.build(20),
        Err(TopologyError::ShapeMismatch { cols: 0, .. })
    ));
    assert!(built("kind = \"torus\"", 20).contains("nearest valid sizes: 16 (4×4) and 25 (5×5)"));
    let c = parse("kind = \"ring\"").unwrap();
    assert!(matches!(c.build(1), Err(TopologyError::TooFewNodes { .. })));
}
