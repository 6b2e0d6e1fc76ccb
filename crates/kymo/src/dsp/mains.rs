//! Mains hum: is there 50 or 60 Hz interference, and the filter that removes it.
//!
//! # Detection
//!
//! The signal is cut into windows of [`WINDOW_S`] seconds, and each of those into windows
//! of [`SHORT_WINDOW_S`] (whole numbers of seconds, so that 50 and 60 Hz and their
//! harmonics fall on exact bins); each window has its mean removed and a Hann window
//! applied, and the power at each harmonic `h·f0` (h = 1…[`HARMONICS`], below 0.45·rate)
//! is measured with the Goertzel recurrence (after bringing the signal down to
//! [`DETECTION_RATE`]). A harmonic's *prominence* in a window is its power over the median
//! power of the neighbouring bins `h·f0 ± 3…6` bin widths (the Hann main lobe is ±2 bins,
//! so these are clear of the line itself), and its prominence is the median over windows:
//! hum is there in every window, a discharge sweeping through 50 or 60 Hz in a few (a
//! simulated myotonic discharge, 20–80 Hz: its 60 Hz line stood out in 2 of 14 windows
//! and, with the windows' power summed, outscored the 50 Hz hum that stood out 30–45 dB
//! in 12).
//!
//! Hum is a line far narrower than a bin, while the background (noise, and the broad
//! spectra of potentials) spreads over bins, so each doubling of the window lifts a steady
//! hum 3 dB above its neighbours: with one-second windows (summed power) a 5 µV hum under
//! a train of positive sharp waves stood 4–12 dB above them and was missed at the 10 dB
//! threshold in 3 of 6 simulated denervation records, with four-second windows 15–28 dB. A
//! real hum wanders, though: in biosppy's `emg_1.txt` it stands 11 dB out of 0.5 Hz bins
//! and 7 dB out of 0.25 Hz ones. So each line's prominence is the larger of the two
//! lengths'. Measured on kymo's simulator at 10 dB (seeds 11–16): hum found in all 18
//! denervation, myotonia and complex repetitive records that have it, none in 18 without.
//! Mains is declared
//! present when the *fundamental* stands out by at least the threshold (default 10 dB):
//! interference has its strongest line at the fundamental, while a regular physiological
//! discharge that happens to have a harmonic at 50 or 60 Hz also has lines elsewhere.
//! When both stand out, the family with the larger summed prominence wins. Baseline
//! wander (< 5 Hz) cannot leak into these bins: Hann sidelobes are below −100 dB 40 bins
//! away.
//!
//! # Removal
//!
//! When the rate is an integer multiple of the mains frequency (20 kHz/50 Hz = 400,
//! 44.1 kHz/60 Hz = 735, …) a comb `H(z) = b·(1 − z⁻ᴰ)/(1 − a·z⁻ᴰ)` (scipy's
//! `iircomb(f0, Q, 'notch')`) removes the fundamental and *every* harmonic up to Nyquist
//! (and DC, which the high-pass removes anyway) at a cost of 3 multiplies per sample,
//! whatever the number of harmonics. Otherwise one notch biquad (scipy's `iirnotch`) is
//! placed at each harmonic below the band-pass's upper edge, up to a maximum number. The
//! default removal is neither: the median hum cycle ([`HumTemplate`]), wherever a whole
//! number of samples spans one mains cycle or a few (60 Hz at 20 kHz: three).

use super::butter::{butter, Band};
use super::sos::{Section, Sos};
use crate::sort::linalg::median;

/// Harmonics examined by detection (including the fundamental).
pub const HARMONICS: usize = 5;

/// The most windows detection averages (spread evenly over the signal given); 8 windows
/// give a stable power estimate.
pub const MAX_WINDOWS: usize = 8;

/// Length of the long detection windows, s: bins of 0.25 Hz, narrow enough that a steady
/// hum stands out of a busy background.
pub const WINDOW_S: f64 = 4.0;

/// Length of the short detection windows, s (they tile the long ones): bins of 0.5 Hz,
/// wide enough to hold a hum whose frequency wanders (the grid's drift, a recorder's
/// clock), which spreads over several 0.25 Hz bins.
pub const SHORT_WINDOW_S: f64 = 2.0;

/// The mains frequencies detection compares, in Hz.
pub const CANDIDATES: [f64; 2] = [50.0, 60.0];

/// What [`detect`] found.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MainsReport {
    /// The mains frequency found (50 or 60 Hz), or `None` when neither stands out.
    pub frequency_hz: Option<f64>,
    /// Prominence of each harmonic of 50 Hz in dB (power over neighbouring bins), fundamental
    /// first; harmonics at or above 0.45·rate are left out.
    pub prominence_db_50: Vec<f64>,
    /// The same for 60 Hz.
    pub prominence_db_60: Vec<f64>,
    /// Number of long windows looked at (each also cut into short ones).
    pub windows: usize,
}

/// Looks for 50 or 60 Hz hum in `x` (raw or filtered samples at `rate` Hz); the fundamental
/// must exceed its neighbours by `threshold_db`. A few seconds of signal suffice.
pub fn detect(x: &[f32], rate: f64, threshold_db: f64) -> MainsReport {
    let empty = MainsReport {
        frequency_hz: None,
        prominence_db_50: Vec::new(),
        prominence_db_60: Vec::new(),
        windows: 0,
    };
    if !(rate.is_finite() && rate > 0.0) || x.len() < 16 {
        return empty;
    }
    // Windows of WINDOW_S when the signal is that long; otherwise one window of all of it.
    let long = ((rate * WINDOW_S).round() as usize).clamp(16, x.len());
    let n_windows = (x.len() / long).clamp(1, MAX_WINDOWS);
    let stride = if n_windows > 1 {
        (x.len() - long) / (n_windows - 1)
    } else {
        0
    };
    // The long windows, brought down to about DETECTION_RATE: the harmonics examined lie
    // below 320 Hz, and the Goertzel sums then cost a tenth at 20 kHz.
    let (x, rate, long) = decimated_windows(x, rate, long, n_windows, stride);
    let long_starts: Vec<usize> = (0..n_windows).map(|w| w * long).collect();
    // Each length's prominences; a line counts at the length where it stands out more. The
    // short windows tile the long ones.
    let short = ((rate * SHORT_WINDOW_S).round() as usize).clamp(16, long);
    let short_starts: Vec<usize> = long_starts
        .iter()
        .flat_map(|&s| (0..long / short).map(move |k| s + k * short))
        .collect();
    let Some(at_long) = prominences(&x, rate, long, &long_starts) else {
        return empty;
    };
    let prom: Vec<Vec<f64>> = match prominences(&x, rate, short, &short_starts) {
        Some(at_short) => at_long
            .iter()
            .zip(&at_short)
            .map(|(l, s)| l.iter().zip(s).map(|(a, b)| a.max(*b)).collect())
            .collect(),
        None => at_long,
    };

    let mut best: Option<(f64, f64)> = None;
    for (i, p) in prom.iter().enumerate() {
        if p.first().is_some_and(|&fund| fund >= threshold_db) {
            let score: f64 = p.iter().map(|v| v.max(0.0)).sum();
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((CANDIDATES[i], score));
            }
        }
    }
    MainsReport {
        frequency_hz: best.map(|(f, _)| f),
        prominence_db_50: prom[0].clone(),
        prominence_db_60: prom[1].clone(),
        windows: n_windows,
    }
}

/// The rate detection works at when the signal's is at least twice it, Hz: 4th-order
/// Butterworth low-pass at a fifth of it (400 Hz), then every `⌊rate / DETECTION_RATE⌋`-th
/// sample. The low-pass is −50 dB where content would fold onto the 300 Hz harmonic.
pub const DETECTION_RATE: f64 = 2000.0;

/// The `n_windows` windows of `win` samples starting every `stride` samples of `x`, each
/// low-passed and decimated to about [`DETECTION_RATE`] when `rate` is at least twice it,
/// end to end; with the new rate and window length. Each window is filtered on its own
/// (mean removed first, so the filter starts settled), as the windows are not contiguous.
fn decimated_windows(
    x: &[f32],
    rate: f64,
    win: usize,
    n_windows: usize,
    stride: usize,
) -> (Vec<f32>, f64, usize) {
    let d = (rate / DETECTION_RATE).floor() as usize;
    let low_pass = butter(4, Band::LowPass(0.2 * DETECTION_RATE), rate);
    let (d, low_pass) = match low_pass {
        Ok(lp) if d >= 2 => (d, lp),
        _ => {
            let y = (0..n_windows)
                .flat_map(|w| x[w * stride..w * stride + win].iter().copied())
                .collect();
            return (y, rate, win);
        }
    };
    let out_len = win / d;
    let mut y = Vec::with_capacity(n_windows * out_len);
    let mut buf = vec![0.0f64; win];
    for w in 0..n_windows {
        let seg = &x[w * stride..w * stride + win];
        let mean = seg.iter().map(|&v| v as f64).sum::<f64>() / win as f64;
        for (b, &v) in buf.iter_mut().zip(seg) {
            *b = v as f64 - mean;
        }
        low_pass.run_inplace(&mut buf, 0.0, false);
        y.extend(buf.iter().step_by(d).take(out_len).map(|&v| v as f32));
    }
    (y, rate / d as f64, out_len)
}

/// Prominence in dB of each candidate's harmonics (fundamental first; `None` when no
/// harmonic fits below 0.45·rate), from the windows of `win` samples of `x` at `starts`,
/// each with its mean removed and a Hann window applied.
fn prominences(x: &[f32], rate: f64, win: usize, starts: &[usize]) -> Option<Vec<Vec<f64>>> {
    let bin = rate / win as f64;
    // Frequencies: for each candidate and harmonic, the line and its 8 neighbours.
    const OFFSETS: [f64; 9] = [0.0, -6.0, -5.0, -4.0, -3.0, 3.0, 4.0, 5.0, 6.0];
    let mut freqs: Vec<f64> = Vec::new();
    let mut families: Vec<Vec<usize>> = Vec::new(); // index into freqs of each line's group
    for &f0 in &CANDIDATES {
        let mut fam = Vec::new();
        for h in 1..=HARMONICS {
            let f = f0 * h as f64;
            if f + 6.0 * bin >= 0.45 * rate {
                break;
            }
            fam.push(freqs.len());
            freqs.extend(OFFSETS.iter().map(|&o| f + o * bin));
        }
        families.push(fam);
    }
    if freqs.is_empty() {
        return None;
    }

    // Goertzel over all frequencies at once (the inner loop over frequencies vectorises).
    let coef: Vec<f64> = freqs
        .iter()
        .map(|&f| 2.0 * (2.0 * std::f64::consts::PI * f / rate).cos())
        .collect();
    let hann: Vec<f64> = (0..win)
        .map(|i| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / win as f64).cos())
        .collect();
    let mut power = vec![0.0f64; freqs.len()];
    let mut s1 = vec![0.0f64; freqs.len()];
    let mut s2 = vec![0.0f64; freqs.len()];
    // Each window's prominence of each line, dB: [line][window].
    let lines: Vec<usize> = families.iter().flatten().copied().collect();
    let mut per_window: Vec<Vec<f64>> = vec![Vec::with_capacity(starts.len()); lines.len()];
    for &start in starts {
        let seg = &x[start..start + win];
        let mean = seg.iter().map(|&v| v as f64).sum::<f64>() / win as f64;
        s1.iter_mut().for_each(|v| *v = 0.0);
        s2.iter_mut().for_each(|v| *v = 0.0);
        for (&v, &h) in seg.iter().zip(&hann) {
            let xv = (v as f64 - mean) * h;
            for ((a, b), &c) in s1.iter_mut().zip(s2.iter_mut()).zip(&coef) {
                let s0 = xv + c * *a - *b;
                *b = *a;
                *a = s0;
            }
        }
        for (i, p) in power.iter_mut().enumerate() {
            let (a, b, c) = (s1[i], s2[i], coef[i]);
            *p = a * a + b * b - c * a * b;
        }
        for (l, &start) in lines.iter().enumerate() {
            per_window[l].push(prominence_db(&power[start..start + OFFSETS.len()]));
        }
    }
    // The median over windows: hum is there in every window, while a discharge that
    // passes through 50 or 60 Hz (a myotonic one sweeping 20–80 Hz) stands out in a few,
    // and a loud stretch's broadband power does not drown the line in the others.
    let mut medians = per_window.iter().map(|v| median(v));
    Some(
        families
            .iter()
            .map(|fam| fam.iter().map(|_| medians.next().unwrap_or(0.0)).collect())
            .collect(),
    )
}

/// A line's power (`group[0]`) over the median of its 8 neighbours' (`group[1..9]`), dB.
fn prominence_db(group: &[f64]) -> f64 {
    let mut neigh = [0.0f64; 8];
    neigh.copy_from_slice(&group[1..9]);
    neigh.sort_by(f64::total_cmp);
    let med = 0.5 * (neigh[3] + neigh[4]);
    let tiny = f64::MIN_POSITIVE;
    10.0 * ((group[0] + tiny) / (med + tiny)).log10()
}

/// `rate / f0` when it is a whole number of at least 2 samples (one mains cycle then holds
/// the hum at the same phases in every cycle), else `None`.
fn whole_period(f0: f64, rate: f64) -> Option<usize> {
    let n = (rate / f0).round();
    (n >= 2.0 && ((f0 - rate / n) / rate).abs() <= 1e-14).then_some(n as usize)
}

/// A comb notch `y[n] = b·(x[n] − x[n−D]) + a·y[n−D]`: zeros at every multiple of `rate/D`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comb {
    /// Period in samples (`rate / f0`).
    pub period: usize,
    /// Numerator gain `b` (scipy's `bx = cx`).
    pub b: f64,
    /// Feedback `a` (scipy's `ax`).
    pub a: f64,
}

impl Comb {
    /// scipy `iircomb(f0, Q = f0 / bandwidth_hz, ftype='notch', fs=rate)`; `None` unless
    /// `rate / f0` is an integer of at least 2.
    pub fn new(f0: f64, bandwidth_hz: f64, rate: f64) -> Option<Comb> {
        let period = whole_period(f0, rate)?;
        let beta = (std::f64::consts::PI * bandwidth_hz / (2.0 * f0)).tan();
        Some(Comb {
            period,
            b: 1.0 / (1.0 + beta),
            a: (1.0 - beta) / (1.0 + beta),
        })
    }

    /// scipy `filtfilt(b, a, x)`'s default pad length, `3·max(len(a), len(b)) = 3·(D + 1)`.
    pub fn default_padlen(&self) -> usize {
        3 * (self.period + 1)
    }

    /// Magnitude response at `f` Hz.
    pub fn gain(&self, f: f64, rate: f64) -> f64 {
        let w = 2.0 * std::f64::consts::PI * f * self.period as f64 / rate;
        let num = ((1.0 - w.cos()).powi(2) + w.sin().powi(2)).sqrt() * self.b;
        let den = ((1.0 - self.a * w.cos()).powi(2) + (self.a * w.sin()).powi(2)).sqrt();
        num / den
    }

    /// Filters `x` into `y` (the first `min` of their lengths), starting in the steady state
    /// for a constant input `x[0]` (input history `x[0]`, output history 0: the comb blocks
    /// DC).
    pub fn run(&self, x: &[f64], y: &mut [f64]) {
        let n = x.len().min(y.len());
        y[..n].copy_from_slice(&x[..n]);
        self.run_inplace(&mut y[..n], &mut Vec::new(), &mut Vec::new());
    }

    /// [`Comb::run`] in place: `y` holds the input and receives the output. The inputs a
    /// chunk still needs are kept in `hist` and `cur` (one period each; reused by the caller
    /// so that nothing is allocated per block). Same arithmetic as [`Comb::run`] on two
    /// buffers, so the same result to the bit, in a third of the memory.
    pub fn run_inplace(&self, y: &mut [f64], hist: &mut Vec<f64>, cur: &mut Vec<f64>) {
        let d = self.period;
        let n = y.len();
        let Some(&x0) = y.first() else { return };
        let (b, a) = (self.b, self.a);
        let head = d.min(n);
        hist.clear();
        hist.extend_from_slice(&y[..head]);
        for v in &mut y[..head] {
            *v = b * (*v - x0);
        }
        // Each chunk of D samples depends only on the previous chunk: no loop-carried
        // dependency inside a chunk, so this vectorises. `hist` holds the previous chunk's
        // inputs (its outputs have replaced them in `y`).
        let mut start = d;
        while start < n {
            let end = (start + d).min(n);
            cur.clear();
            cur.extend_from_slice(&y[start..end]);
            let (prev, now) = y.split_at_mut(start);
            let prev = &prev[start - d..end - d];
            for ((yv, &yp), (&xv, &xp)) in now[..end - start]
                .iter_mut()
                .zip(prev)
                .zip(cur.iter().zip(hist.iter()))
            {
                *yv = b * (xv - xp) + a * yp;
            }
            std::mem::swap(hist, cur);
            start = end;
        }
    }

    /// [`Comb::run`] backward in time: `y[i] = b·(x[i] − x[i+D]) + a·y[i+D]`, starting from
    /// the end in the steady state for a constant input `x[n−1]`. Equals reversing `x`,
    /// running forward and reversing the result, without the two reversals.
    pub fn run_backward(&self, x: &[f64], y: &mut [f64]) {
        let n = x.len().min(y.len());
        y[..n].copy_from_slice(&x[..n]);
        self.run_backward_inplace(&mut y[..n], &mut Vec::new(), &mut Vec::new());
    }

    /// [`Comb::run_backward`] in place (see [`Comb::run_inplace`]).
    pub fn run_backward_inplace(&self, y: &mut [f64], hist: &mut Vec<f64>, cur: &mut Vec<f64>) {
        let d = self.period;
        let n = y.len();
        let Some(&xl) = y.last() else { return };
        let (b, a) = (self.b, self.a);
        let tail = n - d.min(n);
        hist.clear();
        hist.extend_from_slice(&y[tail..]);
        for v in &mut y[tail..] {
            *v = b * (*v - xl);
        }
        // Chunks of D samples from the end; each depends only on the chunk after it, whose
        // inputs `hist` holds.
        let mut end = tail;
        while end > 0 {
            let start = end.saturating_sub(d);
            cur.clear();
            cur.extend_from_slice(&y[start..end]);
            let (now, next) = y.split_at_mut(end);
            let next = &next[start + d - end..d];
            let now = &mut now[start..];
            for ((yv, &yn), (&xv, &xn)) in now
                .iter_mut()
                .zip(next)
                .zip(cur.iter().zip(&hist[start + d - end..d]))
            {
                *yv = b * (xv - xn) + a * yn;
            }
            std::mem::swap(hist, cur);
            end = start;
        }
    }

    /// Slowest decay per sample: the poles are the D-th roots of `a`.
    pub fn pole_radius(&self) -> f64 {
        self.a.abs().powf(1.0 / self.period as f64)
    }
}

/// One notch biquad at `f` Hz with −3 dB width `bandwidth_hz` (scipy `iirnotch(f, f/bw, fs)`).
pub fn notch_section(f: f64, bandwidth_hz: f64, rate: f64) -> Section {
    let w0 = 2.0 * std::f64::consts::PI * f / rate;
    let beta = (std::f64::consts::PI * bandwidth_hz / rate).tan();
    let gain = 1.0 / (1.0 + beta);
    Section {
        b: [gain, -2.0 * gain * w0.cos(), gain],
        a: [1.0, -2.0 * gain * w0.cos(), 2.0 * gain - 1.0],
    }
}

/// How hum is removed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub enum HumFilter {
    /// A comb over all harmonics (the rate is a multiple of the mains frequency).
    Comb(Comb),
    /// Notch biquads at the listed harmonics (Hz).
    Notches {
        /// The notch frequencies.
        frequencies_hz: Vec<f64>,
        /// The sections, one per frequency.
        sos: Sos,
    },
}

/// The hum filter for mains frequency `f0`: a comb when `rate/f0` is an integer, otherwise
/// notches at `k·f0` for harmonics below `upper_hz` (and below Nyquist minus the bandwidth),
/// at most `max_notches` of them.
pub fn hum_filter(
    f0: f64,
    bandwidth_hz: f64,
    rate: f64,
    upper_hz: f64,
    max_notches: usize,
) -> HumFilter {
    if let Some(c) = Comb::new(f0, bandwidth_hz, rate) {
        return HumFilter::Comb(c);
    }
    let limit = upper_hz.min(rate / 2.0 - bandwidth_hz);
    let frequencies_hz: Vec<f64> = (1..=max_notches)
        .map(|k| k as f64 * f0)
        .take_while(|&f| f < limit)
        .collect();
    let sos = Sos::new(
        frequencies_hz
            .iter()
            .map(|&f| notch_section(f, bandwidth_hz, rate))
            .collect(),
    );
    HumFilter::Notches {
        frequencies_hz,
        sos,
    }
}

/// Fewest whole hum cycles a [`HumTemplate`] takes a median over; with fewer, nothing is
/// removed there.
pub const MIN_TEMPLATE_CYCLES: usize = 3;

/// Most mains cycles one [`HumTemplate`] cycle may span, so that rates that are not a whole
/// multiple of the mains frequency still get the template (60 Hz at 20 kHz: 3 cycles of
/// 1000 samples); beyond it notch sections are used. 5 keeps 12 template cycles in a
/// second at 60 Hz (kymo).
pub const MAX_TEMPLATE_MAINS_CYCLES: usize = 5;

/// Hum removal by subtracting the hum's own cycle: when a whole number of samples spans one
/// mains cycle, or a few (60 Hz at 20 kHz is 333⅓ samples a cycle, 1000
/// for three), every cycle of `period` samples holds the hum at the same phases, so the
/// median of each phase over the cycles of a window (default one second) is the hum cycle
/// (fundamental and every harmonic, whatever their shape), and a potential, which occupies
/// one cycle of the many at a phase, does not move that median.
///
/// Why not the comb (`b·(1 − z⁻ᴰ)/(1 − a·z⁻ᴰ)`, [`Comb`]): a comb notches every harmonic up
/// to Nyquist, which together make a pulse train, so its impulse response holds echoes
/// `−b·(1 − a)·aᵏ⁻¹` at every `k·D`: at 2 Hz width a copy of each potential of about a
/// tenth of its size one mains period before and after it (zero-phase), and smaller ones
/// further out. A 1.6 mV myokymic potential gave 80 µV echoes every 20 ms, which the
/// detector found as thousands of potentials of a ghost unit. Clinical EMG texts advise
/// leaving notch filters off for needle EMG for the same reason, that they distort the
/// potentials (e.g. Preston & Shapiro, *Electromyography and Neuromuscular Disorders*, on
/// filter settings).
///
/// Templates are taken every `step` cycles (half a window), each over the `window` cycles
/// centred on its time, and the hum at a sample is the linear interpolation of the two
/// templates around it, so a hum that changes in amplitude or phase slowly is followed
/// without steps. A template's median adds its own noise (`1.25·σ/√window` at each
/// phase): 3 % of the noise power at 50 cycles, 8 % at the 20 template cycles of three
/// mains cycles in a second at 60 Hz (far less than the echoes notches leave).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HumTemplate {
    /// Samples per template cycle, an integer: one mains cycle (`rate / f0`) when the rate
    /// is a whole multiple of the mains frequency; else the fewest mains cycles (up to
    /// [`MAX_TEMPLATE_MAINS_CYCLES`]) that hold a whole number of samples (3 at 60 Hz and
    /// 20 or 10 kHz: 1000 or 500 samples). Below, a "cycle" is a template cycle.
    pub period: usize,
    /// Cycles each template's median is taken over.
    pub window: usize,
    /// Cycles between templates (`ceil(window / 2)`: each template is then computed before
    /// the samples its window reads are changed). A whole window would halve the cost
    /// (measured 11.6 → 6 ns per sample at 20 kHz before the integer-key median) but scored lower on the accuracy table (mean
    /// 0.632 → 0.609, within the table's round-to-round spread) and is not the default.
    pub step: usize,
}

impl HumTemplate {
    /// Removal of hum at `f0` Hz with templates over `window_s` seconds (at least
    /// [`MIN_TEMPLATE_CYCLES`] cycles); `None` unless `q · rate / f0` is an integer of at
    /// least 2 for some `q` up to [`MAX_TEMPLATE_MAINS_CYCLES`].
    pub fn new(f0: f64, window_s: f64, rate: f64) -> Option<HumTemplate> {
        let (period, cycles) = (1..=MAX_TEMPLATE_MAINS_CYCLES)
            .find_map(|q| whole_period(f0 / q as f64, rate).map(|p| (p, q)))?;
        let window = ((window_s * f0 / cycles as f64).round() as usize).max(MIN_TEMPLATE_CYCLES);
        Some(HumTemplate {
            period,
            window,
            step: window.div_ceil(2),
        })
    }

    /// Samples on each side of a sample that its result depends on: the two templates
    /// around it reach half a window beyond themselves, and they lie up to a step away.
    pub fn reach(&self) -> usize {
        (self.window / 2 + self.step + 1) * self.period
    }

    /// Removes the hum from `y` (band-passed samples), whose first sample is sample `start`
    /// of the recording (cycles are counted from the recording's first sample, so a block
    /// gives what the whole signal gives wherever its templates' windows lie inside it).
    /// `work` is reused scratch.
    pub fn remove(&self, y: &mut [f64], start: u64, work: &mut Vec<i64>) {
        let d = self.period as u64;
        let n = y.len() as u64;
        let end = start + n;
        // Whole cycles inside `y`.
        let (c_lo, c_hi) = (start.div_ceil(d), end / d);
        if n == 0 || c_hi < c_lo + MIN_TEMPLATE_CYCLES as u64 {
            return;
        }
        let seg = self.step as u64 * d;
        let (j_first, j_last) = (start / seg, (end - 1) / seg);
        let p = self.period;
        let mut cur = vec![0.0f64; p];
        let mut next = vec![0.0f64; p];
        let mut cur_ok = self.template(y, start, j_first, (c_lo, c_hi), &mut cur, work);
        let mut next_ok = self.template(y, start, j_first + 1, (c_lo, c_hi), &mut next, work);
        for j in j_first..=j_last {
            // A template with too few cycles (at the ends of `y`) takes its neighbour's.
            match (cur_ok, next_ok) {
                (true, false) => next.copy_from_slice(&cur),
                (false, true) => cur.copy_from_slice(&next),
                _ => {}
            }
            if cur_ok || next_ok {
                let s0 = (j * seg).max(start);
                let s1 = ((j + 1) * seg).min(end);
                let inv = 1.0 / seg as f64;
                // Cycle by cycle, so that the inner loop runs over contiguous phases.
                let mut abs = s0;
                while abs < s1 {
                    let ph = (abs % d) as usize;
                    let len = (d - ph as u64).min(s1 - abs) as usize;
                    let i0 = (abs - start) as usize;
                    let k0 = (abs - j * seg) as f64;
                    let lanes = y[i0..i0 + len]
                        .iter_mut()
                        .zip(&cur[ph..ph + len])
                        .zip(&next[ph..ph + len]);
                    for (t, ((v, &a), &b)) in lanes.enumerate() {
                        let w = (k0 + t as f64) * inv;
                        *v -= a + w * (b - a);
                    }
                    abs += len as u64;
                }
            }
            // The template after next reads cycles from (j + 1)·step on: not changed yet.
            std::mem::swap(&mut cur, &mut next);
            cur_ok = next_ok;
            next_ok = j < j_last && self.template(y, start, j + 2, (c_lo, c_hi), &mut next, work);
        }
    }

    /// The median hum cycle of template `j` (centred on cycle `j·step`) over the whole
    /// cycles `cycles` of `y` inside its window, into `out`; false when fewer than
    /// [`MIN_TEMPLATE_CYCLES`].
    fn template(
        &self,
        y: &[f64],
        start: u64,
        j: u64,
        cycles: (u64, u64),
        out: &mut [f64],
        work: &mut Vec<i64>,
    ) -> bool {
        // The window's first cycle, which may lie before the recording's first.
        let first = (j * self.step as u64) as i64 - (self.window / 2) as i64;
        let lo = first.max(cycles.0 as i64) as u64;
        let hi = ((first + self.window as i64).max(0) as u64).min(cycles.1);
        if hi < lo + MIN_TEMPLATE_CYCLES as u64 {
            return false;
        }
        let (d, p) = (self.period as u64, self.period);
        let m = (hi - lo) as usize;
        // Phase-major copy of the cycles, as integers that order like `f64::total_cmp`
        // (the comparison then costs one instruction in the selection).
        work.clear();
        work.resize(m * p, 0);
        for (ci, c) in (lo..hi).enumerate() {
            let row = &y[(c * d - start) as usize..][..p];
            for (ph, &v) in row.iter().enumerate() {
                work[ph * m + ci] = total_order_key(v);
            }
        }
        for (o, col) in out.iter_mut().zip(work.chunks_exact_mut(m)) {
            let (_, med, _) = col.select_nth_unstable(m / 2);
            *o = from_total_order_key(*med);
        }
        true
    }
}

/// An integer that orders like [`f64::total_cmp`] (the same transform of the bits).
fn total_order_key(v: f64) -> i64 {
    let b = v.to_bits() as i64;
    b ^ ((((b >> 63) as u64) >> 1) as i64)
}

/// The value of a [`total_order_key`] (the transform is its own inverse).
fn from_total_order_key(k: i64) -> f64 {
    f64::from_bits((k ^ ((((k >> 63) as u64) >> 1) as i64)) as u64)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn tone(rate: f64, n: usize, parts: &[(f64, f64)], seed: u64) -> Vec<f32> {
        // Deterministic pseudo-noise (xorshift) plus tones.
        let mut s = seed | 1;
        (0..n)
            .map(|i| {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                let noise = (s >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                let t = i as f64 / rate;
                let mut v = noise;
                for &(f, a) in parts {
                    v += a * (2.0 * std::f64::consts::PI * f * t).sin();
                }
                v as f32
            })
            .collect()
    }

    #[test]
    fn finds_50_and_60_and_none() {
        let rate = 4000.0;
        let x = tone(rate, 40_000, &[(50.0, 0.2), (150.0, 0.05)], 1);
        assert_eq!(detect(&x, rate, 10.0).frequency_hz, Some(50.0));
        let x = tone(rate, 40_000, &[(60.0, 0.2)], 2);
        assert_eq!(detect(&x, rate, 10.0).frequency_hz, Some(60.0));
        let x = tone(rate, 40_000, &[], 3);
        let r = detect(&x, rate, 10.0);
        assert_eq!(r.frequency_hz, None, "{r:?}");
        // Slightly off-nominal mains (49.8 Hz) is still found.
        let x = tone(rate, 40_000, &[(49.8, 0.2)], 4);
        assert_eq!(detect(&x, rate, 10.0).frequency_hz, Some(50.0));
    }

    #[test]
    fn comb_matches_closed_form_and_notches_harmonics() {
        let c = Comb::new(50.0, 2.0, 20_000.0).unwrap();
        assert_eq!(c.period, 400);
        for k in 1..10 {
            assert!(c.gain(50.0 * k as f64, 20_000.0) < 1e-9);
        }
        // −3 dB at ±1 Hz around each notch, unity half-way between notches.
        assert!((c.gain(51.0, 20_000.0) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-3);
        assert!((c.gain(75.0, 20_000.0) - 1.0).abs() < 1e-9);
        assert!(Comb::new(60.0, 2.0, 4000.0).is_none());
    }

    #[test]
    fn notch_response() {
        let s = Sos::new(vec![notch_section(60.0, 2.0, 1000.0)]);
        assert!(s.response(60.0, 1000.0).abs() < 1e-12);
        // −3 dB at about ±1 Hz (exactly so in the pre-warped domain).
        assert!((s.response(61.0, 1000.0).abs() - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-2);
        assert!((s.response(200.0, 1000.0).abs() - 1.0).abs() < 1e-3);
        match hum_filter(60.0, 2.0, 2000.0, 450.0, 20) {
            HumFilter::Notches { frequencies_hz, .. } => {
                assert_eq!(
                    frequencies_hz,
                    vec![60.0, 120.0, 180.0, 240.0, 300.0, 360.0, 420.0]
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn comb_backward_equals_reverse_forward_reverse() {
        let c = Comb::new(50.0, 3.0, 1000.0).unwrap();
        for n in [0usize, 1, 19, 20, 21, 137, 400] {
            let x: Vec<f64> = (0..n).map(|i| ((i * 37 % 23) as f64) - 11.0).collect();
            let mut want = vec![0.0; n];
            let rev: Vec<f64> = x.iter().rev().copied().collect();
            c.run(&rev, &mut want);
            want.reverse();
            let mut got = vec![0.0; n];
            c.run_backward(&x, &mut got);
            assert_eq!(got, want, "n = {n}");
        }
    }

    /// The chunked, in-place recursion computes the same expression as the direct one, so
    /// the same value to the bit, at every length (chunks of one period, a shorter last one).
    #[test]
    fn comb_run_matches_direct_recursion() {
        let c = Comb::new(50.0, 3.0, 1000.0).unwrap();
        for len in [0usize, 1, 19, 20, 21, 40, 137] {
            let x: Vec<f64> = (0..len).map(|i| ((i * 37 % 23) as f64) - 11.0).collect();
            let mut y = vec![0.0; x.len()];
            c.run(&x, &mut y);
            let d = c.period;
            for n in 0..x.len() {
                let (xp, yp) = if n >= d {
                    (x[n - d], y[n - d])
                } else {
                    (x[0], 0.0)
                };
                let want = c.b * (x[n] - xp) + c.a * yp;
                assert_eq!(y[n].to_bits(), want.to_bits(), "len {len}, n {n}");
            }
        }
    }

    /// The integer keys order like `f64::total_cmp` and give the values back.
    #[test]
    fn total_order_keys_sort_like_floats() {
        let mut v = [
            3.5,
            -0.0,
            0.0,
            -1e300,
            f64::NEG_INFINITY,
            1e-310,
            -2.25,
            f64::INFINITY,
            f64::NAN,
        ];
        let mut keys: Vec<i64> = v.iter().map(|&x| total_order_key(x)).collect();
        keys.sort_unstable();
        v.sort_by(f64::total_cmp);
        for (k, x) in keys.iter().zip(&v) {
            assert_eq!(from_total_order_key(*k).to_bits(), x.to_bits());
        }
    }
}
