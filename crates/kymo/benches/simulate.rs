//! Simulating one needle channel at 20 kHz into a null sink: samples per second.
//!
//! The recording is the `myokymia-facial` scenario (two units firing myokymic bursts,
//! background noise at 20 dB SNR, 50 Hz hum with harmonics) for 60 s = 1.2 M samples per
//! iteration; the truth goes to a null truth sink. Building the simulation (drawing the
//! templates) is setup and not timed: it does not grow with the duration, while the timed
//! part is what a 1-hour simulation repeats. The same seed every iteration.
//!
//! Target: ≥ 20 M samples/s on one core. Run: `cargo bench -p kymo --bench simulate`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use kymo::simulate::truth::NullTruth;
use kymo::simulate::{self, NullSink, Simulation};

const SECONDS: f64 = 60.0;
const SEED: u64 = 1;

fn bench(c: &mut Criterion) {
    let mut scenario = simulate::builtin("myokymia-facial").expect("built-in");
    scenario.seconds = SECONDS;
    let n = Simulation::new(&scenario, SEED)
        .expect("valid")
        .info()
        .n_samples;
    let mut g = c.benchmark_group("simulate");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("needle_1ch_20kHz_myokymia_facial", |b| {
        b.iter_batched(
            || Simulation::new(&scenario, SEED).expect("valid"),
            |sim| black_box(sim.run(&mut NullSink, &mut NullTruth).expect("runs")),
            BatchSize::PerIteration,
        )
    });
    // The same with noise and hum off: the cost of the potentials and the block machinery.
    let mut quiet = scenario.clone();
    quiet.recording.noise = simulate::NoiseLevel::RmsUv(0.0);
    quiet.recording.mains.amplitude_uv = 0.0;
    g.bench_function("needle_1ch_20kHz_potentials_only", |b| {
        b.iter_batched(
            || Simulation::new(&quiet, SEED).expect("valid"),
            |sim| black_box(sim.run(&mut NullSink, &mut NullTruth).expect("runs")),
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
