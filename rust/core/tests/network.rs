mod common;
use common::{max_abs_diff, Rng};
use fastmlp_core::network::{backward, forward};
use fastmlp_core::softmax::{cross_entropy, softmax_rows};
use fastmlp_core::train::{sgd_step, train_epoch, Workspace};
use fastmlp_core::{
    Activation, Architecture, Epoch, Error, InputPath, Inputs, Model, SparseParams,
};

const ACTIVATIONS: [Activation; 3] = [Activation::Relu, Activation::Tanh, Activation::Sigmoid];
const STACKS: &[&[usize]] = &[&[6, 3], &[6, 5, 3], &[6, 5, 4, 3], &[6, 4, 5, 4, 3]];

struct Problem {
    arch: Architecture,
    weights: Vec<Vec<f64>>,
    biases: Vec<Vec<f64>>,
    x: Vec<f64>,
    labels: Vec<i64>,
    y: Vec<f64>,
}

fn problem(sizes: &[usize], rows: usize, seed: u64) -> Problem {
    let mut rng = Rng::new(seed);
    let arch = Architecture::new(sizes.to_vec()).unwrap();
    let weights = (0..arch.layers())
        .map(|l| rng.vec(arch.fan_in(l) * arch.fan_out(l), 0.8))
        .collect();
    let biases = (0..arch.layers())
        .map(|l| rng.vec(arch.fan_out(l), 0.3))
        .collect();
    let x = rng.vec(rows * arch.inputs(), 1.0);
    let labels: Vec<i64> = (0..rows)
        .map(|_| rng.below(arch.classes()) as i64)
        .collect();
    let mut y = vec![0.0; rows * arch.classes()];
    for (r, &label) in labels.iter().enumerate() {
        y[r * arch.classes() + label as usize] = 1.0;
    }
    Problem {
        arch,
        weights,
        biases,
        x,
        labels,
        y,
    }
}

fn loss(p: &Problem, weights: &[Vec<f64>], biases: &[Vec<f64>], act: Activation) -> f64 {
    let outputs = forward(&p.arch, weights, biases, &p.x, act).unwrap();
    cross_entropy(outputs.last().unwrap(), &p.y, p.arch.classes())
}

#[test]
fn softmax_is_stable_for_extreme_logits() {
    let mut z: Vec<f64> = vec![1e4, -1e4, 0.0, 1e4, 1e4, 1e4, -1e300, 1e300, 0.0];
    softmax_rows(&mut z, 3);
    assert!(z.iter().all(|v| v.is_finite()));
    for row in z.chunks(3) {
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-15);
    }
    assert_eq!(&z[..3], &[1.0, 0.0, 0.0]);
    assert!((z[3] - 1.0 / 3.0).abs() < 1e-15);
    let mut z32 = vec![88.0f32, -88.0, 1e30];
    softmax_rows(&mut z32, 3);
    assert_eq!(z32, vec![0.0, 0.0, 1.0]);
}

#[test]
fn cross_entropy_is_finite_at_zero_probability() {
    let p = [0.0, 1.0, 0.5, 0.5];
    let y = [1.0, 0.0, 0.0, 1.0];
    let loss = cross_entropy(&p, &y, 2);
    let expected = (-(f64::MIN_POSITIVE).ln() + -(0.5f64).ln()) / 2.0;
    assert!(loss.is_finite());
    assert!((loss - expected).abs() < 1e-12);
}

#[test]
fn backward_matches_central_differences() {
    for (s, sizes) in STACKS.iter().enumerate() {
        for act in ACTIVATIONS {
            let p = problem(sizes, 7, 10 + s as u64);
            let outputs = forward(&p.arch, &p.weights, &p.biases, &p.x, act).unwrap();
            let (gw, gb) = backward(&p.arch, &p.weights, &p.x, &outputs, &p.y, act).unwrap();
            let h = 1e-6;
            for l in 0..p.arch.layers() {
                for i in 0..p.weights[l].len() {
                    let mut plus = p.weights.clone();
                    plus[l][i] += h;
                    let mut minus = p.weights.clone();
                    minus[l][i] -= h;
                    let numeric = (loss(&p, &plus, &p.biases, act)
                        - loss(&p, &minus, &p.biases, act))
                        / (2.0 * h);
                    assert!(
                        (numeric - gw[l][i]).abs() <= 1e-6 * numeric.abs() + 1e-7,
                        "{act:?} {sizes:?} W[{l}][{i}]: numeric {numeric} analytic {}",
                        gw[l][i]
                    );
                }
                for i in 0..p.biases[l].len() {
                    let mut plus = p.biases.clone();
                    plus[l][i] += h;
                    let mut minus = p.biases.clone();
                    minus[l][i] -= h;
                    let numeric = (loss(&p, &p.weights, &plus, act)
                        - loss(&p, &p.weights, &minus, act))
                        / (2.0 * h);
                    assert!(
                        (numeric - gb[l][i]).abs() <= 1e-6 * numeric.abs() + 1e-7,
                        "{act:?} b[{l}][{i}]"
                    );
                }
            }
        }
    }
}

#[test]
fn sgd_step_is_backward_then_update() {
    for sizes in STACKS {
        for act in ACTIVATIONS {
            let p = problem(sizes, 9, 20);
            let outputs = forward(&p.arch, &p.weights, &p.biases, &p.x, act).unwrap();
            let (gw, gb) = backward(&p.arch, &p.weights, &p.x, &outputs, &p.y, act).unwrap();
            let expected_loss = cross_entropy(outputs.last().unwrap(), &p.y, p.arch.classes());
            let (mut w, mut b) = (p.weights.clone(), p.biases.clone());
            let mut ws = Workspace::new(&p.arch, 4);
            let lr = 0.3;
            let loss = sgd_step(
                &mut Model {
                    arch: &p.arch,
                    activation: act,
                    weights: &mut w,
                    biases: &mut b,
                },
                &p.x,
                &p.y,
                lr,
                &mut ws,
            )
            .unwrap();
            assert!((loss - expected_loss).abs() < 1e-12);
            for l in 0..p.arch.layers() {
                let want: Vec<f64> = p.weights[l]
                    .iter()
                    .zip(&gw[l])
                    .map(|(w, g)| w - lr * g)
                    .collect();
                assert!(
                    max_abs_diff(&w[l], &want) < 1e-13,
                    "{act:?} {sizes:?} W[{l}]"
                );
                let want: Vec<f64> = p.biases[l]
                    .iter()
                    .zip(&gb[l])
                    .map(|(b, g)| b - lr * g)
                    .collect();
                assert!(max_abs_diff(&b[l], &want) < 1e-13);
            }
        }
    }
}

#[test]
fn train_epoch_is_a_loop_of_sgd_steps() {
    for sizes in STACKS {
        for act in ACTIVATIONS {
            for batch_size in [1, 3, 4, 50] {
                let p = problem(sizes, 11, 30);
                let order: Vec<i64> = vec![3, 0, 10, 7, 7, 1, 2, 9, 4, 5, 6, 8, 0];
                let (mut w, mut b) = (p.weights.clone(), p.biases.clone());
                let mut ws = Workspace::new(&p.arch, 1);
                let mut seen = Vec::new();
                let outcome = train_epoch(
                    &mut Model {
                        arch: &p.arch,
                        activation: act,
                        weights: &mut w,
                        biases: &mut b,
                    },
                    &Epoch {
                        inputs: Inputs::Dense(&p.x),
                        labels: &p.labels,
                        order: &order,
                        batch_size,
                        input_path: InputPath::Dense,
                        sparse: SparseParams::default(),
                        lr: 0.2,
                    },
                    None,
                    &mut ws,
                    &mut |batch| {
                        seen.push(batch);
                        Ok(())
                    },
                )
                .unwrap();
                assert_eq!(
                    seen,
                    (0..order.len().div_ceil(batch_size)).collect::<Vec<_>>()
                );

                let (mut w2, mut b2) = (p.weights.clone(), p.biases.clone());
                let mut ws2 = Workspace::new(&p.arch, 1);
                let classes = p.arch.classes();
                let mut loss_sum = 0.0;
                for batch in order.chunks(batch_size) {
                    let xb: Vec<f64> = batch
                        .iter()
                        .flat_map(|&i| p.x[i as usize * 6..i as usize * 6 + 6].to_vec())
                        .collect();
                    let yb: Vec<f64> = batch
                        .iter()
                        .flat_map(|&i| {
                            p.y[i as usize * classes..(i as usize + 1) * classes].to_vec()
                        })
                        .collect();
                    loss_sum += batch.len() as f64
                        * sgd_step(
                            &mut Model {
                                arch: &p.arch,
                                activation: act,
                                weights: &mut w2,
                                biases: &mut b2,
                            },
                            &xb,
                            &yb,
                            0.2,
                            &mut ws2,
                        )
                        .unwrap();
                }
                assert!((outcome.mean_loss - loss_sum / order.len() as f64).abs() < 1e-12);
                assert_eq!(outcome.samples, order.len());
                for l in 0..p.arch.layers() {
                    assert!(
                        max_abs_diff(&w[l], &w2[l]) < 1e-12,
                        "{act:?} {sizes:?} bs {batch_size}"
                    );
                    assert!(max_abs_diff(&b[l], &b2[l]) < 1e-12);
                }
            }
        }
    }
}

#[test]
fn training_reduces_the_loss_in_single_precision() {
    let p = problem(&[6, 16, 3], 60, 40);
    let mut w: Vec<Vec<f32>> = p
        .weights
        .iter()
        .map(|v| v.iter().map(|&x| x as f32).collect())
        .collect();
    let mut b: Vec<Vec<f32>> = p
        .biases
        .iter()
        .map(|v| v.iter().map(|&x| x as f32).collect())
        .collect();
    let x: Vec<f32> = p.x.iter().map(|&v| v as f32).collect();
    let order: Vec<i64> = (0..60).collect();
    let mut ws = Workspace::new(&p.arch, 8);
    let mut losses = Vec::new();
    for _ in 0..30 {
        let o = train_epoch(
            &mut Model {
                arch: &p.arch,
                activation: Activation::Tanh,
                weights: &mut w,
                biases: &mut b,
            },
            &Epoch {
                inputs: Inputs::Dense(&x),
                labels: &p.labels,
                order: &order,
                batch_size: 8,
                input_path: InputPath::Dense,
                sparse: SparseParams::default(),
                lr: 0.5,
            },
            None,
            &mut ws,
            &mut |_| Ok(()),
        )
        .unwrap();
        losses.push(o.mean_loss);
    }
    assert!(losses[29] < 0.5 * losses[0], "{losses:?}");
}

#[test]
fn bad_arguments_are_errors_not_panics() {
    let p = problem(&[6, 5, 3], 4, 50);
    let mut ws = Workspace::new(&p.arch, 2);
    let (mut w, mut b) = (p.weights.clone(), p.biases.clone());
    let mut run = |labels: &[i64], order: &[i64], lr: f64, batch: usize| {
        train_epoch(
            &mut Model {
                arch: &p.arch,
                activation: Activation::Relu,
                weights: &mut w,
                biases: &mut b,
            },
            &Epoch {
                inputs: Inputs::Dense(&p.x),
                labels,
                order,
                batch_size: batch,
                input_path: InputPath::Dense,
                sparse: SparseParams::default(),
                lr,
            },
            None,
            &mut ws,
            &mut |_| Ok(()),
        )
    };
    let ok_order = [0i64, 1, 2, 3];
    assert!(
        matches!(run(&[0, 1, 3, 0], &ok_order, 0.1, 2), Err(Error::Value { arg, .. }) if arg == "labels")
    );
    assert!(
        matches!(run(&[0, -1, 2, 0], &ok_order, 0.1, 2), Err(Error::Value { arg, .. }) if arg == "labels")
    );
    assert!(
        matches!(run(&[0, 1], &ok_order, 0.1, 2), Err(Error::Shape { arg, .. }) if arg == "labels")
    );
    assert!(
        matches!(run(&p.labels, &[0, 4], 0.1, 2), Err(Error::Value { arg, .. }) if arg == "order")
    );
    assert!(matches!(run(&p.labels, &[], 0.1, 2), Err(Error::Value { arg, .. }) if arg == "order"));
    assert!(
        matches!(run(&p.labels, &ok_order, 0.0, 2), Err(Error::Value { arg, .. }) if arg == "lr")
    );
    assert!(
        matches!(run(&p.labels, &ok_order, f64::NAN, 2), Err(Error::Value { arg, .. }) if arg == "lr")
    );
    assert!(
        matches!(run(&p.labels, &ok_order, 0.1, 0), Err(Error::Value { arg, .. }) if arg == "batch_size")
    );
    assert!("softmax".parse::<Activation>().is_err());
}

#[test]
fn divergence_stops_before_the_bad_step_and_keeps_the_weights() {
    let mut p = problem(&[6, 5, 3], 8, 60);
    // Inputs of 1e200 and lr 1e200: the first update overflows the weights to inf.
    p.x.iter_mut().for_each(|v| *v *= 1e200);
    let (mut w, mut b) = (p.weights.clone(), p.biases.clone());
    let mut ws = Workspace::new(&p.arch, 2);
    let order: Vec<i64> = (0..8).collect();
    let mut after = Vec::new();
    let err = train_epoch(
        &mut Model {
            arch: &p.arch,
            activation: Activation::Tanh,
            weights: &mut w,
            biases: &mut b,
        },
        &Epoch {
            inputs: Inputs::Dense(&p.x),
            labels: &p.labels,
            order: &order,
            batch_size: 2,
            input_path: InputPath::Dense,
            sparse: SparseParams::default(),
            lr: 1e200,
        },
        None,
        &mut ws,
        &mut |batch| {
            after.push(batch);
            Ok(())
        },
    )
    .unwrap_err();
    let Error::Diverged { batch, loss } = err else {
        panic!("expected Diverged, got {err:?}")
    };
    assert!(batch >= 1 && !loss.is_finite());
    assert_eq!(after.len(), batch);
    // The parameters are those of the last finished step: the failed batch changed nothing.
    let (mut w2, mut b2) = (p.weights.clone(), p.biases.clone());
    let done = &order[..2 * batch];
    train_epoch(
        &mut Model {
            arch: &p.arch,
            activation: Activation::Tanh,
            weights: &mut w2,
            biases: &mut b2,
        },
        &Epoch {
            inputs: Inputs::Dense(&p.x),
            labels: &p.labels,
            order: done,
            batch_size: 2,
            input_path: InputPath::Dense,
            sparse: SparseParams::default(),
            lr: 1e200,
        },
        None,
        &mut ws,
        &mut |_| Ok(()),
    )
    .unwrap();
    assert_eq!(format!("{w:?}{b:?}"), format!("{w2:?}{b2:?}"));
}

#[test]
fn an_interrupt_stops_after_the_current_batch() {
    let p = problem(&[6, 5, 3], 8, 70);
    let (mut w, mut b) = (p.weights.clone(), p.biases.clone());
    let mut ws = Workspace::new(&p.arch, 2);
    let order: Vec<i64> = (0..8).collect();
    let err = train_epoch(
        &mut Model {
            arch: &p.arch,
            activation: Activation::Relu,
            weights: &mut w,
            biases: &mut b,
        },
        &Epoch {
            inputs: Inputs::Dense(&p.x),
            labels: &p.labels,
            order: &order,
            batch_size: 2,
            input_path: InputPath::Dense,
            sparse: SparseParams::default(),
            lr: 0.1,
        },
        None,
        &mut ws,
        &mut |batch| {
            if batch == 1 {
                Err(Error::Interrupted { batches: batch + 1 })
            } else {
                Ok(())
            }
        },
    )
    .unwrap_err();
    assert_eq!(err, Error::Interrupted { batches: 2 });
    // Two steps happened: the same as a 4-row epoch.
    let (mut w2, mut b2) = (p.weights.clone(), p.biases.clone());
    train_epoch(
        &mut Model {
            arch: &p.arch,
            activation: Activation::Relu,
            weights: &mut w2,
            biases: &mut b2,
        },
        &Epoch {
            inputs: Inputs::Dense(&p.x),
            labels: &p.labels,
            order: &order[..4],
            batch_size: 2,
            input_path: InputPath::Dense,
            sparse: SparseParams::default(),
            lr: 0.1,
        },
        None,
        &mut ws,
        &mut |_| Ok(()),
    )
    .unwrap();
    assert_eq!(w, w2);
}
