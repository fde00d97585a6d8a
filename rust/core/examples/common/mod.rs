//! What the timing examples share: their random numbers and their input rows.

/// The first `count` command-line arguments as numbers (fewer where fewer were given).
#[allow(dead_code)] // each example compiles this module alone; not all take numbers first
pub fn leading_numbers(count: usize) -> Result<Vec<usize>, std::num::ParseIntError> {
    std::env::args()
        .skip(1)
        .take(count)
        .map(|a| a.parse())
        .collect()
}

/// A xorshift generator of floats in [0, 1): the same sequence every run.
pub struct Uniform(u64);

impl Uniform {
    pub fn new() -> Self {
        Uniform(0x2545_F491_4F6C_DD1D)
    }

    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Row-major rows of `inputs` values: those of the raw little-endian float32 file at `path`
/// (`x.tofile(path)` in NumPy), or else `rows` random rows with about `density` of their
/// values nonzero.
#[allow(dead_code)] // each example compiles this module alone; not all read rows
pub fn input_rows(
    path: Option<&str>,
    (rows, inputs): (usize, usize),
    density: f32,
    uniform: &mut Uniform,
) -> std::io::Result<Vec<f32>> {
    Ok(match path {
        Some(path) => std::fs::read(path)?
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
        None => (0..rows * inputs)
            .map(|_| {
                if uniform.next() < density {
                    uniform.next()
                } else {
                    0.0
                }
            })
            .collect(),
    })
}
