//! Phone HMM topologies for the token-passing decoder and forced alignment.
//!
//! Every phone of a given topology has the same small state machine; a state emits
//! either the phone's own column of the decodable or the CTC blank column.

use crate::error::{Error, Result};

/// How a phone is modelled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HmmTopology {
    /// The CTC topology (as in EESEN's token FST): the phone state with a self-loop,
    /// then an optional blank state with a self-loop. A phone can follow the same phone
    /// only through the blank. All transitions have probability 1 (CTC has none).
    Ctc,
    /// Left-to-right phone HMM with `num_states` (1–3) states, each with a self-loop of
    /// probability `self_loop_prob` and a forward transition of `1 − self_loop_prob`;
    /// all states emit the phone's column (monophone posteriors / priors).
    LeftToRight {
        /// States per phone, 1 to 3.
        num_states: usize,
        /// Self-loop probability in (0, 1).
        self_loop_prob: f32,
    },
}

/// One state of the phone model (index 0 is the entry state).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HmmState {
    /// Emits the blank column (otherwise the phone's own column).
    pub emits_blank: bool,
    /// ln P(self-loop).
    pub self_logp: f32,
    /// ln P(to the next state of the same phone); −inf when none.
    pub next_logp: f32,
    /// ln P(leaving the phone from this state); −inf when not allowed.
    pub exit_logp: f32,
    /// Leaving from here may not enter the same token next (CTC repeat rule).
    pub exit_blocks_same: bool,
}

impl HmmTopology {
    /// Checks the ranges.
    pub fn validate(&self) -> Result<()> {
        if let HmmTopology::LeftToRight {
            num_states,
            self_loop_prob,
        } = *self
        {
            if !(1..=3).contains(&num_states) {
                return Err(Error::Config(format!(
                    "hmm states per phone must be 1 to 3, got {num_states}"
                )));
            }
            if !(self_loop_prob > 0.0 && self_loop_prob < 1.0) {
                return Err(Error::Config(format!(
                    "self-loop probability must be in (0, 1), got {self_loop_prob}"
                )));
            }
        }
        Ok(())
    }

    /// The phone model's states.
    pub fn states(&self) -> Vec<HmmState> {
        match *self {
            HmmTopology::Ctc => vec![
                HmmState {
                    emits_blank: false,
                    self_logp: 0.0,
                    next_logp: 0.0,
                    exit_logp: 0.0,
                    exit_blocks_same: true,
                },
                HmmState {
                    emits_blank: true,
                    self_logp: 0.0,
                    next_logp: f32::NEG_INFINITY,
                    exit_logp: 0.0,
                    exit_blocks_same: false,
                },
            ],
            HmmTopology::LeftToRight {
                num_states,
                self_loop_prob,
            } => {
                let s = self_loop_prob.ln();
                let f = (1.0 - self_loop_prob).ln();
                (0..num_states)
                    .map(|i| {
                        let last = i + 1 == num_states;
                        HmmState {
                            emits_blank: false,
                            self_logp: s,
                            next_logp: if last { f32::NEG_INFINITY } else { f },
                            exit_logp: if last { f } else { f32::NEG_INFINITY },
                            exit_blocks_same: false,
                        }
                    })
                    .collect()
            }
        }
    }

    /// Whether this topology needs a blank column.
    pub fn uses_blank(&self) -> bool {
        matches!(self, HmmTopology::Ctc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn left_to_right_probabilities_sum_to_one() {
        let t = HmmTopology::LeftToRight {
            num_states: 3,
            self_loop_prob: 0.6,
        };
        for s in t.states() {
            let out = s.self_logp.exp() + s.next_logp.exp() + s.exit_logp.exp();
            assert!((out - 1.0).abs() < 1e-6);
        }
        assert!(
            HmmTopology::LeftToRight {
                num_states: 4,
                self_loop_prob: 0.5
            }
            .validate()
            .is_err()
        );
        assert_eq!(HmmTopology::Ctc.states().len(), 2);
    }
}
