//! The two float types of the binding: `Float` is what the typed functions are generic over,
//! and `by_precision!` the one place a NumPy dtype becomes that type parameter.

use crate::sparse::AnySparseRows;
use fastmlp_core::{Real, SparseRows};
use numpy::Element;

/// f32 or f64: a float the core computes in, NumPy's element type, and the matching variant of
/// compressed rows.
pub trait Float: Real + Element {
    /// The compressed rows inside `any`, if they are of this type.
    fn rows_of(any: &AnySparseRows) -> Option<&SparseRows<Self>>;
    fn wrap(rows: SparseRows<Self>) -> AnySparseRows;
}

impl Float for f32 {
    fn rows_of(any: &AnySparseRows) -> Option<&SparseRows<f32>> {
        match any {
            AnySparseRows::F32(rows) => Some(rows),
            AnySparseRows::F64(_) => None,
        }
    }
    fn wrap(rows: SparseRows<f32>) -> AnySparseRows {
        AnySparseRows::F32(rows)
    }
}

impl Float for f64 {
    fn rows_of(any: &AnySparseRows) -> Option<&SparseRows<f64>> {
        match any {
            AnySparseRows::F64(rows) => Some(rows),
            AnySparseRows::F32(_) => None,
        }
    }
    fn wrap(rows: SparseRows<f64>) -> AnySparseRows {
        AnySparseRows::F64(rows)
    }
}

/// `typed::<f32>(args)` or `typed::<f64>(args)`, by `precision` (an `arrays::Precision`).
macro_rules! by_precision {
    ($precision:expr, $typed:ident($($arg:expr),* $(,)?)) => {
        match $precision {
            $crate::arrays::Precision::F32 => $typed::<f32>($($arg),*),
            $crate::arrays::Precision::F64 => $typed::<f64>($($arg),*),
        }
    };
}
pub(crate) use by_precision;
