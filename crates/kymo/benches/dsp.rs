//! Throughput of the filter and detection stages on simulated needle EMG (20 kHz; white
//! noise σ = 10 plus spikes of peak ±80 every 5–45 ms, seed 42) at 10⁵, 10⁶ and 10⁷ samples.
//!
//! - `filter`: zero-phase 20 Hz–9 kHz band-pass (4 sections), alone, with the 50 Hz hum
//!   template (the default hum removal) and with the 50 Hz comb;
//! - `detect`: σ, artefacts, crossings and alignment on an already filtered signal;
//! - `filter+detect`: both, whole signal in memory;
//! - `stream`: filter + detect block by block through [`detect_stream`] (2²⁰-sample blocks,
//!   reading from memory), the way long recordings are processed;
//! - `stream-noop`: the same block machinery with a filter-less, detection-less pass (a copy
//!   through `read`), to show what the blocks themselves cost.
//!
//! Run: `cargo bench -p kymo --bench dsp`. Throughput is in samples per second.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kymo::detect::{detect, detect_stream, DetectConfig, Detector, DEFAULT_BLOCK_LEN};
use kymo::dsp::{Filter, FilterConfig, HumRemoval, Scratch};

#[path = "../tests/common/rng.rs"]
mod rng;

const RATE: f64 = 20_000.0;
const SIZES: [usize; 3] = [100_000, 1_000_000, 10_000_000];

fn signal(n: usize) -> Vec<f32> {
    let mut r = rng::Rng::new(42);
    let mut x: Vec<f64> = (0..n).map(|_| 10.0 * r.normal()).collect();
    let tau = 0.25e-3 * RATE;
    let mut at = 200usize;
    let mut sign = 1.0;
    while at + 200 < n {
        for k in 0..=50usize {
            let t = (k as f64 - 25.0) / tau;
            x[at + k - 25] += sign * 80.0 * (1.0 - t * t) * (-t * t / 2.0).exp();
        }
        sign = -sign;
        at += (0.005 * RATE + r.uniform() * 0.04 * RATE) as usize;
    }
    x.into_iter().map(|v| v as f32).collect()
}

fn filter() -> Filter {
    let cfg = FilterConfig::default()
        .check(RATE)
        .expect("the default filter is valid at 20 kHz");
    Filter::new(&cfg, None)
}

fn benches(c: &mut Criterion) {
    let dcfg = DetectConfig::default()
        .check(RATE)
        .expect("the default detection is valid at 20 kHz");
    let fcfg = FilterConfig::default()
        .check(RATE)
        .expect("the default filter is valid at 20 kHz");
    let f = filter();
    let template = Filter::new(&fcfg, Some(50.0));
    let comb_cfg = FilterConfig {
        hum_removal: HumRemoval::Comb,
        ..Default::default()
    }
    .check(RATE)
    .expect("the comb filter is valid at 20 kHz");
    let comb = Filter::new(&comb_cfg, Some(50.0));
    let mut g = c.benchmark_group("dsp");
    g.sample_size(10);
    for &n in &SIZES {
        let x = signal(n);
        let mut y = vec![0.0f32; n];
        let mut s = Scratch::default();
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("filter", n), &n, |b, _| {
            b.iter(|| f.filtfilt(&x, &mut y, &mut s))
        });
        g.bench_with_input(BenchmarkId::new("filter+template50", n), &n, |b, _| {
            b.iter(|| template.filtfilt(&x, &mut y, &mut s))
        });
        g.bench_with_input(BenchmarkId::new("filter+comb50", n), &n, |b, _| {
            b.iter(|| comb.filtfilt(&x, &mut y, &mut s))
        });
        f.filtfilt(&x, &mut y, &mut s);
        g.bench_with_input(BenchmarkId::new("detect", n), &n, |b, _| {
            b.iter(|| detect(&x, &y, None, &dcfg))
        });
        g.bench_with_input(BenchmarkId::new("filter+detect", n), &n, |b, _| {
            b.iter(|| {
                f.filtfilt(&x, &mut y, &mut s);
                detect(&x, &y, None, &dcfg)
            })
        });
        if n == SIZES[SIZES.len() - 1] {
            g.bench_with_input(BenchmarkId::new("stream", n), &n, |b, _| {
                b.iter(|| {
                    let mut det = Detector::new(&dcfg);
                    detect_stream(
                        n as u64,
                        &f,
                        &mut det,
                        DEFAULT_BLOCK_LEN,
                        None,
                        None,
                        |start, buf| {
                            buf.copy_from_slice(&x[start as usize..start as usize + buf.len()]);
                            Ok(())
                        },
                    )
                })
            });
            g.bench_with_input(BenchmarkId::new("stream-noop", n), &n, |b, _| {
                b.iter(|| {
                    let mut sum = 0.0f32;
                    for blk in f.blocks(n as u64, DEFAULT_BLOCK_LEN, 0) {
                        let r = blk.input.start as usize..blk.input.end as usize;
                        y[..r.len()].copy_from_slice(&x[r.clone()]);
                        sum += y[0];
                    }
                    sum
                })
            });
        }
    }
    g.finish();
}

criterion_group!(dsp, benches);
criterion_main!(dsp);
