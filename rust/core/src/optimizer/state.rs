//! Views of the caller's optimizer state: per parameter, its slots (velocity, or Adam's m and
//! v, each as long as the parameter), and for the network the step count t.

use super::rule::StepRule;
use super::settings::Optimizer;
use crate::architecture::Architecture;
use crate::error::{Error, Result};
use crate::real::Real;
use rayon::iter::plumbing::{bridge, Consumer, Producer, ProducerCallback, UnindexedConsumer};
use rayon::iter::{IndexedParallelIterator, ParallelIterator};

/// The state of one parameter range, the same length as the range.
#[derive(Debug)]
pub enum Slots<'a, T> {
    /// Plain SGD keeps nothing.
    None,
    /// SGD with momentum: the velocity v.
    Velocity(&'a mut [T]),
    /// Adam: the first and second moments.
    Moments { m: &'a mut [T], v: &'a mut [T] },
}

impl<'a, T> Slots<'a, T> {
    /// Arrays held: 0, 1 or 2.
    pub fn count(&self) -> usize {
        match self {
            Slots::None => 0,
            Slots::Velocity(_) => 1,
            Slots::Moments { .. } => 2,
        }
    }

    /// The length of the range they cover (`None` for plain SGD, which fits any range).
    pub fn elements(&self) -> Option<usize> {
        match self {
            Slots::None => None,
            Slots::Velocity(v) => Some(v.len()),
            Slots::Moments { m, .. } => Some(m.len()),
        }
    }

    /// A shorter-lived view of the same arrays (to use them once per step).
    pub fn reborrow(&mut self) -> Slots<'_, T> {
        match self {
            Slots::None => Slots::None,
            Slots::Velocity(v) => Slots::Velocity(v),
            Slots::Moments { m, v } => Slots::Moments { m, v },
        }
    }

    /// Elements `start..end` of every array.
    pub fn range(&mut self, start: usize, end: usize) -> Result<Slots<'_, T>> {
        self.reborrow().into_range(start, end)
    }

    /// Elements `start..end` of every array, for as long as the arrays live.
    pub fn into_range(self, start: usize, end: usize) -> Result<Slots<'a, T>> {
        let fits = |len: usize| start <= end && end <= len;
        let bad = |len: usize| {
            Error::shape(
                "state",
                format!("a range within its {len} elements"),
                format!("{start}..{end}"),
            )
        };
        Ok(match self {
            Slots::None => Slots::None,
            Slots::Velocity(v) if fits(v.len()) => Slots::Velocity(&mut v[start..end]),
            Slots::Moments { m, v } if fits(m.len()) && m.len() == v.len() => Slots::Moments {
                m: &mut m[start..end],
                v: &mut v[start..end],
            },
            other => return Err(bad(other.elements().unwrap_or(0))),
        })
    }

    /// `(elements ..mid, elements mid..)` of every array, as `slice::split_at_mut`.
    pub fn split_at(self, mid: usize) -> Result<(Slots<'a, T>, Slots<'a, T>)> {
        let bad = |len: usize| {
            Error::shape(
                "state",
                format!("a split point within its {len} elements"),
                mid.to_string(),
            )
        };
        Ok(match self {
            Slots::None => (Slots::None, Slots::None),
            Slots::Velocity(v) if mid <= v.len() => {
                let (low, high) = v.split_at_mut(mid);
                (Slots::Velocity(low), Slots::Velocity(high))
            }
            Slots::Moments { m, v } if mid <= m.len() && mid <= v.len() => {
                let (m_low, m_high) = m.split_at_mut(mid);
                let (v_low, v_high) = v.split_at_mut(mid);
                (
                    Slots::Moments { m: m_low, v: v_low },
                    Slots::Moments {
                        m: m_high,
                        v: v_high,
                    },
                )
            }
            other => return Err(bad(other.elements().unwrap_or(0))),
        })
    }
}

/// Rows `first..first + rows` of a weight matrix (`row_len` = fan_out values each) with their
/// slots: what one thread updates. Split it at rows to hand ranges to the pool.
#[derive(Debug)]
pub struct Rows<'a, T> {
    first: usize,
    row_len: usize,
    // Invariant: whole rows, and every slot array as long as `weights`.
    weights: &'a mut [T],
    slots: Slots<'a, T>,
}

impl<'a, T: Send> Rows<'a, T> {
    /// All of a (weights.len() / row_len, row_len) matrix, starting at row 0.
    pub fn new(weights: &'a mut [T], slots: Slots<'a, T>, row_len: usize) -> Result<Self> {
        if row_len == 0 || weights.len() % row_len != 0 {
            return Err(Error::shape(
                "weights",
                format!("whole rows of {row_len} values"),
                format!("{} values", weights.len()),
            ));
        }
        let lengths = match &slots {
            Slots::None => [None, None],
            Slots::Velocity(v) => [Some(v.len()), None],
            Slots::Moments { m, v } => [Some(m.len()), Some(v.len())],
        };
        if let Some(len) = lengths
            .into_iter()
            .flatten()
            .find(|&len| len != weights.len())
        {
            return Err(Error::shape(
                "state",
                format!("{} values, as many as the weights", weights.len()),
                format!("{len}"),
            ));
        }
        Ok(Rows {
            first: 0,
            row_len,
            weights,
            slots,
        })
    }

    /// The first row's index in the whole matrix.
    pub fn first(&self) -> usize {
        self.first
    }

    /// How many rows.
    pub fn rows(&self) -> usize {
        self.weights.len() / self.row_len
    }

    /// Values per row (the matrix's fan_out).
    pub fn row_len(&self) -> usize {
        self.row_len
    }

    /// The rows' weights (row-major) and their state, element for element.
    pub fn parts(&mut self) -> (&mut [T], Slots<'_, T>) {
        (&mut *self.weights, self.slots.reborrow())
    }

    /// `(rows ..row, rows row..)`, `row` counted from this range's first row.
    pub fn split_at_row(self, row: usize) -> Result<(Self, Self)> {
        if row > self.rows() {
            return Err(Error::shape(
                "rows",
                format!("a split point within {} rows", self.rows()),
                row.to_string(),
            ));
        }
        Ok(self.split_within(row))
    }

    /// `split_at_row` for `row <= self.rows()`.
    fn split_within(self, row: usize) -> (Self, Self) {
        let mid = row * self.row_len;
        let (low_weights, high_weights) = self.weights.split_at_mut(mid);
        let (low_slots, high_slots) = match self.slots {
            Slots::None => (Slots::None, Slots::None),
            // The invariant makes every array as long as the weights: mid fits.
            Slots::Velocity(v) => {
                let (low, high) = v.split_at_mut(mid);
                (Slots::Velocity(low), Slots::Velocity(high))
            }
            Slots::Moments { m, v } => {
                let (m_low, m_high) = m.split_at_mut(mid);
                let (v_low, v_high) = v.split_at_mut(mid);
                (
                    Slots::Moments { m: m_low, v: v_low },
                    Slots::Moments {
                        m: m_high,
                        v: v_high,
                    },
                )
            }
        };
        (
            Rows {
                first: self.first,
                row_len: self.row_len,
                weights: low_weights,
                slots: low_slots,
            },
            Rows {
                first: self.first + row,
                row_len: self.row_len,
                weights: high_weights,
                slots: high_slots,
            },
        )
    }

    /// The rows as pieces of `rows_per_piece` rows (the last one possibly shorter), for the
    /// pool: the pieces `weights.par_chunks_mut(rows_per_piece * row_len)` makes, whatever
    /// the threads (so each piece's results do not depend on scheduling).
    pub fn into_par_pieces(self, rows_per_piece: usize) -> RowPieces<'a, T> {
        RowPieces {
            rows: self,
            rows_per_piece: rows_per_piece.max(1),
        }
    }

    /// Pieces of `rows_per_piece` rows in these rows.
    fn pieces(&self, rows_per_piece: usize) -> usize {
        self.rows().div_ceil(rows_per_piece)
    }
}

/// [`Rows::into_par_pieces`]: an indexed parallel iterator, as `par_chunks_mut` is.
#[derive(Debug)]
pub struct RowPieces<'a, T> {
    rows: Rows<'a, T>,
    rows_per_piece: usize,
}

impl<'a, T: Send> ParallelIterator for RowPieces<'a, T> {
    type Item = Rows<'a, T>;

    fn drive_unindexed<C: UnindexedConsumer<Self::Item>>(self, consumer: C) -> C::Result {
        bridge(self, consumer)
    }

    fn opt_len(&self) -> Option<usize> {
        Some(self.rows.pieces(self.rows_per_piece))
    }
}

impl<'a, T: Send> IndexedParallelIterator for RowPieces<'a, T> {
    fn len(&self) -> usize {
        self.rows.pieces(self.rows_per_piece)
    }

    fn drive<C: Consumer<Self::Item>>(self, consumer: C) -> C::Result {
        bridge(self, consumer)
    }

    fn with_producer<CB: ProducerCallback<Self::Item>>(self, callback: CB) -> CB::Output {
        callback.callback(self)
    }
}

impl<'a, T: Send> Producer for RowPieces<'a, T> {
    type Item = Rows<'a, T>;
    type IntoIter = RowPiecesIter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        RowPiecesIter {
            rest: (self.rows.rows() > 0).then_some(self.rows),
            rows_per_piece: self.rows_per_piece,
        }
    }

    fn split_at(self, index: usize) -> (Self, Self) {
        let row = (index * self.rows_per_piece).min(self.rows.rows());
        let (low, high) = self.rows.split_within(row);
        let rows_per_piece = self.rows_per_piece;
        (
            RowPieces {
                rows: low,
                rows_per_piece,
            },
            RowPieces {
                rows: high,
                rows_per_piece,
            },
        )
    }
}

/// The pieces of [`RowPieces`] one after another (on one thread).
#[derive(Debug)]
pub struct RowPiecesIter<'a, T> {
    rest: Option<Rows<'a, T>>,
    rows_per_piece: usize,
}

impl<'a, T: Send> Iterator for RowPiecesIter<'a, T> {
    type Item = Rows<'a, T>;

    fn next(&mut self) -> Option<Self::Item> {
        let rows = self.rest.take()?;
        if rows.rows() <= self.rows_per_piece {
            return Some(rows);
        }
        let (piece, rest) = rows.split_within(self.rows_per_piece);
        self.rest = Some(rest);
        Some(piece)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let len = self
            .rest
            .as_ref()
            .map_or(0, |rows| rows.pieces(self.rows_per_piece));
        (len, Some(len))
    }
}

impl<T: Send> ExactSizeIterator for RowPiecesIter<'_, T> {}

impl<T: Send> DoubleEndedIterator for RowPiecesIter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        let rows = self.rest.take()?;
        let pieces = rows.pieces(self.rows_per_piece);
        if pieces <= 1 {
            return Some(rows);
        }
        let (rest, piece) = rows.split_within((pieces - 1) * self.rows_per_piece);
        self.rest = Some(rest);
        Some(piece)
    }
}

/// One slot (velocity, m or v) of every layer: `weights[l]` as long as W[l], `biases[l]` as
/// b[l]. How the binding hands over one list of NumPy arrays per slot.
#[derive(Debug)]
pub struct SlotArrays<'a, T> {
    pub weights: Vec<&'a mut [T]>,
    pub biases: Vec<&'a mut [T]>,
}

/// The slots of one layer's weights and bias.
#[derive(Debug)]
pub struct LayerSlots<'a, T> {
    pub weights: Slots<'a, T>,
    pub biases: Slots<'a, T>,
}

/// The whole network's optimizer state for one call (an epoch, or a step): the caller's step
/// count and each layer's slots. Built once per call, not per batch.
#[derive(Debug)]
pub struct NetworkState<'a, T> {
    optimizer: Optimizer,
    step: &'a mut i64,
    layers: Vec<LayerSlots<'a, T>>,
}

impl<'a, T: Real> NetworkState<'a, T> {
    /// Views of the state for `optimizer` on a network `arch`: `slots` holds
    /// `optimizer.slots()` entries (velocity; or m then v), each with one array per layer
    /// as long as that layer's weights and bias. `step` is the steps taken so far (>= 0).
    pub fn new(
        arch: &Architecture,
        optimizer: Optimizer,
        step: &'a mut i64,
        slots: Vec<SlotArrays<'a, T>>,
    ) -> Result<Self> {
        optimizer.check()?;
        if *step < 0 {
            return Err(Error::value(
                "state.step",
                format!("expected the steps taken so far (>= 0), got {}", *step),
            ));
        }
        let names: &[&str] = match optimizer.slots() {
            0 => &[],
            1 => &["velocity"],
            _ => &["m", "v"],
        };
        if slots.len() != names.len() {
            return Err(Error::value(
                "state",
                format!(
                    "expected {} slot(s) ({}) for {optimizer:?}, got {}",
                    names.len(),
                    names.join(", "),
                    slots.len()
                ),
            ));
        }
        let layers = arch.layers();
        for (name, slot) in names.iter().zip(&slots) {
            if slot.weights.len() != layers || slot.biases.len() != layers {
                return Err(Error::shape(
                    format!("state.{name}"),
                    format!("{layers} weight and {layers} bias arrays"),
                    format!("{} and {}", slot.weights.len(), slot.biases.len()),
                ));
            }
            for l in 0..layers {
                let (fan_in, fan_out) = (arch.fan_in(l), arch.fan_out(l));
                check_len(name, "weights", l, slot.weights[l].len(), fan_in * fan_out)?;
                check_len(name, "biases", l, slot.biases[l].len(), fan_out)?;
            }
        }
        // One (weights, bias) pair per layer from each slot, in slot order.
        let mut per_slot: Vec<_> = slots
            .into_iter()
            .map(|slot| slot.weights.into_iter().zip(slot.biases))
            .collect();
        let mut layer_slots = Vec::with_capacity(layers);
        for _ in 0..layers {
            let mut arrays = per_slot.iter_mut().filter_map(Iterator::next);
            layer_slots.push(match (arrays.next(), arrays.next()) {
                (Some((m_w, m_b)), Some((v_w, v_b))) => LayerSlots {
                    weights: Slots::Moments { m: m_w, v: v_w },
                    biases: Slots::Moments { m: m_b, v: v_b },
                },
                (Some((w, b)), None) => LayerSlots {
                    weights: Slots::Velocity(w),
                    biases: Slots::Velocity(b),
                },
                _ => LayerSlots {
                    weights: Slots::None,
                    biases: Slots::None,
                },
            });
        }
        Ok(NetworkState {
            optimizer,
            step,
            layers: layer_slots,
        })
    }

    /// Count one more step and return its rule. Call it once the step is certain to happen
    /// (after the loss was found finite): a step that is not taken must not count.
    pub fn begin_step(&mut self, lr: f64, alpha: f64, batch_rows: f64) -> Result<StepRule<T>> {
        let step = self.step.checked_add(1).ok_or_else(|| {
            Error::value(
                "state.step",
                "the step count overflows an int64".to_string(),
            )
        })?;
        let rule = StepRule::new(&self.optimizer, lr, alpha, batch_rows, step)?;
        *self.step = step;
        Ok(rule)
    }

    /// Steps taken so far.
    pub fn step(&self) -> i64 {
        *self.step
    }

    /// The optimizer this state is for.
    pub fn optimizer(&self) -> Optimizer {
        self.optimizer
    }

    /// Each layer's slots, to zip with the weights (e.g. `par_iter_mut` over both).
    pub fn layers_mut(&mut self) -> &mut [LayerSlots<'a, T>] {
        &mut self.layers
    }
}

fn check_len(slot: &str, what: &str, l: usize, len: usize, expected: usize) -> Result<()> {
    if len == expected {
        Ok(())
    } else {
        Err(Error::shape(
            format!("state.{slot}.{what}[{l}]"),
            format!("{expected} values (the size of {what}[{l}])"),
            format!("{len}"),
        ))
    }
}
