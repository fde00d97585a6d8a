//! Buffers whose size comes from the caller's shapes, allocated without aborting.
//!
//! `vec![0.0; n]` aborts the whole process when the allocation fails (and panics when
//! `n * size_of::<T>()` overflows). Shapes that take no memory themselves can ask for huge
//! results: `(2**20, 0) @ (0, 2**20)` is 4 TiB of float32, from two empty arrays. Such
//! requests become `Error::OutOfMemory`, which the bindings raise as `MemoryError`, as NumPy
//! does.

use crate::error::{Error, Result};

/// `rows * cols` zeros for the (rows, cols) buffer `what`, or `Error::OutOfMemory`.
pub fn zeros<T: Clone + Default>(what: &str, rows: usize, cols: usize) -> Result<Vec<T>> {
    let failed = || Error::OutOfMemory {
        what: format!("{what} of shape ({rows}, {cols})"),
        bytes: rows as u128 * cols as u128 * std::mem::size_of::<T>() as u128,
    };
    let len = rows.checked_mul(cols).ok_or_else(failed)?;
    let mut buffer = Vec::new();
    buffer.try_reserve_exact(len).map_err(|_| failed())?;
    buffer.resize(len, T::default());
    Ok(buffer)
}
