//! Results that cannot be allocated are `Error::OutOfMemory`, not an abort of the process:
//! shapes that take no memory themselves can ask for terabytes.
use fastmlp_core::matmul::{matmul, MatRef};
use fastmlp_core::{buffer, network, Activation, Architecture, Error, Workspace};

#[test]
fn matmul_of_two_empty_operands_with_a_huge_result() {
    let empty: [f32; 0] = [];
    for (m, n) in [(1 << 20, 1 << 20), (1 << 40, 1 << 40), (usize::MAX, 2)] {
        let lhs = MatRef::row_major(&empty, m, 0).unwrap();
        let rhs = MatRef::row_major(&empty, 0, n).unwrap();
        let err = matmul(lhs, rhs).unwrap_err();
        assert!(matches!(err, Error::OutOfMemory { .. }), "{err}");
        assert!(err.to_string().contains(&format!("({m}, {n})")), "{err}");
    }
}

#[test]
fn forward_of_a_thin_input_through_a_wide_layer() {
    let wide = 1 << 20;
    let arch = Architecture::new(vec![1, wide]).unwrap();
    let weights = vec![vec![1.0f32; wide]];
    let biases = vec![vec![0.0f32; wide]];
    let x = vec![1.0f32; wide];
    let err = network::forward(&arch, &weights, &biases, &x, Activation::Relu).unwrap_err();
    assert!(matches!(err, Error::OutOfMemory { .. }), "{err}");
}

#[test]
fn workspace_for_a_batch_too_large() {
    let arch = Architecture::new(vec![1, 1 << 30, 2]).unwrap();
    let err = Workspace::<f64>::try_new(&arch, 1 << 30).unwrap_err();
    assert!(matches!(err, Error::OutOfMemory { .. }), "{err}");
    assert!(buffer::zeros::<f64>("x", usize::MAX, 2).is_err());
    assert_eq!(buffer::zeros::<f64>("x", 3, 2).unwrap(), vec![0.0; 6]);
}
