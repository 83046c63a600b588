//! Batches of padded sequences.

use ndarray::{Array2, ArrayRef2, ArrayView2, s};

use crate::error::{Error, Result};
use crate::nn::Float;

/// A batch of variable-length sequences, padded and stored **time-major**:
/// `data` has shape `[max_len * batch, dim]` and row `t * batch + b` holds frame `t`
/// of sequence `b`.
///
/// Invariants: `lengths` is non-increasing (longest first, as after length-sorting),
/// so the sequences still running at time `t` are exactly rows `0..active(t)` of
/// time step `t`; rows past a sequence's length are zero. Layers rely on both: each
/// recurrent step multiplies only the contiguous block of active rows, and zero
/// padding makes "no previous state" and "padding" the same thing.
#[derive(Debug, Clone, PartialEq)]
pub struct SeqBatch<T> {
    data: Array2<T>,
    lengths: Vec<usize>,
}

impl<T: Float> SeqBatch<T> {
    /// Wraps time-major padded data; checks the shape, the ordering of `lengths` and
    /// zeroes the padding rows.
    pub fn new(mut data: Array2<T>, lengths: Vec<usize>) -> Result<Self> {
        let batch = lengths.len();
        let max_len = lengths.first().copied().unwrap_or(0);
        if lengths.windows(2).any(|w| w[0] < w[1]) {
            return Err(Error::Invalid(
                "sequence lengths in a batch must be sorted longest first".into(),
            ));
        }
        if data.nrows() != max_len * batch {
            return Err(Error::dim(
                "SeqBatch::new",
                format!(
                    "{} rows (max_len {max_len} x batch {batch})",
                    max_len * batch
                ),
                format!("{} rows", data.nrows()),
            ));
        }
        for (b, &len) in lengths.iter().enumerate() {
            for t in len..max_len {
                data.row_mut(t * batch + b).fill(T::zero());
            }
        }
        Ok(SeqBatch { data, lengths })
    }

    /// Pads and interleaves sequences (each `[len, dim]`), longest first. Returns the
    /// batch and `order`, where batch sequence `i` is `seqs[order[i]]` (stable for ties).
    pub fn from_sequences(seqs: &[&ArrayRef2<T>]) -> Result<(Self, Vec<usize>)> {
        let dim = seqs.first().map(|s| s.ncols()).unwrap_or(0);
        if let Some(bad) = seqs.iter().find(|s| s.ncols() != dim) {
            return Err(Error::dim("SeqBatch::from_sequences", dim, bad.ncols()));
        }
        let mut order: Vec<usize> = (0..seqs.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(seqs[i].nrows()));
        let lengths: Vec<usize> = order.iter().map(|&i| seqs[i].nrows()).collect();
        let batch = seqs.len();
        let max_len = lengths.first().copied().unwrap_or(0);
        let mut data = Array2::zeros((max_len * batch, dim));
        for (b, &i) in order.iter().enumerate() {
            for (t, row) in seqs[i].rows().into_iter().enumerate() {
                data.row_mut(t * batch + b).assign(&row);
            }
        }
        Ok((SeqBatch { data, lengths }, order))
    }

    /// The padded data `[max_len * batch, dim]`, time-major.
    pub fn data(&self) -> &Array2<T> {
        &self.data
    }

    /// Consumes the batch, returning its data.
    pub fn into_data(self) -> Array2<T> {
        self.data
    }

    /// Sequence lengths, longest first.
    pub fn lengths(&self) -> &[usize] {
        &self.lengths
    }

    /// Number of sequences.
    pub fn batch_size(&self) -> usize {
        self.lengths.len()
    }

    /// Length of the longest sequence.
    pub fn max_len(&self) -> usize {
        self.lengths.first().copied().unwrap_or(0)
    }

    /// Feature dimension.
    pub fn dim(&self) -> usize {
        self.data.ncols()
    }

    /// Total number of real (unpadded) frames.
    pub fn num_frames(&self) -> usize {
        self.lengths.iter().sum()
    }

    /// Number of sequences with a frame at time `t`.
    pub fn active(&self, t: usize) -> usize {
        self.lengths.partition_point(|&l| l > t)
    }

    /// Row of frame `t` of sequence `b`.
    pub fn row_index(&self, t: usize, b: usize) -> usize {
        t * self.batch_size() + b
    }

    /// Sequence `b` without padding, `[len, dim]`.
    pub fn sequence(&self, b: usize) -> Array2<T> {
        let batch = self.batch_size();
        let len = self.lengths[b];
        let strided: ArrayView2<T> = self.data.slice(s![b..; batch, ..]);
        strided.slice(s![..len, ..]).to_owned()
    }

    /// Replaces the data with another of the same row count (e.g. a layer's output);
    /// padding rows are zeroed.
    pub fn with_data(&self, data: Array2<T>) -> Result<Self> {
        SeqBatch::new(data, self.lengths.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::arr2;

    #[test]
    fn from_sequences_sorts_pads_and_round_trips() {
        let a = arr2(&[[1.0f32, 1.0]]);
        let b = arr2(&[[2.0f32, 2.0], [3.0, 3.0], [4.0, 4.0]]);
        let c = arr2(&[[5.0f32, 5.0], [6.0, 6.0]]);
        let (batch, order) = SeqBatch::from_sequences(&[&a, &b, &c]).unwrap();
        assert_eq!(order, vec![1, 2, 0]);
        assert_eq!(batch.lengths(), &[3, 2, 1]);
        assert_eq!(batch.data().nrows(), 9);
        assert_eq!(batch.active(0), 3);
        assert_eq!(batch.active(1), 2);
        assert_eq!(batch.active(2), 1);
        assert_eq!(batch.active(3), 0);
        assert_eq!(
            batch.data().row(batch.row_index(1, 1)).to_vec(),
            vec![6.0, 6.0]
        );
        assert_eq!(
            batch.data().row(batch.row_index(2, 2)).to_vec(),
            vec![0.0, 0.0]
        );
        assert_eq!(batch.sequence(0), b);
        assert_eq!(batch.sequence(1), c);
        assert_eq!(batch.sequence(2), a);
    }

    #[test]
    fn unsorted_lengths_and_bad_shapes_are_errors() {
        let d = Array2::<f32>::zeros((4, 2));
        assert!(SeqBatch::new(d.clone(), vec![1, 2]).is_err());
        assert!(SeqBatch::new(d.clone(), vec![3, 1]).is_err());
        assert!(SeqBatch::new(d, vec![2, 1]).is_ok());
    }
}
