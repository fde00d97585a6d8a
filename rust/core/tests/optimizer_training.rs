//! Training with an optimizer (momentum, Nesterov, Adam, L2) through the engine's step: an
//! epoch is its steps, plain SGD stays plain SGD bit for bit, the sparse first layer agrees
//! with the dense one, and an interrupted or diverged epoch keeps the weights and the state
//! of its last finished step. (The rules against the NumPy reference: tests/ in Python.)
mod common;
use common::Rng;
use fastmlp_core::optimizer::{Descent, NetworkState, Optimizer, SlotArrays};
use fastmlp_core::{
    train_epoch, train_epoch_with, train_step, Activation, Architecture, Epoch, Error, InputPath,
    Inputs, Real, Workspace,
};

const NESTEROV: Optimizer = Optimizer::Sgd {
    momentum: 0.9,
    nesterov: true,
};
const MOMENTUM: Optimizer = Optimizer::Sgd {
    momentum: 0.8,
    nesterov: false,
};
const ADAM: Optimizer = Optimizer::Adam {
    beta1: 0.9,
    beta2: 0.999,
    epsilon: 1e-8,
};
/// Each rule with and without L2, and plain SGD with L2.
const RULES: [(Optimizer, f64); 6] = [
    (Optimizer::PLAIN_SGD, 0.05),
    (MOMENTUM, 0.0),
    (NESTEROV, 0.0),
    (NESTEROV, 0.05),
    (ADAM, 0.0),
    (ADAM, 0.05),
];

/// One array per layer.
type PerLayer<T> = Vec<Vec<T>>;

/// A network's parameters and an optimizer's state arrays, owned.
#[derive(Clone, PartialEq, Debug)]
struct Model<T> {
    weights: Vec<Vec<T>>,
    biases: Vec<Vec<T>>,
    step: i64,
    /// One (weights, biases) pair per slot.
    slots: Vec<(PerLayer<T>, PerLayer<T>)>,
}

impl<T: Real> Model<T> {
    fn new(arch: &Architecture, optimizer: Optimizer, seed: u64) -> Self {
        let mut rng = Rng::new(seed);
        let weights: Vec<Vec<T>> = (0..arch.layers())
            .map(|l| {
                let scale = 1.0 / (arch.fan_in(l) as f64).sqrt();
                let values = rng.vec(arch.fan_in(l) * arch.fan_out(l), scale);
                values.into_iter().map(T::from_f64).collect()
            })
            .collect();
        let biases: Vec<Vec<T>> = (0..arch.layers())
            .map(|l| {
                rng.vec(arch.fan_out(l), 0.1)
                    .into_iter()
                    .map(T::from_f64)
                    .collect()
            })
            .collect();
        let zeros = |arrays: &Vec<Vec<T>>| -> Vec<Vec<T>> {
            arrays.iter().map(|a| vec![T::zero(); a.len()]).collect()
        };
        let slots = (0..optimizer.slots())
            .map(|_| (zeros(&weights), zeros(&biases)))
            .collect();
        Model {
            weights,
            biases,
            step: 0,
            slots,
        }
    }

    /// Run `train` with the parameters and a `Descent` over the state.
    fn train<R>(
        &mut self,
        arch: &Architecture,
        optimizer: Optimizer,
        alpha: f64,
        train: impl FnOnce(&mut Vec<Vec<T>>, &mut Vec<Vec<T>>, &mut Descent<'_, T>) -> R,
    ) -> R {
        let slots = self
            .slots
            .iter_mut()
            .map(|(w, b)| SlotArrays {
                weights: w.iter_mut().map(|a| a.as_mut_slice()).collect(),
                biases: b.iter_mut().map(|a| a.as_mut_slice()).collect(),
            })
            .collect();
        let state = NetworkState::new(arch, optimizer, &mut self.step, slots).unwrap();
        let mut descent = Descent::new(state, alpha).unwrap();
        train(&mut self.weights, &mut self.biases, &mut descent)
    }

    fn bits(&self) -> Vec<u64> {
        let arrays = self.weights.iter().chain(&self.biases).chain(
            self.slots
                .iter()
                .flat_map(|(w, b)| w.iter().chain(b.iter())),
        );
        arrays
            .flat_map(|a| a.iter().map(|v| Real::to_f64(*v).to_bits()))
            .chain([self.step as u64])
            .collect()
    }

    fn values(&self) -> Vec<f64> {
        let arrays = self.weights.iter().chain(&self.biases).chain(
            self.slots
                .iter()
                .flat_map(|(w, b)| w.iter().chain(b.iter())),
        );
        arrays
            .flat_map(|a| a.iter().map(|&v| Real::to_f64(v)))
            .collect()
    }
}

/// Rows like images: about a third of the inputs nonzero, the same ones often.
fn data<T: Real>(rows: usize, inputs: usize, classes: usize) -> (Vec<T>, Vec<i64>) {
    let mut rng = Rng::new(3);
    let x = (0..rows * inputs)
        .map(|i| {
            let column = i % inputs;
            if column % 3 == 0 && rng.uniform() > -0.5 {
                T::from_f64(rng.uniform().abs())
            } else {
                T::zero()
            }
        })
        .collect();
    let labels = (0..rows).map(|_| rng.below(classes) as i64).collect();
    (x, labels)
}

#[allow(clippy::too_many_arguments)]
fn epoch<T: Real>(
    arch: &Architecture,
    model: &mut Model<T>,
    (optimizer, alpha): (Optimizer, f64),
    x: &[T],
    labels: &[i64],
    order: &[i64],
    batch_size: usize,
    input_path: InputPath,
    after_batch: &mut (dyn FnMut(usize) -> fastmlp_core::Result<()> + Send),
) -> fastmlp_core::Result<f64> {
    let epoch = Epoch {
        inputs: Inputs::Dense(x),
        labels,
        order,
        lr: 0.05,
        batch_size,
        activation: Activation::Tanh,
        input_path,
    };
    model.train(arch, optimizer, alpha, |w, b, descent| {
        let mut workspace = Workspace::new(arch, 0);
        train_epoch_with(
            arch,
            w,
            b,
            epoch,
            Some(descent),
            &mut workspace,
            after_batch,
        )
        .map(|outcome| outcome.mean_loss)
    })
}

fn no_stop(_: usize) -> fastmlp_core::Result<()> {
    Ok(())
}

fn one_hot<T: Real>(labels: &[i64], classes: usize) -> Vec<T> {
    let mut y = vec![T::zero(); labels.len() * classes];
    for (r, &label) in labels.iter().enumerate() {
        y[r * classes + label as usize] = T::one();
    }
    y
}

/// The same steps (the GEMM kernels may round a gathered batch and a contiguous one
/// differently, so within `tolerance`, not bit for bit).
fn an_epoch_is_its_steps<T: Real>(tolerance: f64) {
    let arch = Architecture::new(vec![24, 16, 8, 5]).unwrap();
    let (x, labels) = data::<T>(48, 24, 5);
    let order: Vec<i64> = (0..48).rev().collect();
    for rule in RULES {
        let mut by_epoch = Model::<T>::new(&arch, rule.0, 1);
        let mut by_steps = by_epoch.clone();
        let loss = epoch(
            &arch,
            &mut by_epoch,
            rule,
            &x,
            &labels,
            &order,
            12,
            InputPath::Dense,
            &mut no_stop,
        )
        .unwrap();
        let mut losses = 0.0;
        for batch in order.chunks(12) {
            let rows: Vec<T> = batch
                .iter()
                .flat_map(|&i| x[i as usize * 24..(i as usize + 1) * 24].to_vec())
                .collect();
            let batch_labels: Vec<i64> = batch.iter().map(|&i| labels[i as usize]).collect();
            let y = one_hot::<T>(&batch_labels, 5);
            losses += by_steps.train(&arch, rule.0, rule.1, |w, b, descent| {
                let mut workspace = Workspace::new(&arch, 0);
                let activation = Activation::Tanh;
                train_step(
                    &arch,
                    w,
                    b,
                    &rows,
                    &y,
                    0.05,
                    activation,
                    Some(descent),
                    &mut workspace,
                )
                .unwrap()
            }) * 12.0;
        }
        let worst = by_epoch
            .values()
            .iter()
            .zip(&by_steps.values())
            .map(|(a, b)| (a - b).abs() / (1.0 + a.abs()))
            .fold(0.0, f64::max);
        assert!(worst <= tolerance, "{rule:?}: differ by {worst}");
        assert_eq!((by_epoch.step, by_steps.step), (4, 4));
        assert!(
            (loss - losses / 48.0).abs() <= tolerance * loss.abs(),
            "{rule:?}"
        );
    }
}

#[test]
fn an_epoch_is_its_steps_one_train_step_each() {
    an_epoch_is_its_steps::<f32>(1e-5);
    an_epoch_is_its_steps::<f64>(1e-13);
}

#[test]
fn plain_sgd_with_a_state_is_todays_sgd_and_counts_its_steps() {
    let arch = Architecture::new(vec![24, 16, 5]).unwrap();
    let (x, labels) = data::<f64>(40, 24, 5);
    let order: Vec<i64> = (0..40).collect();
    for path in [InputPath::Dense, InputPath::Sparse] {
        let mut plain = Model::<f64>::new(&arch, Optimizer::PLAIN_SGD, 2);
        let mut workspace = Workspace::new(&arch, 0);
        train_epoch(
            &arch,
            &mut plain.weights,
            &mut plain.biases,
            Inputs::Dense(&x),
            &labels,
            &order,
            0.05,
            16,
            Activation::Tanh,
            path,
            &mut workspace,
            &mut no_stop,
        )
        .unwrap();
        let mut counted = Model::<f64>::new(&arch, Optimizer::PLAIN_SGD, 2);
        let rule = (Optimizer::PLAIN_SGD, 0.0);
        epoch(
            &arch,
            &mut counted,
            rule,
            &x,
            &labels,
            &order,
            16,
            path,
            &mut no_stop,
        )
        .unwrap();
        assert_eq!(counted.step, 3);
        counted.step = 0;
        assert_eq!(plain.bits(), counted.bits(), "{path:?}");
    }
}

fn the_sparse_first_layer_agrees_with_the_dense_one<T: Real>(tolerance: f64) {
    for sizes in [vec![30, 4], vec![30, 12, 4], vec![30, 12, 6, 4]] {
        let arch = Architecture::new(sizes.clone()).unwrap();
        let (x, labels) = data::<T>(45, 30, 4);
        let order: Vec<i64> = (0..45).map(|i| (i * 7) % 45).collect();
        for rule in RULES {
            for batch in [1, 8, 45] {
                let mut results = Vec::new();
                for path in [InputPath::Dense, InputPath::Sparse] {
                    let mut model = Model::<T>::new(&arch, rule.0, 4);
                    for _ in 0..2 {
                        epoch(
                            &arch,
                            &mut model,
                            rule,
                            &x,
                            &labels,
                            &order,
                            batch,
                            path,
                            &mut no_stop,
                        )
                        .unwrap();
                    }
                    results.push(model);
                }
                let (dense, sparse) = (results[0].values(), results[1].values());
                let worst = dense
                    .iter()
                    .zip(&sparse)
                    .map(|(a, b)| (a - b).abs() / (1.0 + a.abs()))
                    .fold(0.0, f64::max);
                assert!(
                    worst <= tolerance,
                    "{sizes:?}, {rule:?}, batch {batch}: differ by {worst}"
                );
                assert_eq!(results[0].step, results[1].step);
            }
        }
    }
}

#[test]
fn the_sparse_first_layer_agrees_with_the_dense_one_for_every_rule() {
    the_sparse_first_layer_agrees_with_the_dense_one::<f64>(1e-10);
    the_sparse_first_layer_agrees_with_the_dense_one::<f32>(1e-3);
}

#[test]
fn an_interrupted_epoch_keeps_the_weights_and_state_of_its_last_step() {
    let arch = Architecture::new(vec![24, 16, 5]).unwrap();
    let (x, labels) = data::<f64>(60, 24, 5);
    let order: Vec<i64> = (0..60).collect();
    for path in [InputPath::Dense, InputPath::Sparse] {
        for rule in RULES {
            let mut stopped = Model::<f64>::new(&arch, rule.0, 5);
            let mut stop_after_third = |b: usize| match b {
                2 => Err(Error::Interrupted { batches: 3 }),
                _ => Ok(()),
            };
            let outcome = epoch(
                &arch,
                &mut stopped,
                rule,
                &x,
                &labels,
                &order,
                10,
                path,
                &mut stop_after_third,
            );
            assert!(matches!(outcome, Err(Error::Interrupted { batches: 3 })));
            let mut three = Model::<f64>::new(&arch, rule.0, 5);
            epoch(
                &arch,
                &mut three,
                rule,
                &x,
                &labels,
                &order[..30],
                10,
                path,
                &mut no_stop,
            )
            .unwrap();
            assert_eq!(stopped.step, 3);
            assert_eq!(stopped.bits(), three.bits(), "{path:?}, {rule:?}");
        }
    }
}

#[test]
fn a_diverged_epoch_keeps_the_weights_and_state_before_the_bad_batch() {
    let arch = Architecture::new(vec![24, 16, 5]).unwrap();
    let (x, labels) = data::<f64>(60, 24, 5);
    let order: Vec<i64> = (0..60).collect();
    for path in [InputPath::Dense, InputPath::Sparse] {
        for rule in RULES {
            let mut model = Model::<f64>::new(&arch, rule.0, 6);
            // Poison the batch 4 reads: its loss is NaN before its step.
            let mut poisoned = x.clone();
            poisoned[40 * 24] = f64::NAN;
            let outcome = epoch(
                &arch,
                &mut model,
                rule,
                &poisoned,
                &labels,
                &order,
                10,
                path,
                &mut no_stop,
            );
            assert!(
                matches!(outcome, Err(Error::Diverged { batch: 4, .. })),
                "{outcome:?}"
            );
            let mut four = Model::<f64>::new(&arch, rule.0, 6);
            epoch(
                &arch,
                &mut four,
                rule,
                &x,
                &labels,
                &order[..40],
                10,
                path,
                &mut no_stop,
            )
            .unwrap();
            assert_eq!(model.step, 4);
            assert_eq!(model.bits(), four.bits(), "{path:?}, {rule:?}");
        }
    }
}
