//! Filter and detection throughput at 10^5, 10^6 and 10^7 samples (20 kHz needle EMG).
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kymo::dsp::{Filter, FilterConfig, Scratch};

#[path = "../tests/common/rng.rs"]
mod rng;

const RATE: f64 = 20_000.0;

fn signal(n: usize) -> Vec<f32> {
    rng::Rng::new(42).noise(n, 10.0)
}

fn filter(c: &mut Criterion) {
    let cfg = FilterConfig::default()
        .check(RATE)
        .expect("the default filter is valid at 20 kHz");
    let mut g = c.benchmark_group("filter");
    g.sample_size(10);
    for &n in &[100_000usize, 1_000_000, 10_000_000] {
        let x = signal(n);
        let mut y = vec![0.0f32; n];
        let mut s = Scratch::default();
        g.throughput(Throughput::Elements(n as u64));
        for (name, mains) in [("bandpass", None), ("bandpass+comb50", Some(50.0))] {
            let f = Filter::new(&cfg, mains);
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| f.filtfilt(&x, &mut y, &mut s))
            });
        }
    }
    g.finish();
}

criterion_group!(benches, filter);
criterion_main!(benches);
