//! Spike sorting throughput: spikes per second at 10³, 10⁴ and 10⁵ spikes.
//!
//! The input is what the detector hands the sorter: 20 ms windows (−5 … +15 ms, 400 samples
//! at 20 kHz) around each detected peak. Five needle motor unit potentials drawn by the
//! simulator (the `fasciculations` scenario's units, seed 1) fire as independent Poisson
//! trains at 10 Hz each (50 potentials/s, so neighbouring potentials enter about a fifth of
//! the windows), each window holding its potential, the neighbours that fall in it and
//! white noise at a fifth of the smallest unit's peak. The windows are built directly, so
//! that 10⁵ spikes (over half an hour of activity) need no half-hour signal in memory.
//! Building the input is setup and not timed; the same seed every time.
//!
//! Run: `cargo bench -p kymo --bench sort`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kymo::simulate::{self, Simulation};
use kymo::sort::{sort, SortConfig, SortInput, Waveforms};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

const RATE_HZ: f64 = 20_000.0;
const PRE: usize = 100;
const LEN: usize = 400;
const FIRING_HZ: f64 = 10.0;

struct Input {
    waveforms: Vec<f32>,
    samples: Vec<u64>,
    sigma: f32,
}

fn input(n: usize) -> Input {
    let sim = Simulation::new(&simulate::builtin("fasciculations").expect("built-in"), 1)
        .expect("valid scenario");
    let units: Vec<(Vec<f32>, usize)> = (0..5)
        .map(|u| {
            let t = sim.template(u).expect("unit");
            (t.phase(0).to_vec(), t.pre())
        })
        .collect();
    let smallest = units
        .iter()
        .map(|(t, _)| t.iter().fold(0.0f32, |m, v| m.max(v.abs())))
        .fold(f32::INFINITY, f32::min);
    let sigma = smallest / 5.0;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    // Merged Poisson trains: exponential gaps at the total rate, a random unit each.
    let total = FIRING_HZ * units.len() as f64;
    let mut t = 1.0f64;
    let mut spikes: Vec<(u64, usize)> = Vec::with_capacity(n);
    while spikes.len() < n {
        t += -(1.0 - rng.random::<f64>()).ln() / total;
        let s = (t * RATE_HZ) as u64;
        if spikes.last().is_some_and(|l| s <= l.0 + 20) {
            continue; // the detector's 1 ms dead time
        }
        spikes.push((s, (rng.random::<u64>() % units.len() as u64) as usize));
    }
    let mut waveforms = vec![0.0f32; n * LEN];
    for (i, &(s, _)) in spikes.iter().enumerate() {
        let row = &mut waveforms[i * LEN..(i + 1) * LEN];
        for v in row.iter_mut() {
            *v = sigma * rng.sample::<f32, _>(StandardNormal);
        }
        // Every potential whose template reaches into this window.
        let lo = spikes.partition_point(|p| p.0 + 2 * LEN as u64 <= s);
        for &(sj, u) in spikes[lo..].iter().take_while(|p| p.0 < s + 2 * LEN as u64) {
            let (tmpl, tpre) = &units[u];
            // Window sample j is at s − PRE + j; the template's sample k at sj − tpre + k.
            for (k, &v) in tmpl.iter().enumerate() {
                let abs = sj as i64 - *tpre as i64 + k as i64;
                let j = abs - (s as i64 - PRE as i64);
                if (0..LEN as i64).contains(&j) {
                    row[j as usize] += v;
                }
            }
        }
    }
    Input {
        waveforms,
        samples: spikes.iter().map(|p| p.0).collect(),
        sigma,
    }
}

fn bench(c: &mut Criterion) {
    let cfg = SortConfig::default().check().expect("defaults are valid");
    let mut g = c.benchmark_group("sort");
    g.sample_size(10);
    for n in [1_000usize, 10_000, 100_000] {
        let inp = input(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::new("spikes", n), &inp, |b, inp| {
            b.iter(|| {
                let s = sort(
                    &SortInput {
                        rate_hz: RATE_HZ,
                        waveforms: Waveforms::Matrix(&inp.waveforms),
                        wave_len: LEN,
                        pre_samples: PRE,
                        spike_samples: &inp.samples,
                        noise_sigma_uv: inp.sigma,
                    },
                    &cfg,
                )
                .expect("valid input");
                black_box(s)
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
