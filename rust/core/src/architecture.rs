//! Layer sizes `[inputs, hidden..., classes]` and the checks that tie parameters and data to them.

use crate::error::{Error, Result};
use crate::real::Real;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Architecture {
    sizes: Vec<usize>,
}

impl Architecture {
    /// `sizes = [inputs, hidden..., classes]`: at least two entries, all positive.
    pub fn new(sizes: Vec<usize>) -> Result<Self> {
        if sizes.len() < 2 {
            return Err(Error::value(
                "layer_sizes",
                format!("expected at least 2 sizes [inputs, ..., classes], got {sizes:?}"),
            ));
        }
        if sizes.contains(&0) {
            return Err(Error::value(
                "layer_sizes",
                format!("every layer needs at least one unit, got {sizes:?}"),
            ));
        }
        Ok(Architecture { sizes })
    }

    /// The architecture implied by weight shapes `(fan_in, fan_out)`, checking that they chain.
    pub fn from_weight_shapes(shapes: &[(usize, usize)]) -> Result<Self> {
        if shapes.is_empty() {
            return Err(Error::value(
                "weights",
                "expected at least one weight matrix, got none",
            ));
        }
        for (l, pair) in shapes.windows(2).enumerate() {
            if pair[0].1 != pair[1].0 {
                return Err(Error::shape(
                    format!("weights[{}]", l + 1),
                    format!("{} rows (the fan_out of weights[{l}])", pair[0].1),
                    format!("shape {:?}", pair[1]),
                ));
            }
        }
        if let Some((l, shape)) = shapes
            .iter()
            .enumerate()
            .find(|(_, s)| s.0 == 0 || s.1 == 0)
        {
            return Err(Error::shape(
                format!("weights[{l}]"),
                "no dimension of size 0 (every layer needs at least one unit)",
                format!("shape {shape:?}"),
            ));
        }
        let mut sizes = vec![shapes[0].0];
        sizes.extend(shapes.iter().map(|s| s.1));
        Architecture::new(sizes)
    }

    pub fn sizes(&self) -> &[usize] {
        &self.sizes
    }

    /// Number of weight layers (hidden layers + 1).
    pub fn layers(&self) -> usize {
        self.sizes.len() - 1
    }

    // The accessors index `sizes`, which `new` made at least 2 long; `fan_in`/`fan_out`
    // take a layer index < `layers()`, as every caller loops over `0..layers()`.
    pub fn inputs(&self) -> usize {
        self.sizes[0]
    }

    pub fn classes(&self) -> usize {
        self.sizes[self.sizes.len() - 1]
    }

    pub fn fan_in(&self, layer: usize) -> usize {
        self.sizes[layer]
    }

    pub fn fan_out(&self, layer: usize) -> usize {
        self.sizes[layer + 1]
    }

    /// Each `weights[l]` holds fan_in x fan_out values and each `biases[l]` fan_out values.
    pub fn check_params<T: Real, W: AsRef<[T]>>(&self, weights: &[W], biases: &[W]) -> Result<()> {
        for (name, count) in [("weights", weights.len()), ("biases", biases.len())] {
            if count != self.layers() {
                return Err(Error::shape(
                    name,
                    format!("{} arrays (one per layer)", self.layers()),
                    format!("{count}"),
                ));
            }
        }
        for l in 0..self.layers() {
            let (fan_in, fan_out) = (self.fan_in(l), self.fan_out(l));
            if weights[l].as_ref().len() != fan_in * fan_out {
                return Err(Error::shape(
                    format!("weights[{l}]"),
                    format!("{} values ({fan_in} x {fan_out})", fan_in * fan_out),
                    format!("{}", weights[l].as_ref().len()),
                ));
            }
            if biases[l].as_ref().len() != fan_out {
                return Err(Error::shape(
                    format!("biases[{l}]"),
                    format!("shape ({fan_out},)"),
                    format!("shape ({},)", biases[l].as_ref().len()),
                ));
            }
        }
        Ok(())
    }

    /// The number of rows in a row-major (rows, width) block called `arg`.
    pub fn rows_of<T>(arg: &str, data: &[T], width: usize) -> Result<usize> {
        if width == 0 || data.len() % width != 0 {
            return Err(Error::shape(
                arg,
                format!("a multiple of {width} values (rows of {width})"),
                format!("{} values", data.len()),
            ));
        }
        Ok(data.len() / width)
    }
}
