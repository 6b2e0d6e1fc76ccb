//! The whole analysis (filter → detect → sort → trains, bursts, features, classification,
//! summary), in samples per second.
//!
//! - `samples_1ch`: [`analyze_samples`] on 2 minutes of channel 0 of the `mixed` scenario
//!   (seed 1; 20 kHz, 2.4 M samples held in memory), one thread;
//! - `file_2ch`: [`analyze_file`] on 1 minute of the full two-channel `mixed` scenario
//!   written as a 16-bit EDF (2 × 1.2 M samples), reading included, channels in parallel
//!   on rayon's global pool (set `RAYON_NUM_THREADS` to change it).
//!
//! Simulating and writing the file are setup and not timed. Each iteration takes seconds
//! (sorting dominates), so every sample is one iteration (flat sampling).
//!
//! Run: `cargo bench -p kymo --bench analyze`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use kymo::analyze::{analyze_file, analyze_samples, AnalysisConfig, ChannelInfo};
use kymo::io::edf::{EdfChannelSpec, EdfSpec, EdfWriter};
use kymo::io::DateTime;
use kymo::simulate::{self, truth::NullTruth, VecSink};

const SEED: u64 = 1;

fn simulate(seconds: f64) -> (simulate::RecordingInfo, Vec<Vec<f32>>) {
    let mut scenario = simulate::builtin("mixed").expect("built-in");
    scenario.seconds = seconds;
    let sim = simulate::Simulation::new(&scenario, SEED).expect("valid");
    let info = sim.info().clone();
    let mut sink = VecSink::default();
    sim.run(&mut sink, &mut NullTruth).expect("runs");
    (info, sink.channels)
}

fn write_edf(path: &std::path::Path, info: &simulate::RecordingInfo, x: &[Vec<f32>]) {
    let channels = info
        .channels
        .iter()
        .map(|label| EdfChannelSpec {
            label: label.clone(),
            unit: info.unit.clone(),
            rate_hz: info.rate_hz,
            physical_range: (-info.range_uv, info.range_uv),
            transducer: String::new(),
            prefilter: String::new(),
        })
        .collect();
    let start = DateTime {
        year: 2026,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
        nanos: 0,
    };
    let mut w = EdfWriter::create(path, &EdfSpec::new(start, channels)).expect("create");
    let refs: Vec<&[f32]> = x.iter().map(|c| c.as_slice()).collect();
    w.push(&refs).expect("push");
    w.finish().expect("finish");
}

fn bench(c: &mut Criterion) {
    let cfg = AnalysisConfig::default();
    let valid = cfg.check().expect("defaults are valid");
    let mut g = c.benchmark_group("analyze");
    g.sample_size(10);
    g.sampling_mode(SamplingMode::Flat);

    let (info, mut x) = simulate(120.0);
    let samples = x.swap_remove(0);
    let ch = ChannelInfo {
        index: 0,
        label: "EMG1".into(),
        unit: info.unit.clone(),
        rate_hz: info.rate_hz,
        n_samples: samples.len() as u64,
        physical_range: Some((-info.range_uv, info.range_uv)),
    };
    let a = analyze_samples(&ch, &samples, &valid).expect("analyses");
    eprintln!(
        "analyze: samples_1ch: {} samples, {} detected, {} units, {} discharges",
        samples.len(),
        a.n_detected,
        a.units.len(),
        a.discharges.len()
    );
    g.throughput(Throughput::Elements(samples.len() as u64));
    g.bench_function("mixed_2min_20kHz_samples_1ch", |b| {
        b.iter(|| black_box(analyze_samples(&ch, &samples, &valid).expect("analyses")))
    });

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("mixed.edf");
    let (info, x) = simulate(60.0);
    write_edf(&path, &info, &x);
    let total: u64 = x.iter().map(|c| c.len() as u64).sum();
    drop(x);
    let a = analyze_file(&path, None, &cfg, &|_| {}).expect("analyses");
    eprintln!(
        "analyze: file_2ch: {total} samples, {} detected, {} threads",
        a.channels.iter().map(|c| c.n_detected).sum::<usize>(),
        rayon::current_num_threads()
    );
    g.throughput(Throughput::Elements(total));
    g.bench_function("mixed_1min_20kHz_file_2ch", |b| {
        b.iter(|| black_box(analyze_file(&path, None, &cfg, &|_| {}).expect("analyses")))
    });
    g.finish();
    drop(dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
