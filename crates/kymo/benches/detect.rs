//! Detection alone (noise σ, artefact rules, threshold crossings, alignment) on a filtered
//! simulated needle recording, in samples per second.
//!
//! The input is 10 minutes of channel 0 of the `mixed` scenario (seed 1; 20 kHz, 12 M
//! samples: myokymic bursts, fibrillations, complex repetitive and neuromyotonic
//! discharges in turn, fasciculations throughout, 50 Hz hum, electrode pops), filtered
//! once with kymo's default band-pass and hum removal. Simulating and filtering are setup
//! and not timed. Unlike the synthetic signal of the `dsp` bench, the detector sees real
//! potential shapes, overlaps and artefacts here.
//!
//! - `whole`: [`detect`] on the whole signal in memory, with the EDF physical range the
//!   simulator declares (so the clipping rule runs);
//! - `no_range`: the same without a physical range (the clipping rule off).
//!
//! Run: `cargo bench -p kymo --bench detect`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kymo::detect::{detect, DetectConfig};
use kymo::dsp::{mains, Filter, FilterConfig, Scratch};
use kymo::simulate::{self, truth::NullTruth, VecSink};

const SECONDS: f64 = 600.0;
const SEED: u64 = 1;

fn bench(c: &mut Criterion) {
    let mut scenario = simulate::builtin("mixed").expect("built-in");
    scenario.seconds = SECONDS;
    let sim = simulate::Simulation::new(&scenario, SEED).expect("valid");
    let info = sim.info().clone();
    let mut sink = VecSink::default();
    sim.run(&mut sink, &mut NullTruth).expect("runs");
    let raw = sink.channels.swap_remove(0);
    let rate = info.rate_hz;
    let fcfg = FilterConfig::default()
        .check(rate)
        .expect("valid at 20 kHz");
    let hum = mains::detect(&raw, rate, fcfg.mains_threshold_db);
    let filter = Filter::new(&fcfg, fcfg.mains_frequency(&hum));
    let mut filtered = vec![0.0f32; raw.len()];
    filter.filtfilt(&raw, &mut filtered, &mut Scratch::default());
    let dcfg = DetectConfig::default()
        .check(rate)
        .expect("valid at 20 kHz");
    let range = Some((-info.range_uv, info.range_uv));
    let found = detect(&raw, &filtered, range, &dcfg);
    eprintln!(
        "detect: {} samples, {} spikes, {} artefacts, mains {:?}",
        raw.len(),
        found.spikes.len(),
        found.artefacts.len(),
        filter.mains_hz()
    );

    let mut g = c.benchmark_group("detect");
    g.throughput(Throughput::Elements(raw.len() as u64));
    g.sample_size(10);
    g.bench_function("mixed_10min_20kHz_whole", |b| {
        b.iter(|| black_box(detect(&raw, &filtered, range, &dcfg)))
    });
    g.bench_function("mixed_10min_20kHz_no_range", |b| {
        b.iter(|| black_box(detect(&raw, &filtered, None, &dcfg)))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
