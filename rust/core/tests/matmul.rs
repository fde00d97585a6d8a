mod common;
use common::{max_abs_diff, naive_matmul, transpose, Rng};
use fastmlp_core::matmul::{matmul, matmul_into, MatMut, MatRef, Update};

const SHAPES: &[(usize, usize, usize)] = &[
    (1, 1, 1),
    (0, 3, 4),
    (3, 0, 4),
    (3, 4, 0),
    (1, 784, 128),
    (7, 13, 5),
    (17, 1, 33),
    (33, 65, 9),
    (128, 784, 128),
    (257, 100, 31),
    (1000, 50, 130),
];

#[test]
fn plain_product_matches_the_naive_one() {
    let mut rng = Rng::new(1);
    for &(m, k, n) in SHAPES {
        let a = rng.vec(m * k, 1.0);
        let b = rng.vec(k * n, 1.0);
        let got = matmul(
            MatRef::row_major(&a, m, k).unwrap(),
            MatRef::row_major(&b, k, n).unwrap(),
        )
        .unwrap();
        let want = naive_matmul(&a, &b, m, k, n);
        assert!(
            max_abs_diff(&got, &want) <= 1e-12 * (k as f64 + 1.0),
            "shape {m}x{k}x{n}"
        );
    }
}

#[test]
fn transposed_operands_are_read_through_strides() {
    let mut rng = Rng::new(2);
    for &(m, k, n) in SHAPES {
        // a stored as (k, m), b stored as (n, k): a.T @ b.T
        let a_stored = rng.vec(k * m, 1.0);
        let b_stored = rng.vec(n * k, 1.0);
        let got = matmul(
            MatRef::row_major(&a_stored, k, m).unwrap().t(),
            MatRef::row_major(&b_stored, n, k).unwrap().t(),
        )
        .unwrap();
        let want = naive_matmul(
            &transpose(&a_stored, k, m),
            &transpose(&b_stored, n, k),
            m,
            k,
            n,
        );
        assert!(
            max_abs_diff(&got, &want) <= 1e-12 * (k as f64 + 1.0),
            "shape {m}x{k}x{n}"
        );
    }
}

#[test]
fn add_scaled_accumulates_into_the_destination() {
    let mut rng = Rng::new(3);
    for &(m, k, n) in SHAPES {
        let a = rng.vec(m * k, 1.0);
        let b = rng.vec(k * n, 1.0);
        let start = rng.vec(m * n, 1.0);
        let mut dst = start.clone();
        matmul_into(
            MatMut::row_major(&mut dst, m, n).unwrap(),
            MatRef::row_major(&a, m, k).unwrap(),
            MatRef::row_major(&b, k, n).unwrap(),
            Update::AddScaled(-0.5),
        )
        .unwrap();
        let product = naive_matmul(&a, &b, m, k, n);
        let want: Vec<f64> = start
            .iter()
            .zip(&product)
            .map(|(s, p)| s - 0.5 * p)
            .collect();
        assert!(
            max_abs_diff(&dst, &want) <= 1e-12 * (k as f64 + 1.0),
            "shape {m}x{k}x{n}"
        );
    }
}

#[test]
fn single_precision_stays_within_its_rounding() {
    let mut rng = Rng::new(4);
    let (m, k, n) = (129, 784, 65);
    let a = rng.vec(m * k, 1.0);
    let b = rng.vec(k * n, 1.0);
    let a32: Vec<f32> = a.iter().map(|&v| v as f32).collect();
    let b32: Vec<f32> = b.iter().map(|&v| v as f32).collect();
    let got = matmul(
        MatRef::row_major(&a32, m, k).unwrap(),
        MatRef::row_major(&b32, k, n).unwrap(),
    )
    .unwrap();
    let a_rounded: Vec<f64> = a32.iter().map(|&v| v as f64).collect();
    let b_rounded: Vec<f64> = b32.iter().map(|&v| v as f64).collect();
    let want = naive_matmul(&a_rounded, &b_rounded, m, k, n);
    let got64: Vec<f64> = got.iter().map(|&v| v as f64).collect();
    // |error| <= k * eps32 * sum |a||b| <= k * 6e-8 * k on values in [-1, 1]; far below that here.
    assert!(max_abs_diff(&got64, &want) < 1e-3);
}

#[test]
fn threaded_and_serial_products_agree() {
    let mut rng = Rng::new(5);
    let (m, k, n) = (300, 784, 128);
    let a = rng.vec(m * k, 1.0);
    let b = rng.vec(k * n, 1.0);
    let run = |threads| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            matmul(
                MatRef::row_major(&a, m, k).unwrap(),
                MatRef::row_major(&b, k, n).unwrap(),
            )
            .unwrap()
        })
    };
    let serial = run(1);
    let threaded = run(2);
    assert!(max_abs_diff(&serial, &threaded) < 1e-10);
    assert!(max_abs_diff(&serial, &naive_matmul(&a, &b, m, k, n)) < 1e-10);
}

#[test]
fn mismatched_shapes_are_errors() {
    let a = vec![0.0f64; 6];
    let b = vec![0.0f64; 6];
    let err = matmul(
        MatRef::row_major(&a, 2, 3).unwrap(),
        MatRef::row_major(&b, 2, 3).unwrap(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("rhs"), "{err}");
    assert!(MatRef::row_major(&a, 4, 2).is_err());
}
