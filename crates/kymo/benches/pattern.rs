//! The pattern stages (trains, burst grouping, features, classification, summary: all of
//! `pattern::analyze_channel`) on perfect spike sorting, in recording samples per second.
//!
//! The input is what a perfect sorter would hand over: every potential of channel 0 of a
//! simulated `mixed` recording (seed 1) with its true unit, the unit table and the
//! transient artefacts (`eval::perfect_input`), for 10 and 60 minutes of recording, so the
//! two sizes show how the cost grows with length. Simulating (truth only, samples
//! discarded) is setup and not timed. Throughput counts the samples of the recording the
//! potentials came from (20 kHz); the number of potentials is printed at setup.
//!
//! Run: `cargo bench -p kymo --bench pattern`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kymo::eval::perfect_input;
use kymo::pattern::{analyze_channel, PatternConfig};
use kymo::simulate::{self, truth::Truth, NullSink};

const SEED: u64 = 1;

fn bench(c: &mut Criterion) {
    let cfg = PatternConfig::default()
        .check()
        .expect("defaults are valid");
    let mut g = c.benchmark_group("pattern");
    g.sample_size(10);
    for minutes in [10u32, 60] {
        let mut scenario = simulate::builtin("mixed").expect("built-in");
        scenario.seconds = f64::from(minutes) * 60.0;
        let mut truth = Truth::default();
        simulate::run(&scenario, SEED, &mut NullSink, &mut truth).expect("runs");
        let (units, potentials, artefacts) = perfect_input(&truth, 0);
        let seconds = truth.recording.seconds;
        let n_samples = (seconds * truth.recording.rate_hz).round() as u64;
        let out = analyze_channel(&units, &potentials, seconds, &artefacts, &cfg);
        eprintln!(
            "pattern: {minutes} min, {} units, {} potentials, {} artefacts → {} discharges",
            units.len(),
            potentials.len(),
            artefacts.len(),
            out.discharges.len()
        );
        g.throughput(Throughput::Elements(n_samples));
        g.bench_with_input(
            BenchmarkId::new("mixed_perfect_sorting_min", minutes),
            &minutes,
            |b, _| {
                b.iter(|| {
                    black_box(analyze_channel(
                        &units,
                        &potentials,
                        seconds,
                        &artefacts,
                        &cfg,
                    ))
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
