//! The vector operations of the hand-written kernels (`sparse/kernels.rs`), for f32 and f64,
//! over `pulp`'s instruction sets: AVX-512 (V4), AVX2+FMA (V3), or scalar code, picked at
//! run time by `pulp::Arch::dispatch`.
//!
//! Written with explicit vectors rather than left to the compiler: with 8 rows of
//! accumulators, LLVM vectorised the wrong loop (across the rows' columns, with the sums on
//! the stack) and the forward product ran 25x slower than with these operations.

use pulp::Simd;

/// f32 and f64 as `pulp` vectors: `Of<S>` holds `lanes::<S>()` values.
pub trait Vectors: Copy + 'static {
    type Of<S: Simd>: Copy;
    fn lanes<S: Simd>() -> usize;
    fn splat<S: Simd>(simd: S, value: Self) -> Self::Of<S>;
    /// `a * b + c`, fused where the instruction set has FMA.
    fn mul_add_vectors<S: Simd>(
        simd: S,
        a: Self::Of<S>,
        b: Self::Of<S>,
        c: Self::Of<S>,
    ) -> Self::Of<S>;
    fn mul_vectors<S: Simd>(simd: S, a: Self::Of<S>, b: Self::Of<S>) -> Self::Of<S>;
    /// The whole vectors at the front of `values` (a tail shorter than a vector is left out).
    fn as_vectors<S: Simd>(values: &[Self]) -> &[Self::Of<S>];
    fn as_mut_vectors<S: Simd>(values: &mut [Self]) -> &mut [Self::Of<S>];
    /// The first `values.len()` (at most `lanes`) lanes from `values`, the rest zero.
    fn load_partial<S: Simd>(simd: S, values: &[Self]) -> Self::Of<S>;
    /// The first `values.len()` (at most `lanes`) lanes of `vector` into `values`.
    fn store_partial<S: Simd>(simd: S, values: &mut [Self], vector: Self::Of<S>);
}

macro_rules! vectors {
    ($t:ty, $of:ident, $lanes:ident, $splat:ident, $mul_add:ident, $mul:ident,
     $as:ident, $as_mut:ident, $load:ident, $store:ident) => {
        impl Vectors for $t {
            type Of<S: Simd> = S::$of;
            #[inline(always)]
            fn lanes<S: Simd>() -> usize {
                S::$lanes
            }
            #[inline(always)]
            fn splat<S: Simd>(simd: S, value: Self) -> S::$of {
                simd.$splat(value)
            }
            #[inline(always)]
            fn mul_add_vectors<S: Simd>(simd: S, a: S::$of, b: S::$of, c: S::$of) -> S::$of {
                simd.$mul_add(a, b, c)
            }
            #[inline(always)]
            fn mul_vectors<S: Simd>(simd: S, a: S::$of, b: S::$of) -> S::$of {
                simd.$mul(a, b)
            }
            #[inline(always)]
            fn as_vectors<S: Simd>(values: &[Self]) -> &[S::$of] {
                S::$as(values).0
            }
            #[inline(always)]
            fn as_mut_vectors<S: Simd>(values: &mut [Self]) -> &mut [S::$of] {
                S::$as_mut(values).0
            }
            #[inline(always)]
            fn load_partial<S: Simd>(simd: S, values: &[Self]) -> S::$of {
                simd.$load(values)
            }
            #[inline(always)]
            fn store_partial<S: Simd>(simd: S, values: &mut [Self], vector: S::$of) {
                simd.$store(values, vector)
            }
        }
    };
}

vectors!(
    f32,
    f32s,
    F32_LANES,
    splat_f32s,
    mul_add_e_f32s,
    mul_f32s,
    as_simd_f32s,
    as_mut_simd_f32s,
    partial_load_f32s,
    partial_store_f32s
);
vectors!(
    f64,
    f64s,
    F64_LANES,
    splat_f64s,
    mul_add_e_f64s,
    mul_f64s,
    as_simd_f64s,
    as_mut_simd_f64s,
    partial_load_f64s,
    partial_store_f64s
);
