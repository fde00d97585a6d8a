//! Inference's first hidden layer on dense rows, from each row's nonzero inputs alone:
//!
//!   a[1][r, :] = f(b[0] + sum over j with x[r, j] != 0 of  x[r, j] * W[0][j, :])
//!
//! A block of rows is read once to mark each row's nonzero inputs, 32 inputs a mask; then,
//! chunk by chunk of 32 inputs, every row of the block adds its nonzeros' rows of W into its
//! output, one block of output columns at a time, in accumulators kept in registers. A chunk's
//! rows of W (32 x 128 floats: 16 KB) stay in L1 while the block's rows go by, so each
//! multiply-add reads W from L1; no copy of `x` is made, and zeros cost no multiply-add (on
//! MNIST the products are the density's 19% of the dense ones).

use super::kernels::{column_blocks, load_row, most_vectors, store_row};
use crate::activation::Activation;
use crate::real::Real;
use pulp::{Arch, Simd, WithSimd};
use rayon::prelude::*;

/// Inputs a chunk (one u32 mask a row).
const CHUNK: usize = 32;

/// Rows a task takes: their masks, outputs and values stay in the core's L2 while the chunks
/// go by, and 10,000 rows make 79 tasks for the pool to share out.
const BLOCK_ROWS: usize = 128;

/// `out (rows, fan_out) = f(x @ weight + bias)` for the dense row-major `x` (rows, inputs)
/// and `weight` (inputs, fan_out), from each row's nonzero inputs, block by block of rows over
/// the current pool. `out` must hold rows * fan_out values. Returns whether every value of
/// `x` is finite (a NaN counts as nonzero, so it reaches the outputs of its row).
pub fn hidden_layer_forward<T: Real>(
    x: &[T],
    (weight, bias): (&[T], &[T]),
    (inputs, fan_out): (usize, usize),
    activation: Activation,
    out: &mut [T],
) -> bool {
    if inputs == 0 || fan_out == 0 {
        return x.iter().all(|v| v.is_finite());
    }
    let rows = x.len() / inputs;
    let out = &mut out[..rows * fan_out];
    let x = &x[..rows * inputs];
    let chunks = inputs.div_ceil(CHUNK);
    out.par_chunks_mut(BLOCK_ROWS * fan_out)
        .zip(x.par_chunks(BLOCK_ROWS * inputs))
        .map_init(
            || Vec::with_capacity(BLOCK_ROWS * chunks),
            |masks, (out_rows, x_rows)| {
                let finite = Arch::new().dispatch(BlockOfRows {
                    x: x_rows,
                    weight,
                    inputs,
                    fan_out,
                    masks,
                    out: &mut *out_rows,
                });
                activation.add_bias_and_apply(out_rows, bias);
                finite
            },
        )
        .reduce(|| true, |a, b| a && b)
}

/// One block of rows' product, `out = x @ weight`, compiled for the instruction set `S`.
struct BlockOfRows<'a, T> {
    /// (rows, inputs)
    x: &'a [T],
    /// (inputs, fan_out)
    weight: &'a [T],
    inputs: usize,
    fan_out: usize,
    /// (rows, chunks): bit i of [r, c] is set where x[r, c * CHUNK + i] is not zero.
    masks: &'a mut Vec<u32>,
    /// (rows, fan_out)
    out: &'a mut [T],
}

impl<T: Real> WithSimd for BlockOfRows<'_, T> {
    type Output = bool;

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) -> bool {
        let BlockOfRows {
            x,
            weight,
            inputs,
            fan_out,
            masks,
            out,
        } = self;
        let mut finite = true;
        masks.clear();
        for row in x.chunks_exact(inputs) {
            finite &= row.iter().fold(true, |ok, v| ok & v.is_finite());
            masks.extend(row.chunks(CHUNK).map(|values| {
                values.iter().enumerate().fold(0u32, |mask, (i, &v)| {
                    mask | (u32::from(v != T::zero()) << i)
                })
            }));
        }
        out.fill(T::zero());
        let rows = MarkedRows {
            x,
            masks,
            inputs,
            weight,
            fan_out,
        };
        for (offset, width) in column_blocks::<S, T>(fan_out, most_vectors::<S, T, 1>()) {
            let columns = (offset, width);
            for chunk in 0..inputs.div_ceil(CHUNK) {
                match width.div_ceil(T::lanes::<S>()) {
                    8 => rows.add_chunk::<S, 8>(simd, chunk, columns, out),
                    4 => rows.add_chunk::<S, 4>(simd, chunk, columns, out),
                    2 => rows.add_chunk::<S, 2>(simd, chunk, columns, out),
                    _ => rows.add_chunk::<S, 1>(simd, chunk, columns, out),
                }
            }
        }
        finite
    }
}

/// A block of rows with their nonzeros marked, and W: what every chunk's product reads.
#[derive(Clone, Copy)]
struct MarkedRows<'a, T> {
    /// (rows, inputs)
    x: &'a [T],
    /// (rows, inputs.div_ceil(CHUNK))
    masks: &'a [u32],
    inputs: usize,
    /// (inputs, fan_out)
    weight: &'a [T],
    fan_out: usize,
}

impl<T: Real> MarkedRows<'_, T> {
    /// `out[r, offset .. offset + width] += sum over the nonzero j of chunk `chunk` of
    /// x[r, j] * weight[j, offset .. offset + width]` for every row r, in V vectors (width =
    /// V whole vectors, or with V = 1 fewer lanes than a vector).
    #[inline(always)]
    fn add_chunk<S: Simd, const V: usize>(
        self,
        simd: S,
        chunk: usize,
        (offset, width): (usize, usize),
        out: &mut [T],
    ) {
        let MarkedRows {
            x,
            masks,
            inputs,
            weight,
            fan_out,
        } = self;
        let whole = width == V * T::lanes::<S>();
        let first = chunk * CHUNK;
        let rows = x
            .chunks_exact(inputs)
            .zip(out.chunks_exact_mut(fan_out))
            .zip(masks.chunks_exact(inputs.div_ceil(CHUNK)));
        for ((row, out_row), row_masks) in rows {
            let mut mask = row_masks[chunk];
            if mask == 0 {
                continue;
            }
            let out_block = &mut out_row[offset..offset + width];
            let mut sums = load_row::<S, T, V>(simd, out_block, whole);
            while mask != 0 {
                // A set bit is an input of the row: j < inputs.
                let j = first + mask.trailing_zeros() as usize;
                mask &= mask - 1;
                let start = j * fan_out + offset;
                let w_j = load_row::<S, T, V>(simd, &weight[start..start + width], whole);
                let x_j = T::splat(simd, row[j]);
                for v in 0..V {
                    sums[v] = T::mul_add_vectors(simd, x_j, w_j[v], sums[v]);
                }
            }
            store_row::<S, T, V>(simd, out_block, &sums, whole);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (rows, inputs) values with about a third of them zero, from a fixed sequence.
    fn rows_of<T: Real>(rows: usize, inputs: usize) -> Vec<T> {
        (0..rows * inputs)
            .map(|i| {
                let v = ((i * 7919) % 23) as f64 / 11.0 - 1.0;
                T::from(if i % 3 == 1 { 0.0 } else { v }).unwrap()
            })
            .collect()
    }

    /// The block's product on instruction set `simd` against the dense definition, for every
    /// width of column block (8, 4, 2, 1 and a partial vector) and inputs that do not fill
    /// their last chunk. Outputs start as NaN: one never written fails.
    fn check_on<S: Simd, T: Real>(simd: S, tolerance: f64) {
        let lanes = T::lanes::<S>();
        let widest = most_vectors::<S, T, 1>() * lanes;
        for fan_out in [1, lanes.div_ceil(2), lanes, 2 * widest - 1, 128] {
            for inputs in [1, 31, 32, 70] {
                let rows = 5;
                let x = rows_of::<T>(rows, inputs);
                let weight = rows_of::<T>(inputs, fan_out);
                let mut out = vec![T::nan(); rows * fan_out];
                let mut masks = Vec::new();
                let finite = BlockOfRows {
                    x: &x,
                    weight: &weight,
                    inputs,
                    fan_out,
                    masks: &mut masks,
                    out: &mut out,
                }
                .with_simd(simd);
                assert!(finite);
                for r in 0..rows {
                    for k in 0..fan_out {
                        let want: f64 = (0..inputs)
                            .map(|j| x[r * inputs + j].to_f64() * weight[j * fan_out + k].to_f64())
                            .sum();
                        let got = out[r * fan_out + k].to_f64();
                        assert!(
                            (got - want).abs() < tolerance,
                            "[{r}, {k}] of {inputs} -> {fan_out}: {got} {want}"
                        );
                    }
                }
            }
        }
    }

    fn check_both_types_on<S: Simd>(simd: S) {
        check_on::<S, f64>(simd, 1e-12);
        check_on::<S, f32>(simd, 1e-4);
    }

    /// Every instruction set the CPU offers computes the product.
    #[test]
    fn every_instruction_set_computes_the_product() {
        check_both_types_on(pulp::Scalar::new());
        #[cfg(target_arch = "x86_64")]
        {
            if let Some(simd) = pulp::x86::V3::try_new() {
                check_both_types_on(simd);
            }
            if let Some(simd) = pulp::x86::V4::try_new() {
                check_both_types_on(simd);
            }
        }
    }

    #[test]
    fn a_nan_or_infinity_is_reported_and_reaches_its_row() {
        let (inputs, fan_out) = (40, 3);
        let mut x = rows_of::<f32>(2, inputs);
        x[inputs + 5] = f32::NAN;
        let weight = rows_of::<f32>(inputs, fan_out);
        let mut out = vec![0.0; 2 * fan_out];
        let params = (&weight[..], &[0.0; 3][..]);
        let forward = |x: &[f32], out: &mut [f32]| {
            hidden_layer_forward(x, params, (inputs, fan_out), Activation::Identity, out)
        };
        assert!(!forward(&x, &mut out));
        assert!(out[..fan_out].iter().all(|v| v.is_finite()));
        assert!(out[fan_out..].iter().all(|v| v.is_nan()));
        x[inputs + 5] = f32::INFINITY;
        assert!(!forward(&x, &mut out));
    }
}
