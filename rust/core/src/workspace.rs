//! The buffers a step works in, sized once per epoch for the batch size and the engine's
//! threads: nothing is allocated per batch.

use crate::architecture::Architecture;
use crate::buffer;
use crate::error::{Error, Result};
use crate::real::Real;
use crate::sparse::InputRanges;

/// One thread's rows of the batch and everything computed from them.
#[derive(Debug, Clone, Default)]
pub(crate) struct RowBlock<T> {
    /// The most rows the buffers hold.
    pub(crate) capacity: usize,
    /// Rows in the current batch (0: this block has none).
    pub(crate) rows: usize,
    /// The block's input rows where they must be gathered: (capacity, inputs).
    pub(crate) x: Vec<T>,
    pub(crate) labels: Vec<usize>,
    /// The block's target rows where they must be gathered: (capacity, classes), sized by
    /// `fit_gathered` (empty unless an epoch trains on target rows).
    pub(crate) targets: Vec<T>,
    /// The block's row weights where they must be gathered: (capacity,), sized by
    /// `fit_gathered` (empty unless an epoch has row weights).
    pub(crate) row_weights: Vec<T>,
    /// outputs[l] = a[l+1]: (capacity, sizes[l+1]).
    pub(crate) outputs: Vec<Vec<T>>,
    /// deltas[l] = delta[l+1] = d loss / d (a[l] @ W[l] + b[l]): (capacity, sizes[l+1]).
    pub(crate) deltas: Vec<Vec<T>>,
    /// bias_sums[l] = column sums of deltas[l]: (sizes[l+1],).
    pub(crate) bias_sums: Vec<Vec<T>>,
    /// weight_grads[l] = this block's a[l].T @ deltas[l]: (sizes[l], sizes[l+1]), where a small
    /// network's step computes them in phase 1 (`Workspace::fit_block_gradients`); else empty.
    pub(crate) weight_grads: Vec<Vec<T>>,
}

impl<T: Real> RowBlock<T> {
    fn try_new(arch: &Architecture, capacity: usize) -> Result<Self> {
        let widths = &arch.sizes()[1..];
        let per_layer = |what: &str, rows: usize| {
            widths
                .iter()
                .map(|&width| buffer::zeros(what, rows, width))
                .collect::<Result<Vec<_>>>()
        };
        let mut labels = Vec::new();
        labels
            .try_reserve_exact(capacity)
            .map_err(|_| Error::OutOfMemory {
                what: format!("labels of a batch of {capacity}"),
                bytes: capacity as u128 * std::mem::size_of::<usize>() as u128,
            })?;
        Ok(RowBlock {
            capacity,
            rows: 0,
            x: Vec::new(),
            labels,
            targets: Vec::new(),
            row_weights: Vec::new(),
            outputs: per_layer("layer outputs of a batch", capacity)?,
            deltas: per_layer("layer deltas of a batch", capacity)?,
            bias_sums: per_layer("bias gradient", 1)?,
            weight_grads: Vec::new(),
        })
    }
}

/// Reusable buffers for batches of up to `capacity` rows of one architecture, one block of
/// rows per thread.
#[derive(Debug, Clone)]
pub struct Workspace<T> {
    sizes: Vec<usize>,
    capacity: usize,
    pub(crate) blocks: Vec<RowBlock<T>>,
    /// The sparse path's ranges of inputs, one per thread (none on the dense paths).
    pub(crate) ranges: InputRanges<T>,
    /// The step's gradients where an optimizer's rule reads them (none for plain SGD, whose
    /// update is fused into the products).
    pub(crate) gradients: Gradients<T>,
}

/// One buffer per parameter, shaped as it: `weights[l]` (fan_in * fan_out), `biases[l]`.
#[derive(Debug, Clone, Default)]
pub(crate) struct Gradients<T> {
    pub(crate) weights: Vec<Vec<T>>,
    pub(crate) biases: Vec<Vec<T>>,
}

impl<T: Real> Workspace<T> {
    /// An empty workspace: the first step sizes it for its batch and the pool's threads.
    pub fn new(arch: &Architecture, capacity: usize) -> Self {
        Workspace {
            sizes: arch.sizes().to_vec(),
            capacity,
            blocks: Vec::new(),
            ranges: InputRanges::default(),
            gradients: Gradients::default(),
        }
    }

    /// A workspace already sized for batches of `capacity` rows in one block, or
    /// `Error::OutOfMemory` when its buffers do not fit.
    pub fn try_new(arch: &Architecture, capacity: usize) -> Result<Self> {
        let mut workspace = Workspace::new(arch, capacity);
        workspace.fit(arch, capacity, 1)?;
        Ok(workspace)
    }

    /// Grow (never shrink) so that batches of `rows` rows fit in `blocks` blocks; a no-op
    /// once sized. Fails with `Error::OutOfMemory` instead of aborting.
    pub(crate) fn fit(&mut self, arch: &Architecture, rows: usize, blocks: usize) -> Result<()> {
        let capacity = rows.max(self.capacity);
        let per_block = capacity.div_ceil(blocks.max(1));
        let sized = self.sizes == arch.sizes()
            && self.blocks.len() == blocks
            && self.blocks.iter().all(|b| b.capacity >= per_block)
            && self.capacity >= rows;
        if !sized {
            self.sizes = arch.sizes().to_vec();
            self.capacity = capacity;
            self.blocks = (0..blocks)
                .map(|_| RowBlock::try_new(arch, per_block))
                .collect::<Result<_>>()?;
        }
        Ok(())
    }

    /// The sparse path's ranges of inputs, `boundaries[t]..boundaries[t + 1]` for thread t,
    /// in groups of `group_rows` rows, with room for batches of the workspace's capacity
    /// (call after `fit`).
    pub(crate) fn fit_sparse(
        &mut self,
        arch: &Architecture,
        boundaries: &[usize],
        group_rows: usize,
    ) -> Result<()> {
        let shape = (arch.inputs(), arch.fan_out(0));
        self.ranges
            .fit(shape, self.capacity, boundaries, group_rows)
    }

    /// Room for every parameter's gradient (for an optimizer's rule); a no-op once sized.
    pub(crate) fn fit_gradients(&mut self, arch: &Architecture) -> Result<()> {
        let layers = arch.layers();
        let sized = self.gradients.weights.len() == layers
            && (0..layers).all(|l| {
                self.gradients.weights[l].len() == arch.fan_in(l) * arch.fan_out(l)
                    && self.gradients.biases[l].len() == arch.fan_out(l)
            });
        if !sized {
            self.gradients = Gradients {
                weights: (0..layers)
                    .map(|l| buffer::zeros("a weight gradient", arch.fan_in(l), arch.fan_out(l)))
                    .collect::<Result<_>>()?,
                biases: (0..layers)
                    .map(|l| buffer::zeros("a bias gradient", 1, arch.fan_out(l)))
                    .collect::<Result<_>>()?,
            };
        }
        Ok(())
    }

    /// Where the blocks compute their own weight gradients (`step::gradients_in_blocks`),
    /// room for them in every block; elsewhere none. Call after `fit`.
    pub(crate) fn fit_block_gradients(&mut self, arch: &Architecture) -> Result<()> {
        let wanted = crate::step::gradients_in_blocks(arch, self.blocks.len());
        for block in &mut self.blocks {
            let sized = block.weight_grads.len() == arch.layers()
                && (0..arch.layers())
                    .all(|l| block.weight_grads[l].len() == arch.fan_in(l) * arch.fan_out(l));
            if !wanted {
                block.weight_grads = Vec::new();
            } else if !sized {
                block.weight_grads = (0..arch.layers())
                    .map(|l| {
                        buffer::zeros("a block's weight gradient", arch.fan_in(l), arch.fan_out(l))
                    })
                    .collect::<Result<_>>()?;
            }
        }
        Ok(())
    }

    /// Room in every block for the target rows (`targets`) and row weights (`weights`) that an
    /// epoch gathers by its order; a no-op once sized.
    pub(crate) fn fit_gathered(
        &mut self,
        arch: &Architecture,
        targets: bool,
        weights: bool,
    ) -> Result<()> {
        let classes = arch.classes();
        for block in &mut self.blocks {
            if targets && block.targets.len() < block.capacity * classes {
                block.targets = buffer::zeros("target rows of a batch", block.capacity, classes)?;
            }
            if weights && block.row_weights.len() < block.capacity {
                block.row_weights = buffer::zeros("row weights of a batch", block.capacity, 1)?;
            }
        }
        Ok(())
    }

    /// Room for gathered input rows in every block (dense paths only).
    pub(crate) fn fit_inputs(&mut self, inputs: usize) -> Result<()> {
        for block in &mut self.blocks {
            if block.x.len() < block.capacity * inputs {
                block.x = buffer::zeros("the batch's input rows", block.capacity, inputs)?;
            }
        }
        Ok(())
    }
}
