//! Contracts of the push-style mechanisms: what the server aggregates is exactly the mean of
//! what the workers hold, states survive serde mid-run bit for bit, bad input changes nothing.

use proptest::prelude::*;
use squeeze_compress::parse;
use squeeze_core::Message;
use squeeze_feedback::{
    Aggregator, Clip21, Clip21Variant, Clip21Worker, Econtrol, EcontrolWorker, Ef14, Ef14Worker,
    Ef21, Ef21Worker, FeedbackError, Round, Workspace,
};

fn vecs(n: usize, d: usize) -> impl Strategy<Value = Vec<Vec<Vec<f64>>>> {
    // rounds × workers × d, dyadic values so sums are exact
    prop::collection::vec(
        prop::collection::vec(
            prop::collection::vec((-64i32..64).prop_map(|v| v as f64 / 8.0), d),
            n,
        ),
        1..6,
    )
}

proptest! {
    /// EF21: after any rounds the server's g is the mean of the workers' g_i (exact on dyadic
    /// data with a power-of-two worker count), and with the identity compressor g_i = v_i.
    #[test]
    fn ef21_server_tracks_the_mean_of_the_workers(rounds in vecs(4, 7), k in 1usize..8) {
        for spec in [format!("top_k:k={k}"), "identity".to_string()] {
            let ef21 = Ef21::<f64>::new(parse(&spec).unwrap());
            let mut ws: Vec<_> = (0..4).map(|i| Ef21Worker::new(7, 3, i)).collect();
            let mut server = Aggregator::new(7, 4);
            let (mut space, mut msgs) = (Workspace::new(7), vec![Message::default(); 4]);
            for (t, vs) in rounds.iter().enumerate() {
                #[allow(clippy::needless_range_loop)]
                for i in 0..4 {
                    ef21.step(&mut ws[i], &vs[i], &Round::new(i, 4, t as u64), &mut space, &mut msgs[i]).unwrap();
                }
                server.absorb(t as u64, &msgs).unwrap();
            }
            for j in 0..7 {
                let mean = ws.iter().map(|w| w.g[j]).sum::<f64>() / 4.0;
                prop_assert_eq!(server.estimate()[j], mean);
            }
            if spec == "identity" {
                for (w, v) in ws.iter().zip(rounds.last().unwrap()) {
                    prop_assert_eq!(&w.g, v);
                }
            }
        }
    }

    /// EF14 with the identity sends exactly s·v and keeps no residual; with Top-K the sent
    /// plus the kept equals e + s·v.
    #[test]
    fn ef14_sends_plus_keeps_what_it_had(rounds in vecs(1, 5)) {
        let ef14 = Ef14::<f64>::new(parse("top_k:k=2").unwrap());
        let mut w = Ef14Worker::new(5, 1, 0);
        let (mut space, mut m) = (Workspace::new(5), Message::default());
        for (t, vs) in rounds.iter().enumerate() {
            let before: Vec<f64> = w.e.iter().zip(&vs[0]).map(|(e, v)| e + 0.5 * v).collect();
            ef14.step(&mut w, 0.5, &vs[0], &Round::new(0, 1, t as u64), &mut space, &mut m).unwrap();
            let sent = m.to_dense().unwrap();
            for j in 0..5 {
                prop_assert_eq!(sent[j] + w.e[j], before[j]);
            }
        }
    }
}

/// A state serialised mid-run and restored continues bit for bit (checkpointable error
/// feedback), for every mechanism with a randomised compressor.
#[test]
fn states_survive_serde_mid_run() {
    let v = |t: u64, i: usize| -> Vec<f32> {
        (0..16)
            .map(|j| ((t as f32 + 1.0) * (j as f32 - 7.5) + i as f32).sin())
            .collect()
    };
    let spec = "rand_k:k=4";
    let ef21 = Ef21::<f32>::new(parse(spec).unwrap());
    let econtrol = Econtrol::<f32>::new(parse(spec).unwrap(), 0.1).unwrap();
    let clip = Clip21::<f32>::new(0.5, Clip21Variant::Press(parse(spec).unwrap())).unwrap();
    let mut space = Workspace::new(16);
    let mut m = Message::default();
    let run = |from: u64,
               to: u64,
               a: &mut Ef21Worker<f32>,
               b: &mut EcontrolWorker<f32>,
               c: &mut Clip21Worker<f32>,
               space: &mut Workspace<f32>,
               m: &mut Message<f32>| {
        let mut bytes = Vec::new();
        for t in from..to {
            let r = Round::new(0, 1, t);
            ef21.step(a, &v(t, 0), &r, space, m).unwrap();
            bytes.extend(m.to_bytes());
            econtrol.step(b, &v(t, 1), &r, space, m).unwrap();
            bytes.extend(m.to_bytes());
            clip.step(c, &v(t, 2), &r, space, m).unwrap();
            bytes.extend(m.to_bytes());
        }
        bytes
    };
    let (mut a, mut b, mut c) = (
        Ef21Worker::new(16, 9, 0),
        EcontrolWorker::new(16, 9, 0),
        Clip21Worker::new(16, 9, 0),
    );
    let whole = run(0, 20, &mut a, &mut b, &mut c, &mut space, &mut m);
    let (mut a, mut b, mut c) = (
        Ef21Worker::new(16, 9, 0),
        EcontrolWorker::new(16, 9, 0),
        Clip21Worker::new(16, 9, 0),
    );
    let mut first = run(0, 7, &mut a, &mut b, &mut c, &mut space, &mut m);
    let mut a: Ef21Worker<f32> = serde_json::from_str(&serde_json::to_string(&a).unwrap()).unwrap();
    let mut b: EcontrolWorker<f32> =
        serde_json::from_str(&serde_json::to_string(&b).unwrap()).unwrap();
    let mut c: Clip21Worker<f32> =
        serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    first.extend(run(7, 20, &mut a, &mut b, &mut c, &mut space, &mut m));
    assert_eq!(first, whole);
}

/// NaN input or a wrong length is an error that names the entry, and the state is unchanged.
#[test]
fn bad_input_changes_nothing() {
    let ef21 = Ef21::<f64>::new(parse("top_k:k=1").unwrap());
    let mut w = Ef21Worker::new(3, 0, 0);
    let (mut space, mut m) = (Workspace::new(3), Message::default());
    ef21.step(
        &mut w,
        &[1.0, 2.0, 3.0],
        &Round::new(0, 1, 0),
        &mut space,
        &mut m,
    )
    .unwrap();
    let before = w.clone();
    let e = ef21
        .step(
            &mut w,
            &[1.0, f64::NAN, 3.0],
            &Round::new(0, 1, 1),
            &mut space,
            &mut m,
        )
        .unwrap_err();
    assert!(
        matches!(e, FeedbackError::NonFiniteInput { index: 1, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("[1] = NaN"), "{e}");
    let e = ef21
        .step(
            &mut w,
            &[1.0, 2.0],
            &Round::new(0, 1, 1),
            &mut space,
            &mut m,
        )
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("has 2 entries but the state was built for dimension 3"),
        "{e}"
    );
    assert_eq!(w, before);

    let mut server = Aggregator::<f64>::new(3, 2);
    let e = server.absorb(0, &[Message::Skip { dim: 3 }]).unwrap_err();
    assert!(e.to_string().contains("1 messages for 2 workers"), "{e}");
    let e = server
        .absorb(0, &[Message::Skip { dim: 3 }, Message::Skip { dim: 4 }])
        .unwrap_err();
    assert!(e.to_string().contains("dimension 3"), "{e}");
    assert_eq!(server.estimate(), &[0.0; 3]);

    assert!(Clip21::<f64>::new(0.0, Clip21Variant::Plain).is_err());
    assert!(Clip21::<f64>::new(1.0, Clip21Variant::Dp { sigma: f64::NAN }).is_err());
}
