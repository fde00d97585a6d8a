//! Times Adam epochs of a small regression network (scikit-learn's `MLPRegressor` comparison:
//! 10-64-64-1, float64, batch 200, 3,750 rows, identity output) without Python in the way:
//! `cargo run --release --example small_step_timing -- [threads] [epochs] [rounds] [products]`.
//! Prints each round's seconds for `epochs` epochs and the microseconds per step; with a 4th
//! argument, first each of a step's products alone on one thread (their GEMM floor).

use fastmlp_core::matmul::{matmul_serial_into, MatMut, MatRef, Update};
use fastmlp_core::optimizer::{Descent, NetworkState, Optimizer, SlotArrays};
use fastmlp_core::{
    parallel, train_epoch_objective, Activation, Architecture, Epoch, InputPath, Inputs, Model,
    Objective, Output, SparseParams, Workspace,
};
use std::time::Instant;

mod common;
use common::{leading_numbers, Uniform};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = leading_numbers(3)?;
    let threads = args.first().copied().unwrap_or(1);
    let epochs = args.get(1).copied().unwrap_or(200);
    let rounds = args.get(2).copied().unwrap_or(5);
    parallel::set_num_threads(threads)?;
    if std::env::args().nth(4).is_some() {
        time_products()?;
    }

    let (rows, batch) = (3750, 200);
    let arch = Architecture::new(vec![10, 64, 64, 1])?;
    let mut uniform = Uniform::new();
    let mut draw = |n: usize, scale: f64| -> Vec<f64> {
        (0..n)
            .map(|_| (uniform.next() as f64 - 0.5) * scale)
            .collect()
    };
    let x = draw(rows * 10, 2.0);
    let y = draw(rows, 2.0);
    let mut weights: Vec<Vec<f64>> = (0..arch.layers())
        .map(|l| draw(arch.fan_in(l) * arch.fan_out(l), 0.5))
        .collect();
    let mut biases: Vec<Vec<f64>> = (0..arch.layers())
        .map(|l| vec![0.0; arch.fan_out(l)])
        .collect();
    let zeros = |arrays: &Vec<Vec<f64>>| -> Vec<Vec<f64>> {
        arrays.iter().map(|a| vec![0.0; a.len()]).collect()
    };
    let mut slots = [
        (zeros(&weights), zeros(&biases)),
        (zeros(&weights), zeros(&biases)),
    ];
    let mut step = 0i64;
    let labels = vec![0i64; rows];
    let order: Vec<i64> = (0..rows as i64).map(|i| (i * 7919) % rows as i64).collect();
    let mut workspace = Workspace::new(&arch, batch);
    let objective = Objective {
        output: Output::Identity,
        sample_weight: None,
        targets: Some(&y),
    };
    let steps = epochs * rows.div_ceil(batch);
    for round in 0..rounds {
        let start = Instant::now();
        for _ in 0..epochs {
            let slot_arrays = slots
                .iter_mut()
                .map(|(w, b)| SlotArrays {
                    weights: w.iter_mut().map(|a| a.as_mut_slice()).collect(),
                    biases: b.iter_mut().map(|a| a.as_mut_slice()).collect(),
                })
                .collect();
            let adam = Optimizer::Adam {
                beta1: 0.9,
                beta2: 0.999,
                epsilon: 1e-8,
            };
            let state = NetworkState::new(&arch, adam, &mut step, slot_arrays)?;
            let mut descent = Descent::new(state, 1e-4)?;
            train_epoch_objective(
                &mut Model {
                    arch: &arch,
                    activation: Activation::Relu,
                    weights: &mut weights,
                    biases: &mut biases,
                },
                &Epoch {
                    inputs: Inputs::Dense(&x),
                    labels: &labels,
                    order: &order,
                    batch_size: batch,
                    input_path: InputPath::Dense,
                    sparse: SparseParams::default(),
                    lr: 1e-3,
                },
                &objective,
                Some(&mut descent),
                &mut workspace,
                &mut |_| Ok(()),
            )?;
        }
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "threads {threads} round {round}: {seconds:.4} s  {:.1} us/step",
            seconds / steps as f64 * 1e6
        );
    }
    Ok(())
}

/// Each product of a 2-thread step (blocks of 100 rows; the weight updates over all 200 rows,
/// W[1]'s in two pieces of 32 rows), alone on one thread: microseconds and GFLOP/s.
fn time_products() -> Result<(), Box<dyn std::error::Error>> {
    // (what, m, k, n, lhs transposed, rhs transposed)
    let products = [
        ("forward x @ W0", 100, 10, 64, false, false),
        ("forward a1 @ W1", 100, 64, 64, false, false),
        ("forward a2 @ W2", 100, 64, 1, false, false),
        ("backward d3 @ W2.T", 100, 1, 64, false, true),
        ("backward d2 @ W1.T", 100, 64, 64, false, true),
        ("gradient x.T @ d1", 10, 200, 64, true, false),
        ("gradient a1.T @ d2, a piece", 32, 200, 64, true, false),
        ("gradient a2.T @ d3", 64, 200, 1, true, false),
    ];
    for (what, m, k, n, lhs_t, rhs_t) in products {
        let a: Vec<f64> = (0..m * k).map(|i| (i % 7) as f64 * 0.1).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i % 5) as f64 * 0.1).collect();
        let mut c = vec![0.0f64; m * n];
        let (repeats, mut best) = (20_000, f64::MAX);
        for _ in 0..5 {
            let start = Instant::now();
            for _ in 0..repeats {
                let lhs = match lhs_t {
                    true => MatRef::row_major(&a, k, m)?.t(),
                    false => MatRef::row_major(&a, m, k)?,
                };
                let rhs = match rhs_t {
                    true => MatRef::row_major(&b, n, k)?.t(),
                    false => MatRef::row_major(&b, k, n)?,
                };
                matmul_serial_into(
                    MatMut::row_major(&mut c, m, n)?,
                    lhs,
                    rhs,
                    Update::Overwrite,
                )?;
            }
            best = best.min(start.elapsed().as_secs_f64() / repeats as f64);
        }
        let gflops = 2.0 * (m * n * k) as f64 / best / 1e9;
        println!(
            "{what:30} ({m}, {k}) @ ({k}, {n}): {:6.2} us  {gflops:5.1} GFLOP/s",
            best * 1e6
        );
    }
    Ok(())
}
