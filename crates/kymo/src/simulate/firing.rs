//! Firing generators: when each unit discharges, one generator per class.
//!
//! A generator is a streaming iterator over time: [`Firing::next`] returns the source's next
//! discharge (time in seconds, which of its units, amplitude scale, event) in time order,
//! drawing random numbers only as it goes, so its state is a few numbers whatever the
//! recording's length. Each generator draws from its own random stream (see
//! [`super::rng`]), so its discharges do not depend on any other source or on the block size.
//!
//! **Events.** Every discharge belongs to an event (a burst, a discharge, a train, a
//! contraction, or a single fasciculation). The first discharge of an event carries its
//! [`EventPlan`]: its class and the parameters that made it. Episodic events (bursts,
//! neuromyotonic, complex repetitive and myotonic discharges, cramps, contractions, doublet
//! groups) are only started when they end inside the source's window, so none is cut short;
//! trains (fibrillations, positive sharp waves, regular discharges, continuous myokymia,
//! endplate spikes) are one event spanning the window. A source's events never overlap in time.
//!
//! Parameters and their sources are documented on the spec structs in [`super::scenario`].

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Gamma};

use super::rng::{exponential, normal, uniform, uniform_count};
use super::scenario::{
    Class, ComplexRepetitiveSpec, CrampSpec, DoubletSpec, EndplateSpec, FasciculationSpec,
    MyokymicContinuousSpec, MyokymicSpec, MyotonicSpec, NeuromyotonicSpec, RegularSpec, SourceSpec,
    TrainSpec, VoluntarySpec,
};
use std::collections::VecDeque;

/// Intervals drawn from a Gaussian are kept above this fraction of their mean (a
/// truncation that only bites beyond 4 standard deviations at CV 0.2).
const MIN_INTERVAL_FRACTION: f64 = 0.2;

/// How often an unrecruited voluntary unit checks the excitation, s (kymo: 5 ms, a small
/// fraction of the 50–170 ms intervals at 6–20 Hz).
const RECRUITMENT_POLL_S: f64 = 0.005;

/// Fibrillation trains never slow below this fraction of their initial rate (kymo), so a
/// long recording with a steep drift still has a train.
const MIN_DRIFT_FACTOR: f64 = 0.25;

/// What made an event: its class and parameters (all numbers, named in the truth schema).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EventPlan {
    pub class: Class,
    pub params: BTreeMap<String, f64>,
}

impl EventPlan {
    fn new(class: Class, params: &[(&str, f64)]) -> Box<EventPlan> {
        Box::new(EventPlan {
            class,
            params: params.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        })
    }
}

/// One discharge of a source.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Discharge {
    /// Time of the potential's reference point (its peak), s from the recording start.
    pub t: f64,
    /// Which of the source's units (0 for single-unit sources).
    pub unit: usize,
    /// Amplitude scale (1 = the unit's template amplitude).
    pub scale: f64,
    /// The source-local event number (increasing).
    pub event: u64,
    /// Set on the event's first discharge.
    pub plan: Option<Box<EventPlan>>,
}

/// A streaming discharge generator.
pub(crate) trait Firing: Send {
    /// The next discharge in time order, or `None` once the source is silent for good.
    /// Generators are not fused: after `None` the caller must not call again (the engine
    /// remembers).
    fn next(&mut self) -> Option<Discharge>;
}

/// How many units a source of this spec drives (drawn from the source's stream for cramps).
pub(crate) fn unit_count(spec: &SourceSpec, rng: &mut ChaCha8Rng) -> usize {
    match spec {
        SourceSpec::Voluntary(s) => s.units as usize,
        SourceSpec::Cramp(s) => uniform_count(rng, s.units) as usize,
        _ => 1,
    }
}

/// Builds the generator of one source copy active in `[t0, t1)` s. `rng` is the source's
/// stream (already used by [`unit_count`]); `unit_rngs` gives one stream per unit of a
/// multi-unit source.
pub(crate) fn build(
    spec: &SourceSpec,
    rng: ChaCha8Rng,
    unit_rngs: Vec<ChaCha8Rng>,
    t0: f64,
    t1: f64,
) -> Box<dyn Firing> {
    let w = Window { t0, t1 };
    match spec {
        SourceSpec::Voluntary(s) => Box::new(Voluntary::new(s.clone(), rng, unit_rngs, w)),
        SourceSpec::Fasciculation(s) => Box::new(Fasciculation::new(s, rng, w)),
        SourceSpec::Doublet(s) => Box::new(Doublet::new(s.clone(), rng, w)),
        SourceSpec::Myokymic(s) => Box::new(Myokymic::new(s.clone(), rng, w)),
        SourceSpec::MyokymicContinuous(s) => Box::new(MyokymicContinuous::new(s, rng, w)),
        SourceSpec::Neuromyotonic(s) => Box::new(Neuromyotonic::new(s.clone(), rng, w)),
        SourceSpec::ComplexRepetitive(s) => Box::new(ComplexRepetitive::new(s.clone(), rng, w)),
        SourceSpec::Fibrillation(s) => Box::new(Train::new(s, Class::Fibrillation, rng, w)),
        SourceSpec::PositiveSharpWave(s) => {
            Box::new(Train::new(s, Class::PositiveSharpWave, rng, w))
        }
        SourceSpec::Myotonic(s) => Box::new(Myotonic::new(s.clone(), rng, w)),
        SourceSpec::Cramp(s) => Box::new(Cramp::new(s.clone(), rng, unit_rngs, w)),
        SourceSpec::Regular(s) => Box::new(Regular::new(s, rng, w)),
        SourceSpec::EndplateSpike(s) => Box::new(Endplate::new(s, rng, w)),
    }
}

#[derive(Debug, Clone, Copy)]
struct Window {
    t0: f64,
    t1: f64,
}

/// A Gaussian interval with mean `mean` and coefficient of variation `cv`, truncated below.
fn gauss_interval(rng: &mut ChaCha8Rng, mean: f64, cv: f64) -> f64 {
    (mean * (1.0 + cv * normal(rng))).max(mean * MIN_INTERVAL_FRACTION)
}

/// Single-discharge output helper.
fn single(t: f64, scale: f64, event: u64, plan: Option<Box<EventPlan>>) -> Option<Discharge> {
    Some(Discharge {
        t,
        unit: 0,
        scale,
        event,
        plan,
    })
}

// ---------------------------------------------------------------------------------------------

/// Poisson process: exponential intervals with mean `1 / rate`.
struct Fasciculation {
    rng: ChaCha8Rng,
    rate: f64,
    t: f64,
    w: Window,
    event: u64,
}

impl Fasciculation {
    fn new(s: &FasciculationSpec, mut rng: ChaCha8Rng, w: Window) -> Self {
        let rate = uniform(&mut rng, s.rate_hz);
        Fasciculation {
            rng,
            rate,
            t: w.t0,
            w,
            event: 0,
        }
    }
}

impl Firing for Fasciculation {
    fn next(&mut self) -> Option<Discharge> {
        self.t += exponential(&mut self.rng, 1.0 / self.rate);
        if self.t >= self.w.t1 {
            return None;
        }
        self.event += 1;
        single(
            self.t,
            1.0,
            self.event,
            Some(EventPlan::new(
                Class::Fasciculation,
                &[("rate_hz", self.rate)],
            )),
        )
    }
}

// ---------------------------------------------------------------------------------------------

/// A queue of planned discharges of one episodic event.
#[derive(Default)]
struct Queue {
    items: VecDeque<(f64, f64)>,
    plan: Option<Box<EventPlan>>,
}

impl Queue {
    fn pop(&mut self, event: u64) -> Option<Discharge> {
        let (t, scale) = self.items.pop_front()?;
        single(t, scale, event, self.plan.take())
    }
}

/// Groups of 2+ potentials 2–20 ms apart; group starts form a renewal process: the next
/// group starts an exponential time (mean `1 / group rate`) after the previous group ends.
struct Doublet {
    s: DoubletSpec,
    rng: ChaCha8Rng,
    rate: f64,
    t: f64,
    w: Window,
    event: u64,
    q: Queue,
}

impl Doublet {
    fn new(s: DoubletSpec, mut rng: ChaCha8Rng, w: Window) -> Self {
        let rate = uniform(&mut rng, s.group_rate_hz);
        Doublet {
            s,
            rng,
            rate,
            t: w.t0,
            w,
            event: 0,
            q: Queue::default(),
        }
    }
}

impl Firing for Doublet {
    fn next(&mut self) -> Option<Discharge> {
        if self.q.items.is_empty() {
            let start = self.t + exponential(&mut self.rng, 1.0 / self.rate);
            let n = uniform_count(&mut self.rng, self.s.potentials);
            let mut t = start;
            let mut sum = 0.0;
            let mut items = VecDeque::with_capacity(n as usize);
            items.push_back((t, 1.0));
            for _ in 1..n {
                let d = uniform(&mut self.rng, self.s.interval_ms) * 1e-3;
                sum += d;
                t += d;
                items.push_back((t, 1.0));
            }
            if t >= self.w.t1 {
                return None;
            }
            self.t = t;
            self.event += 1;
            self.q.items = items;
            self.q.plan = Some(EventPlan::new(
                Class::Doublet,
                &[
                    ("potentials", n as f64),
                    ("mean_interval_ms", sum * 1e3 / (n - 1) as f64),
                    ("group_rate_hz", self.rate),
                ],
            ));
        }
        self.q.pop(self.event)
    }
}

// ---------------------------------------------------------------------------------------------

/// Myokymic bursts (see [`MyokymicSpec`] for the construction of a burst).
struct Myokymic {
    s: MyokymicSpec,
    rng: ChaCha8Rng,
    recurrence: f64,
    centre_rate: f64,
    next_start: f64,
    w: Window,
    event: u64,
    q: Queue,
}

impl Myokymic {
    fn new(s: MyokymicSpec, mut rng: ChaCha8Rng, w: Window) -> Self {
        let recurrence = uniform(&mut rng, s.recurrence_hz);
        let centre_rate = uniform(&mut rng, s.intraburst_rate_hz);
        let next_start = w.t0 + rand::RngExt::random::<f64>(&mut rng) / recurrence;
        Myokymic {
            s,
            rng,
            recurrence,
            centre_rate,
            next_start,
            w,
            event: 0,
            q: Queue::default(),
        }
    }

    /// Plans the burst starting at `start`; returns its discharges (time, scale).
    fn plan(&mut self, start: f64) -> (VecDeque<(f64, f64)>, Box<EventPlan>, f64) {
        let s = &self.s;
        let rng = &mut self.rng;
        let rate = (self.centre_rate * (1.0 + s.burst_rate_cv * normal(rng)))
            .clamp(s.intraburst_rate_hz[0], s.intraburst_rate_hz[1]);
        let cap = 1 + (s.max_duty * rate / self.recurrence).floor() as u32;
        let n = uniform_count(rng, s.potentials_per_burst).min(cap).max(1);
        let amp_trend = uniform(rng, s.amplitude_trend);
        let rate_trend = uniform(rng, s.rate_trend);
        let gaps = (n - 1) as usize;
        let mut iv: Vec<f64> = (0..gaps)
            .map(|k| {
                let u = if gaps > 1 {
                    k as f64 / (gaps - 1) as f64
                } else {
                    0.5
                };
                let rel = 1.0 / (1.0 + rate_trend * u);
                gauss_interval(rng, rel, s.interval_cv)
            })
            .collect();
        let sum: f64 = iv.iter().sum();
        let want = gaps as f64 / rate;
        for v in &mut iv {
            *v *= want / sum;
        }
        let mut items = VecDeque::with_capacity(n as usize);
        let mut t = start;
        for k in 0..n as usize {
            if k > 0 {
                t += iv[k - 1];
            }
            let x = if n > 1 {
                k as f64 / (n - 1) as f64 - 0.5
            } else {
                0.0
            };
            items.push_back((t, 1.0 + amp_trend * x));
        }
        let plan = EventPlan::new(
            Class::Myokymic,
            &[
                ("potentials", n as f64),
                ("intraburst_rate_hz", rate),
                ("recurrence_hz", self.recurrence),
                ("amplitude_trend", amp_trend),
                ("rate_trend", rate_trend),
            ],
        );
        (items, plan, t)
    }
}

impl Firing for Myokymic {
    fn next(&mut self) -> Option<Discharge> {
        if self.q.items.is_empty() {
            let start = self.next_start;
            let (items, plan, end) = self.plan(start);
            if end >= self.w.t1 {
                return None;
            }
            let rate = plan.params["intraburst_rate_hz"];
            let period = 1.0 / self.recurrence;
            let drawn = start + gauss_interval(&mut self.rng, period, self.s.recurrence_cv);
            // Keep at least two intraburst intervals of silence so bursts stay separate.
            self.next_start = drawn.max(end + 2.0 / rate);
            self.event += 1;
            self.q.items = items;
            self.q.plan = Some(plan);
        }
        self.q.pop(self.event)
    }
}

// ---------------------------------------------------------------------------------------------

/// Continuous myokymic train: rate and amplitude modulated by the same sinusoid.
struct MyokymicContinuous {
    rng: ChaCha8Rng,
    rate: f64,
    fm: f64,
    phase: f64,
    depth_r: f64,
    depth_a: f64,
    cv: f64,
    t: f64,
    w: Window,
    first: bool,
}

impl MyokymicContinuous {
    fn new(s: &MyokymicContinuousSpec, mut rng: ChaCha8Rng, w: Window) -> Self {
        let rate = uniform(&mut rng, s.rate_hz);
        let fm = uniform(&mut rng, s.modulation_hz);
        let phase = uniform(&mut rng, [0.0, std::f64::consts::TAU]);
        let t = w.t0 + rand::RngExt::random::<f64>(&mut rng) / rate;
        MyokymicContinuous {
            rng,
            rate,
            fm,
            phase,
            depth_r: s.rate_depth,
            depth_a: s.amplitude_depth,
            cv: s.interval_cv,
            t,
            w,
            first: true,
        }
    }

    fn m(&self, t: f64) -> f64 {
        (std::f64::consts::TAU * self.fm * (t - self.w.t0) + self.phase).sin()
    }
}

impl Firing for MyokymicContinuous {
    fn next(&mut self) -> Option<Discharge> {
        if self.t >= self.w.t1 {
            return None;
        }
        let t = self.t;
        let m = self.m(t);
        let r = self.rate * (1.0 + self.depth_r * m);
        self.t = t + gauss_interval(&mut self.rng, 1.0 / r, self.cv);
        let plan = self.first.then(|| {
            EventPlan::new(
                Class::MyokymicContinuous,
                &[
                    ("rate_hz", self.rate),
                    ("modulation_hz", self.fm),
                    ("rate_depth", self.depth_r),
                    ("amplitude_depth", self.depth_a),
                ],
            )
        });
        self.first = false;
        single(t, 1.0 + self.depth_a * m, 1, plan)
    }
}

// ---------------------------------------------------------------------------------------------

/// State of an episodic discharge (neuromyotonic, complex repetitive, myotonic) in progress.
struct Episode {
    start: f64,
    end: f64,
    t: f64,
}

/// Neuromyotonic discharges.
struct Neuromyotonic {
    s: NeuromyotonicSpec,
    rng: ChaCha8Rng,
    w: Window,
    next_start: f64,
    ep: Option<Episode>,
    rate: f64,
    log_end_amp: f64,
    event: u64,
    plan: Option<Box<EventPlan>>,
}

impl Neuromyotonic {
    fn new(s: NeuromyotonicSpec, mut rng: ChaCha8Rng, w: Window) -> Self {
        let next_start = w.t0 + uniform(&mut rng, [0.0, s.gap_s[1]]);
        Neuromyotonic {
            s,
            rng,
            w,
            next_start,
            ep: None,
            rate: 0.0,
            log_end_amp: 0.0,
            event: 0,
            plan: None,
        }
    }
}

impl Firing for Neuromyotonic {
    fn next(&mut self) -> Option<Discharge> {
        loop {
            if let Some(ep) = &mut self.ep {
                if ep.t < ep.end {
                    let t = ep.t;
                    let x = (t - ep.start) / (ep.end - ep.start);
                    ep.t += gauss_interval(&mut self.rng, 1.0 / self.rate, self.s.interval_cv);
                    return single(
                        t,
                        (self.log_end_amp * x).exp(),
                        self.event,
                        self.plan.take(),
                    );
                }
                self.next_start = ep.end + uniform(&mut self.rng, self.s.gap_s);
                self.ep = None;
            }
            let start = self.next_start;
            let d = uniform(&mut self.rng, self.s.duration_s);
            self.rate = uniform(&mut self.rng, self.s.rate_hz);
            let end_amp = uniform(&mut self.rng, self.s.end_amplitude);
            self.log_end_amp = end_amp.ln();
            if start + d >= self.w.t1 {
                return None;
            }
            self.event += 1;
            self.plan = Some(EventPlan::new(
                Class::Neuromyotonic,
                &[
                    ("rate_hz", self.rate),
                    ("duration_s", d),
                    ("end_amplitude", end_amp),
                ],
            ));
            self.ep = Some(Episode {
                start,
                end: start + d,
                t: start,
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// Complex repetitive discharges: intervals `T·(1 + u)`, `u ~ U(−jitter, jitter)`.
struct ComplexRepetitive {
    s: ComplexRepetitiveSpec,
    rng: ChaCha8Rng,
    w: Window,
    next_start: f64,
    ep: Option<Episode>,
    rate1: f64,
    rate2: f64,
    change: f64,
    event: u64,
    plan: Option<Box<EventPlan>>,
}

impl ComplexRepetitive {
    fn new(s: ComplexRepetitiveSpec, mut rng: ChaCha8Rng, w: Window) -> Self {
        let next_start = w.t0 + uniform(&mut rng, [0.0, s.gap_s[1]]);
        ComplexRepetitive {
            s,
            rng,
            w,
            next_start,
            ep: None,
            rate1: 0.0,
            rate2: 0.0,
            change: f64::INFINITY,
            event: 0,
            plan: None,
        }
    }
}

/// Tries to draw a second rate at least `min_change` away from `r1` (relative); `None`
/// when the range does not allow it.
fn second_rate(rng: &mut ChaCha8Rng, range: [f64; 2], r1: f64, min_change: f64) -> Option<f64> {
    for _ in 0..100 {
        let r2 = uniform(rng, range);
        if (r2 / r1 - 1.0).abs() >= min_change {
            return Some(r2);
        }
    }
    None
}

impl Firing for ComplexRepetitive {
    fn next(&mut self) -> Option<Discharge> {
        loop {
            if let Some(ep) = &mut self.ep {
                if ep.t < ep.end {
                    let t = ep.t;
                    let rate = if t < self.change {
                        self.rate1
                    } else {
                        self.rate2
                    };
                    let u = uniform(&mut self.rng, [-self.s.jitter, self.s.jitter]);
                    ep.t += (1.0 + u) / rate;
                    return single(t, 1.0, self.event, self.plan.take());
                }
                self.next_start = ep.end + uniform(&mut self.rng, self.s.gap_s);
                self.ep = None;
            }
            let start = self.next_start;
            let d = uniform(&mut self.rng, self.s.duration_s);
            self.rate1 = uniform(&mut self.rng, self.s.rate_hz);
            let changes =
                rand::RngExt::random::<f64>(&mut self.rng) < self.s.rate_change_probability;
            let at = start + d * uniform(&mut self.rng, [0.3, 0.7]);
            let r2 = if changes {
                second_rate(
                    &mut self.rng,
                    self.s.rate_hz,
                    self.rate1,
                    self.s.min_rate_change,
                )
            } else {
                None
            };
            if start + d >= self.w.t1 {
                return None;
            }
            let mut params = vec![
                ("rate_hz", self.rate1),
                ("jitter", self.s.jitter),
                ("duration_s", d),
            ];
            match r2 {
                Some(r2) => {
                    self.rate2 = r2;
                    self.change = at;
                    params.push(("rate2_hz", r2));
                    params.push(("change_s", at));
                }
                None => {
                    self.rate2 = self.rate1;
                    self.change = f64::INFINITY;
                }
            }
            self.event += 1;
            self.plan = Some(EventPlan::new(Class::ComplexRepetitive, &params));
            self.ep = Some(Episode {
                start,
                end: start + d,
                t: start,
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// Regular single-fibre train with a slow linear rate drift.
struct Train {
    class: Class,
    rng: ChaCha8Rng,
    rate: f64,
    drift: f64,
    cv: f64,
    t: f64,
    w: Window,
    first: bool,
}

impl Train {
    fn new(s: &TrainSpec, class: Class, mut rng: ChaCha8Rng, w: Window) -> Self {
        let rate = uniform(&mut rng, s.rate_hz);
        let drift = uniform(&mut rng, s.drift_per_min);
        let t = w.t0 + rand::RngExt::random::<f64>(&mut rng) / rate;
        Train {
            class,
            rng,
            rate,
            drift,
            cv: s.interval_cv,
            t,
            w,
            first: true,
        }
    }
}

impl Firing for Train {
    fn next(&mut self) -> Option<Discharge> {
        if self.t >= self.w.t1 {
            return None;
        }
        let t = self.t;
        let f = (1.0 + self.drift * (t - self.w.t0) / 60.0).max(MIN_DRIFT_FACTOR);
        self.t = t + gauss_interval(&mut self.rng, 1.0 / (self.rate * f), self.cv);
        let plan = self.first.then(|| {
            EventPlan::new(
                self.class,
                &[
                    ("rate_hz", self.rate),
                    ("drift_per_min", self.drift),
                    ("interval_cv", self.cv),
                ],
            )
        });
        self.first = false;
        single(t, 1.0, 1, plan)
    }
}

// ---------------------------------------------------------------------------------------------

/// Myotonic discharges: rate and amplitude follow one hump (see [`MyotonicSpec`]).
struct Myotonic {
    s: MyotonicSpec,
    rng: ChaCha8Rng,
    w: Window,
    next_start: f64,
    ep: Option<Episode>,
    r_lo: f64,
    r_hi: f64,
    a_min: f64,
    peak: f64,
    event: u64,
    plan: Option<Box<EventPlan>>,
}

impl Myotonic {
    fn new(s: MyotonicSpec, mut rng: ChaCha8Rng, w: Window) -> Self {
        let next_start = w.t0 + uniform(&mut rng, [0.0, s.gap_s[1]]);
        Myotonic {
            s,
            rng,
            w,
            next_start,
            ep: None,
            r_lo: 0.0,
            r_hi: 0.0,
            a_min: 0.0,
            peak: 0.5,
            event: 0,
            plan: None,
        }
    }

    fn hump(&self, x: f64) -> f64 {
        use std::f64::consts::FRAC_PI_2;
        if x < self.peak {
            (FRAC_PI_2 * x / self.peak).sin()
        } else {
            (FRAC_PI_2 * (x - self.peak) / (1.0 - self.peak)).cos()
        }
    }
}

impl Firing for Myotonic {
    fn next(&mut self) -> Option<Discharge> {
        loop {
            if let Some(ep) = &self.ep {
                if ep.t < ep.end {
                    let t = ep.t;
                    let h = self.hump(((t - ep.start) / (ep.end - ep.start)).clamp(0.0, 1.0));
                    let rate = self.r_lo + (self.r_hi - self.r_lo) * h;
                    let scale = self.a_min + (1.0 - self.a_min) * h;
                    if let Some(ep) = &mut self.ep {
                        ep.t += 1.0 / rate;
                    }
                    return single(t, scale, self.event, self.plan.take());
                }
                self.next_start = ep.end + uniform(&mut self.rng, self.s.gap_s);
                self.ep = None;
            }
            let start = self.next_start;
            let d = uniform(&mut self.rng, self.s.duration_s);
            let a = uniform(&mut self.rng, self.s.rate_hz);
            let b = uniform(&mut self.rng, self.s.rate_hz);
            (self.r_lo, self.r_hi) = (a.min(b), a.max(b));
            self.a_min = uniform(&mut self.rng, self.s.min_amplitude);
            self.peak = uniform(&mut self.rng, self.s.peak_at);
            if start + d >= self.w.t1 {
                return None;
            }
            self.event += 1;
            self.plan = Some(EventPlan::new(
                Class::Myotonic,
                &[
                    ("rate_min_hz", self.r_lo),
                    ("rate_max_hz", self.r_hi),
                    ("min_amplitude", self.a_min),
                    ("peak_at", self.peak),
                    ("duration_s", d),
                ],
            ));
            self.ep = Some(Episode {
                start,
                end: start + d,
                t: start,
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// Regular single-unit discharges: Gaussian intervals.
struct Regular {
    rng: ChaCha8Rng,
    rate: f64,
    cv: f64,
    t: f64,
    w: Window,
    first: bool,
}

impl Regular {
    fn new(s: &RegularSpec, mut rng: ChaCha8Rng, w: Window) -> Self {
        let rate = uniform(&mut rng, s.rate_hz);
        let t = w.t0 + rand::RngExt::random::<f64>(&mut rng) / rate;
        Regular {
            rng,
            rate,
            cv: s.interval_cv,
            t,
            w,
            first: true,
        }
    }
}

impl Firing for Regular {
    fn next(&mut self) -> Option<Discharge> {
        if self.t >= self.w.t1 {
            return None;
        }
        let t = self.t;
        self.t = t + gauss_interval(&mut self.rng, 1.0 / self.rate, self.cv);
        let plan = self.first.then(|| {
            EventPlan::new(
                Class::Regular,
                &[("rate_hz", self.rate), ("interval_cv", self.cv)],
            )
        });
        self.first = false;
        single(t, 1.0, 1, plan)
    }
}

// ---------------------------------------------------------------------------------------------

/// Endplate spikes: dead time plus an exponential, mean interval `1 / rate`.
struct Endplate {
    rng: ChaCha8Rng,
    rate: f64,
    dead: f64,
    t: f64,
    w: Window,
    first: bool,
}

impl Endplate {
    fn new(s: &EndplateSpec, mut rng: ChaCha8Rng, w: Window) -> Self {
        let rate = uniform(&mut rng, s.rate_hz);
        Endplate {
            rng,
            rate,
            dead: s.dead_time_ms * 1e-3,
            t: w.t0,
            w,
            first: true,
        }
    }
}

impl Firing for Endplate {
    fn next(&mut self) -> Option<Discharge> {
        self.t += self.dead + exponential(&mut self.rng, 1.0 / self.rate - self.dead);
        if self.t >= self.w.t1 {
            return None;
        }
        let plan = self.first.then(|| {
            EventPlan::new(
                Class::EndplateSpike,
                &[("rate_hz", self.rate), ("dead_time_ms", self.dead * 1e3)],
            )
        });
        self.first = false;
        single(self.t, 1.0, 1, plan)
    }
}

// ---------------------------------------------------------------------------------------------

/// Picks the unit with the earliest next time (ties: lowest index).
fn earliest(next: &[f64]) -> Option<usize> {
    let mut best: Option<usize> = None;
    for (i, &t) in next.iter().enumerate() {
        if t.is_finite() && best.is_none_or(|b| t < next[b]) {
            best = Some(i);
        }
    }
    best
}

/// Cramps: episodes in which every unit fires with gamma intervals (and some doublets).
struct Cramp {
    s: CrampSpec,
    rng: ChaCha8Rng,
    units: Vec<ChaCha8Rng>,
    w: Window,
    next_start: f64,
    end: f64,
    rates: Vec<f64>,
    next: Vec<f64>,
    /// The unit's next discharge is the second of a doublet (no new doublet after it).
    second: Vec<bool>,
    event: u64,
    plan: Option<Box<EventPlan>>,
}

impl Cramp {
    fn new(s: CrampSpec, mut rng: ChaCha8Rng, units: Vec<ChaCha8Rng>, w: Window) -> Self {
        let n = units.len();
        let next_start = w.t0 + uniform(&mut rng, [0.0, s.gap_s[1]]);
        Cramp {
            s,
            rng,
            units,
            w,
            next_start,
            end: f64::NEG_INFINITY,
            rates: vec![0.0; n],
            next: vec![f64::INFINITY; n],
            second: vec![false; n],
            event: 0,
            plan: None,
        }
    }

    fn gamma_interval(rng: &mut ChaCha8Rng, rate: f64, cv: f64) -> f64 {
        let k = 1.0 / (cv * cv);
        match Gamma::new(k, 1.0 / (rate * k)) {
            Ok(g) => g.sample(rng),
            // Validation keeps k and the scale positive and finite; fall back to the mean.
            Err(_) => 1.0 / rate,
        }
    }

    fn start_episode(&mut self) -> bool {
        let start = self.next_start;
        let d = uniform(&mut self.rng, self.s.duration_s);
        if start + d >= self.w.t1 {
            return false;
        }
        self.end = start + d;
        for i in 0..self.units.len() {
            let rng = &mut self.units[i];
            self.rates[i] = uniform(rng, self.s.rate_hz);
            self.next[i] = start + rand::RngExt::random::<f64>(rng) / self.rates[i];
            self.second[i] = false;
        }
        let mean_rate = self.rates.iter().sum::<f64>() / self.rates.len().max(1) as f64;
        self.event += 1;
        self.plan = Some(EventPlan::new(
            Class::Cramp,
            &[
                ("units", self.units.len() as f64),
                ("duration_s", d),
                ("mean_rate_hz", mean_rate),
                ("interval_cv", self.s.interval_cv),
                ("doublet_probability", self.s.doublet_probability),
            ],
        ));
        self.next_start = self.end + uniform(&mut self.rng, self.s.gap_s);
        true
    }
}

impl Firing for Cramp {
    fn next(&mut self) -> Option<Discharge> {
        loop {
            if let Some(i) = earliest(&self.next) {
                let t = self.next[i];
                if t < self.end {
                    let rng = &mut self.units[i];
                    let doublet = !self.second[i]
                        && rand::RngExt::random::<f64>(rng) < self.s.doublet_probability;
                    if doublet {
                        self.next[i] = t + uniform(rng, self.s.doublet_interval_ms) * 1e-3;
                        self.second[i] = true;
                    } else {
                        self.next[i] =
                            t + Self::gamma_interval(rng, self.rates[i], self.s.interval_cv);
                        self.second[i] = false;
                    }
                    return Some(Discharge {
                        t,
                        unit: i,
                        scale: 1.0,
                        event: self.event,
                        plan: self.plan.take(),
                    });
                }
                // This unit is done for the episode.
                self.next[i] = f64::INFINITY;
                continue;
            }
            if !self.start_episode() {
                return None;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------

/// Voluntary contractions after Fuglevand, Winter & Patla (1993): unit `i` (1-based) of `n`
/// has recruitment threshold `RTE_i = exp(ln(RR)·i/n)`; at excitation `E ≥ RTE_i` it fires
/// at `min(g·(E − RTE_i) + MFR, PFR)` Hz with Gaussian intervals of the given CV; the
/// maximal excitation is `RTE_n + (PFR − MFR)/g`.
struct Voluntary {
    s: VoluntarySpec,
    rng: ChaCha8Rng,
    units: Vec<ChaCha8Rng>,
    w: Window,
    rte: Vec<f64>,
    e_max: f64,
    cycle_start: f64,
    // Current contraction: onset, ramp, hold, peak excitation.
    on: f64,
    hold: f64,
    peak: f64,
    end: f64,
    next: Vec<f64>,
    event: u64,
    plan: Option<Box<EventPlan>>,
}

impl Voluntary {
    fn new(s: VoluntarySpec, rng: ChaCha8Rng, units: Vec<ChaCha8Rng>, w: Window) -> Self {
        let n = units.len();
        let a = s.recruitment_range.ln() / n as f64;
        let rte: Vec<f64> = (1..=n).map(|i| (a * i as f64).exp()).collect();
        let e_max = rte[n - 1] + (s.peak_rate_hz - s.min_rate_hz) / s.gain_hz;
        Voluntary {
            s,
            rng,
            units,
            w,
            rte,
            e_max,
            cycle_start: w.t0,
            on: 0.0,
            hold: 0.0,
            peak: 0.0,
            end: f64::NEG_INFINITY,
            next: vec![f64::INFINITY; n],
            event: 0,
            plan: None,
        }
    }

    /// Excitation at time `t` (trapezoid).
    fn excitation(&self, t: f64) -> f64 {
        let r = self.s.ramp_s;
        let x = t - self.on;
        if x < 0.0 || t > self.end {
            0.0
        } else if x < r {
            self.peak * x / r
        } else if x <= r + self.hold {
            self.peak
        } else {
            self.peak * ((self.end - t) / r).max(0.0)
        }
    }

    fn rate(&self, i: usize, e: f64) -> f64 {
        (self.s.gain_hz * (e - self.rte[i]) + self.s.min_rate_hz).min(self.s.peak_rate_hz)
    }

    fn start_contraction(&mut self) -> bool {
        let rest = uniform(&mut self.rng, self.s.rest_s);
        let hold = uniform(&mut self.rng, self.s.hold_s);
        let level = uniform(&mut self.rng, self.s.level);
        let on = self.cycle_start + rest;
        let end = on + 2.0 * self.s.ramp_s + hold;
        if end >= self.w.t1 {
            return false;
        }
        self.on = on;
        self.hold = hold;
        self.peak = level * self.e_max;
        self.end = end;
        self.cycle_start = end;
        self.next.iter_mut().for_each(|t| *t = on);
        let recruited = self.rte.iter().filter(|&&r| r <= self.peak).count();
        self.event += 1;
        self.plan = Some(EventPlan::new(
            Class::Voluntary,
            &[
                ("level", level),
                ("ramp_s", self.s.ramp_s),
                ("hold_s", hold),
                ("recruited_units", recruited as f64),
                ("min_rate_hz", self.s.min_rate_hz),
                ("peak_rate_hz", self.s.peak_rate_hz),
            ],
        ));
        true
    }
}

impl Firing for Voluntary {
    fn next(&mut self) -> Option<Discharge> {
        loop {
            if let Some(i) = earliest(&self.next) {
                let t = self.next[i];
                if t > self.end {
                    self.next[i] = f64::INFINITY;
                    continue;
                }
                let e = self.excitation(t);
                if e < self.rte[i] {
                    // Not (or no longer) recruited: check again shortly.
                    self.next[i] = t + RECRUITMENT_POLL_S;
                    continue;
                }
                let rate = self.rate(i, e);
                self.next[i] =
                    t + gauss_interval(&mut self.units[i], 1.0 / rate, self.s.interval_cv);
                return Some(Discharge {
                    t,
                    unit: i,
                    scale: 1.0,
                    event: self.event,
                    plan: self.plan.take(),
                });
            }
            if !self.start_contraction() {
                return None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulate::rng::{stream, Stream};

    fn drain(f: &mut dyn Firing) -> Vec<Discharge> {
        std::iter::from_fn(|| f.next()).collect()
    }

    fn whole(t1: f64) -> Window {
        Window { t0: 0.0, t1 }
    }

    #[test]
    fn discharges_are_in_time_order_for_every_class() {
        let specs = [
            SourceSpec::Voluntary(VoluntarySpec::default()),
            SourceSpec::Fasciculation(FasciculationSpec::default()),
            SourceSpec::Doublet(DoubletSpec::default()),
            SourceSpec::Myokymic(MyokymicSpec::default()),
            SourceSpec::MyokymicContinuous(MyokymicContinuousSpec::default()),
            SourceSpec::Neuromyotonic(NeuromyotonicSpec::default()),
            SourceSpec::ComplexRepetitive(ComplexRepetitiveSpec::default()),
            SourceSpec::Fibrillation(TrainSpec::default()),
            SourceSpec::Myotonic(MyotonicSpec::default()),
            SourceSpec::Cramp(CrampSpec::default()),
            SourceSpec::Regular(RegularSpec::default()),
            SourceSpec::EndplateSpike(EndplateSpec::default()),
        ];
        for spec in &specs {
            let mut rng = stream(11, Stream::Source, 0);
            let n = unit_count(spec, &mut rng);
            let units = (0..n)
                .map(|i| stream(11, Stream::UnitFiring, i as u64))
                .collect();
            let mut f = build(spec, rng, units, 0.0, 120.0);
            let d = drain(f.as_mut());
            assert!(!d.is_empty(), "{:?} made nothing", spec.class());
            for w in d.windows(2) {
                assert!(
                    w[1].t >= w[0].t,
                    "{:?}: {} after {}",
                    spec.class(),
                    w[1].t,
                    w[0].t
                );
                assert!(w[1].event >= w[0].event);
            }
            assert!(d.iter().all(|x| x.t >= 0.0 && x.t < 120.0 && x.unit < n));
            assert!(d[0].plan.is_some());
        }
    }

    #[test]
    fn myokymic_bursts_keep_their_planned_rate_and_count() {
        let s = MyokymicSpec::default();
        let mut f = Myokymic::new(s.clone(), stream(5, Stream::Source, 0), whole(300.0));
        let d = drain(&mut f);
        let mut i = 0;
        let mut bursts = 0;
        while i < d.len() {
            let plan = d[i].plan.as_ref().expect("first of a burst").clone();
            let j = d[i..]
                .iter()
                .position(|x| x.event != d[i].event)
                .map_or(d.len(), |k| i + k);
            let n = j - i;
            assert_eq!(n as f64, plan.params["potentials"]);
            if n > 1 {
                let rate = (n - 1) as f64 / (d[j - 1].t - d[i].t);
                // Exact by construction up to float rounding.
                assert!((rate - plan.params["intraburst_rate_hz"]).abs() < 1e-6);
                assert!(
                    rate >= s.intraburst_rate_hz[0] - 1e-9
                        && rate <= s.intraburst_rate_hz[1] + 1e-9
                );
            }
            bursts += 1;
            i = j;
        }
        assert!(bursts > 100);
    }
}
