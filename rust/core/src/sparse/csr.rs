//! Compressed rows straight from a CSR matrix's three arrays (scipy.sparse's `indptr`,
//! `indices`, `data`), checked and put in the form `SparseRows` keeps: each row's columns
//! ascending and distinct, no stored zeros. Nothing of the dense matrix is ever built.
//!
//! The errors name the caller's `x`; `fastmlp.reference` raises the same ones (its
//! `check_csr`), so both engines refuse the same bad matrix with the same message.

use super::rows::SparseRows;
use crate::error::{Error, Result};
use crate::real::Real;

/// A CSR matrix of `rows` x `inputs` as its caller holds it: row i's entries are
/// `indptr[i] .. indptr[i + 1]` of `indices` (columns, in any order, repeats summed) and
/// `data`. Entries past `indptr[rows]` are ignored (scipy allows spare capacity).
#[derive(Debug, Clone, Copy)]
pub struct CsrArrays<'a, I, T> {
    pub rows: usize,
    pub inputs: usize,
    pub indptr: &'a [i64],
    pub indices: &'a [I],
    pub data: &'a [T],
}

impl<T: Real> SparseRows<T> {
    /// The rows of the CSR matrix `csr`, checked (`check_csr`) and canonicalised: each row's
    /// entries sorted by column, repeated columns summed in stored order (as scipy's
    /// `toarray` sums them), zeros dropped.
    pub fn from_csr<I: Copy + Into<i64>>(csr: CsrArrays<'_, I, T>) -> Result<Self> {
        check_csr(&csr)?;
        let stored = csr.indptr[csr.rows] as usize;
        let mut starts = Vec::with_capacity(csr.rows + 1);
        let mut columns: Vec<u32> = Vec::with_capacity(stored);
        let mut values: Vec<T> = Vec::with_capacity(stored);
        let mut unsorted: Vec<(u32, T)> = Vec::new();
        starts.push(0);
        for row in csr.indptr.windows(2) {
            let range = row[0] as usize..row[1] as usize;
            let (row_columns, row_values) = (&csr.indices[range.clone()], &csr.data[range]);
            let ascending = row_columns
                .windows(2)
                .all(|pair| pair[0].into() < pair[1].into());
            if ascending {
                for (&c, &v) in row_columns.iter().zip(row_values) {
                    if v != T::zero() {
                        // check_csr: 0 <= c < inputs <= u32::MAX.
                        columns.push(c.into() as u32);
                        values.push(v);
                    }
                }
            } else {
                unsorted.clear();
                unsorted.extend(
                    row_columns
                        .iter()
                        .zip(row_values)
                        .map(|(&c, &v)| (c.into() as u32, v)),
                );
                // Stable: repeats of a column stay in stored order for the sums below.
                unsorted.sort_by_key(|&(c, _)| c);
                let mut entries = unsorted.iter().peekable();
                while let Some(&(c, first)) = entries.next() {
                    let mut sum = T::zero() + first;
                    while let Some(&(_, v)) = entries.next_if(|&&(next, _)| next == c) {
                        sum += v;
                    }
                    if sum != T::zero() {
                        columns.push(c);
                        values.push(sum);
                    }
                }
            }
            starts.push(values.len());
        }
        Ok(SparseRows::from_parts(csr.inputs, starts, columns, values))
    }
}

/// The checks `from_csr` makes, in this order: the column count fits 32-bit indices;
/// `indptr` has rows + 1 entries, starts at 0, never decreases and ends within `indices` and
/// `data` (which have the same length); every column index lies in [0, inputs); every
/// stored value is finite.
pub fn check_csr<I: Copy + Into<i64>, T: Real>(csr: &CsrArrays<'_, I, T>) -> Result<()> {
    let CsrArrays {
        rows,
        inputs,
        indptr,
        indices,
        data,
    } = *csr;
    if u32::try_from(inputs).is_err() {
        return Err(Error::value(
            "x",
            format!("{inputs} columns do not fit 32-bit indices"),
        ));
    }
    if indptr.len() != rows + 1 {
        return Err(Error::value(
            "x",
            format!(
                "expected indptr of {} entries (rows + 1), got {}",
                rows + 1,
                indptr.len()
            ),
        ));
    }
    if indices.len() != data.len() {
        return Err(Error::value(
            "x",
            format!(
                "expected as many indices as data values, got {} and {}",
                indices.len(),
                data.len()
            ),
        ));
    }
    if indptr[0] != 0 {
        return Err(Error::value(
            "x",
            format!("expected indptr[0] = 0, got {}", indptr[0]),
        ));
    }
    if let Some(i) = indptr.windows(2).position(|pair| pair[1] < pair[0]) {
        return Err(Error::value(
            "x",
            format!(
                "indptr decreases: indptr[{}] = {} < indptr[{i}] = {}",
                i + 1,
                indptr[i + 1],
                indptr[i]
            ),
        ));
    }
    let stored = indptr[rows];
    if stored as u64 > indices.len() as u64 {
        return Err(Error::value(
            "x",
            format!(
                "indptr[{rows}] = {stored} exceeds the {} stored entries",
                indices.len()
            ),
        ));
    }
    let stored = stored as usize;
    let row_of = |entry: usize| indptr.partition_point(|&start| start as usize <= entry) - 1;
    if let Some(entry) = indices[..stored]
        .iter()
        .position(|&c| !(0..inputs as i64).contains(&c.into()))
    {
        return Err(Error::value(
            "x",
            format!(
                "column index {} of row {} is outside [0, {inputs})",
                indices[entry].into(),
                row_of(entry)
            ),
        ));
    }
    if let Some(entry) = data[..stored].iter().position(|v| !v.is_finite()) {
        return Err(Error::value(
            "x",
            format!(
                "the stored value at row {}, column {} is NaN or infinite",
                row_of(entry),
                indices[entry].into()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csr<'a>(indptr: &'a [i64], indices: &'a [i32], data: &'a [f32]) -> CsrArrays<'a, i32, f32> {
        CsrArrays {
            rows: indptr.len() - 1,
            inputs: 4,
            indptr,
            indices,
            data,
        }
    }

    #[test]
    fn unsorted_repeated_and_zero_entries_give_the_dense_rows_compressed() {
        // Row 0: columns 3, 1, 3 (summed: 0.5 + 0.25), an explicit zero at 2; row 1 empty;
        // row 2: a repeat that sums to zero.
        let rows = SparseRows::from_csr(csr(
            &[0, 4, 4, 6],
            &[3, 1, 3, 2, 0, 0],
            &[0.5, 2.0, 0.25, 0.0, 1.0, -1.0],
        ))
        .unwrap();
        let dense = [0.0, 2.0, 0.0, 0.75, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0];
        assert_eq!(rows, SparseRows::from_dense(&dense, 4).unwrap());
    }

    #[test]
    fn entries_past_the_last_row_are_ignored() {
        let rows = SparseRows::from_csr(csr(&[0, 1], &[2, 0], &[1.0, f32::NAN])).unwrap();
        assert_eq!(rows.row(0), (&[2u32][..], &[1.0f32][..]));
    }

    #[test]
    fn bad_arrays_are_errors_naming_x() {
        // (indptr, indices, data, message)
        type Case<'a> = (&'a [i64], &'a [i32], &'a [f32], &'a str);
        let cases: [Case; 6] = [
            (
                &[0, 1],
                &[4],
                &[1.0],
                "x: column index 4 of row 0 is outside [0, 4)",
            ),
            (
                &[0, 0, 1],
                &[-1],
                &[1.0],
                "x: column index -1 of row 1 is outside [0, 4)",
            ),
            (&[1, 1], &[0], &[1.0], "x: expected indptr[0] = 0, got 1"),
            (
                &[0, 2, 1],
                &[0, 1],
                &[1.0, 1.0],
                "x: indptr decreases: indptr[2] = 1 < indptr[1] = 2",
            ),
            (
                &[0, 3],
                &[0, 1],
                &[1.0, 1.0],
                "x: indptr[1] = 3 exceeds the 2 stored entries",
            ),
            (
                &[0, 1, 2],
                &[0, 2],
                &[1.0, f32::INFINITY],
                "x: the stored value at row 1, column 2 is NaN or infinite",
            ),
        ];
        for (indptr, indices, data, message) in cases {
            let error = SparseRows::from_csr(csr(indptr, indices, data)).unwrap_err();
            assert_eq!(error.to_string(), message);
        }
        let short = CsrArrays {
            rows: 3,
            ..csr(&[0, 0], &[], &[])
        };
        assert_eq!(
            SparseRows::from_csr(short).unwrap_err().to_string(),
            "x: expected indptr of 4 entries (rows + 1), got 2"
        );
    }

    #[test]
    fn the_product_is_the_dense_product() {
        let dense = [0.0, 2.0, 0.0, 0.5, 1.0, 0.0, 0.0, 0.0];
        let rows = SparseRows::from_dense(&dense, 4).unwrap();
        let w: Vec<f32> = (0..12).map(|v| v as f32).collect(); // (4, 3)
        let mut out = vec![9.0; 6];
        rows.multiply_into(&w, 3, &mut out).unwrap();
        assert_eq!(out, [10.5, 13.0, 15.5, 0.0, 1.0, 2.0]);
        assert!(rows.multiply_into(&w[..9], 3, &mut out).is_err());
    }
}
