//! Inference's first hidden layer on the sparse path: regrouped straight from dense rows, the
//! same groups as from compressed rows, and the same outputs as the dense path.
mod common;
use common::{max_abs_diff, Rng};
use fastmlp_core::network::{forward, forward_on_path};
use fastmlp_core::sparse::{
    count_non_finite, inference_time_ratio, plan_inference, RowGroups, SparseBatch, SparseRows,
    GROUP_ROWS,
};
use fastmlp_core::{Activation, Architecture, Error, InputPath, Output, SparseParams};

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
fn groups_of_dense_rows_are_those_of_their_compressed_rows() {
    let mut rng = Rng::new(3);
    for &group_rows in &[1, GROUP_ROWS] {
        for &(rows, inputs, density) in &[(1, 5, 0.5), (13, 40, 0.2), (64, 784, 0.19), (9, 33, 1.0)]
        {
            let x = rows_of_density(&mut rng, rows, inputs, density);
            let fan_out = 37;
            let weight: Vec<f64> = (0..inputs * fan_out).map(|_| rng.uniform()).collect();
            let matrix = SparseRows::from_dense(&x, inputs).unwrap();
            let order: Vec<i64> = (0..rows as i64).collect();
            let mut compressed = RowGroups::try_new(inputs, rows, inputs, group_rows).unwrap();
            let batch = SparseBatch {
                matrix: &matrix,
                order: &order,
            };
            compressed.build(batch, 0, inputs).unwrap();
            // Room for fewer rows than given: build_dense grows it.
            let mut dense = RowGroups::try_new(inputs, 1, inputs, group_rows).unwrap();
            dense.build_dense(&x).unwrap();
            assert_eq!(dense.rows(), rows);
            assert!(dense.dense_rows_finite());
            let (mut a, mut b) = (vec![0.0; rows * fan_out], vec![0.0; rows * fan_out]);
            compressed.forward(&mut a, &weight, fan_out);
            dense.forward(&mut b, &weight, fan_out);
            assert_eq!(
                a, b,
                "group_rows {group_rows}, rows {rows}, inputs {inputs}"
            );
        }
    }
}

#[test]
fn build_dense_refuses_rows_of_another_width() {
    let mut groups = RowGroups::<f32>::try_new(10, 4, 10, GROUP_ROWS).unwrap();
    assert!(matches!(
        groups.build_dense(&[0.0; 15]),
        Err(Error::Shape { .. })
    ));
    let mut empty = RowGroups::<f32>::try_new(0, 4, 0, GROUP_ROWS).unwrap();
    assert!(empty.build_dense(&[]).is_err());
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
fn auto_takes_groups_of_sparse_shared_inputs_only() {
    let params = SparseParams::default();
    // Rows that share their nonzero inputs (the first 10 of 100): groups of 8, little work.
    let shared: Vec<f32> = (0..64 * 100)
        .map(|i| if i % 100 < 10 { 0.5 } else { 0.0 })
        .collect();
    let plan = plan_inference(&shared, (100, 128), InputPath::Auto, &params).unwrap();
    assert_eq!(plan.group_rows, GROUP_ROWS);
    // A narrow first layer: regrouping costs more than the dense product saves.
    let narrow = (100, 16);
    assert_eq!(
        plan_inference(&shared, narrow, InputPath::Auto, &params),
        None
    );
    assert!(plan_inference(&shared, narrow, InputPath::Sparse, &params).is_some());
    // No zeros: the dense product.
    let full = vec![0.5f32; 64 * 100];
    assert_eq!(
        plan_inference(&full, (100, 512), InputPath::Auto, &params),
        None
    );
    assert!(plan_inference(&full, (100, 512), InputPath::Sparse, &params).is_some());
    let dense = plan_inference(&shared, (100, 128), InputPath::Dense, &params);
    assert_eq!(dense, None);
    // No rows, no inputs.
    let sparse = InputPath::Sparse;
    assert_eq!(plan_inference::<f32>(&[], (100, 8), sparse, &params), None);
    assert_eq!(plan_inference::<f32>(&[], (0, 8), sparse, &params), None);
}

#[test]
fn the_time_ratio_follows_the_measured_points() {
    // MNIST-like rows plan work 0.465: measured 1.23, 0.87, 0.75 at fan_out 64, 128, 256.
    for (fan_out, measured) in [(64, 1.23), (128, 0.87), (256, 0.75)] {
        let ratio = inference_time_ratio(0.465, fan_out);
        assert!((ratio - measured).abs() < 0.1, "{fan_out}: {ratio}");
    }
    assert!(inference_time_ratio(0.465, 0) > 1.0);
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
