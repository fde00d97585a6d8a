//! The optimizer rules against closed-form values and a scalar transcription of the formulas,
//! on whole arrays and on ranges of them.
mod common;
use common::Rng;
use fastmlp_core::optimizer::{
    sum_of_squares, Gradient, NetworkState, Optimizer, Rows, SlotArrays, Slots, StepRule,
};
use fastmlp_core::{Architecture, Error, Real};
use rayon::prelude::*;

const MOMENTUM: Optimizer = Optimizer::Sgd {
    momentum: 0.9,
    nesterov: false,
};
const NESTEROV: Optimizer = Optimizer::Sgd {
    momentum: 0.9,
    nesterov: true,
};
const ADAM: Optimizer = Optimizer::Adam {
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
};

fn close(actual: f64, expected: f64, rtol: f64) -> bool {
    (actual - expected).abs() <= rtol * expected.abs().max(1e-30)
}

fn cast<T: Real>(values: &[f64]) -> Vec<T> {
    values.iter().map(|&v| T::from_f64(v)).collect()
}

/// Steps of `optimizer` on one parameter with a constant gradient `g`; returns (w, slots).
fn run_steps<T: Real>(
    optimizer: Optimizer,
    w: &mut [T],
    g: &[T],
    steps: usize,
    lr: f64,
    alpha: f64,
    rows: usize,
) -> Vec<Vec<T>> {
    let mut slots = vec![vec![T::zero(); w.len()]; optimizer.slots()];
    for step in 1..=steps {
        let rule = StepRule::<T>::new(&optimizer, lr, alpha, rows as f64, step as i64).unwrap();
        let view = match slots.as_mut_slice() {
            [] => Slots::None,
            [v] => Slots::Velocity(v),
            [m, v] => Slots::Moments { m, v },
            _ => unreachable!(),
        };
        rule.update_weights(w, Gradient::Values(g), view).unwrap();
    }
    slots
}

#[test]
fn plain_sgd_is_w_minus_lr_g_exactly() {
    let mut rng = Rng::new(1);
    let (w0, g) = (rng.vec(37, 1.0), rng.vec(37, 1.0));
    let mut w = w0.clone();
    run_steps(Optimizer::PLAIN_SGD, &mut w, &g, 1, 0.1, 0.0, 8);
    for i in 0..w.len() {
        assert_eq!(w[i].to_bits(), (w0[i] - 0.1 * g[i]).to_bits());
    }
    let (w0, g): (Vec<f32>, Vec<f32>) = (cast(&w0), cast(&g));
    let mut w = w0.clone();
    run_steps(Optimizer::PLAIN_SGD, &mut w, &g, 1, 0.1, 0.0, 8);
    for i in 0..w.len() {
        assert_eq!(w[i].to_bits(), (w0[i] - 0.1f32 * g[i]).to_bits());
    }
}

#[test]
fn momentum_after_k_steps_of_a_constant_gradient() {
    // v_k = -lr g (1 - mu^k) / (1 - mu);  W_k = W_0 + sum of v_1..v_k
    let (lr, mu, k) = (0.05, 0.9, 6);
    let mut rng = Rng::new(2);
    let (w0, g) = (rng.vec(50, 1.0), rng.vec(50, 1.0));
    let mut w = w0.clone();
    let slots = run_steps(MOMENTUM, &mut w, &g, k, lr, 0.0, 4);
    let geometric = |j: i32| (1.0 - f64::powi(mu, j)) / (1.0 - mu);
    let total: f64 = (1..=k as i32).map(geometric).sum();
    for i in 0..w.len() {
        assert!(close(slots[0][i], -lr * g[i] * geometric(k as i32), 1e-12));
        assert!(close(w[i] - w0[i], -lr * g[i] * total, 1e-10), "{i}");
    }
}

#[test]
fn nesterov_after_k_steps_of_a_constant_gradient() {
    // W_k - W_{k-1} = mu v_k - lr g = -lr g (mu (1 - mu^k) / (1 - mu) + 1)
    let (lr, mu, k) = (0.05, 0.9, 5);
    let mut rng = Rng::new(3);
    let (w0, g) = (rng.vec(50, 1.0), rng.vec(50, 1.0));
    let mut w = w0.clone();
    run_steps(NESTEROV, &mut w, &g, k, lr, 0.0, 4);
    let total: f64 = (1..=k as i32)
        .map(|j| mu * (1.0 - f64::powi(mu, j)) / (1.0 - mu) + 1.0)
        .sum();
    for i in 0..w.len() {
        assert!(close(w[i] - w0[i], -lr * g[i] * total, 1e-10), "{i}");
    }
}

#[test]
fn adam_with_a_constant_gradient_moves_lr_against_its_sign() {
    // m_t = (1 - b1^t) g, v_t = (1 - b2^t) g^2: each step is -lr g / (|g| + eps / sqrt(1 - b2^t)).
    let (lr, k) = (1e-3, 7);
    let mut rng = Rng::new(4);
    let (w0, g) = (rng.vec(64, 1.0), rng.vec(64, 1.0));
    let mut w = w0.clone();
    let slots = run_steps(ADAM, &mut w, &g, k, lr, 0.0, 16);
    let expected_step =
        |t: i32, g: f64| -lr * g / (g.abs() + 1e-8 / (1.0 - f64::powi(0.999, t)).sqrt());
    for i in 0..w.len() {
        let total: f64 = (1..=k as i32).map(|t| expected_step(t, g[i])).sum();
        assert!(close(w[i] - w0[i], total, 1e-9), "{i}");
        assert!(close(
            slots[0][i],
            (1.0 - f64::powi(0.9, k as i32)) * g[i],
            1e-12
        ));
        assert!(close(
            slots[1][i],
            (1.0 - f64::powi(0.999, k as i32)) * g[i] * g[i],
            1e-12
        ));
    }
}

#[test]
fn l2_decays_the_weights_and_leaves_the_biases() {
    // g = 0: W_1 = W_0 - lr * (alpha / n) * W_0; a bias with g = 0 does not move.
    let (lr, alpha, rows) = (0.1, 0.5, 10);
    let mut w = vec![1.0, -2.0, 4.0];
    let mut b = vec![1.0, -2.0];
    let rule = StepRule::<f64>::new(&Optimizer::PLAIN_SGD, lr, alpha, rows as f64, 1).unwrap();
    assert!(rule.moves_untouched_rows());
    rule.update_weights(&mut w, Gradient::Zero, Slots::None)
        .unwrap();
    rule.update_biases(&mut b, Gradient::Values(&[0.0, 0.0]), Slots::None)
        .unwrap();
    assert_eq!(w, vec![0.995, -1.99, 3.98]);
    assert_eq!(b, vec![1.0, -2.0]);
    // With a gradient: W -= lr * (g + alpha / n * W).
    let mut w = vec![2.0];
    rule.update_weights(&mut w, Gradient::Values(&[1.0]), Slots::None)
        .unwrap();
    assert_eq!(w[0], 2.0 - 0.1 * (1.0 + 0.05 * 2.0));
}

/// A scalar transcription of the rules (the reference's order of operations).
fn transcribed<T: Real>(
    optimizer: Optimizer,
    w: &mut [T],
    g: &[T],
    slots: &mut [Vec<T>],
    lr: f64,
    l2: f64,
    t: i64,
) {
    let c = T::from_f64;
    for i in 0..w.len() {
        let g = g[i] + c(l2) * w[i];
        match optimizer {
            Optimizer::Sgd { momentum: 0.0, .. } => w[i] -= c(lr) * g,
            Optimizer::Sgd { momentum, nesterov } => {
                let v = &mut slots[0][i];
                *v = c(momentum) * *v - c(lr) * g;
                w[i] = if nesterov {
                    w[i] + (c(momentum) * *v - c(lr) * g)
                } else {
                    w[i] + *v
                };
            }
            Optimizer::Adam {
                beta1,
                beta2,
                epsilon,
            } => {
                let lr_t = lr * (1.0 - beta2.powf(t as f64)).sqrt() / (1.0 - beta1.powf(t as f64));
                slots[0][i] = c(beta1) * slots[0][i] + c(1.0 - beta1) * g;
                slots[1][i] = c(beta2) * slots[1][i] + c(1.0 - beta2) * (g * g);
                w[i] += (c(-lr_t) * slots[0][i]) / (slots[1][i].sqrt() + c(epsilon));
            }
        }
    }
}

fn bits<T: Real>(values: &[T]) -> Vec<u64> {
    values.iter().map(|&v| Real::to_f64(v).to_bits()).collect()
}

fn matches_transcription<T: Real>() {
    let mut rng = Rng::new(5);
    for optimizer in [Optimizer::PLAIN_SGD, MOMENTUM, NESTEROV, ADAM] {
        for alpha in [0.0, 0.3] {
            let n = 133; // several vectors and a tail on every instruction set
            let mut w: Vec<T> = cast(&rng.vec(n, 1.0));
            let mut expected = w.clone();
            let mut slots = vec![vec![T::zero(); n]; optimizer.slots()];
            let mut expected_slots = slots.clone();
            for t in 1..=4 {
                let g: Vec<T> = cast(&rng.vec(n, 0.5));
                let rule = StepRule::<T>::new(&optimizer, 0.07, alpha, 32.0, t).unwrap();
                let view = match slots.as_mut_slice() {
                    [] => Slots::None,
                    [v] => Slots::Velocity(v),
                    [m, v] => Slots::Moments { m, v },
                    _ => unreachable!(),
                };
                rule.update_weights(&mut w, Gradient::Values(&g), view)
                    .unwrap();
                transcribed(
                    optimizer,
                    &mut expected,
                    &g,
                    &mut expected_slots,
                    0.07,
                    alpha / 32.0,
                    t,
                );
            }
            assert_eq!(bits(&w), bits(&expected), "{optimizer:?} alpha {alpha}");
            for (s, e) in slots.iter().zip(&expected_slots) {
                assert_eq!(bits(s), bits(e), "{optimizer:?} alpha {alpha}");
            }
        }
    }
}

#[test]
fn every_rule_matches_its_transcription_bit_for_bit() {
    matches_transcription::<f32>();
    matches_transcription::<f64>();
}

#[test]
fn a_zero_gradient_is_the_same_as_zeros() {
    let mut rng = Rng::new(6);
    for optimizer in [Optimizer::PLAIN_SGD, MOMENTUM, NESTEROV, ADAM] {
        for alpha in [0.0, 2.0] {
            let n = 41;
            let start: Vec<f32> = cast(&rng.vec(n, 1.0));
            let slots_start: Vec<f32> = cast(&rng.vec(n, 1.0))
                .iter()
                .map(|v: &f32| v.abs())
                .collect();
            let mut outcomes = vec![];
            for gradient in [Gradient::Zero, Gradient::Values(&vec![0.0f32; n])] {
                let mut w = start.clone();
                let mut slots = vec![slots_start.clone(); optimizer.slots()];
                let rule = StepRule::<f32>::new(&optimizer, 0.1, alpha, 4.0, 3).unwrap();
                let view = match slots.as_mut_slice() {
                    [] => Slots::None,
                    [v] => Slots::Velocity(v),
                    [m, v] => Slots::Moments { m, v },
                    _ => unreachable!(),
                };
                rule.update_weights(&mut w, gradient, view).unwrap();
                outcomes.push((bits(&w), slots.iter().map(|s| bits(s)).collect::<Vec<_>>()));
            }
            assert_eq!(outcomes[0], outcomes[1], "{optimizer:?} alpha {alpha}");
            let moved = outcomes[0].0 != bits(&start);
            assert_eq!(
                moved,
                optimizer.slots() > 0 || alpha > 0.0,
                "{optimizer:?} {alpha}"
            );
        }
    }
}

#[test]
fn row_ranges_in_parallel_equal_the_whole_matrix() {
    let (fan_in, fan_out) = (37, 11);
    let mut rng = Rng::new(7);
    let w0: Vec<f64> = rng.vec(fan_in * fan_out, 1.0);
    let g: Vec<f64> = rng.vec(fan_in * fan_out, 1.0);
    let rule = StepRule::<f64>::new(&ADAM, 0.01, 0.1, 8.0, 2).unwrap();
    let mut whole = w0.clone();
    let (mut m, mut v) = (vec![0.1; w0.len()], vec![0.2; w0.len()]);
    rule.update_weights(
        &mut whole,
        Gradient::Values(&g),
        Slots::Moments {
            m: &mut m,
            v: &mut v,
        },
    )
    .unwrap();
    for rows_per_piece in [1, 5, 8, 36, 37, 100] {
        let mut w = w0.clone();
        let (mut m_p, mut v_p) = (vec![0.1; w0.len()], vec![0.2; w0.len()]);
        let slots = Slots::Moments {
            m: &mut m_p,
            v: &mut v_p,
        };
        let rows = Rows::new(&mut w, slots, fan_out).unwrap();
        let pieces: usize = rows
            .into_par_pieces(rows_per_piece)
            .enumerate()
            .map(|(index, mut piece)| {
                assert_eq!(piece.first(), index * rows_per_piece);
                assert!(piece.rows() <= rows_per_piece);
                assert_eq!(piece.first() % rows_per_piece, 0);
                let range = piece.first() * fan_out..(piece.first() + piece.rows()) * fan_out;
                let (weights, slots) = piece.parts();
                rule.update_weights(weights, Gradient::Values(&g[range]), slots)
                    .unwrap();
                1
            })
            .sum();
        assert_eq!(pieces, fan_in.div_ceil(rows_per_piece));
        assert_eq!(bits(&w), bits(&whole), "{rows_per_piece} rows per piece");
        assert_eq!(bits(&m_p), bits(&m));
        assert_eq!(bits(&v_p), bits(&v));
    }
    // Walked one after another (forwards and backwards), the pieces are the same.
    let mut w = w0.clone();
    let firsts = |rows: Rows<'_, f64>, reverse: bool| -> Vec<(usize, usize)> {
        let pieces = rows.into_par_pieces(4).with_min_len(100);
        let pairs = |p: Rows<'_, f64>| (p.first(), p.rows());
        if reverse {
            pieces.rev().map(pairs).collect()
        } else {
            pieces.map(pairs).collect()
        }
    };
    let forwards = firsts(Rows::new(&mut w, Slots::None, fan_out).unwrap(), false);
    let mut backwards = firsts(Rows::new(&mut w, Slots::None, fan_out).unwrap(), true);
    backwards.reverse();
    let expected: Vec<_> = (0..fan_in)
        .step_by(4)
        .map(|r| (r, 4.min(fan_in - r)))
        .collect();
    assert_eq!(forwards, expected);
    assert_eq!(backwards, expected);
    // And split by hand at an arbitrary row.
    let mut w = w0.clone();
    let (mut m_p, mut v_p) = (vec![0.1; w0.len()], vec![0.2; w0.len()]);
    let rows = Rows::new(
        &mut w,
        Slots::Moments {
            m: &mut m_p,
            v: &mut v_p,
        },
        fan_out,
    )
    .unwrap();
    let (mut low, mut high) = rows.split_at_row(13).unwrap();
    assert_eq!(
        (low.first(), low.rows(), high.first(), high.rows()),
        (0, 13, 13, 24)
    );
    let (weights, slots) = low.parts();
    rule.update_weights(weights, Gradient::Values(&g[..13 * fan_out]), slots)
        .unwrap();
    let (weights, slots) = high.parts();
    rule.update_weights(weights, Gradient::Values(&g[13 * fan_out..]), slots)
        .unwrap();
    assert_eq!(bits(&w), bits(&whole));
}

#[test]
fn mismatched_lengths_and_slots_are_errors() {
    let rule = StepRule::<f32>::new(&MOMENTUM, 0.1, 0.0, 4.0, 1).unwrap();
    let mut w = vec![0.0f32; 6];
    let mut v = vec![0.0f32; 5];
    let shape = |r: Result<(), Error>| matches!(r, Err(Error::Shape { .. }));
    assert!(shape(rule.update_weights(
        &mut w,
        Gradient::Values(&[0.0; 5]),
        Slots::None
    )));
    assert!(shape(rule.update_weights(
        &mut w,
        Gradient::Zero,
        Slots::Velocity(&mut v)
    )));
    let wrong_kind = rule.update_weights(&mut w, Gradient::Zero, Slots::None);
    assert!(matches!(wrong_kind, Err(Error::Value { ref arg, .. }) if arg == "state"));
    let mut v = vec![0.0f32; 6];
    assert!(shape(
        Rows::new(&mut w, Slots::Velocity(&mut v[..4]), 3).map(|_| ())
    ));
    assert!(shape(Rows::new(&mut w, Slots::None, 4).map(|_| ())));
    let rows = Rows::new(&mut w, Slots::Velocity(&mut v), 3).unwrap();
    assert!(shape(rows.split_at_row(3).map(|_| ())));
    for (lr, alpha, rows, step, arg) in [
        (0.0, 0.0, 4, 1, "lr"),
        (f64::NAN, 0.0, 4, 1, "lr"),
        (0.1, -1.0, 4, 1, "alpha"),
        (0.1, f64::INFINITY, 4, 1, "alpha"),
        (0.1, 0.0, 0, 1, "batch_rows"),
        (0.1, 0.0, 4, 0, "step"),
    ] {
        let error = StepRule::<f64>::new(&ADAM, lr, alpha, rows as f64, step).unwrap_err();
        assert!(
            matches!(error, Error::Value { arg: ref a, .. } if a == arg),
            "{error:?}"
        );
    }
}

#[test]
fn network_state_counts_steps_and_hands_out_each_layers_slots() {
    let arch = Architecture::new(vec![3, 4, 2]).unwrap();
    let mut step = 5i64;
    let mut arrays: Vec<Vec<f64>> = [12, 8, 4, 2, 12, 8, 4, 2]
        .iter()
        .map(|&n| vec![0.0; n])
        .collect();
    let [m_w0, m_w1, m_b0, m_b1, v_w0, v_w1, v_b0, v_b1] = &mut arrays[..] else {
        unreachable!()
    };
    let slots = vec![
        SlotArrays {
            weights: vec![&mut m_w0[..], &mut m_w1[..]],
            biases: vec![&mut m_b0[..], &mut m_b1[..]],
        },
        SlotArrays {
            weights: vec![&mut v_w0[..], &mut v_w1[..]],
            biases: vec![&mut v_b0[..], &mut v_b1[..]],
        },
    ];
    let mut state = NetworkState::new(&arch, ADAM, &mut step, slots).unwrap();
    assert!(state.begin_step(0.0, 0.0, 4.0).is_err());
    assert_eq!(state.step(), 5, "a failed step does not count");
    let rule = state.begin_step(0.1, 0.0, 4.0).unwrap();
    assert_eq!(state.step(), 6);
    assert_eq!(rule, StepRule::new(&ADAM, 0.1, 0.0, 4.0, 6).unwrap());
    let layers = state.layers_mut();
    assert_eq!(layers.len(), 2);
    for (layer, (w_len, b_len)) in layers.iter_mut().zip([(12, 4), (8, 2)]) {
        assert_eq!(layer.weights.elements(), Some(w_len));
        assert_eq!(layer.biases.elements(), Some(b_len));
        let mut w = vec![1.0; w_len];
        rule.update_weights(
            &mut w,
            Gradient::Values(&vec![1.0; w_len]),
            layer.weights.reborrow(),
        )
        .unwrap();
        assert!(matches!(layer.weights, Slots::Moments { ref m, .. } if m[0] == 1.0 - 0.9));
    }
    drop(state);
    assert_eq!(step, 6);
    assert!(arrays[0].iter().all(|&m| m == 1.0 - 0.9) && arrays[4].iter().all(|&v| v > 0.0));
}

#[test]
fn network_state_rejects_state_that_does_not_fit() {
    let arch = Architecture::new(vec![3, 2]).unwrap();
    let (mut w, mut b) = (vec![0.0f32; 6], vec![0.0f32; 2]);
    let mut step = 0i64;
    let error = NetworkState::<f32>::new(&arch, ADAM, &mut step, vec![]).unwrap_err();
    assert!(
        matches!(error, Error::Value { ref arg, .. } if arg == "state"),
        "{error:?}"
    );
    let mut short = [0.0f32; 5];
    let slots = vec![SlotArrays {
        weights: vec![&mut short[..]],
        biases: vec![&mut b[..]],
    }];
    let error = NetworkState::new(&arch, MOMENTUM, &mut step, slots).unwrap_err();
    assert!(matches!(error, Error::Shape { ref arg, .. } if arg == "state.velocity.weights[0]"));
    let mut negative = -1i64;
    let slots = vec![SlotArrays {
        weights: vec![&mut w[..]],
        biases: vec![&mut b[..]],
    }];
    let error = NetworkState::new(&arch, MOMENTUM, &mut negative, slots).unwrap_err();
    assert!(matches!(error, Error::Value { ref arg, .. } if arg == "state.step"));
    let mut plain_step = 0i64;
    let mut state =
        NetworkState::<f32>::new(&arch, Optimizer::PLAIN_SGD, &mut plain_step, vec![]).unwrap();
    assert!(matches!(state.layers_mut()[0].weights, Slots::None));
}

#[test]
fn sum_of_squares_in_f64() {
    let mut rng = Rng::new(8);
    for n in [0, 1, 15, 16, 17, 1000] {
        let values = rng.vec(n, 3.0);
        let naive: f64 = values.iter().map(|v| v * v).sum();
        assert!(close(sum_of_squares(&values), naive, 1e-13) || n == 0);
    }
    // float32 values whose squares overflow float32 are summed in f64.
    let big = vec![1e30f32; 20];
    assert!(close(
        sum_of_squares(&big),
        20.0 * (1e30f32 as f64).powi(2),
        1e-12
    ));
}
