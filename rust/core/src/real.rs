//! The floating-point types the engine runs in: `f32` and `f64`, never mixed.

use num_traits::Float;
use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, MulAssign, SubAssign};

/// A float the kernels are generic over. Implemented for `f32` and `f64` only.
pub trait Real:
    sealed::Sealed
    + Float
    + Default
    + AddAssign
    + SubAssign
    + MulAssign
    + Sum
    + Debug
    + Display
    + Send
    + Sync
    + crate::simd::Vectors
    + 'static
{
    /// Lossless for f64, rounding to nearest for f32.
    fn from_f64(value: f64) -> Self;
    fn to_f64(self) -> f64;
    /// The name NumPy gives this type ("float32"/"float64"), for error messages.
    const NAME: &'static str;
}

mod sealed {
    /// Keeps `Real` to f32 and f64: the GEMM call in `matmul` relies on it.
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

impl Real for f32 {
    fn from_f64(value: f64) -> Self {
        // Rounds to nearest; values past f32's range become +-inf (never UB), which the
        // learning-rate check rejects.
        value as f32
    }
    fn to_f64(self) -> f64 {
        self as f64
    }
    const NAME: &'static str = "float32";
}

impl Real for f64 {
    fn from_f64(value: f64) -> Self {
        value
    }
    fn to_f64(self) -> f64 {
        self
    }
    const NAME: &'static str = "float64";
}
