//! The sparse first layer against the dense one: same epochs, within summation-order rounding.
mod common;
use common::{max_abs_diff, Rng};
use fastmlp_core::sparse::{
    estimated_group_fill, plan_epoch, plan_sparse_path, preferred_input_path,
    sparse_work_crossover, RowGroups, SparseBatch, SparsePlan, SparseRows, Tuning, GROUP_ROWS,
    SPARSE_TIME_LIMIT,
};
use fastmlp_core::{
    train_epoch, Activation, Architecture, Epoch, InputPath, Inputs, Model, Real, SparseParams,
    Workspace,
};

/// (rows, inputs) values in [0, 1) with about `density` of them nonzero; row 0 all zero.
fn sparse_rows(rng: &mut Rng, rows: usize, inputs: usize, density: f64) -> Vec<f64> {
    let mut x: Vec<f64> = (0..rows * inputs)
        .map(|_| {
            if (rng.uniform() + 1.0) / 2.0 < density {
                (rng.uniform() + 1.0) / 2.0
            } else {
                0.0
            }
        })
        .collect();
    x[..inputs].iter_mut().for_each(|v| *v = 0.0);
    x
}

#[test]
fn products_match_the_dense_definitions() {
    let mut rng = Rng::new(7);
    for &density in &[0.0, 0.05, 0.2, 0.5, 1.0] {
        // Whole and short groups of rows; every block width of the kernels (32, 16, 8, 1).
        for &(rows, inputs, fan_out) in &[
            (1, 13, 5),
            (9, 31, 70),
            (20, 40, 24),
            (64, 100, 128),
            (33, 784, 130),
            // A wide first layer: blocks of 8, 4, 2, 1 vectors and a partial one (f64).
            (17, 784, 250),
        ] {
            // Compressed by 1 to 3 threads; groups of 8 rows and of single rows.
            for (threads, group_rows) in [(1, GROUP_ROWS), (2, 1), (3, GROUP_ROWS), (1, 1)] {
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .unwrap();
                let x = sparse_rows(&mut rng, rows, inputs, density);
                let w = rng.vec(inputs * fan_out, 1.0);
                let delta = rng.vec(rows * fan_out, 1.0);
                let order: Vec<i64> = (0..rows as i64).rev().collect();
                let mut out = vec![0.0; rows * fan_out];
                let mut updated = w.clone();
                let matrix = pool.install(|| SparseRows::from_dense(&x, inputs)).unwrap();
                let batch = SparseBatch {
                    matrix: &matrix,
                    order: &order,
                };
                // Two ranges of inputs, as two threads take them: each regroups the batch's
                // nonzeros in its range, its share of the forward product is summed, and it
                // updates its rows of W.
                let half = inputs / 2;
                let (low, high) = updated.split_at_mut(half * fan_out);
                let delta_row = |r: usize| &delta[r * fan_out..(r + 1) * fan_out];
                out.fill(0.0);
                for (range, rows_of_w) in [(0..half, low), (half..inputs, high)] {
                    // Room for fewer rows and fewer inputs than needed: build must grow it.
                    let mut groups =
                        RowGroups::try_new(inputs, rows / 2, range.len() / 2, group_rows).unwrap();
                    // A first build of other rows must leave nothing behind for the second.
                    let reversed: Vec<i64> = order.iter().rev().copied().collect();
                    let other = SparseBatch {
                        matrix: &matrix,
                        order: &reversed,
                    };
                    groups.build(other, 0, inputs).unwrap();
                    groups.build(batch, range.start, range.end).unwrap();
                    assert_eq!(groups.rows(), rows);
                    assert!(groups.capacity() >= rows && groups.capacity() % group_rows == 0);
                    assert_eq!(groups.group_rows(), group_rows);
                    let mut share = vec![f64::NAN; rows * fan_out];
                    groups.forward(&mut share, &w, fan_out);
                    out.iter_mut().zip(&share).for_each(|(o, s)| *o += s);
                    groups.update_range(
                        rows_of_w,
                        range.start,
                        range.end,
                        delta_row,
                        fan_out,
                        -0.5,
                    );
                }
                // Densifying the compressed rows gives the rows back.
                let mut dense = vec![f64::NAN; rows * inputs];
                matrix.gather_dense(&order, &mut dense);
                // Dense definitions on the reordered rows.
                let xr: Vec<f64> = order
                    .iter()
                    .flat_map(|&i| x[i as usize * inputs..(i as usize + 1) * inputs].to_vec())
                    .collect();
                let mut want_out = vec![0.0; rows * fan_out];
                let mut want_w = w.clone();
                for r in 0..rows {
                    for j in 0..inputs {
                        for k in 0..fan_out {
                            want_out[r * fan_out + k] += xr[r * inputs + j] * w[j * fan_out + k];
                            want_w[j * fan_out + k] -=
                                0.5 * xr[r * inputs + j] * delta[r * fan_out + k];
                        }
                    }
                }
                let nonzero = xr.iter().filter(|&&v| v != 0.0).count();
                assert_eq!(matrix.nonzeros(), nonzero);
                assert_eq!(matrix.rows(), rows);
                assert_eq!(dense, xr);
                let tol = 1e-12 * (inputs as f64);
                assert!(
                    max_abs_diff(&out, &want_out) < tol,
                    "forward density {density} {rows}x{inputs}x{fan_out}"
                );
                assert!(
                    max_abs_diff(&updated, &want_w) < tol,
                    "update density {density} {rows}x{inputs}x{fan_out}"
                );
            }
        }
    }
}

#[test]
fn sparse_and_dense_epochs_agree() {
    // Bound: both paths sum the same products in different orders; over an epoch of 20 steps
    // in f64 the parameters agree to 1e-10 (f32: 1e-3 relative, tested from Python).
    let mut rng = Rng::new(8);
    for &density in &[0.0, 0.05, 0.2, 0.5, 1.0] {
        for sizes in [vec![50, 10], vec![50, 32, 10], vec![50, 32, 16, 10]] {
            for batch_size in [1, 7, 32] {
                let arch = Architecture::new(sizes.clone()).unwrap();
                let rows = 80;
                let x = sparse_rows(&mut rng, rows, 50, density);
                let labels: Vec<i64> = (0..rows).map(|_| rng.below(10) as i64).collect();
                let order: Vec<i64> = (0..rows as i64).map(|i| (i * 37) % rows as i64).collect();
                let w0: Vec<Vec<f64>> = (0..arch.layers())
                    .map(|l| rng.vec(arch.fan_in(l) * arch.fan_out(l), 0.3))
                    .collect();
                let b0: Vec<Vec<f64>> = (0..arch.layers())
                    .map(|l| rng.vec(arch.fan_out(l), 0.1))
                    .collect();
                let matrix = SparseRows::from_dense(&x, 50).unwrap();
                let run = |path, inputs| {
                    let (mut w, mut b) = (w0.clone(), b0.clone());
                    let mut ws = Workspace::new(&arch, batch_size);
                    let o = train_epoch(
                        &mut Model {
                            arch: &arch,
                            activation: Activation::Relu,
                            weights: &mut w,
                            biases: &mut b,
                        },
                        &Epoch {
                            inputs,
                            labels: &labels,
                            order: &order,
                            batch_size,
                            input_path: path,
                            sparse: SparseParams::default(),
                            lr: 0.1,
                        },
                        None,
                        &mut ws,
                        &mut |_| Ok(()),
                    )
                    .unwrap();
                    (o, w, b)
                };
                let (od, wd, bd) = run(InputPath::Dense, Inputs::Dense(&x));
                // Every combination of dense/compressed inputs and dense/sparse paths.
                for (path, inputs) in [
                    (InputPath::Sparse, Inputs::Dense(&x)),
                    (InputPath::Sparse, Inputs::Sparse(&matrix)),
                    (InputPath::Dense, Inputs::Sparse(&matrix)),
                    (InputPath::Auto, Inputs::Sparse(&matrix)),
                ] {
                    let (os, wsp, bsp) = run(path, inputs);
                    assert!((od.mean_loss - os.mean_loss).abs() < 1e-10);
                    assert_eq!(od.correct, os.correct);
                    for l in 0..arch.layers() {
                        assert!(
                            max_abs_diff(&wd[l], &wsp[l]) < 1e-10,
                            "density {density} {sizes:?} bs {batch_size} {path:?}"
                        );
                        assert!(max_abs_diff(&bd[l], &bsp[l]) < 1e-10);
                    }
                }
            }
        }
    }
}

#[test]
fn input_ranges_share_the_nonzeros() {
    // Column j of row i is nonzero for j <= i: the nonzeros pile up at the low inputs.
    let (rows, inputs) = (40, 40);
    let x: Vec<f32> = (0..rows * inputs)
        .map(|k| f32::from(u8::from(k % inputs <= k / inputs)))
        .collect();
    let matrix = SparseRows::from_dense(&x, inputs).unwrap();
    for parts in [1, 2, 3, 7] {
        let bounds = matrix.balanced_input_ranges(parts);
        assert_eq!(bounds.len(), parts + 1);
        assert_eq!((bounds[0], bounds[parts]), (0, inputs));
        assert!(bounds.windows(2).all(|b| b[0] <= b[1]), "{bounds:?}");
        // Input j holds rows - j nonzeros: each range's share is within one input's of even.
        let total = rows * (rows + 1) / 2;
        for b in bounds.windows(2) {
            let share: usize = (b[0]..b[1]).map(|j| rows - j).sum();
            assert!(
                share.abs_diff(total / parts) <= rows,
                "{parts} parts: {bounds:?}"
            );
        }
    }
    // The low inputs are the dense ones, so the first of two ranges is the narrower.
    let two = matrix.balanced_input_ranges(2);
    assert!(two[1] < inputs / 2, "{two:?}");
    // All-zero rows: even ranges.
    let zeros = SparseRows::from_dense(&[0.0f32; 4 * 10], 10).unwrap();
    assert_eq!(zeros.balanced_input_ranges(2), vec![0, 5, 10]);
}

#[test]
fn groups_are_of_one_or_eight_rows() {
    for group_rows in [0, 2, 9] {
        let err = RowGroups::<f64>::try_new(4, 8, 4, group_rows).unwrap_err();
        assert!(err.to_string().contains("group_rows"), "{err}");
    }
}

#[test]
fn groups_reject_rows_of_another_width() {
    let matrix = SparseRows::from_dense(&[1.0f32, 0.0, 2.0], 3).unwrap();
    let mut groups = RowGroups::<f32>::try_new(4, 8, 4, GROUP_ROWS).unwrap();
    let err = groups
        .build(
            SparseBatch {
                matrix: &matrix,
                order: &[0],
            },
            0,
            3,
        )
        .unwrap_err();
    assert!(err.to_string().contains("4 columns"), "{err}");
}

#[test]
fn the_sparse_plan_is_measured_over_groups_of_the_order() {
    // 16 rows of 4 inputs: row i has input i % 4 nonzero, and rows 8.. also input 3.
    let x: Vec<f32> = (0..16 * 4)
        .map(|k| {
            let (i, j) = (k / 4, k % 4);
            f32::from(u8::from(j == i % 4 || (i >= 8 && j == 3)))
        })
        .collect();
    let matrix = SparseRows::from_dense(&x, 4).unwrap();
    for inputs in [Inputs::Dense(&x), Inputs::Sparse(&matrix)] {
        // Rows 0..8 as one group: every input is nonzero in some row.
        let all: Vec<i64> = (0..8).collect();
        assert_eq!(estimated_group_fill(inputs, &all, 4), 1.0);
        // Rows 0, 4, 8, 12 (input 0, and 3 for rows 8 and 12), then 1 and 5: 2 of 4, 1 of 4.
        let order = [0, 4, 8, 12, 0, 4, 0, 4, 1, 5];
        assert_eq!(estimated_group_fill(inputs, &order, 4), (2.0 + 1.0) / 8.0);
        // 12 nonzeros in 10 rows of 4: density 0.3, so single rows would do 2.7 * 0.3 = 0.81
        // of the dense work; groups of 8 do 0.375.
        let defaults = SparseParams::default();
        let plan = plan_sparse_path(inputs, &order, 4, &defaults);
        assert_eq!(plan.group_rows, GROUP_ROWS);
        assert_eq!(plan.work, 0.375);
        // Rows 0..8 share no input: fill 1, density 0.25, so one by one at 0.675.
        let plan = plan_sparse_path(inputs, &all, 4, &defaults);
        assert_eq!(plan.group_rows, 1);
        assert!((plan.work - 2.7 * 0.25).abs() < 1e-12, "{plan:?}");
        // A single row costing 1.2 group columns: 1.2 * 0.25 = 0.3 of the dense work.
        let cheap_rows = SparseParams {
            single_row_cost: Tuning::Value(1.2),
            ..defaults
        };
        let plan = plan_sparse_path(inputs, &all, 4, &cheap_rows);
        assert!((plan.work - 0.3).abs() < 1e-12, "{plan:?}");
        // Below the crossover: sparse; above a crossover set below the work: dense.
        let path = preferred_input_path(inputs, &order, 4, &defaults, 1);
        assert_eq!(path, InputPath::Sparse);
        let low = SparseParams {
            work_crossover: Tuning::Value(0.3),
            ..defaults
        };
        assert_eq!(
            preferred_input_path(inputs, &order, 4, &low, 1),
            InputPath::Dense
        );
    }
    // Full rows: the dense path.
    let full = vec![1.0f32; 8 * 4];
    let rows: Vec<i64> = (0..8).collect();
    let defaults = SparseParams::default();
    let plan = plan_sparse_path(Inputs::Dense(&full), &rows, 4, &defaults);
    assert_eq!((plan.group_rows, plan.work), (GROUP_ROWS, 1.0));
    for threads in [1, 2] {
        let path = preferred_input_path(Inputs::Dense(&full), &rows, 4, &defaults, threads);
        assert_eq!(path, InputPath::Dense);
        assert_eq!(
            defaults.work_crossover(threads),
            sparse_work_crossover(threads)
        );
    }
    assert!(sparse_work_crossover(1) < sparse_work_crossover(2));
}

#[test]
fn sparse_params_are_checked() {
    for bad in [-0.1, f64::NAN, f64::INFINITY] {
        for (params, arg) in [
            (
                SparseParams {
                    work_crossover: Tuning::Value(bad),
                    ..SparseParams::default()
                },
                "sparse_work_crossover",
            ),
            (
                SparseParams {
                    single_row_cost: Tuning::Value(bad),
                    ..SparseParams::default()
                },
                "single_row_cost",
            ),
            (
                SparseParams {
                    compress_cost: Tuning::Value(bad),
                    ..SparseParams::default()
                },
                "compress_cost",
            ),
        ] {
            let err = params.check().unwrap_err();
            assert!(err.to_string().starts_with(arg), "{err}");
        }
    }
    assert!(SparseParams::default().check().is_ok());
}

/// Auto on an epoch call: the plan's work against the crossover, plus, for dense inputs, the
/// compression the call needs first; compressed inputs pay none.
#[test]
fn auto_counts_compressing_dense_inputs_for_the_call() {
    let mut rng = Rng::new(12);
    let (rows, inputs, fan_out) = (400, 196, 128);
    let x: Vec<f64> = image_rows(&mut rng, rows, 14);
    let matrix = SparseRows::from_dense(&x, inputs).unwrap();
    let labels = vec![0i64; rows];
    let order: Vec<i64> = (0..rows as i64).collect();
    let epoch = |inputs, input_path, sparse| Epoch {
        inputs,
        labels: &labels,
        order: &order,
        lr: 0.1,
        batch_size: 32,
        input_path,
        sparse,
    };
    let plan = plan_sparse_path(Inputs::Dense(&x), &order, inputs, &SparseParams::default());
    assert_eq!(plan.group_rows, GROUP_ROWS);
    // A crossover four times the work: sparse takes about a quarter of the dense epoch's time;
    // `Auto` takes it while that plus compressing stays within SPARSE_TIME_LIMIT (0.75).
    let quarter = Tuning::Value(4.0 * plan.work);
    let free = SparseParams {
        work_crossover: quarter,
        compress_cost: Tuning::Value(0.0),
        ..SparseParams::default()
    };
    // Compressing costs 0.4 (free of charge: 0) of the dense epoch.
    let costly = SparseParams {
        compress_cost: Tuning::Value(0.4 * fan_out as f64),
        ..free
    };
    let dearer = SparseParams {
        compress_cost: Tuning::Value(0.6 * fan_out as f64),
        ..free
    };
    let shape = (inputs, fan_out);
    for (inputs, params, sparse) in [
        (Inputs::Dense(&x), free, true),
        (Inputs::Dense(&x), costly, true),
        (Inputs::Dense(&x), dearer, false),
        (Inputs::Sparse(&matrix), dearer, true),
    ] {
        let chosen = plan_epoch(&epoch(inputs, InputPath::Auto, params), shape, 2);
        assert_eq!(chosen.is_some(), sparse, "{params:?}");
        // A concrete path is taken as it is.
        let dense = plan_epoch(&epoch(inputs, InputPath::Dense, params), shape, 2);
        assert_eq!(dense, None);
        let forced = plan_epoch(&epoch(inputs, InputPath::Sparse, params), shape, 2);
        assert_eq!(forced, Some(plan));
    }
    // A call over a tenth of the rows pays the whole compression: dense, even at 0.4.
    let tenth = &order[..rows / 10];
    let part = Epoch {
        order: tenth,
        ..epoch(Inputs::Dense(&x), InputPath::Auto, costly)
    };
    assert_eq!(plan_epoch(&part, shape, 2), None);
}

/// (rows, side * side) images, MNIST-like: a bright disc of radius 2 to 4 around a point near
/// the middle, so that rows share most of their nonzero inputs (groups of 8 rows pay off).
fn image_rows(rng: &mut Rng, rows: usize, side: usize) -> Vec<f64> {
    let mut x = vec![0.0; rows * side * side];
    for image in x.chunks_mut(side * side) {
        let middle = side as f64 / 2.0;
        let (cy, cx) = (middle + rng.uniform() * 2.0, middle + rng.uniform() * 2.0);
        let radius = 3.0 + rng.uniform();
        for (k, pixel) in image.iter_mut().enumerate() {
            let (y, x) = ((k / side) as f64, (k % side) as f64);
            if (y - cy).powi(2) + (x - cx).powi(2) < radius * radius {
                *pixel = 0.5 + 0.5 * rng.uniform().abs();
            }
        }
    }
    x
}

/// `epoch` from the parameters (w0, b0), ReLU: (loss, correct, weights, biases).
#[allow(clippy::type_complexity)]
fn epoch_of<T: Real>(
    arch: &Architecture,
    (w0, b0): (&[Vec<T>], &[Vec<T>]),
    epoch: &Epoch<'_, T>,
) -> (f64, usize, Vec<Vec<T>>, Vec<Vec<T>>) {
    let (mut w, mut b) = (w0.to_vec(), b0.to_vec());
    let mut model = Model {
        arch,
        activation: Activation::Relu,
        weights: &mut w,
        biases: &mut b,
    };
    let mut workspace = Workspace::new(arch, epoch.batch_size);
    let outcome = train_epoch(&mut model, epoch, None, &mut workspace, &mut |_| Ok(())).unwrap();
    (outcome.mean_loss, outcome.correct, w, b)
}

fn as_f64<T: Real>(values: &[T]) -> Vec<f64> {
    values.iter().map(|&v| Real::to_f64(v)).collect()
}

/// A wide first layer (128 and 250 outputs: every block width of the kernels, 8 vectors
/// included) on MNIST-like images (groups of 8 rows) and on random rows of density 0.05 (row
/// by row): the sparse path gives the dense path's epoch, in f64 and f32.
fn check_wide_first_layer<T: Real>(tolerance: f64) {
    let mut rng = Rng::new(9);
    let (rows, side) = (96, 14);
    let inputs = side * side;
    let images = image_rows(&mut rng, rows, side);
    let scattered = sparse_rows(&mut rng, rows, inputs, 0.05);
    let labels: Vec<i64> = (0..rows).map(|_| rng.below(10) as i64).collect();
    let order: Vec<i64> = (0..rows as i64).map(|i| (i * 29) % rows as i64).collect();
    for (name, x, group_rows) in [("images", &images, GROUP_ROWS), ("random", &scattered, 1)] {
        let x: Vec<T> = x.iter().map(|&v| T::from_f64(v)).collect();
        let plan = plan_sparse_path(Inputs::Dense(&x), &order, inputs, &SparseParams::default());
        assert_eq!(plan.group_rows, group_rows, "{name}: {plan:?}");
        let matrix = SparseRows::from_dense(&x, inputs).unwrap();
        for hidden in [128, 250] {
            let arch = Architecture::new(vec![inputs, hidden, 10]).unwrap();
            let w0: Vec<Vec<T>> = (0..arch.layers())
                .map(|l| {
                    let scale = 1.0 / (arch.fan_in(l) as f64).sqrt();
                    let values = rng.vec(arch.fan_in(l) * arch.fan_out(l), scale);
                    values.iter().map(|&v| T::from_f64(v)).collect()
                })
                .collect();
            let b0: Vec<Vec<T>> = (0..arch.layers())
                .map(|l| {
                    rng.vec(arch.fan_out(l), 0.1)
                        .iter()
                        .map(|&v| T::from_f64(v))
                        .collect()
                })
                .collect();
            for batch_size in [7, 32] {
                let run = |inputs, input_path| {
                    let epoch = Epoch {
                        inputs,
                        labels: &labels,
                        order: &order,
                        lr: 0.1,
                        batch_size,
                        input_path,
                        sparse: SparseParams::default(),
                    };
                    epoch_of(&arch, (&w0, &b0), &epoch)
                };
                let (loss, correct, w, b) = run(Inputs::Dense(&x), InputPath::Dense);
                for (inputs, path) in [
                    (Inputs::Dense(&x), InputPath::Sparse),
                    (Inputs::Sparse(&matrix), InputPath::Sparse),
                ] {
                    let case = format!("{name} {hidden} batch {batch_size} {path:?}");
                    let (sparse_loss, sparse_correct, ws, bs) = run(inputs, path);
                    assert!((loss - sparse_loss).abs() < tolerance, "{case}: loss");
                    assert!(correct.abs_diff(sparse_correct) <= 1, "{case}: correct");
                    for l in 0..arch.layers() {
                        let (dense, sparse) = (as_f64(&w[l]), as_f64(&ws[l]));
                        let diff = max_abs_diff(&dense, &sparse);
                        assert!(diff < tolerance, "{case}: W[{l}] off by {diff}");
                        let diff = max_abs_diff(&as_f64(&b[l]), &as_f64(&bs[l]));
                        assert!(diff < tolerance, "{case}: b[{l}] off by {diff}");
                    }
                }
            }
        }
    }
}

#[test]
fn a_wide_first_layer_agrees_on_both_paths_in_f64() {
    check_wide_first_layer::<f64>(1e-10);
}

#[test]
fn a_wide_first_layer_agrees_on_both_paths_in_f32() {
    check_wide_first_layer::<f32>(1e-4);
}

#[test]
fn the_comparison_fails_on_values_never_written() {
    assert_eq!(max_abs_diff(&[1.0, f64::NAN], &[1.0, 2.0]), f64::INFINITY);
    assert_eq!(max_abs_diff(&[1.0, 2.0], &[1.0, f64::NAN]), f64::INFINITY);
    assert_eq!(
        max_abs_diff(&[f64::INFINITY], &[f64::INFINITY]),
        f64::INFINITY
    );
    assert_eq!(max_abs_diff(&[1.0, 2.0], &[1.0, 2.5]), 0.5);
}

#[test]
fn auto_takes_the_sparse_path_only_where_it_earns_a_quarter() {
    let crossover = 0.5; // binary fractions: the products below are exact
    let at = |work: f64, compress: f64| {
        SparsePlan {
            group_rows: GROUP_ROWS,
            work,
        }
        .preferred_path(crossover, compress)
    };
    // Predicted sparse / dense = work / crossover (+ compressing): at most 0.75 to go sparse.
    assert_eq!(SPARSE_TIME_LIMIT, 0.75);
    assert_eq!(at(0.375, 0.0), InputPath::Sparse); // 0.75
    assert_eq!(at(0.385, 0.0), InputPath::Dense); // 0.77, as MNIST-like rows on two threads
    assert_eq!(at(0.25, 0.25), InputPath::Sparse); // 0.5 + 0.25
    assert_eq!(at(0.25, 0.375), InputPath::Dense); // 0.5 + 0.375
}
