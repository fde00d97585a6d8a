//! The crate's matrix product, over the `gemm` crate's microkernels.
//!
//! Operands are strided views, so the transposed products of backprop (`a.T @ delta`,
//! `delta @ W.T`) read the stored matrix through swapped strides instead of copying it.
//! The destination is always a row-major block. Large products are split by destination rows
//! over the current rayon pool; each piece is one single-threaded GEMM call.

use crate::error::{Error, Result};
use crate::real::Real;
use rayon::prelude::*;

/// `rows * cols`, checked to fit in `available` elements of the buffer called `arg`.
fn elements_for(arg: &str, available: usize, rows: usize, cols: usize) -> Result<usize> {
    let needed = rows
        .checked_mul(cols)
        .ok_or_else(|| Error::value(arg, format!("{rows} x {cols} overflows the address space")))?;
    if available < needed {
        return Err(Error::shape(
            arg,
            format!("at least {needed} elements for a {rows} x {cols} matrix"),
            format!("{available} elements"),
        ));
    }
    Ok(needed)
}

/// A read-only strided matrix view: element (r, c) is `data[r * row_stride + c * col_stride]`.
#[derive(Debug, Clone, Copy)]
pub struct MatRef<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T: Real> MatRef<'a, T> {
    /// The first `rows * cols` elements of `data`, read as a row-major (rows, cols) matrix.
    pub fn row_major(data: &'a [T], rows: usize, cols: usize) -> Result<Self> {
        let needed = elements_for("matrix", data.len(), rows, cols)?;
        Ok(MatRef {
            data: &data[..needed],
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        })
    }

    /// The transpose, as a view of the same memory.
    pub fn t(self) -> Self {
        MatRef {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Rows `start..end` of this view.
    pub(crate) fn row_range(self, start: usize, end: usize) -> Self {
        debug_assert!(start <= end && end <= self.rows);
        let offset = if start < end {
            start * self.row_stride
        } else {
            0
        };
        MatRef {
            data: &self.data[offset.min(self.data.len())..],
            rows: end - start,
            ..self
        }
    }
}

/// A writable row-major (rows, cols) block.
#[derive(Debug)]
pub struct MatMut<'a, T> {
    data: &'a mut [T],
    rows: usize,
    cols: usize,
}

impl<'a, T: Real> MatMut<'a, T> {
    /// The first `rows * cols` elements of `data`, as a row-major (rows, cols) matrix.
    pub fn row_major(data: &'a mut [T], rows: usize, cols: usize) -> Result<Self> {
        let needed = elements_for("out", data.len(), rows, cols)?;
        Ok(MatMut {
            data: &mut data[..needed],
            rows,
            cols,
        })
    }
}

/// What the product does to the destination.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Update<T> {
    /// `dst = lhs @ rhs`
    Overwrite,
    /// `dst = dst + scale * (lhs @ rhs)`; the SGD update `W -= lr * a.T @ delta` in one pass.
    AddScaled(T),
}

/// Below this many multiply-adds a product runs on one thread: splitting costs more than it saves.
const MIN_PARALLEL_MULTIPLY_ADDS: usize = 1 << 18;
/// Each thread gets at least this many destination rows.
const MIN_ROWS_PER_THREAD: usize = 16;

/// `lhs (m, k)`, `rhs (k, n)` and `dst (m, n)` agree.
fn check_product_shapes<T>(
    dst: &MatMut<'_, T>,
    lhs: &MatRef<'_, T>,
    rhs: &MatRef<'_, T>,
) -> Result<()> {
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    if rhs.rows != k {
        return Err(Error::shape(
            "rhs",
            format!("{k} rows to match lhs's {k} columns"),
            format!("{} rows", rhs.rows),
        ));
    }
    if dst.rows != m || dst.cols != n {
        return Err(Error::shape(
            "out",
            format!("({m}, {n})"),
            format!("({}, {})", dst.rows, dst.cols),
        ));
    }
    Ok(())
}

/// `dst (m, n) <- update(lhs (m, k) @ rhs (k, n))`, split over the current rayon pool.
pub fn matmul_into<T: Real>(
    dst: MatMut<'_, T>,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    update: Update<T>,
) -> Result<()> {
    check_product_shapes(&dst, &lhs, &rhs)?;
    let (m, k, n) = (lhs.rows, lhs.cols, rhs.cols);
    let threads = rayon::current_num_threads();
    let rows_per_thread = m.div_ceil(threads.max(1)).max(MIN_ROWS_PER_THREAD);
    // Saturating: with k = 0, m and n are not bounded by any allocation.
    let multiply_adds = m.saturating_mul(n).saturating_mul(k);
    if threads <= 1 || multiply_adds < MIN_PARALLEL_MULTIPLY_ADDS || rows_per_thread >= m {
        gemm_serial(dst.data, lhs, rhs, n, update);
        return Ok(());
    }
    // Parallel iterators split with rayon::join: stack jobs, no allocation per product.
    dst.data
        .par_chunks_mut(rows_per_thread * n)
        .enumerate()
        .for_each(|(chunk_index, dst_rows)| {
            let start = chunk_index * rows_per_thread;
            let lhs_rows = lhs.row_range(start, start + dst_rows.len() / n.max(1));
            gemm_serial(dst_rows, lhs_rows, rhs, n, update);
        });
    Ok(())
}

/// `dst (m, n) <- update(lhs (m, k) @ rhs (k, n))` on the calling thread alone (for work that
/// is already split over the threads).
pub fn matmul_serial_into<T: Real>(
    dst: MatMut<'_, T>,
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    update: Update<T>,
) -> Result<()> {
    check_product_shapes(&dst, &lhs, &rhs)?;
    gemm_serial(dst.data, lhs, rhs, rhs.cols, update);
    Ok(())
}

/// Allocating convenience: `lhs @ rhs` as a new row-major buffer.
pub fn matmul<T: Real>(lhs: MatRef<'_, T>, rhs: MatRef<'_, T>) -> Result<Vec<T>> {
    // Two empty operands, (m, 0) and (0, n), can ask for any (m, n): allocate fallibly.
    let mut out = crate::buffer::zeros("matmul result", lhs.rows, rhs.cols)?;
    let dst = MatMut::row_major(&mut out, lhs.rows, rhs.cols)?;
    matmul_into(dst, lhs, rhs, Update::Overwrite)?;
    Ok(out)
}

/// One single-threaded GEMM call on shapes already checked by `matmul_into`.
fn gemm_serial<T: Real>(
    dst: &mut [T],
    lhs: MatRef<'_, T>,
    rhs: MatRef<'_, T>,
    n: usize,
    update: Update<T>,
) {
    let (m, k) = (lhs.rows, lhs.cols);
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        // An empty sum: the product is zero.
        if update == Update::Overwrite {
            dst.iter_mut().for_each(|v| *v = T::zero());
        }
        return;
    }
    let (read_dst, alpha, beta) = match update {
        Update::Overwrite => (false, T::zero(), T::one()),
        Update::AddScaled(scale) => (true, T::one(), scale),
    };
    debug_assert!(dst.len() >= m * n);
    debug_assert!(lhs.data.len() > (m - 1) * lhs.row_stride + (k - 1) * lhs.col_stride);
    debug_assert!(rhs.data.len() > (k - 1) * rhs.row_stride + (n - 1) * rhs.col_stride);
    // SAFETY: `gemm` reads lhs at `(r * lhs_rs + c * lhs_cs)` for r < m, c < k, rhs likewise for
    // r < k, c < n, and writes (and, with read_dst, reads) dst at `r * n + c` for r < m, c < n.
    // - In bounds: every `MatRef` is built by `row_major` (which checks `len >= rows * cols`,
    //   i.e. the largest offset `(rows-1)*cols + (cols-1)` is in bounds), and `t()` and
    //   `row_range` only permute strides or drop leading rows, so the largest offset of each
    //   view stays below its slice's length. `dst` has `m * n` elements: `MatMut::row_major`
    //   checked it and `matmul_into` hands each piece exactly `rows * n` of them.
    // - No aliasing: `dst` is an exclusive borrow, `lhs`/`rhs` shared ones, so the written
    //   memory is disjoint from the read memory; the parallel pieces are disjoint `chunks_mut`.
    // - Types: `Real` is sealed to f32 and f64, which `gemm` dispatches to its own kernels.
    // - Parallelism::None: gemm spawns no threads of its own.
    // - The `as isize` casts are lossless: n and every stride are at most the length of a
    //   slice (m, n, k >= 1 here), and Rust caps slice lengths at isize::MAX.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            read_dst,
            lhs.data.as_ptr(),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr(),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            alpha,
            beta,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}
