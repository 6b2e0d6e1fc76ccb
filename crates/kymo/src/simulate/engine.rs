//! The block renderer: pulls discharges from every source, adds their templates into the
//! output block, adds noise and artefacts, pushes the block to the sink and streams the
//! truth.
//!
//! # Why the output does not depend on the block size
//!
//! - Every random draw comes from a per-purpose stream (see [`super::rng`]) consumed in the
//!   same order whatever the blocks: generators are pulled discharge by discharge, noise
//!   sample by sample, oscillators resynchronised on absolute sample indices.
//! - Each output sample is the sum, in a fixed order, of the potentials and transients
//!   covering it (sorted by time on the sub-sample grid, then source, then unit), then the
//!   noise, then the hum and wander. Float addition is not associative, so this order is what
//!   makes samples bit-identical across block sizes.
//! - The truth is written in the same key order: a potential is written once no later pull
//!   can produce an earlier one (its sample is before the current block's end, and every
//!   source has been pulled up to the block end plus its longest template lead).

use std::collections::{BTreeMap, BTreeSet};

use super::filter::Band;
use super::firing::{build, unit_count, Discharge, EventPlan, Firing};
use super::recording::{Continuous, Movement, Noise, Pops, Transient, TransientSource};
use super::rng::{log_uniform, stream, Stream};
use super::scenario::{
    Class, Electrode, MyotonicWaveform, NoiseLevel, Scenario, SourceSpec, WaveformSpec,
};
use super::truth::{
    ArtefactRecord, EventRecord, PotentialRecord, RecordingRecord, TruthHeader, TruthSink,
    TruthSummary, UnitRecord, TRUTH_VERSION,
};
use super::waveform::{self, Template, SUBSAMPLE_PHASES};
use crate::{Error, Result};
use rand_chacha::ChaCha8Rng;

/// Samples per channel in one block when none is set (16 384: 0.8 s at 20 kHz, 64 KiB per
/// channel).
pub const DEFAULT_BLOCK_LEN: usize = 16_384;

/// What a sample sink needs to know before the first block.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingInfo {
    /// Sampling rate of every channel, Hz.
    pub rate_hz: f64,
    /// Samples per channel.
    pub n_samples: u64,
    /// Channel labels.
    pub channels: Vec<String>,
    /// Physical unit of the samples (`uV`).
    pub unit: String,
    /// Needle or surface.
    pub electrode: Electrode,
    /// The band-pass `[high-pass, low-pass]`, Hz (for an EDF prefilter field).
    pub band_hz: [f64; 2],
    /// A symmetric range `±range_uv` that the samples are expected to stay within: four
    /// times the largest template peak on any channel, plus six noise standard deviations,
    /// plus the largest hum, wander and artefact amplitudes. Not a guarantee (many units
    /// can overlap): a fixed-range writer such as EDF should clip beyond it.
    pub range_uv: f64,
}

/// Where the simulator sends the samples, one block at a time.
pub trait SampleSink {
    /// Called once before the first block.
    fn begin(&mut self, info: &RecordingInfo) -> Result<()> {
        let _ = info;
        Ok(())
    }
    /// One block: `channels[c]` holds the next samples of channel `c` (µV); every channel has
    /// the same length; blocks follow each other without gaps.
    fn push(&mut self, channels: &[&[f32]]) -> Result<()>;
    /// Called once after the last block.
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// A sink that discards the samples (benchmarks, truth-only runs).
#[derive(Debug, Clone, Copy, Default)]
pub struct NullSink;

impl SampleSink for NullSink {
    fn push(&mut self, _: &[&[f32]]) -> Result<()> {
        Ok(())
    }
}

/// A sink that keeps every sample in memory (tests, short demos).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct VecSink {
    /// One vector per channel.
    pub channels: Vec<Vec<f32>>,
}

impl SampleSink for VecSink {
    fn begin(&mut self, info: &RecordingInfo) -> Result<()> {
        self.channels = vec![Vec::new(); info.channels.len()];
        Ok(())
    }
    fn push(&mut self, block: &[&[f32]]) -> Result<()> {
        for (c, b) in block.iter().enumerate() {
            if let Some(v) = self.channels.get_mut(c) {
                v.extend_from_slice(b);
            }
        }
        Ok(())
    }
}

/// One motor unit (or fibre, or complex).
struct Unit {
    template: Template,
    gains: Vec<f32>,
    class: Class,
}

/// One source copy and its look-ahead.
struct Source {
    firing: Box<dyn Firing>,
    /// Global ids of its units.
    units: Vec<usize>,
    class: Class,
    /// Longest template lead (samples before the reference) among its units.
    max_pre: u64,
    peek: Option<Discharge>,
    /// The generator returned `None`: never call it again (generators are not fused).
    done: bool,
}

/// Ordering key of potentials and transients: sub-sample time, then source, then unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    q: u64,
    src: u32,
    unit: u32,
}

enum Wave {
    Potential {
        unit: usize,
        phase: usize,
        scale: f32,
    },
    Transient {
        channels: Vec<(usize, f32)>,
        wave: Vec<f32>,
    },
}

struct Active {
    key: Key,
    /// First output sample (may be negative near the start).
    start: i64,
    len: usize,
    wave: Wave,
}

enum Item {
    Potential {
        src: usize,
        unit: usize,
        t: f64,
        sample: u64,
        scale: f64,
        event: u64,
        plan: Option<Box<EventPlan>>,
    },
    Artefact(ArtefactRecord),
}

struct Pending {
    key: Key,
    item: Item,
}

/// An event being accumulated from its potentials.
struct EventAcc {
    rec: EventRecord,
    units: BTreeSet<usize>,
}

/// A configured simulation, ready to run.
///
/// Building it validates the scenario, draws every unit's template and gains, and sets the
/// noise level; [`Simulation::run`] then streams the recording.
pub struct Simulation {
    fs: f64,
    n_samples: u64,
    block_len: usize,
    units: Vec<Unit>,
    sources: Vec<Source>,
    /// Artefact generators with their look-ahead and whether they are exhausted.
    transients: Vec<(Box<dyn TransientSource>, Option<Transient>, bool)>,
    noise: Vec<Noise>,
    continuous: Continuous,
    continuous_records: Vec<ArtefactRecord>,
    header: TruthHeader,
    info: RecordingInfo,
}

fn template_for(
    spec: &SourceSpec,
    w: &WaveformSpec,
    e: Electrode,
    rng: &mut ChaCha8Rng,
    fs: f64,
    band: &mut Band,
) -> Result<Template> {
    match spec {
        SourceSpec::ComplexRepetitive(_) => waveform::complex(rng, &w.complex, fs, band),
        SourceSpec::Fibrillation(_) => waveform::spike(rng, &w.fibrillation, fs, band, false),
        SourceSpec::PositiveSharpWave(_) => waveform::psw(rng, &w.positive_sharp_wave, fs, band),
        SourceSpec::Myotonic(s) => match s.waveform {
            MyotonicWaveform::Fibrillation => {
                waveform::spike(rng, &w.fibrillation, fs, band, false)
            }
            MyotonicWaveform::PositiveSharpWave => {
                waveform::psw(rng, &w.positive_sharp_wave, fs, band)
            }
        },
        SourceSpec::EndplateSpike(_) => waveform::spike(rng, &w.endplate_spike, fs, band, true),
        _ => waveform::muap(rng, &w.muap.params(e), fs, band, e == Electrode::Surface),
    }
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    })
}

impl Simulation {
    /// Validates `scenario` and prepares the simulation for `seed`.
    pub fn new(scenario: &Scenario, seed: u64) -> Result<Simulation> {
        scenario.validate()?;
        let sc = scenario.effective();
        let rec = &sc.recording;
        let fs = rec.rate();
        let seconds = sc.seconds;
        let n_samples = (seconds * fs).ceil() as u64;
        let band_hz = rec.band();
        let band = Band::new(band_hz, fs);
        let n_ch = rec.channels;
        let e = rec.electrode;

        let mut units: Vec<Unit> = Vec::new();
        let mut sources: Vec<Source> = Vec::new();
        let mut unit_records: Vec<UnitRecord> = Vec::new();
        for spec in &sc.sources {
            let w = spec.window();
            for _ in 0..spec.count() {
                let si = sources.len();
                let mut srng = stream(seed, Stream::Source, si as u64);
                let n = unit_count(spec, &mut srng);
                let first = units.len();
                let ids: Vec<usize> = (first..first + n).collect();
                let mut max_pre = 0u64;
                for &id in &ids {
                    let mut urng = stream(seed, Stream::Unit, id as u64);
                    let mut b = band.clone();
                    let template = template_for(spec, &sc.waveforms, e, &mut urng, fs, &mut b)
                        .map_err(|err| {
                            Error::config(format!(
                                "simulate: scenario {}: unit {id} ({}): {}",
                                sc.name,
                                spec.class().name(),
                                err.to_string().trim_start_matches("simulate: ")
                            ))
                        })?;
                    let gains: Vec<f32> = (0..n_ch)
                        .map(|c| {
                            if c == 0 {
                                1.0
                            } else {
                                log_uniform(&mut urng, rec.channel_gain) as f32
                            }
                        })
                        .collect();
                    max_pre = max_pre.max(template.pre() as u64);
                    units.push(Unit {
                        template,
                        gains,
                        class: spec.class(),
                    });
                }
                let unit_rngs: Vec<ChaCha8Rng> =
                    if n > 1 || matches!(spec, SourceSpec::Voluntary(_) | SourceSpec::Cramp(_)) {
                        ids.iter()
                            .map(|&id| stream(seed, Stream::UnitFiring, id as u64))
                            .collect()
                    } else {
                        Vec::new()
                    };
                let firing = build(spec, srng, unit_rngs, w[0] * seconds, w[1] * seconds);
                sources.push(Source {
                    firing,
                    units: ids,
                    class: spec.class(),
                    max_pre,
                    peek: None,
                    done: false,
                });
            }
        }

        // Noise level per channel (definition on `NoiseLevel`).
        let unit_rms = |u: &Unit, c: usize| u.template.stats().rms * u.gains[c] as f64;
        let mut noise_rms = Vec::with_capacity(n_ch);
        for c in 0..n_ch {
            let sigma = match rec.noise {
                NoiseLevel::RmsUv(x) => x,
                NoiseLevel::SnrDb(x) => {
                    let m = median(units.iter().map(|u| unit_rms(u, c)).collect()).unwrap_or(0.0);
                    m / 10f64.powf(x / 20.0)
                }
            };
            noise_rms.push(sigma);
        }
        for (si, s) in sources.iter().enumerate() {
            for &id in &s.units {
                let u = &units[id];
                let st = u.template.stats();
                unit_records.push(UnitRecord {
                    id,
                    source: si,
                    class: u.class,
                    waveform: u.template.kind(),
                    p2p_uv: st.p2p,
                    duration_ms: st.duration_s * 1e3,
                    phases: st.phases,
                    first_phase: st.first_phase,
                    rms_uv: st.rms,
                    onset_ms: u.template.onset_s() * 1e3,
                    end_ms: u.template.end_s() * 1e3,
                    gains: u.gains.iter().map(|&g| g as f64).collect(),
                    snr_db: (0..n_ch)
                        .map(|c| {
                            (noise_rms[c] > 0.0)
                                .then(|| 20.0 * (unit_rms(u, c) / noise_rms[c]).log10())
                        })
                        .collect(),
                });
            }
        }
        unit_records.sort_by_key(|u| u.id);

        let noise: Vec<Noise> = (0..n_ch)
            .map(|c| Noise::new(seed, c, &band, fs, noise_rms[c]))
            .collect();
        let (continuous, continuous_records) =
            Continuous::new(seed, &rec.mains, &rec.wander, fs, seconds, n_ch);
        let mut transients: Vec<(Box<dyn TransientSource>, Option<Transient>, bool)> = Vec::new();
        if rec.movement.rate_per_min > 0.0 {
            let m = Movement::new(seed, &rec.movement, fs, seconds, n_ch);
            transients.push((Box::new(m), None, false));
        }
        if rec.pops.rate_per_min > 0.0 {
            for c in 0..n_ch {
                let p = Pops::new(seed, &rec.pops, fs, seconds, c);
                transients.push((Box::new(p), None, false));
            }
        }

        let peak = (0..n_ch)
            .map(|c| {
                units
                    .iter()
                    .map(|u| {
                        let p = u.template.phase(0);
                        p.iter().fold(0.0f64, |m, &v| m.max(v.abs() as f64)) * u.gains[c] as f64
                    })
                    .fold(0.0, f64::max)
            })
            .fold(0.0, f64::max);
        let sigma_max = noise_rms.iter().cloned().fold(0.0, f64::max);
        let tbound: f64 = transients
            .iter()
            .map(|(t, _, _)| t.bound())
            .fold(0.0, f64::max);
        let range = 4.0 * peak + 6.0 * sigma_max + continuous.bound() + tbound;
        // Round up to a multiple of 100 µV, at least 100 µV.
        let range_uv = ((range / 100.0).ceil() * 100.0).max(100.0);

        let labels: Vec<String> = (0..n_ch).map(|c| format!("EMG{}", c + 1)).collect();
        let info = RecordingInfo {
            rate_hz: fs,
            n_samples,
            channels: labels.clone(),
            unit: "uV".to_string(),
            electrode: e,
            band_hz,
            range_uv,
        };
        let header = TruthHeader {
            truth_version: TRUTH_VERSION,
            generator: format!("kymo {}", env!("CARGO_PKG_VERSION")),
            seed,
            scenario: sc.clone(),
            recording: RecordingRecord {
                electrode: e,
                rate_hz: fs,
                seconds,
                n_samples,
                channels: labels,
                unit: "uV".to_string(),
                band_hz,
                time_resolution_s: 1.0 / (SUBSAMPLE_PHASES as f64 * fs),
                noise_rms_uv: noise_rms,
                snr_db: match rec.noise {
                    NoiseLevel::SnrDb(x) => Some(x),
                    NoiseLevel::RmsUv(_) => None,
                },
            },
            units: unit_records,
        };
        Ok(Simulation {
            fs,
            n_samples,
            block_len: DEFAULT_BLOCK_LEN,
            units,
            sources,
            transients,
            noise,
            continuous,
            continuous_records,
            header,
            info,
        })
    }

    /// Sets the block length in samples (≥ 1). The output does not depend on it.
    pub fn with_block_len(mut self, n: usize) -> Simulation {
        self.block_len = n.max(1);
        self
    }

    /// What a sample sink is told before the first block.
    pub fn info(&self) -> &RecordingInfo {
        &self.info
    }

    /// The truth file's header: recording settings and every unit.
    pub fn header(&self) -> &TruthHeader {
        &self.header
    }

    /// The template of unit `id` (µV at scale 1 on channel 0).
    pub fn template(&self, id: usize) -> Option<&Template> {
        self.units.get(id).map(|u| &u.template)
    }

    /// Runs the simulation to the end, streaming samples to `sink` and the truth to `truth`.
    pub fn run(
        mut self,
        sink: &mut dyn SampleSink,
        truth: &mut dyn TruthSink,
    ) -> Result<TruthSummary> {
        sink.begin(&self.info)?;
        truth.begin(&self.header)?;
        let mut summary = TruthSummary::default();
        for r in std::mem::take(&mut self.continuous_records) {
            truth.artefact(&r)?;
            summary.artefacts += 1;
        }
        let p = SUBSAMPLE_PHASES as u64;
        let n_ch = self.noise.len();
        let mut bufs = vec![vec![0.0f32; self.block_len]; n_ch];
        let mut active: Vec<Active> = Vec::new();
        let mut pending: Vec<Pending> = Vec::new();
        let mut w = TruthState {
            open: (0..self.sources.len()).map(|_| (None, None)).collect(),
            next_id: 0,
        };
        let n_src = self.sources.len() as u32;
        let mut b0 = 0u64;
        while b0 < self.n_samples {
            let b1 = (b0 + self.block_len as u64).min(self.n_samples);
            let len = (b1 - b0) as usize;
            for b in &mut bufs {
                b[..len].fill(0.0);
            }
            let mut added = false;
            for (si, src) in self.sources.iter_mut().enumerate() {
                loop {
                    if src.peek.is_none() && !src.done {
                        src.peek = src.firing.next();
                        src.done = src.peek.is_none();
                    }
                    let Some(d) = &src.peek else { break };
                    let q = (d.t * self.fs * p as f64).round().max(0.0) as u64;
                    if q / p >= b1 + src.max_pre {
                        break;
                    }
                    let Some(d) = src.peek.take() else { break };
                    let sample = (q + p / 2) / p;
                    if sample >= self.n_samples {
                        continue;
                    }
                    let unit = src.units[d.unit];
                    let t = &self.units[unit].template;
                    let key = Key {
                        q,
                        src: si as u32,
                        unit: d.unit as u32,
                    };
                    active.push(Active {
                        key,
                        start: (q / p) as i64 - t.pre() as i64,
                        len: t.len(),
                        wave: Wave::Potential {
                            unit,
                            phase: (q % p) as usize,
                            scale: d.scale as f32,
                        },
                    });
                    pending.push(Pending {
                        key,
                        item: Item::Potential {
                            src: si,
                            unit,
                            t: q as f64 / (p as f64 * self.fs),
                            sample,
                            scale: d.scale,
                            event: d.event,
                            plan: d.plan,
                        },
                    });
                    added = true;
                }
            }
            for (ai, (gen, peek, done)) in self.transients.iter_mut().enumerate() {
                loop {
                    if peek.is_none() && !*done {
                        *peek = gen.next();
                        *done = peek.is_none();
                    }
                    match peek {
                        Some(tr) if tr.start < b1 => {}
                        _ => break,
                    }
                    let Some(tr) = peek.take() else { break };
                    let key = Key {
                        q: tr.start * p,
                        src: n_src + ai as u32,
                        unit: 0,
                    };
                    active.push(Active {
                        key,
                        start: tr.start as i64,
                        len: tr.wave.len(),
                        wave: Wave::Transient {
                            channels: tr.channels,
                            wave: tr.wave,
                        },
                    });
                    pending.push(Pending {
                        key,
                        item: Item::Artefact(tr.record),
                    });
                    added = true;
                }
            }
            if added {
                active.sort_by_key(|a| a.key);
            }
            for a in &active {
                match &a.wave {
                    Wave::Potential { unit, phase, scale } => {
                        let u = &self.units[*unit];
                        let data = u.template.phase(*phase);
                        for (c, buf) in bufs.iter_mut().enumerate() {
                            add_segment(&mut buf[..len], b0, a.start, data, u.gains[c] * scale);
                        }
                    }
                    Wave::Transient { channels, wave } => {
                        for &(c, f) in channels {
                            if let Some(buf) = bufs.get_mut(c) {
                                add_segment(&mut buf[..len], b0, a.start, wave, f);
                            }
                        }
                    }
                }
            }
            active.retain(|a| a.start + a.len as i64 > b1 as i64);
            for (c, buf) in bufs.iter_mut().enumerate() {
                self.noise[c].add(&mut buf[..len]);
            }
            if !self.continuous.is_empty() {
                let blk = self.continuous.block(b0, len);
                for buf in &mut bufs {
                    for (o, &v) in buf[..len].iter_mut().zip(blk) {
                        *o += v as f32;
                    }
                }
            }
            let slices: Vec<&[f32]> = bufs.iter().map(|b| &b[..len]).collect();
            sink.push(&slices)?;

            pending.sort_by_key(|x| x.key);
            let cut = pending.partition_point(|x| x.key.q / p < b1);
            for item in pending.drain(..cut) {
                w.write(item.item, &self.units, &self.sources, truth, &mut summary)?;
            }
            b0 = b1;
        }
        pending.sort_by_key(|x| x.key);
        for item in pending.drain(..) {
            w.write(item.item, &self.units, &self.sources, truth, &mut summary)?;
        }
        for si in 0..w.open.len() {
            w.close(si, truth, &mut summary)?;
        }
        // The signal first: a truth file describes a recording, so it appears only once the
        // recording is complete.
        sink.finish()?;
        truth.finish(&summary)?;
        Ok(summary)
    }
}

/// Adds `g · data` placed at output sample `start` into the block `out` that begins at
/// sample `b0`.
#[inline]
fn add_segment(out: &mut [f32], b0: u64, start: i64, data: &[f32], g: f32) {
    let b0 = b0 as i64;
    let lo = start.max(b0);
    let hi = (start + data.len() as i64).min(b0 + out.len() as i64);
    if lo >= hi {
        return;
    }
    let o = &mut out[(lo - b0) as usize..(hi - b0) as usize];
    let d = &data[(lo - start) as usize..(hi - start) as usize];
    for (x, &y) in o.iter_mut().zip(d) {
        *x += g * y;
    }
}

/// Per-source open event while the truth is written.
struct TruthState {
    /// Per source: the source-local number of the open event, and its accumulator.
    open: Vec<(Option<u64>, Option<EventAcc>)>,
    next_id: u64,
}

impl TruthState {
    fn close(
        &mut self,
        si: usize,
        truth: &mut dyn TruthSink,
        summary: &mut TruthSummary,
    ) -> Result<()> {
        if let Some(mut acc) = self.open[si].1.take() {
            acc.rec.units = acc.units.into_iter().collect();
            truth.event(&acc.rec)?;
            summary.events += 1;
        }
        Ok(())
    }

    fn write(
        &mut self,
        item: Item,
        units: &[Unit],
        sources: &[Source],
        truth: &mut dyn TruthSink,
        summary: &mut TruthSummary,
    ) -> Result<()> {
        match item {
            Item::Artefact(r) => {
                truth.artefact(&r)?;
                summary.artefacts += 1;
            }
            Item::Potential {
                src,
                unit,
                t,
                sample,
                scale,
                event,
                plan,
            } => {
                if self.open[src].0 != Some(event) {
                    self.close(src, truth, summary)?;
                    self.open[src].0 = Some(event);
                }
                let u = &units[unit];
                let class = sources[src].class;
                let next_id = &mut self.next_id;
                let acc = self.open[src].1.get_or_insert_with(|| {
                    let id = *next_id;
                    *next_id += 1;
                    EventAcc {
                        rec: EventRecord {
                            id,
                            class,
                            source: src,
                            start_s: f64::INFINITY,
                            end_s: f64::NEG_INFINITY,
                            first_s: t,
                            last_s: t,
                            units: Vec::new(),
                            n_potentials: 0,
                            params: BTreeMap::new(),
                        },
                        units: BTreeSet::new(),
                    }
                });
                if let Some(plan) = plan {
                    acc.rec.class = plan.class;
                    acc.rec.params = plan.params;
                }
                let r = &mut acc.rec;
                r.start_s = r.start_s.min(t + u.template.onset_s());
                r.end_s = r.end_s.max(t + u.template.end_s());
                r.first_s = r.first_s.min(t);
                r.last_s = r.last_s.max(t);
                r.n_potentials += 1;
                acc.units.insert(unit);
                let p2p = u.template.stats().p2p;
                let rec = PotentialRecord {
                    t,
                    sample,
                    unit,
                    class,
                    event: r.id,
                    scale,
                    amplitude_uv: u.gains.iter().map(|&g| p2p * scale * g as f64).collect(),
                };
                truth.potential(&rec)?;
                summary.potentials += 1;
            }
        }
        Ok(())
    }
}

/// Validates `scenario`, simulates it with `seed`, and streams samples to `sink` and the
/// ground truth to `truth`. Same scenario and seed → identical samples and truth.
pub fn run(
    scenario: &Scenario,
    seed: u64,
    sink: &mut dyn SampleSink,
    truth: &mut dyn TruthSink,
) -> Result<TruthSummary> {
    Simulation::new(scenario, seed)?.run(sink, truth)
}
