//! Candidate segments of a recording: multi-scale sliding windows.
//!
//! Spoken terms last roughly 0.3–1.2 s. Each recording is covered by windows of a
//! few lengths, geometrically spaced, sliding by a fixed hop; each window becomes one
//! vector in the index. Search then suppresses overlapping hits.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Settings of the multi-scale sliding windows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SegmentConfig {
    /// Shortest window in frames (10 ms frames: 30 = 0.3 s).
    pub min_frames: usize,
    /// Longest window in frames.
    pub max_frames: usize,
    /// Number of window lengths between min and max (geometric). More → better
    /// recall, bigger index.
    pub num_scales: usize,
    /// Hop between window starts, in frames. Smaller → better time resolution,
    /// bigger index.
    pub hop_frames: usize,
}

impl Default for SegmentConfig {
    fn default() -> Self {
        SegmentConfig {
            min_frames: 30,
            max_frames: 110,
            num_scales: 5,
            hop_frames: 5,
        }
    }
}

impl SegmentConfig {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if self.min_frames == 0 || self.max_frames < self.min_frames {
            return Err(Error::Config(format!(
                "segments: need 0 < min_frames <= max_frames, got {} and {}",
                self.min_frames, self.max_frames
            )));
        }
        if self.num_scales == 0 || self.hop_frames == 0 {
            return Err(Error::Config(
                "segments: num_scales and hop_frames must be > 0".into(),
            ));
        }
        Ok(())
    }

    /// The window lengths in frames, shortest first, without duplicates.
    pub fn lengths(&self) -> Vec<usize> {
        let mut out = Vec::new();
        for s in 0..self.num_scales {
            let f = if self.num_scales == 1 {
                0.0
            } else {
                s as f64 / (self.num_scales - 1) as f64
            };
            let len = (self.min_frames as f64
                * (self.max_frames as f64 / self.min_frames as f64).powf(f))
            .round() as usize;
            if out.last() != Some(&len) {
                out.push(len);
            }
        }
        out
    }

    /// All `[start, end)` frame windows over a recording of `num_frames` frames. A
    /// recording shorter than the shortest window yields one window covering it.
    pub fn windows(&self, num_frames: usize) -> Vec<(usize, usize)> {
        let mut out = Vec::new();
        if num_frames == 0 {
            return out;
        }
        for len in self.lengths() {
            if len > num_frames {
                continue;
            }
            let mut s = 0;
            while s + len <= num_frames {
                out.push((s, s + len));
                s += self.hop_frames;
            }
            // Make sure the tail is covered.
            if out.last().is_some_and(|&(_, e)| e < num_frames) {
                out.push((num_frames - len, num_frames));
            }
        }
        if out.is_empty() {
            out.push((0, num_frames));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_are_geometric_between_bounds() {
        let c = SegmentConfig {
            min_frames: 20,
            max_frames: 80,
            num_scales: 3,
            hop_frames: 10,
        };
        assert_eq!(c.lengths(), vec![20, 40, 80]);
    }

    #[test]
    fn windows_cover_the_recording() {
        let c = SegmentConfig {
            min_frames: 20,
            max_frames: 40,
            num_scales: 2,
            hop_frames: 15,
        };
        let w = c.windows(50);
        // length 20: starts 0,15,30 then tail 30..50 already ends at 50
        assert!(w.contains(&(0, 20)) && w.contains(&(30, 50)));
        // length 40: 0..40 then tail 10..50
        assert!(w.contains(&(0, 40)) && w.contains(&(10, 50)));
        assert!(w.iter().all(|&(s, e)| e <= 50 && s < e));
        assert_eq!(c.windows(5), vec![(0, 5)]);
        assert!(c.windows(0).is_empty());
    }

    #[test]
    fn validate_rejects_bad_ranges() {
        let mut c = SegmentConfig::default();
        assert!(c.validate().is_ok());
        c.max_frames = 1;
        assert!(c.validate().is_err());
    }
}
