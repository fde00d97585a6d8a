//! The batch loop allocates nothing of its own, with any optimizer (plain SGD, momentum,
//! Nesterov, Adam, L2), output kind and row weights. After a warm-up epoch (which sizes the
//! workspace), an epoch that runs no GEMM (softmax regression on the sparse path) makes no
//! heap allocation at all; otherwise the only allocations are the `gemm` crate's packing
//! buffers, at most 2 per GEMM call (gemm 0.19 allocates them per call). Counted with a
//! global allocator wrapper; this file holds one test so that no other test allocates
//! concurrently.
mod common;
use common::Rng;
use fastmlp_core::optimizer::{Descent, NetworkState, Optimizer, SlotArrays};
use fastmlp_core::{
    parallel, train_epoch_objective, Activation, Architecture, Epoch, InputPath, Inputs, Model,
    Objective, Output, SparseParams, SparseRows, Workspace,
};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the wrapper only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout, via `alloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: as for `dealloc`, and `new_size` is passed on unchanged.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// GEMM calls per batch, at most: in the row phase each block (one per thread) runs the
/// forward product of every dense layer and the delta product of every layer above the
/// first; in the weight phase each piece of a dense layer (at most one per thread) adds every
/// block's product. A sparse first layer makes no GEMM call.
fn gemm_calls_per_batch(layers: usize, path: InputPath, threads: usize) -> usize {
    let dense_layers = if path == InputPath::Sparse {
        layers - 1
    } else {
        layers
    };
    threads * (dense_layers + (layers - 1)) + dense_layers * threads * threads
}

/// Plain SGD (no state), plain SGD with L2, Nesterov momentum, and Adam with L2.
const RULES: [(Optimizer, f64); 4] = [
    (Optimizer::PLAIN_SGD, 0.0),
    (Optimizer::PLAIN_SGD, 1e-3),
    (
        Optimizer::Sgd {
            momentum: 0.9,
            nesterov: true,
        },
        0.0,
    ),
    (
        Optimizer::Adam {
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
        },
        1e-3,
    ),
];

#[test]
fn an_epoch_allocates_nothing_but_gemm_packing_buffers() {
    let rows = 1024;
    let batch = 64;
    let mut rng = Rng::new(11);
    let x: Vec<f32> = (0..rows * 784)
        .map(|_| {
            if rng.uniform() > 0.6 {
                rng.uniform().abs() as f32
            } else {
                0.0
            }
        })
        .collect();
    let labels: Vec<i64> = (0..rows).map(|_| rng.below(10) as i64).collect();
    let order: Vec<i64> = (0..rows as i64).rev().collect();
    let matrix = SparseRows::from_dense(&x, 784).unwrap();
    // Multi-label targets and row weights, gathered by the order batch by batch.
    let targets: Vec<f32> = (0..rows * 10).map(|_| rng.below(2) as f32).collect();
    let sample_weight: Vec<f32> = (0..rows).map(|_| rng.uniform().abs() as f32).collect();
    let objectives = [
        Objective::default(),
        Objective {
            output: Output::Logistic,
            sample_weight: Some(&sample_weight[..]),
            targets: Some(&targets[..]),
        },
    ];
    for sizes in [vec![784, 10], vec![784, 64, 32, 10]] {
        let arch = Architecture::new(sizes.clone()).unwrap();
        for threads in [1, 2] {
            parallel::set_num_threads(threads).unwrap();
            for (path, inputs) in [
                (InputPath::Dense, Inputs::Dense(&x)),
                (InputPath::Sparse, Inputs::Sparse(&matrix)),
                (InputPath::Dense, Inputs::Sparse(&matrix)),
            ] {
                for ((optimizer, alpha), objective) in RULES
                    .into_iter()
                    .flat_map(|rule| objectives.iter().map(move |objective| (rule, objective)))
                {
                    let where_ = format!(
                        "{sizes:?}, {threads} threads, {path:?} path, {optimizer:?}, alpha \
                         {alpha}, {:?} output",
                        objective.output
                    );
                    let epoch = Epoch {
                        inputs,
                        labels: &labels,
                        order: &order,
                        lr: 0.01,
                        batch_size: batch,
                        input_path: path,
                        sparse: SparseParams::default(),
                    };
                    let allocated = batch_loop_allocations(
                        &arch,
                        (&epoch, objective),
                        (optimizer, alpha),
                        &mut rng,
                    );
                    let calls = gemm_calls_per_batch(arch.layers(), path, threads);
                    let bound = 2 * calls * (rows / batch - 1);
                    assert!(
                        allocated <= bound,
                        "{where_}: {allocated} allocations > {bound}"
                    );
                    if calls == 0 {
                        assert_eq!(allocated, 0, "{where_}: the batch loop allocated");
                    }
                }
            }
        }
    }
}

/// One array per layer.
type PerLayer = Vec<Vec<f32>>;

/// Allocations between the end of the first batch and the end of the last of a second
/// `epoch` towards `objective` (the first sizes the workspace) with `optimizer` and L2
/// `alpha`: the batch loop alone, without the epoch's setup.
fn batch_loop_allocations(
    arch: &Architecture,
    (epoch, objective): (&Epoch<'_, f32>, &Objective<'_, f32>),
    (optimizer, alpha): (Optimizer, f64),
    rng: &mut Rng,
) -> usize {
    let mut weights: Vec<Vec<f32>> = (0..arch.layers())
        .map(|l| {
            rng.vec(arch.fan_in(l) * arch.fan_out(l), 0.05)
                .iter()
                .map(|&v| v as f32)
                .collect()
        })
        .collect();
    let mut biases: Vec<Vec<f32>> = (0..arch.layers())
        .map(|l| vec![0.0; arch.fan_out(l)])
        .collect();
    let mut slots: Vec<(PerLayer, PerLayer)> = (0..optimizer.slots())
        .map(|_| {
            (
                weights.iter().map(|w| vec![0.0; w.len()]).collect(),
                biases.iter().map(|b| vec![0.0; b.len()]).collect(),
            )
        })
        .collect();
    let mut step = 0i64;
    let slot_arrays = slots
        .iter_mut()
        .map(|(w, b)| SlotArrays {
            weights: w.iter_mut().map(|a| a.as_mut_slice()).collect(),
            biases: b.iter_mut().map(|a| a.as_mut_slice()).collect(),
        })
        .collect();
    let state = NetworkState::new(arch, optimizer, &mut step, slot_arrays).unwrap();
    let mut descent = Descent::new(state, alpha).unwrap();
    let mut workspace = Workspace::new(arch, epoch.batch_size);
    let mut run = || {
        let (mut first, mut last) = (0, 0);
        let mut model = Model {
            arch,
            activation: Activation::Relu,
            weights: &mut weights,
            biases: &mut biases,
        };
        let outcome = train_epoch_objective(
            &mut model,
            epoch,
            objective,
            Some(&mut descent),
            &mut workspace,
            &mut |b| {
                let now = ALLOCATIONS.load(Ordering::Relaxed);
                if b == 0 {
                    first = now;
                }
                last = now;
                Ok(())
            },
        )
        .unwrap();
        assert!(outcome.mean_loss.is_finite());
        last - first
    };
    run();
    run()
}
