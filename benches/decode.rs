//! Decoder speed on synthetic peaky CTC log-posteriors (41 classes: blank, SIL, 39
//! phones), a 10k-word synthetic lexicon and a word 3-gram (modified Kneser-Ney from
//! 20k synthetic sentences). Throughput is in frames.
//!
//! ```text
//! cargo bench --bench decode
//! ```

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hark::decode::{
    CtcGreedy, CtcPrefixBeamSearch, HmmTopology, LogPosteriors, PrefixBeamConfig,
    ScaledLikelihoods, ViterbiConfig, ViterbiDecoder, synth,
};
use hark::lexicon::{Lexicon, phone_symbol};
use hark::lm::{ArpaLm, LmBuildConfig};
use hark::phones::TokenTable;
use ndarray::Array2;

struct Task {
    lexicon: Lexicon,
    lm: ArpaLm,
    tokens: TokenTable,
}

fn task() -> Task {
    let lexicon = synth::lexicon(10_000, 1);
    let text = synth::sentences(&lexicon, 20_000, 2);
    let config = LmBuildConfig {
        vocab: Some(lexicon.words.clone()),
        ..Default::default()
    };
    let model = hark::lm::build::build(text.iter().map(String::as_str), &config).expect("lm build");
    let lm = ArpaLm::parse(&model.to_arpa(), std::path::Path::new("bench.arpa")).expect("arpa");
    Task {
        lexicon,
        lm,
        tokens: TokenTable::ctc_default(),
    }
}

/// Peaky posteriors of held-out sentences, concatenated to about `frames` frames.
fn posteriors(task: &Task, frames: usize) -> Array2<f32> {
    let mut toks = Vec::new();
    for s in synth::sentences(&task.lexicon, 10_000, 3) {
        for w in s.split_whitespace() {
            let id = task.lexicon.word_id(w).expect("word");
            let pron = &task.lexicon.prons[task.lexicon.prons_of(id)[0] as usize];
            toks.extend(
                pron.phones
                    .iter()
                    .map(|&p| task.tokens.index(phone_symbol(p)).expect("phone")),
            );
        }
        // about 4 frames per token on average
        if toks.len() * 4 >= frames {
            break;
        }
    }
    let m = synth::peaky_ctc_posteriors(&toks, task.tokens.len(), 4, 5);
    m.slice(ndarray::s![..frames.min(m.nrows()), ..]).to_owned()
}

fn bench_decoders(c: &mut Criterion) {
    let task = task();
    let mut g = c.benchmark_group("decode");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_millis(500));
    g.measurement_time(std::time::Duration::from_secs(3));
    for frames in [1000, 10_000] {
        let d = LogPosteriors::new(posteriors(&task, frames)).expect("posteriors");
        g.throughput(Throughput::Elements(frames as u64));
        // CTC best path
        let greedy = CtcGreedy::new(task.tokens.clone());
        g.bench_function(format!("ctc_greedy/T{frames}"), |b| {
            b.iter(|| greedy.decode(&d).expect("decode"))
        });
        // prefix beam search, lexicon + 3-gram, beam 16 and 64
        for beam in [16, 64] {
            let config = PrefixBeamConfig {
                beam_size: beam,
                ..Default::default()
            };
            let mut dec = CtcPrefixBeamSearch::with_lexicon(
                &task.lexicon,
                task.tokens.clone(),
                &task.lm,
                config,
            )
            .expect("decoder");
            g.bench_function(
                format!("ctc_beam_lexicon_3gram/beam{beam}/T{frames}"),
                |b| b.iter(|| dec.decode(&d).expect("decode")),
            );
        }
        // lexicon-free phone beam
        let mut phones =
            CtcPrefixBeamSearch::phones(task.tokens.clone(), PrefixBeamConfig::default())
                .expect("decoder");
        g.bench_function(format!("ctc_beam_phones/beam16/T{frames}"), |b| {
            b.iter(|| phones.decode(&d).expect("decode"))
        });
        // token passing, CTC topology, lexicon + 3-gram
        let mut hmm = ViterbiDecoder::new(
            &task.lexicon,
            &task.tokens,
            &task.lm,
            ViterbiConfig::default(),
        )
        .expect("decoder");
        g.bench_function(
            format!("viterbi_ctc_topology_lexicon_3gram/T{frames}"),
            |b| b.iter(|| hmm.decode(&d).expect("decode")),
        );
        // hybrid phone loop: 40 phones x 3 states = 120 HMM states (the hmmlearn case)
        let hybrid = TokenTable::hybrid_default();
        let post = d.scores().slice(ndarray::s![.., 1..]).to_owned(); // drop the blank column
        let sl = ScaledLikelihoods::new(&post, &[(1.0f32 / 40.0).ln(); 40], 1.0, 1.0)
            .expect("likelihoods");
        let topo = HmmTopology::LeftToRight {
            num_states: 3,
            self_loop_prob: 0.5,
        };
        let mut loop120 = ViterbiDecoder::phone_loop(
            &hybrid,
            ViterbiConfig {
                topology: topo,
                word_penalty: -(40f32).ln(),
                ..Default::default()
            },
        )
        .expect("decoder");
        g.bench_function(
            format!("viterbi_hybrid_phone_loop_120_states/T{frames}"),
            |b| b.iter(|| loop120.decode(&sl).expect("decode")),
        );
    }
    g.finish();
}

criterion_group!(benches, bench_decoders);
criterion_main!(benches);
