//! Inference's first hidden layer on the sparse path: the same outputs as the dense path, and
//! taken by `Auto` where it is predicted to pay.
mod common;
use common::{max_abs_diff, Rng};
use fastmlp_core::network::{forward, forward_on_path};
use fastmlp_core::sparse::{
    count_non_finite, inference_takes_sparse_path, inference_time_ratio, sampled_density,
};
use fastmlp_core::{Activation, Architecture, InputPath, Output};

/// (rows, inputs) values in [-0.2, 0.8) with about `density` of them nonzero.
fn rows_of_density(rng: &mut Rng, rows: usize, inputs: usize, density: f64) -> Vec<f64> {
    (0..rows * inputs)
        .map(|_| {
            let keep = (rng.uniform() + 1.0) / 2.0 < density;
            if keep {
                (rng.uniform() + 1.0) / 2.0 - 0.2
            } else {
                0.0
            }
        })
        .collect()
}

fn params(rng: &mut Rng, sizes: &[usize]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let weights = sizes
        .windows(2)
        .map(|w| (0..w[0] * w[1]).map(|_| rng.uniform() * 0.3).collect())
        .collect();
    let biases = sizes[1..]
        .iter()
        .map(|&n| (0..n).map(|_| rng.uniform() * 0.1).collect())
        .collect();
    (weights, biases)
}

#[test]
fn every_path_gives_the_dense_outputs() {
    let mut rng = Rng::new(5);
    for activation in [Activation::Relu, Activation::Tanh, Activation::Sigmoid] {
        for &rows in &[0, 1, 7, 8, 9, 255, 256, 257, 520] {
            for &density in &[0.0, 0.19, 1.0] {
                let sizes = [100, 48, 12, 10];
                let arch = Architecture::new(sizes.to_vec()).unwrap();
                let (w, b) = params(&mut rng, &sizes);
                let x = rows_of_density(&mut rng, rows, sizes[0], density);
                let dense = forward_on_path(
                    &arch,
                    &w,
                    &b,
                    &x,
                    activation,
                    Output::Softmax,
                    InputPath::Dense,
                    true,
                );
                let dense = dense.unwrap();
                for path in [InputPath::Sparse, InputPath::Auto] {
                    let out =
                        forward_on_path(&arch, &w, &b, &x, activation, Output::Softmax, path, true)
                            .unwrap();
                    for (a, b) in out.iter().zip(&dense) {
                        assert!(
                            max_abs_diff(a, b) < 1e-12,
                            "{activation:?} {rows} {density}"
                        );
                    }
                }
                assert_eq!(forward(&arch, &w, &b, &x, activation).unwrap(), {
                    forward_on_path(
                        &arch,
                        &w,
                        &b,
                        &x,
                        activation,
                        Output::Softmax,
                        InputPath::Auto,
                        false,
                    )
                    .unwrap()
                });
            }
        }
    }
}

#[test]
fn auto_takes_the_sparse_product_where_it_is_predicted_to_pay() {
    // A fifth of the inputs nonzero, as MNIST's pixels.
    let sparse_rows: Vec<f32> = (0..64 * 100)
        .map(|i| if i % 5 == 0 { 0.5 } else { 0.0 })
        .collect();
    assert!((sampled_density(&sparse_rows, 100) - 0.2).abs() < 1e-12);
    let auto = InputPath::Auto;
    assert!(inference_takes_sparse_path(&sparse_rows, (100, 128), auto));
    // A narrow first layer: marking the nonzeros costs more than the dense product saves.
    assert!(!inference_takes_sparse_path(&sparse_rows, (100, 16), auto));
    assert!(inference_takes_sparse_path(
        &sparse_rows,
        (100, 16),
        InputPath::Sparse
    ));
    // No zeros: the dense product.
    let full = vec![0.5f32; 64 * 100];
    assert!(!inference_takes_sparse_path(&full, (100, 512), auto));
    assert!(inference_takes_sparse_path(
        &full,
        (100, 512),
        InputPath::Sparse
    ));
    assert!(!inference_takes_sparse_path(
        &sparse_rows,
        (100, 128),
        InputPath::Dense
    ));
    // No rows, no inputs.
    let sparse = InputPath::Sparse;
    assert!(!inference_takes_sparse_path::<f32>(&[], (100, 8), sparse));
    assert!(!inference_takes_sparse_path::<f32>(&[], (0, 8), sparse));
    assert_eq!(sampled_density::<f32>(&[], 0), 0.0);
}

#[test]
fn the_time_ratio_follows_the_measured_points() {
    // Measured (benchmarks/README.md, "Inference"), the slower of 1 and 2 threads: MNIST-like
    // rows (density 0.19) and Fashion-MNIST (0.50) into 64, 128 and 256 columns.
    let measured = [
        (0.19, 64, 0.64),
        (0.19, 128, 0.51),
        (0.19, 256, 0.50),
        (0.50, 64, 1.19),
        (0.50, 128, 0.95),
        (0.50, 256, 1.05),
    ];
    for (density, fan_out, ratio) in measured {
        let predicted = inference_time_ratio(density, fan_out);
        assert!(
            (predicted - ratio).abs() < 0.2,
            "{density} {fan_out}: {predicted}"
        );
    }
    assert!(inference_time_ratio(0.19, 0) > 1.0);
}

#[test]
fn check_finite_counts_bad_values_on_every_path() {
    let sizes = [50, 16, 10];
    let arch = Architecture::new(sizes.to_vec()).unwrap();
    let mut rng = Rng::new(9);
    let (w, b) = params(&mut rng, &sizes);
    let mut x = rows_of_density(&mut rng, 30, 50, 0.2);
    x[7] = f64::NAN;
    x[1499] = f64::NEG_INFINITY;
    assert_eq!(count_non_finite(&x), 2);
    for path in [InputPath::Dense, InputPath::Sparse, InputPath::Auto] {
        let error = forward_on_path(
            &arch,
            &w,
            &b,
            &x,
            Activation::Relu,
            Output::Softmax,
            path,
            true,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "x: contains 2 NaN or infinite values; clean the data first"
        );
        assert!(forward_on_path(
            &arch,
            &w,
            &b,
            &x,
            Activation::Relu,
            Output::Softmax,
            path,
            false
        )
        .is_ok());
    }
    // Finite values whose group sums overflow are not counted.
    let mut huge = vec![0.0f32; 16 * 50];
    huge.iter_mut().step_by(50).for_each(|v| *v = 3e38);
    let arch32 = Architecture::new(sizes.to_vec()).unwrap();
    let w32: Vec<Vec<f32>> = w
        .iter()
        .map(|l| l.iter().map(|&v| v as f32).collect())
        .collect();
    let b32: Vec<Vec<f32>> = b
        .iter()
        .map(|l| l.iter().map(|&v| v as f32).collect())
        .collect();
    let path = InputPath::Sparse;
    assert!(forward_on_path(
        &arch32,
        &w32,
        &b32,
        &huge,
        Activation::Relu,
        Output::Softmax,
        path,
        true
    )
    .is_ok());
}
