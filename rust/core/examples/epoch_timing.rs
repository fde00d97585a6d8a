//! Times `train_epoch` on random MNIST-shaped data, without Python in the way:
//! `cargo run --release --example epoch_timing -- [threads] [rows] [batch] [epochs] [density] [dense|sparse|auto] [groups|single] [rows.f32]`.
//! The 7th argument forces the sparse path's group size; the 8th reads the rows from a raw
//! float32 file of 784 values a row (`x.tofile(path)`) instead of drawing them, and the
//! sparse path then compresses them once, before the epochs.
//! The benchmark of record is `benchmarks/epoch.py`; this is for profiling the core alone.

use fastmlp_core::sparse::Tuning;
use fastmlp_core::{
    parallel, train_epoch, Activation, Architecture, Epoch, InputPath, Inputs, Model, SparseParams,
    SparseRows, Workspace,
};
use std::time::Instant;

mod common;
use common::{input_rows, leading_numbers, Uniform};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = leading_numbers(4)?;
    let threads = args.first().copied().unwrap_or(1);
    let rows = args.get(1).copied().unwrap_or(60_000);
    let batch = args.get(2).copied().unwrap_or(128);
    // A 5th argument: the fraction of inputs that are nonzero (MNIST: about 0.19).
    let density: f32 = std::env::args().nth(5).map_or(Ok(1.0), |a| a.parse())?;
    let input_path = match std::env::args().nth(6).as_deref() {
        Some("sparse") => InputPath::Sparse,
        Some("auto") => InputPath::Auto,
        _ => InputPath::Dense,
    };
    parallel::set_num_threads(threads)?;

    let arch = Architecture::new(vec![784, 128, 10])?;
    let mut uniform = Uniform::new();
    let from_file = std::env::args().nth(8);
    let mut x = input_rows(from_file.as_deref(), (rows, 784), density, &mut uniform)?;
    x.truncate(rows * 784);
    let rows = x.len() / 784;
    let single_row_cost = match std::env::args().nth(7).as_deref() {
        Some("single") => Tuning::Value(0.0),
        Some("groups") => Tuning::Value(f64::MAX),
        _ => Tuning::Auto,
    };
    let sparse = SparseParams {
        single_row_cost,
        ..SparseParams::default()
    };
    // Rows from a file are compressed once here, as `MLP.fit` does; drawn rows per call.
    let compressed = match (&from_file, input_path) {
        (Some(_), InputPath::Sparse | InputPath::Auto) => Some(SparseRows::from_dense(&x, 784)?),
        _ => None,
    };
    let inputs = compressed
        .as_ref()
        .map_or(Inputs::Dense(&x), Inputs::Sparse);
    let labels: Vec<i64> = (0..rows).map(|i| (i % 10) as i64).collect();
    let order: Vec<i64> = (0..rows as i64).map(|i| (i * 7919) % rows as i64).collect();
    let mut weights: Vec<Vec<f32>> = vec![
        (0..784 * 128)
            .map(|_| (uniform.next() - 0.5) * 0.1)
            .collect(),
        (0..128 * 10)
            .map(|_| (uniform.next() - 0.5) * 0.1)
            .collect(),
    ];
    let mut biases: Vec<Vec<f32>> = vec![vec![0.0; 128], vec![0.0; 10]];
    let mut workspace = Workspace::new(&arch, batch);
    let flops = 2.0 * rows as f64 * (784.0 * 128.0 * 2.0 + 128.0 * 10.0 * 3.0);
    let epochs = args.get(3).copied().unwrap_or(6);
    for epoch in 0..epochs {
        let start = Instant::now();
        let outcome = train_epoch(
            &mut Model {
                arch: &arch,
                activation: Activation::Relu,
                weights: &mut weights,
                biases: &mut biases,
            },
            &Epoch {
                inputs,
                labels: &labels,
                order: &order,
                batch_size: batch,
                input_path,
                sparse,
                lr: 0.01,
            },
            None,
            &mut workspace,
            &mut |_| Ok(()),
        )?;
        let seconds = start.elapsed().as_secs_f64();
        println!(
            "threads {threads} epoch {epoch}: {seconds:.4} s  {:.1} GFLOP/s  loss {:.4}",
            flops / seconds / 1e9,
            outcome.mean_loss
        );
    }
    Ok(())
}
