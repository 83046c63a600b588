//! Coarse lists for the index scan (an inverted file, as in FAISS's `IVF`): the
//! unit vectors are clustered by spherical k-means into `lists` groups around unit
//! centroids; a query then scans only the lists whose centroids are most similar to
//! it (`probes` of them) instead of every vector.
//!
//! Deterministic: the centroids start at evenly spaced vectors of an evenly spaced
//! training sample, and every step is a fixed sequence of float operations.

use ndarray::{Array2, ArrayView2};

use crate::nn::matmul::matmul;

/// Vectors per list used to train the centroids (a sample of at most
/// `TRAIN_PER_LIST · lists` vectors).
const TRAIN_PER_LIST: usize = 64;
/// k-means iterations over the training sample.
const ITERATIONS: usize = 10;
/// Rows scored per matrix product while assigning.
const BLOCK: usize = 4096;

/// Vectors grouped by nearest centroid.
#[derive(Debug, Clone)]
pub struct CoarseLists {
    dim: usize,
    /// `[lists, dim]`, unit rows.
    centroids: Array2<f32>,
    /// Vector ids (rows of the clustered matrix), list by list.
    pub ids: Vec<u32>,
    /// List `l` holds `ids[offsets[l]..offsets[l + 1]]`.
    pub offsets: Vec<usize>,
}

/// Index of the largest value of each row of `scores` (the first on ties), and
/// that value.
fn argmax_rows(scores: ArrayView2<'_, f32>, out: &mut Vec<u32>, best_scores: &mut Vec<f32>) {
    for row in scores.rows() {
        let mut best = 0;
        let mut best_score = f32::NEG_INFINITY;
        for (j, &s) in row.iter().enumerate() {
            if s > best_score {
                best_score = s;
                best = j;
            }
        }
        out.push(best as u32);
        best_scores.push(best_score);
    }
}

/// Nearest centroid (largest dot product) of each row of `x`, and its similarity.
fn assign(x: ArrayView2<'_, f32>, centroids: &Array2<f32>) -> (Vec<u32>, Vec<f32>) {
    let mut out = Vec::with_capacity(x.nrows());
    let mut best = Vec::with_capacity(x.nrows());
    let lists = centroids.nrows();
    let mut scores = Array2::<f32>::zeros((BLOCK.min(x.nrows()), lists));
    let mut start = 0;
    while start < x.nrows() {
        let end = (start + BLOCK).min(x.nrows());
        let rows = x.slice(ndarray::s![start..end, ..]);
        let mut s = scores.slice_mut(ndarray::s![..end - start, ..]);
        matmul(0.0, &mut s, 1.0, &rows, &centroids.t());
        argmax_rows(s.view(), &mut out, &mut best);
        start = end;
    }
    (out, best)
}

impl CoarseLists {
    /// Clusters the `n = vectors.len() / dim` unit vectors into `lists` lists
    /// (clamped to `1..=n`).
    pub fn build(vectors: &[f32], dim: usize, lists: usize) -> CoarseLists {
        let n = vectors.len().checked_div(dim).unwrap_or(0);
        let lists = lists.clamp(1, n.max(1));
        let all =
            ArrayView2::from_shape((n, dim), &vectors[..n * dim]).expect("invariant: n·dim floats");
        // Training sample: evenly spaced rows.
        let s = (TRAIN_PER_LIST * lists).min(n);
        let pick = |count: usize, of: usize, i: usize| i * of / count.max(1);
        let mut sample = Array2::<f32>::zeros((s, dim));
        for i in 0..s {
            sample.row_mut(i).assign(&all.row(pick(s, n, i)));
        }
        let mut centroids = Array2::<f32>::zeros((lists, dim));
        for l in 0..lists.min(s) {
            centroids.row_mut(l).assign(&sample.row(pick(lists, s, l)));
        }
        for _ in 0..ITERATIONS {
            let (a, fit) = assign(sample.view(), &centroids);
            let mut sums = Array2::<f64>::zeros((lists, dim));
            for (i, &l) in a.iter().enumerate() {
                let mut row = sums.row_mut(l as usize);
                for (acc, &v) in row.iter_mut().zip(sample.row(i)) {
                    *acc += f64::from(v);
                }
            }
            // An empty list (two centroids started in one cluster, say) restarts at
            // the worst-fitting sample vectors, one each.
            let mut worst: Vec<usize> = (0..s).collect();
            worst.sort_by(|&i, &j| fit[i].total_cmp(&fit[j]).then(i.cmp(&j)));
            let mut worst = worst.into_iter();
            for (l, sum) in sums.rows().into_iter().enumerate() {
                let norm = sum.iter().map(|v| v * v).sum::<f64>().sqrt();
                if norm > 1e-12 {
                    for (c, &v) in centroids.row_mut(l).iter_mut().zip(sum) {
                        *c = (v / norm) as f32;
                    }
                } else if let Some(i) = worst.next() {
                    centroids.row_mut(l).assign(&sample.row(i));
                }
            }
        }
        let (a, _) = assign(all, &centroids);
        // Counting sort of the vector ids by list.
        let mut offsets = vec![0usize; lists + 1];
        for &l in &a {
            offsets[l as usize + 1] += 1;
        }
        for l in 0..lists {
            offsets[l + 1] += offsets[l];
        }
        let mut next = offsets.clone();
        let mut ids = vec![0u32; n];
        for (i, &l) in a.iter().enumerate() {
            ids[next[l as usize]] = i as u32;
            next[l as usize] += 1;
        }
        CoarseLists {
            dim,
            centroids,
            ids,
            offsets,
        }
    }

    /// Number of lists.
    pub fn num_lists(&self) -> usize {
        self.centroids.nrows()
    }

    /// The `probes` lists whose centroids are most similar to the unit query `q`,
    /// in increasing list order (all of them when `probes >= lists`).
    pub fn probe(&self, q: &[f32], probes: usize) -> Vec<usize> {
        let lists = self.num_lists();
        if probes >= lists || q.len() != self.dim {
            return (0..lists).collect();
        }
        let mut scored: Vec<(f32, usize)> = self
            .centroids
            .rows()
            .into_iter()
            .enumerate()
            .map(|(l, c)| {
                let c = c.as_slice().expect("invariant: standard-layout rows");
                (crate::qbe::index::dot(q, c), l)
            })
            .collect();
        let better = |a: &(f32, usize), b: &(f32, usize)| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1));
        if probes > 0 {
            scored.select_nth_unstable_by(probes - 1, better);
        }
        let mut out: Vec<usize> = scored[..probes].iter().map(|&(_, l)| l).collect();
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit_rows(
        rng: &mut crate::rng::Rng,
        n: usize,
        dim: usize,
        centres: &[Vec<f32>],
    ) -> Vec<f32> {
        let mut out = Vec::with_capacity(n * dim);
        for i in 0..n {
            let c = &centres[i * centres.len() / n];
            let v: Vec<f32> = c.iter().map(|&x| x + 0.05 * rng.normal() as f32).collect();
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            out.extend(v.iter().map(|x| x / norm));
        }
        out
    }

    #[test]
    fn separated_clusters_get_one_list_each() {
        // Four well-separated directions in 8 dimensions, 50 noisy vectors each
        // (stored cluster by cluster, as an index stores a file's windows
        // together): 4 lists recover the clusters exactly.
        let dim = 8;
        let centres: Vec<Vec<f32>> = (0..4)
            .map(|k| {
                (0..dim)
                    .map(|j| if j == 2 * k { 1.0 } else { 0.0 })
                    .collect()
            })
            .collect();
        let mut rng = crate::rng::Rng::new(3);
        let v = unit_rows(&mut rng, 200, dim, &centres);
        let c = CoarseLists::build(&v, dim, 4);
        assert_eq!(c.num_lists(), 4);
        assert_eq!(c.offsets, vec![0, 50, 100, 150, 200]);
        let mut seen = std::collections::HashSet::new();
        for l in 0..4 {
            let members = &c.ids[c.offsets[l]..c.offsets[l + 1]];
            let cluster = members[0] / 50;
            assert!(
                members.iter().all(|&i| i / 50 == cluster),
                "list {l} mixes clusters"
            );
            assert!(seen.insert(cluster));
            // The query at a cluster's centre probes that cluster's list first.
            let q = &centres[cluster as usize];
            assert_eq!(c.probe(q, 1), vec![l]);
        }
        // Every id appears once.
        let mut ids = c.ids.clone();
        ids.sort_unstable();
        assert_eq!(ids, (0..200).collect::<Vec<u32>>());
        assert_eq!(c.probe(&centres[0], 9), vec![0, 1, 2, 3]);
    }

    #[test]
    fn degenerate_sizes() {
        let c = CoarseLists::build(&[], 4, 16);
        assert_eq!(c.num_lists(), 1);
        assert!(c.ids.is_empty());
        let v = [1.0, 0.0, 0.0, 1.0];
        let c = CoarseLists::build(&v, 2, 16);
        assert_eq!(c.num_lists(), 2);
        assert_eq!(c.offsets[2], 2);
        // Deterministic.
        let mut rng = crate::rng::Rng::new(5);
        let w: Vec<f32> = (0..300 * 6).map(|_| rng.normal() as f32).collect();
        let a = CoarseLists::build(&w, 6, 7);
        let b = CoarseLists::build(&w, 6, 7);
        assert_eq!((a.ids, a.offsets), (b.ids, b.offsets));
    }
}
