//! The sparse first layer's two products on a batch's row groups (`groups.rs`), in explicit
//! SIMD: `pulp` picks AVX-512, AVX2+FMA or scalar code at run time (`simd.rs`).
//!
//! forward   z[r, :]  = sum over j of  x[r, j] * W[j, :]
//! update    W[j, :] += scale * sum over r of  x[r, j] * delta[r, :]      (scale = -lr)
//!
//! Both sums run over a group's columns only. Both go block by block of output columns (2
//! vectors for groups of 8 rows, 8 for single rows, with AVX-512), and within a block group by
//! group, so that the block's slice of W stays in L1 across the groups. The accumulators of a
//! block are fixed-size arrays, kept in registers. Measurements: benchmarks/README.md.

use super::groups::{RowGroups, GROUP_ROWS};
use crate::real::Real;
use pulp::{Simd, WithSimd};

/// The most vectors of each row a block of output columns holds, for groups of G rows:
/// G rows of them are the accumulators, kept in registers. With 512-bit vectors, 2 for
/// groups of 8 (16 of AVX-512's 32 registers) and 8 for single rows (a 128-float row of W
/// a nonzero); half that with 256-bit vectors (AVX2 has 16 registers).
#[inline(always)]
pub(super) fn most_vectors<S: Simd, T: Real, const G: usize>() -> usize {
    let wide = T::lanes::<S>() * size_of::<T>() >= 64;
    match (G, wide) {
        (1, true) => 8,
        (1, false) => 4,
        (_, true) => 2,
        (_, false) => 1,
    }
}

/// `RowGroups::forward`, compiled for the instruction set `S`.
pub(super) struct Forward<'a, T> {
    pub(super) groups: &'a RowGroups<T>,
    pub(super) out: &'a mut [T],
    pub(super) weight: &'a [T],
    pub(super) fan_out: usize,
}

impl<T: Real> WithSimd for Forward<'_, T> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        match self.groups.group_rows {
            GROUP_ROWS => self.groups_of::<S, GROUP_ROWS>(simd),
            _ => self.groups_of::<S, 1>(simd),
        }
    }
}

impl<T: Real> Forward<'_, T> {
    /// The product for groups of G rows.
    #[inline(always)]
    fn groups_of<S: Simd, const G: usize>(self, simd: S) {
        let Forward {
            groups,
            out,
            weight,
            fan_out,
        } = self;
        // Block by block of output columns, every group in turn, as in `Update`.
        for (offset, width) in column_blocks::<S, T>(fan_out, most_vectors::<S, T, G>()) {
            for (g, out_rows) in out.chunks_mut(G * fan_out).enumerate() {
                let (columns, values) = groups.group(g);
                let block = ForwardBlock {
                    out_rows: &mut *out_rows,
                    columns,
                    values,
                    weight,
                    fan_out,
                    offset,
                    width,
                };
                match width.div_ceil(T::lanes::<S>()) {
                    8 => forward_block::<S, T, G, 8>(simd, block),
                    4 => forward_block::<S, T, G, 4>(simd, block),
                    2 => forward_block::<S, T, G, 2>(simd, block),
                    _ => forward_block::<S, T, G, 1>(simd, block),
                }
            }
        }
    }
}

/// The output columns as (offset, width) blocks: `most` vectors wide while they fit, then
/// the largest power of two of vectors that does, then a last partial vector.
#[inline(always)]
pub(super) fn column_blocks<S: Simd, T: Real>(
    fan_out: usize,
    most: usize,
) -> impl Iterator<Item = (usize, usize)> {
    let lanes = T::lanes::<S>();
    let mut offset = 0;
    std::iter::from_fn(move || {
        let left = fan_out.checked_sub(offset).filter(|&left| left > 0)?;
        let whole = (left / lanes).min(most);
        let width = match whole {
            0 => left,
            _ => (1 << whole.ilog2()) * lanes,
        };
        let block = (offset, width);
        offset += width;
        Some(block)
    })
}

/// One group's share of the forward product, in output columns `offset .. offset + width`.
struct ForwardBlock<'a, T> {
    /// The group's rows of the output, (G, fan_out).
    out_rows: &'a mut [T],
    /// The group's columns and their values (columns, G).
    columns: &'a [u32],
    values: &'a [T],
    /// W, (inputs, fan_out).
    weight: &'a [T],
    fan_out: usize,
    offset: usize,
    width: usize,
}

/// `out_rows[r, :] = sum_i values[i, r] * weight[columns[i], :]` in the block's output
/// columns, in V vectors a row (width = V whole vectors, or with V = 1 fewer lanes than a
/// vector).
#[inline(always)]
fn forward_block<S: Simd, T: Real, const G: usize, const V: usize>(
    simd: S,
    block: ForwardBlock<'_, T>,
) {
    let ForwardBlock {
        out_rows,
        columns,
        values,
        weight,
        fan_out,
        offset,
        width,
    } = block;
    let whole = width == V * T::lanes::<S>();
    let zero = T::splat(simd, T::zero());
    let mut sums = [[zero; V]; G]; // (G, V vectors)
    for (&j, x_j) in columns.iter().zip(values.chunks_exact(G)) {
        // j < inputs, so the row lies inside weight (inputs, fan_out).
        let start = j as usize * fan_out + offset;
        let w_j = load_row::<S, T, V>(simd, &weight[start..start + width], whole);
        for r in 0..G {
            let x = T::splat(simd, x_j[r]);
            for v in 0..V {
                sums[r][v] = T::mul_add_vectors(simd, x, w_j[v], sums[r][v]);
            }
        }
    }
    // A short last group has fewer rows than G; its missing rows' sums are zero.
    for (out_row, sum) in out_rows.chunks_exact_mut(fan_out).zip(&sums) {
        store_row::<S, T, V>(simd, &mut out_row[offset..offset + width], sum, whole);
    }
}

/// `RowGroups::update_range`, compiled for the instruction set `S`.
pub(super) struct Update<'a, T, D> {
    pub(super) groups: &'a RowGroups<T>,
    pub(super) weight_rows: &'a mut [T],
    pub(super) first: usize,
    pub(super) last: usize,
    pub(super) delta_row: D,
    pub(super) fan_out: usize,
    pub(super) scale: T,
}

impl<'d, T: Real, D: Fn(usize) -> &'d [T]> WithSimd for Update<'_, T, D> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        match self.groups.group_rows {
            GROUP_ROWS => self.groups_of::<S, GROUP_ROWS>(simd),
            _ => self.groups_of::<S, 1>(simd),
        }
    }
}

impl<'d, T: Real + 'd, D: Fn(usize) -> &'d [T]> Update<'_, T, D> {
    /// The update for groups of G rows.
    #[inline(always)]
    fn groups_of<S: Simd, const G: usize>(self, simd: S) {
        let Update {
            groups,
            weight_rows,
            first,
            last,
            delta_row,
            fan_out,
            scale,
        } = self;
        let delta_row = &delta_row;
        // Columns are ascending: those in first..last are one run of each group's. All of
        // them where the groups were built for inputs within first..last (as ranges.rs does);
        // else each group's run is searched for.
        let whole_groups = first <= groups.built.start && groups.built.end <= last;
        // Block by block of output columns, every group in turn: one block of W's rows of the
        // range (32 floats of ~400 rows, about L1's size) stays in L1 across the groups
        // instead of streaming from L2 once per group.
        for (offset, width) in column_blocks::<S, T>(fan_out, most_vectors::<S, T, G>()) {
            for g in 0..groups.starts.len() - 1 {
                let (columns, values) = groups.group(g);
                let group_rows = g * G..groups.rows.min((g + 1) * G);
                let (begin, end) = if whole_groups {
                    (0, columns.len())
                } else {
                    (
                        columns.partition_point(|&c| (c as usize) < first),
                        columns.partition_point(|&c| (c as usize) < last),
                    )
                };
                let block = UpdateBlock {
                    weight_rows: &mut *weight_rows,
                    first,
                    columns: &columns[begin..end],
                    values: &values[begin * G..end * G],
                    group_rows,
                    delta_row,
                    fan_out,
                    offset,
                    width,
                    scale,
                };
                match width.div_ceil(T::lanes::<S>()) {
                    8 => update_block::<S, T, D, G, 8>(simd, block),
                    4 => update_block::<S, T, D, G, 4>(simd, block),
                    2 => update_block::<S, T, D, G, 2>(simd, block),
                    _ => update_block::<S, T, D, G, 1>(simd, block),
                }
            }
        }
    }
}

/// One group's share of the update, in output columns `offset .. offset + width`.
struct UpdateBlock<'a, T, D> {
    /// Rows first.. of W.
    weight_rows: &'a mut [T],
    first: usize,
    /// The group's columns in first..first + rows of weight_rows, and their values
    /// (columns, G).
    columns: &'a [u32],
    values: &'a [T],
    /// The group's rows of the batch, and where to find their deltas.
    group_rows: std::ops::Range<usize>,
    delta_row: &'a D,
    fan_out: usize,
    offset: usize,
    width: usize,
    scale: T,
}

/// `weight[c - first, :] += scale * sum_r values[i, r] * delta[group_rows[r], :]` for
/// each column c = columns[i], in V vectors a row (width = V whole vectors, or with V = 1
/// fewer lanes than a vector).
#[inline(always)]
fn update_block<
    'd,
    S: Simd,
    T: Real + 'd,
    D: Fn(usize) -> &'d [T],
    const G: usize,
    const V: usize,
>(
    simd: S,
    block: UpdateBlock<'_, T, D>,
) {
    let UpdateBlock {
        weight_rows,
        first,
        columns,
        values,
        group_rows,
        delta_row,
        fan_out,
        offset,
        width,
        scale,
    } = block;
    let whole = width == V * T::lanes::<S>();
    // scale * delta for the group's rows, (G, V vectors) in registers; a short
    // last group's missing rows stay zero (their values are zero too).
    let zero = T::splat(simd, T::zero());
    let scale = T::splat(simd, scale);
    let mut steps = [[zero; V]; G];
    for (step, r) in steps.iter_mut().zip(group_rows) {
        let d = load_row::<S, T, V>(simd, &delta_row(r)[offset..offset + width], whole);
        for v in 0..V {
            step[v] = T::mul_vectors(simd, scale, d[v]);
        }
    }
    for (&j, x_j) in columns.iter().zip(values.chunks_exact(G)) {
        // first <= j < first + rows of weight_rows: the caller picked these columns by
        // partition_point on that range.
        let start = (j as usize - first) * fan_out + offset;
        let w_j = &mut weight_rows[start..start + width];
        let mut updated = load_row::<S, T, V>(simd, w_j, whole);
        for r in 0..G {
            let x = T::splat(simd, x_j[r]);
            for v in 0..V {
                updated[v] = T::mul_add_vectors(simd, x, steps[r][v], updated[v]);
            }
        }
        store_row::<S, T, V>(simd, w_j, &updated, whole);
    }
}

/// V vectors from `values`: V whole vectors (`whole`), or one vector's first
/// `values.len()` lanes and zeros.
#[inline(always)]
pub(super) fn load_row<S: Simd, T: Real, const V: usize>(
    simd: S,
    values: &[T],
    whole: bool,
) -> [T::Of<S>; V] {
    let mut row = [T::splat(simd, T::zero()); V];
    if whole {
        row.copy_from_slice(&T::as_vectors::<S>(values)[..V]);
    } else {
        row[0] = T::load_partial(simd, values);
    }
    row
}

/// The inverse of `load_row`.
#[inline(always)]
pub(super) fn store_row<S: Simd, T: Real, const V: usize>(
    simd: S,
    values: &mut [T],
    row: &[T::Of<S>; V],
    whole: bool,
) {
    if whole {
        T::as_mut_vectors::<S>(values)[..V].copy_from_slice(row);
    } else {
        T::store_partial(simd, values, row[0]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sparse::{SparseBatch, SparseRows};
    use std::collections::BTreeSet;

    /// The block widths, in vectors (0 for a partial vector), that the kernels cut `fan_out`
    /// output columns into for groups of G rows on `S`.
    fn widths_of<S: Simd, T: Real, const G: usize>(fan_out: usize) -> BTreeSet<usize> {
        let lanes = T::lanes::<S>();
        column_blocks::<S, T>(fan_out, most_vectors::<S, T, G>())
            .map(|(_, width)| if width % lanes == 0 { width / lanes } else { 0 })
            .collect()
    }

    /// Output widths that reach, between them, every block width the kernels use for groups
    /// of G rows on `S`: (2 * most - 1) whole vectors and a half take the widest block, then
    /// each narrower power of two down to 1 vector, then a partial vector; then a lone partial
    /// vector, a single vector and MNIST's 128 outputs.
    fn fan_outs_for<S: Simd, T: Real, const G: usize>() -> Vec<usize> {
        let (lanes, most) = (T::lanes::<S>(), most_vectors::<S, T, G>());
        let fan_outs = vec![
            (2 * most - 1) * lanes + lanes / 2,
            lanes.div_ceil(2),
            lanes,
            128,
        ];
        let reached: BTreeSet<usize> = fan_outs
            .iter()
            .flat_map(|&n| widths_of::<S, T, G>(n))
            .collect();
        // Every power of two up to `most`, and a partial vector where a vector has lanes.
        let mut wanted: BTreeSet<usize> = (0..=most.ilog2()).map(|p| 1 << p).collect();
        if lanes > 1 {
            wanted.insert(0);
        }
        assert_eq!(
            reached, wanted,
            "block widths reached ({lanes} lanes, G = {G})"
        );
        fan_outs
    }

    /// Forward and update on instruction set `simd` in groups of G rows with `fan_out`
    /// outputs, against the dense definitions. Outputs start as NaN: one never written fails.
    fn check_on<S: Simd, T: Real, const G: usize>(simd: S, fan_out: usize, tolerance: f64) {
        // 13 rows: a whole group of 8 and a short one.
        let (rows, inputs) = (13, 37);
        let value =
            |k: usize, modulus: usize| T::from_f64(((k * 37) % modulus) as f64 / 50.0 - 1.0);
        let x: Vec<T> = (0..rows * inputs)
            .map(|k| if k % 3 == 0 { value(k, 7) } else { T::zero() })
            .collect();
        let w: Vec<T> = (0..inputs * fan_out).map(|k| value(k, 101)).collect();
        let delta: Vec<T> = (0..rows * fan_out).map(|k| value(k, 89)).collect();
        let order: Vec<i64> = (0..rows as i64).rev().collect();
        let matrix = SparseRows::from_dense(&x, inputs).unwrap();
        let mut groups = RowGroups::try_new(inputs, rows, inputs, G).unwrap();
        let batch = SparseBatch {
            matrix: &matrix,
            order: &order,
        };
        groups.build(batch, 0, inputs).unwrap();

        let mut out = vec![T::nan(); rows * fan_out];
        simd.vectorize(Forward {
            groups: &groups,
            out: &mut out,
            weight: &w,
            fan_out,
        });
        let mut updated = w.clone();
        simd.vectorize(Update {
            groups: &groups,
            weight_rows: &mut updated,
            first: 0,
            last: inputs,
            delta_row: |r: usize| &delta[r * fan_out..(r + 1) * fan_out],
            fan_out,
            scale: T::from_f64(-0.5),
        });
        // Groups built over all inputs, updated in two ranges of W's rows: the same update.
        let mut in_halves = w.clone();
        let half = inputs / 2;
        let (low, high) = in_halves.split_at_mut(half * fan_out);
        for (rows_of_w, first, last) in [(low, 0, half), (high, half, inputs)] {
            simd.vectorize(Update {
                groups: &groups,
                weight_rows: rows_of_w,
                first,
                last,
                delta_row: |r: usize| &delta[r * fan_out..(r + 1) * fan_out],
                fan_out,
                scale: T::from_f64(-0.5),
            });
        }
        assert!(in_halves == updated, "update by halves, {fan_out} outputs");

        let case = format!("{} lanes, G = {G}, {fan_out} outputs", T::lanes::<S>());
        for r in 0..rows {
            let i = order[r] as usize;
            for k in 0..fan_out {
                let want: f64 = (0..inputs)
                    .map(|j| x[i * inputs + j].to_f64() * w[j * fan_out + k].to_f64())
                    .sum();
                let got = out[r * fan_out + k].to_f64();
                assert!(
                    (got - want).abs() < tolerance,
                    "forward [{r}, {k}] ({case}): {got} {want}"
                );
            }
        }
        for j in 0..inputs {
            for k in 0..fan_out {
                let step: f64 = (0..rows)
                    .map(|r| {
                        let i = order[r] as usize;
                        x[i * inputs + j].to_f64() * delta[r * fan_out + k].to_f64()
                    })
                    .sum();
                let want = w[j * fan_out + k].to_f64() - 0.5 * step;
                let got = updated[j * fan_out + k].to_f64();
                assert!(
                    (got - want).abs() < tolerance,
                    "update [{j}, {k}] ({case}): {got} {want}"
                );
            }
        }
    }

    fn check_group_size<S: Simd, T: Real, const G: usize>(simd: S, tolerance: f64) {
        for fan_out in fan_outs_for::<S, T, G>() {
            check_on::<S, T, G>(simd, fan_out, tolerance);
        }
    }

    fn check_both_types_on<S: Simd>(simd: S) {
        check_group_size::<S, f64, 1>(simd, 1e-12);
        check_group_size::<S, f64, GROUP_ROWS>(simd, 1e-12);
        check_group_size::<S, f32, 1>(simd, 1e-4);
        check_group_size::<S, f32, GROUP_ROWS>(simd, 1e-4);
    }

    /// Every instruction set the CPU offers is tested (`cargo test -- --nocapture` lists them);
    /// one that the CPU has but `pulp` does not offer fails the test instead of being skipped.
    #[test]
    fn every_instruction_set_computes_the_products() {
        check_both_types_on(pulp::Scalar::new());
        let mut tested = vec!["scalar"];
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            let v3_cpu = has!("avx2") && has!("fma") && has!("bmi1") && has!("bmi2");
            let v4_cpu = v3_cpu
                && has!("avx512f")
                && has!("avx512bw")
                && has!("avx512cd")
                && has!("avx512dq")
                && has!("avx512vl");
            match pulp::x86::V3::try_new() {
                Some(simd) => {
                    check_both_types_on(simd);
                    tested.push("x86-64-v3 (AVX2+FMA)");
                }
                None => assert!(!v3_cpu, "the CPU has AVX2+FMA but pulp's V3 did not run"),
            }
            match pulp::x86::V4::try_new() {
                Some(simd) => {
                    check_both_types_on(simd);
                    tested.push("x86-64-v4 (AVX-512)");
                }
                None => assert!(!v4_cpu, "the CPU has AVX-512 but pulp's V4 did not run"),
            }
        }
        eprintln!("sparse kernels tested on: {}", tested.join(", "));
    }
}
