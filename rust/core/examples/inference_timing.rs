//! Times inference's first hidden layer on its two paths, without Python in the way:
//! `cargo run --release --example inference_timing -- [threads] [rows.f32] [fan_out] [repeats]`.
//! The rows file is raw float32, 784 values a row (`x.tofile(path)` in NumPy); without one
//! (or with "-"), 10,000 random rows of density 0.19. Prints the best time of each path and
//! their ratio; the benchmark of record is `fastmlp bench`.

use fastmlp_core::matmul::MatRef;
use fastmlp_core::network::dense_layer_forward;
use fastmlp_core::sparse::{hidden_layer_forward, sampled_density};
use fastmlp_core::{parallel, Activation};
use std::time::Instant;

mod common;
use common::{input_rows, Uniform};

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let threads: usize = args.first().map_or(Ok(1), |a| a.parse())?;
    let fan_out: usize = args.get(2).map_or(Ok(128), |a| a.parse())?;
    let repeats: usize = args.get(3).map_or(Ok(30), |a| a.parse())?;
    parallel::set_num_threads(threads)?;
    let inputs = 784;
    let mut uniform = Uniform::new();
    let path = args
        .get(1)
        .map(String::as_str)
        .filter(|a| !a.is_empty() && *a != "-");
    let x = input_rows(path, (10_000, inputs), 0.19, &mut uniform)?;
    let rows = x.len() / inputs;
    let weight: Vec<f32> = (0..inputs * fan_out)
        .map(|_| uniform.next() - 0.5)
        .collect();
    let bias = vec![0.01f32; fan_out];
    let (mut dense, mut sparse) = (vec![0f32; rows * fan_out], vec![0f32; rows * fan_out]);
    let mut best = [f64::INFINITY; 2];
    parallel::pool()?.install(|| -> Result<(), Failure> {
        for _ in 0..repeats {
            let start = Instant::now();
            dense_layer_forward(
                MatRef::row_major(&x, rows, inputs)?,
                MatRef::row_major(&weight, inputs, fan_out)?,
                &bias,
                false,
                Activation::Relu,
                &mut dense,
            )?;
            best[0] = best[0].min(start.elapsed().as_secs_f64());
            let start = Instant::now();
            let params = (&weight[..], &bias[..]);
            hidden_layer_forward(&x, params, (inputs, fan_out), Activation::Relu, &mut sparse);
            best[1] = best[1].min(start.elapsed().as_secs_f64());
        }
        Ok(())
    })?;
    let worst = sparse
        .iter()
        .zip(&dense)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    println!(
        "{rows} rows of density {:.3}, fan_out {fan_out}, {threads} thread(s), best of \
         {repeats}: dense {:.2} ms, sparse {:.2} ms, sparse / dense {:.2} (max |diff| {worst:.1e})",
        sampled_density(&x, inputs),
        best[0] * 1e3,
        best[1] * 1e3,
        best[1] / best[0],
    );
    Ok(())
}
