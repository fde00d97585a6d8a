//! The output kinds (softmax, logistic, identity, exp) and per-row weights: hand values,
//! gradients against finite differences, and what weights mean (ones, integers, zeros).

mod common;

use common::{max_abs_diff, Rng};
use fastmlp_core::network::{backward_weighted, forward_output};
use fastmlp_core::output::{output_loss, Output};
use fastmlp_core::{
    train_epoch_objective, train_step_objective, Activation, Architecture, Epoch, Error, InputPath,
    Inputs, Model, Objective, SparseParams, Workspace,
};

const KINDS: [Output; 4] = [
    Output::Softmax,
    Output::Logistic,
    Output::Identity,
    Output::Exp,
];

struct Problem {
    arch: Architecture,
    weights: Vec<Vec<f64>>,
    biases: Vec<Vec<f64>>,
    x: Vec<f64>,
    /// Targets (rows, outputs) fit for the kind: one-hot, 0/1, real, counts.
    y: Vec<f64>,
    labels: Vec<i64>,
}

fn problem(sizes: &[usize], rows: usize, output: Output, seed: u64) -> Problem {
    let mut rng = Rng::new(seed);
    let arch = Architecture::new(sizes.to_vec()).unwrap();
    let weights = (0..arch.layers())
        .map(|l| rng.vec(arch.fan_in(l) * arch.fan_out(l), 0.6))
        .collect();
    let biases = (0..arch.layers())
        .map(|l| rng.vec(arch.fan_out(l), 0.3))
        .collect();
    let x = rng.vec(rows * arch.inputs(), 1.0);
    let classes = arch.classes();
    let labels: Vec<i64> = (0..rows).map(|_| rng.below(classes) as i64).collect();
    let y = match output {
        Output::Softmax => {
            let mut y = vec![0.0; rows * classes];
            for (r, &label) in labels.iter().enumerate() {
                y[r * classes + label as usize] = 1.0;
            }
            y
        }
        Output::Logistic => (0..rows * classes).map(|_| rng.below(2) as f64).collect(),
        Output::Identity => rng.vec(rows * classes, 1.5),
        Output::Exp => (0..rows * classes).map(|_| rng.below(4) as f64).collect(),
    };
    Problem {
        arch,
        weights,
        biases,
        x,
        y,
        labels,
    }
}

fn loss_of(p: &Problem, w: &[Vec<f64>], b: &[Vec<f64>], output: Output, s: Option<&[f64]>) -> f64 {
    let outputs = forward_output(&p.arch, w, b, &p.x, Activation::Tanh, output).unwrap();
    output_loss(output, outputs.last().unwrap(), &p.y, s, p.arch.classes())
}

#[test]
fn row_losses_and_activations_have_their_hand_values() {
    let half = 0.5f64;
    // logistic: sigmoid(0) = 1/2, each output's loss ln 2 whatever its target.
    let mut z = [0.0f64, 0.0];
    Output::Logistic.activate_rows(&mut z, 2);
    assert_eq!(z, [half, half]);
    let ln2 = std::f64::consts::LN_2;
    assert!((Output::Logistic.row_loss(&z, &[1.0, 0.0]) - 2.0 * ln2).abs() < 1e-15);
    // identity: half the squared error, summed over the outputs.
    assert_eq!(Output::Identity.row_loss(&[1.0, -2.0], &[0.0, 1.0]), 5.0);
    // exp: a perfect fit costs 0; out = 1 against y = 0 costs 1.
    let mut z = [2.0f64.ln(), 0.0];
    Output::Exp.activate_rows(&mut z, 2);
    assert!((z[0] - 2.0).abs() < 1e-15 && z[1] == 1.0);
    assert!(Output::Exp.row_loss(&z, &[2.0, 1.0]).abs() < 1e-15);
    assert_eq!(Output::Exp.row_loss(&[1.0], &[0.0]), 1.0);
    // softmax: -log p[label]; a probability of 0 costs -log(tiny), finite.
    assert!((Output::Softmax.row_loss(&[0.25, 0.75], &[1.0, 0.0]) - 4f64.ln()).abs() < 1e-15);
    assert!(Output::Softmax
        .row_loss(&[0.0f64, 1.0], &[1.0, 0.0])
        .is_finite());
    // logistic with p = 1 against y = 0: log(1 - p) clamped, finite (the reference's form).
    assert!(Output::Logistic.row_loss(&[1.0f32], &[0.0]).is_finite());
    // Names round-trip; an unknown one names the choices.
    for kind in KINDS {
        assert_eq!(kind.name().parse::<Output>().unwrap(), kind);
    }
    let err = "linear".parse::<Output>().unwrap_err();
    assert!(err
        .to_string()
        .starts_with("output: expected one of 'softmax', 'logistic'"));
}

#[test]
fn the_right_rows_are_counted_per_kind() {
    assert!(Output::Softmax.is_right(&[0.2, 0.8], &[0.0, 1.0]));
    assert!(Output::Logistic.is_right(&[0.9, 0.1], &[1.0, 0.0]));
    assert!(!Output::Logistic.is_right(&[0.9, 0.6], &[1.0, 0.0]));
    assert!(!Output::Identity.is_right(&[1.0], &[1.0]));
    assert!(!Output::Exp.is_right(&[1.0], &[1.0]));
}

/// Central differences of the (weighted) mean loss against backward's gradients, for every
/// weight and bias of a network with one hidden layer.
fn check_gradients(output: Output, weighted: bool) {
    let p = problem(&[4, 5, 3], 7, output, 11);
    let mut rng = Rng::new(5);
    let s: Vec<f64> = (0..7).map(|_| rng.uniform() + 1.0).collect();
    let s = weighted.then_some(&s[..]);
    let outputs = forward_output(
        &p.arch,
        &p.weights,
        &p.biases,
        &p.x,
        Activation::Tanh,
        output,
    )
    .unwrap();
    let (gw, gb) = backward_weighted(
        &p.arch,
        &p.weights,
        &p.x,
        &outputs,
        &p.y,
        Activation::Tanh,
        s,
    )
    .unwrap();
    let h = 1e-6;
    for l in 0..p.arch.layers() {
        for (is_bias, grads) in [(false, &gw[l]), (true, &gb[l])] {
            let numeric: Vec<f64> = (0..grads.len())
                .map(|i| {
                    let (mut w, mut b) = (p.weights.clone(), p.biases.clone());
                    let param = if is_bias { &mut b[l][i] } else { &mut w[l][i] };
                    *param += h;
                    let up = loss_of(&p, &w, &b, output, s);
                    let param = if is_bias { &mut b[l][i] } else { &mut w[l][i] };
                    *param -= 2.0 * h;
                    let down = loss_of(&p, &w, &b, output, s);
                    (up - down) / (2.0 * h)
                })
                .collect();
            let diff = max_abs_diff(grads, &numeric);
            assert!(
                diff < 1e-7,
                "{output:?} weighted={weighted} layer {l}: {diff}"
            );
        }
    }
}

#[test]
fn gradients_of_each_kind_match_finite_differences() {
    for output in KINDS {
        check_gradients(output, false);
        check_gradients(output, true);
    }
}

/// Every layer's weights (or biases).
type Params = Vec<Vec<f64>>;

struct Run {
    loss: f64,
    correct: usize,
    params: Vec<Vec<f64>>,
}

/// One epoch of `p` in batches of `batch` rows of `order`, Adam with L2 (so that the weights'
/// sum also enters the L2 term), towards `output` with row weights `s`.
fn epoch(p: &Problem, output: Output, order: &[i64], batch: usize, s: Option<&[f64]>) -> Run {
    use fastmlp_core::optimizer::{Descent, NetworkState, Optimizer, SlotArrays};
    let (mut w, mut b) = (p.weights.clone(), p.biases.clone());
    // Adam's m and v for every parameter, zero.
    let mut moments: Vec<(Params, Params)> = (0..2)
        .map(|_| {
            let zeros = |params: &[Vec<f64>]| params.iter().map(|v| vec![0.0; v.len()]).collect();
            (zeros(&w), zeros(&b))
        })
        .collect();
    let slots = moments
        .iter_mut()
        .map(|(mw, mb)| SlotArrays {
            weights: mw.iter_mut().map(|a| a.as_mut_slice()).collect(),
            biases: mb.iter_mut().map(|a| a.as_mut_slice()).collect(),
        })
        .collect();
    let mut step = 0i64;
    let adam = Optimizer::Adam {
        beta1: 0.9,
        beta2: 0.999,
        epsilon: 1e-8,
    };
    let state = NetworkState::new(&p.arch, adam, &mut step, slots).unwrap();
    let mut descent = Descent::new(state, 1e-2).unwrap();
    let targets = (output != Output::Softmax).then_some(&p.y[..]);
    let outcome = train_epoch_objective(
        &mut Model {
            arch: &p.arch,
            activation: Activation::Relu,
            weights: &mut w,
            biases: &mut b,
        },
        &Epoch {
            inputs: Inputs::Dense(&p.x),
            labels: &p.labels,
            order,
            lr: 0.01,
            batch_size: batch,
            input_path: InputPath::Dense,
            sparse: SparseParams::default(),
        },
        &Objective {
            output,
            sample_weight: s,
            targets,
        },
        Some(&mut descent),
        &mut Workspace::new(&p.arch, 0),
        &mut |_| Ok(()),
    )
    .unwrap();
    Run {
        loss: outcome.mean_loss,
        correct: outcome.correct,
        params: w.into_iter().chain(b).collect(),
    }
}

#[test]
fn weights_of_one_are_no_weights_bit_for_bit() {
    for output in KINDS {
        let p = problem(&[6, 8, 3], 50, output, 3);
        let order: Vec<i64> = (0..50).rev().collect();
        let ones = vec![1.0; 50];
        let plain = epoch(&p, output, &order, 16, None);
        let weighted = epoch(&p, output, &order, 16, Some(&ones));
        assert_eq!(plain.loss.to_bits(), weighted.loss.to_bits(), "{output:?}");
        assert_eq!(plain.correct, weighted.correct);
        assert_eq!(plain.params, weighted.params, "{output:?}");
    }
}

/// `p` with row r repeated `counts[r]` times (the targets and labels with it).
fn repeated(p: &Problem, counts: &[usize]) -> Problem {
    let (inputs, classes) = (p.arch.inputs(), p.arch.classes());
    let mut out = Problem {
        arch: p.arch.clone(),
        weights: p.weights.clone(),
        biases: p.biases.clone(),
        x: Vec::new(),
        y: Vec::new(),
        labels: Vec::new(),
    };
    for (r, &count) in counts.iter().enumerate() {
        for _ in 0..count {
            out.x.extend_from_slice(&p.x[r * inputs..(r + 1) * inputs]);
            out.y
                .extend_from_slice(&p.y[r * classes..(r + 1) * classes]);
            out.labels.push(p.labels[r]);
        }
    }
    out
}

#[test]
fn integer_weights_are_repeated_rows_and_zero_weights_absent_rows() {
    for output in KINDS {
        let p = problem(&[5, 6, 3], 30, output, 9);
        let mut rng = Rng::new(21);
        let counts: Vec<usize> = (0..30).map(|_| rng.below(4)).collect();
        let s: Vec<f64> = counts.iter().map(|&c| c as f64).collect();
        let all: Vec<i64> = (0..30).collect();
        // One batch of every row: the weighted mean over rows is the mean over repeats.
        let weighted = epoch(&p, output, &all, 30, Some(&s));
        let copies = repeated(&p, &counts);
        let rows = copies.labels.len();
        let order: Vec<i64> = (0..rows as i64).collect();
        let plain = epoch(&copies, output, &order, rows, None);
        assert!((weighted.loss - plain.loss).abs() <= 1e-12 * plain.loss.abs());
        for (a, b) in weighted.params.iter().zip(&plain.params) {
            assert!(max_abs_diff(a, b) < 1e-12, "{output:?}");
        }
        // Rows of weight 0 change nothing: the same as leaving them out (count 1 elsewhere).
        let zero_or_one: Vec<f64> = counts.iter().map(|&c| f64::from(c > 0)).collect();
        let present: Vec<usize> = counts.iter().map(|&c| usize::from(c > 0)).collect();
        let weighted = epoch(&p, output, &all, 30, Some(&zero_or_one));
        let kept = repeated(&p, &present);
        let kept_order: Vec<i64> = (0..kept.labels.len() as i64).collect();
        let plain = epoch(&kept, output, &kept_order, kept.labels.len(), None);
        assert!((weighted.loss - plain.loss).abs() <= 1e-12 * plain.loss.abs());
        for (a, b) in weighted.params.iter().zip(&plain.params) {
            assert!(max_abs_diff(a, b) < 1e-12, "{output:?}");
        }
    }
}

#[test]
fn a_batch_of_zero_weight_takes_no_step_and_costs_nothing() {
    let p = problem(&[4, 3], 6, Output::Identity, 2);
    let zeros = vec![0.0; 6];
    let run = epoch(&p, Output::Identity, &[0, 1, 2, 3, 4, 5], 3, Some(&zeros));
    assert_eq!(run.loss, 0.0);
    let before: Vec<Vec<f64>> = p.weights.iter().chain(&p.biases).cloned().collect();
    assert_eq!(run.params, before);
}

#[test]
fn bad_weights_and_targets_are_errors_naming_them() {
    let p = problem(&[4, 3], 6, Output::Identity, 2);
    let (mut w, mut b) = (p.weights.clone(), p.biases.clone());
    let mut model = Model {
        arch: &p.arch,
        activation: Activation::Identity,
        weights: &mut w,
        biases: &mut b,
    };
    let mut workspace = Workspace::new(&p.arch, 0);
    let mut step = |s: &[f64]| {
        let objective = Objective {
            output: Output::Identity,
            sample_weight: Some(s),
            targets: None,
        };
        train_step_objective(
            &mut model,
            &p.x,
            &p.y,
            0.1,
            &objective,
            None,
            &mut workspace,
        )
    };
    let message = |result: Result<f64, Error>| result.unwrap_err().to_string();
    assert_eq!(
        message(step(&[1.0; 5])),
        "sample_weight: expected 6 real numbers (one per row), got 5"
    );
    assert_eq!(
        message(step(&[1.0, -2.0, 1.0, 1.0, -3.0, 1.0])),
        "sample_weight: expected weights >= 0, got -3"
    );
    assert_eq!(
        message(step(&[1.0, f64::NAN, 1.0, 1.0, 1.0, 1.0])),
        "sample_weight: contains NaN or infinite values"
    );
    // An epoch of an output other than softmax needs target rows, not labels.
    let err = train_epoch_objective(
        &mut Model {
            arch: &p.arch,
            activation: Activation::Relu,
            weights: &mut p.weights.clone(),
            biases: &mut p.biases.clone(),
        },
        &Epoch {
            inputs: Inputs::Dense(&p.x),
            labels: &p.labels,
            order: &[0, 1],
            lr: 0.1,
            batch_size: 2,
            input_path: InputPath::Dense,
            sparse: SparseParams::default(),
        },
        &Objective {
            output: Output::Logistic,
            sample_weight: None,
            targets: None,
        },
        None,
        &mut Workspace::new(&p.arch, 0),
        &mut |_| Ok(()),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Value { arg, .. } if arg == "labels"));
}

#[test]
fn exp_overflow_is_divergence() {
    let mut p = problem(&[4, 3], 6, Output::Exp, 2);
    p.biases[0].iter_mut().for_each(|b| *b = 800.0); // exp(800) overflows f64
    let err = train_epoch_objective(
        &mut Model {
            arch: &p.arch,
            activation: Activation::Relu,
            weights: &mut p.weights.clone(),
            biases: &mut p.biases.clone(),
        },
        &Epoch {
            inputs: Inputs::Dense(&p.x),
            labels: &[],
            order: &[0, 1, 2],
            lr: 0.1,
            batch_size: 3,
            input_path: InputPath::Dense,
            sparse: SparseParams::default(),
        },
        &Objective {
            output: Output::Exp,
            sample_weight: None,
            targets: Some(&p.y),
        },
        None,
        &mut Workspace::new(&p.arch, 0),
        &mut |_| Ok(()),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Diverged { batch: 0, .. }), "{err:?}");
    // The loss says so, as the reference's: not finite.
    let out = forward_output(
        &p.arch,
        &p.weights,
        &p.biases,
        &p.x,
        Activation::Relu,
        Output::Exp,
    )
    .unwrap();
    assert!(!output_loss(Output::Exp, &out[0], &p.y, None, 3).is_finite());
}
