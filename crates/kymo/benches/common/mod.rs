//! The reading benches' shared loop: one criterion group timing a reader over a whole file
//! in 1 s windows channel after channel (what a viewer does) and, when `block` is given, in
//! the analysis's blocks channel by channel (what `analyze` does).

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use kymo::io::SignalReader;

/// The file's shape: channels × rate × seconds, all channels at one rate.
pub struct Shape {
    pub channels: usize,
    pub rate: usize,
    pub seconds: usize,
}

/// Times `reader` in group `group`; benchmark names are `{prefix}1s_windows` and
/// `{prefix}channel_blocks`.
pub fn bench_reader(
    c: &mut Criterion,
    group: &str,
    prefix: &str,
    reader: &mut dyn SignalReader,
    shape: &Shape,
    block: Option<usize>,
    measurement: Duration,
) {
    let Shape {
        channels,
        rate,
        seconds,
    } = *shape;
    assert_eq!(reader.header().channels.len(), channels);
    let mut g = c.benchmark_group(group);
    g.throughput(Throughput::Elements((channels * rate * seconds) as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(2));
    g.measurement_time(measurement);
    let mut buf = vec![0.0f32; rate];
    g.bench_function(format!("{prefix}1s_windows"), |b| {
        b.iter(|| {
            let mut acc = 0.0f32;
            for sec in 0..seconds as u64 {
                for ch in 0..channels {
                    reader.read(ch, sec * rate as u64, &mut buf).expect("read");
                    acc += buf[0] + buf[rate - 1];
                }
            }
            black_box(acc)
        })
    });
    if let Some(block) = block {
        let mut buf = vec![0.0f32; block];
        let n = (rate * seconds) as u64;
        g.bench_function(format!("{prefix}channel_blocks"), |b| {
            b.iter(|| {
                let mut acc = 0.0f32;
                for ch in 0..channels {
                    let mut start = 0u64;
                    while start < n {
                        let len = (n - start).min(block as u64) as usize;
                        reader.read(ch, start, &mut buf[..len]).expect("read");
                        acc += buf[0] + buf[len - 1];
                        start += len as u64;
                    }
                }
                black_box(acc)
            })
        });
    }
    g.finish();
}
