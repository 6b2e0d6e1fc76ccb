//! The simulator as a user sees it: every built-in scenario runs; every configured property
//! of the trains is there in the truth (statistically where it is random); templates meet
//! the domain brief's ranges; the noise gives the configured SNR; output is deterministic
//! and independent of the block size; bad parameters give one clear `Error::Config`.
//!
//! Seeds are fixed constants, so every test is deterministic. Statistical tests state the
//! test, the level and why the tolerance is what it is.

use std::collections::BTreeMap;

use kymo::simulate::scenario::Scenario;
use kymo::simulate::truth::{self, ArtefactKind, PotentialRecord, Truth, TruthWriter};
use kymo::simulate::waveform::{measure, Polarity, WaveformKind};
use kymo::simulate::{self, Class, NullSink, Simulation, VecSink};
use kymo::Error;

const SEED: u64 = 20_240_601;

fn scenario(toml: &str) -> Scenario {
    Scenario::from_toml_str(toml).expect("the test scenario parses")
}

/// Runs a scenario and keeps samples and truth in memory.
fn run(s: &Scenario, seed: u64) -> (VecSink, Truth) {
    let mut samples = VecSink::default();
    let mut truth = Truth::default();
    simulate::run(s, seed, &mut samples, &mut truth).expect("the scenario runs");
    (samples, truth)
}

/// Runs a scenario for its truth only.
fn truth_of(s: &Scenario, seed: u64) -> Truth {
    let mut truth = Truth::default();
    simulate::run(s, seed, &mut NullSink, &mut truth).expect("the scenario runs");
    truth
}

/// Potentials of each unit, in time order.
fn by_unit(t: &Truth) -> BTreeMap<usize, Vec<&PotentialRecord>> {
    let mut m: BTreeMap<usize, Vec<&PotentialRecord>> = BTreeMap::new();
    for p in &t.potentials {
        m.entry(p.unit).or_default().push(p);
    }
    m
}

/// Potentials of each event, in time order.
fn by_event(t: &Truth) -> BTreeMap<u64, Vec<&PotentialRecord>> {
    let mut m: BTreeMap<u64, Vec<&PotentialRecord>> = BTreeMap::new();
    for p in &t.potentials {
        m.entry(p.event).or_default().push(p);
    }
    m
}

/// A run with no noise and no hum (statistics of the trains only; fast).
fn quiet(body: &str, seconds: f64) -> Scenario {
    scenario(&format!(
        "seconds = {seconds}\n[recording]\nnoise = {{ rms_uv = 0 }}\n{body}"
    ))
}

fn config_error(toml: &str) -> String {
    let s = match Scenario::from_toml_str(toml) {
        Ok(s) => s,
        Err(Error::Config(m)) => return m,
        Err(e) => panic!("expected a config error, got {e:?}"),
    };
    match Simulation::new(&s, SEED) {
        Err(Error::Config(m)) => m,
        Err(e) => panic!("expected a config error, got {e:?}"),
        Ok(_) => panic!("the scenario was accepted:\n{toml}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Built-in scenarios and the truth's internal consistency
// ---------------------------------------------------------------------------------------------

#[test]
fn every_builtin_validates_runs_and_has_a_consistent_truth() {
    let names: Vec<&str> = simulate::list().iter().map(|(n, _)| *n).collect();
    for want in [
        "myokymia-facial",
        "myokymia-limb",
        "fasciculations",
        "neuromyotonia",
        "complex-repetitive",
        "fibrillations",
        "myotonia",
        "cramp",
        "voluntary",
        "rest",
        "mixed",
    ] {
        assert!(names.contains(&want), "missing built-in {want}");
    }
    for (name, description) in simulate::list() {
        assert!(!description.is_empty(), "{name} has no description");
        assert!(!description.contains('\n'), "{name}: one line");
        let s = simulate::builtin(name).expect("built-in parses");
        s.validate().expect("built-in validates");
        let (samples, t) = run(&s, SEED);
        let n = t.recording.n_samples as usize;
        assert_eq!(n, (s.seconds * t.recording.rate_hz) as usize, "{name}");
        assert_eq!(samples.channels.len(), t.recording.channels.len(), "{name}");
        for ch in &samples.channels {
            assert_eq!(ch.len(), n, "{name}");
            assert!(
                ch.iter().all(|v| v.is_finite()),
                "{name}: non-finite sample"
            );
        }
        assert_eq!(t.truth_version, 1);
        assert_eq!(t.summary.potentials as usize, t.potentials.len());
        assert_eq!(t.summary.events as usize, t.events.len());
        assert_eq!(t.summary.artefacts as usize, t.artefacts.len());
        // Potentials in time order, on the recording, each in an existing event.
        for w in t.potentials.windows(2) {
            assert!(w[1].t >= w[0].t, "{name}: potentials out of order");
        }
        let events: BTreeMap<u64, _> = t.events.iter().map(|e| (e.id, e)).collect();
        assert_eq!(events.len(), t.events.len(), "{name}: duplicate event ids");
        for p in &t.potentials {
            assert!(p.sample < t.recording.n_samples);
            assert!((p.sample as f64 - p.t * t.recording.rate_hz).abs() <= 0.5 + 1e-9);
            let e = events.get(&p.event).expect("the potential's event exists");
            assert_eq!(e.class, p.class);
            assert!(e.units.contains(&p.unit));
            assert!(p.t >= e.first_s && p.t <= e.last_s);
            assert_eq!(t.units[p.unit].class, p.class);
        }
        for (id, ps) in by_event(&t) {
            assert_eq!(
                events[&id].n_potentials as usize,
                ps.len(),
                "{name}: event {id}"
            );
            assert!(
                !events[&id].params.is_empty(),
                "{name}: event {id} has no parameters"
            );
        }
        // Event ids are chronological by first potential.
        let mut firsts: Vec<(u64, f64)> = t.events.iter().map(|e| (e.id, e.first_s)).collect();
        firsts.sort_by_key(|x| x.0);
        for w in firsts.windows(2) {
            assert!(w[1].1 >= w[0].1, "{name}: ids not chronological");
        }
        if name == "rest" {
            assert!(t.potentials.is_empty() && t.events.is_empty() && t.units.is_empty());
        } else {
            assert!(!t.potentials.is_empty(), "{name}: no potential");
        }
    }
}

#[test]
fn rest_has_artefacts_and_no_discharge() {
    let mut s = simulate::builtin("rest").expect("built-in");
    s.seconds = 60.0;
    let t = truth_of(&s, SEED);
    assert!(t.potentials.is_empty() && t.events.is_empty());
    let kinds: Vec<ArtefactKind> = t.artefacts.iter().map(|a| a.kind).collect();
    for k in [
        ArtefactKind::Mains,
        ArtefactKind::BaselineWander,
        ArtefactKind::Movement,
        ArtefactKind::ElectrodePop,
    ] {
        assert!(kinds.contains(&k), "no {k:?} in a minute of `rest`");
    }
    for a in &t.artefacts {
        assert!(a.start_s >= 0.0 && a.end_s <= 60.0 && a.start_s < a.end_s);
    }
}

#[test]
fn mixed_keeps_its_classes_in_their_windows() {
    let s = simulate::builtin("mixed").expect("built-in");
    let t = truth_of(&s, SEED);
    let windows: [(Class, f64, f64); 4] = [
        (Class::Myokymic, 0.0, 15.0),
        (Class::Fibrillation, 15.0, 30.0),
        (Class::ComplexRepetitive, 30.0, 45.0),
        (Class::Neuromyotonic, 45.0, 60.0),
    ];
    for (class, a, b) in windows {
        let ps: Vec<_> = t.potentials.iter().filter(|p| p.class == class).collect();
        assert!(!ps.is_empty(), "{class:?} missing from mixed");
        assert!(
            ps.iter().all(|p| p.t >= a && p.t < b),
            "{class:?} outside [{a}, {b})"
        );
    }
    assert!(t.potentials.iter().any(|p| p.class == Class::Fasciculation));
    assert_eq!(t.recording.channels.len(), 2);
}

#[test]
fn unknown_scenario_names_the_built_ins() {
    match simulate::builtin("myokimia") {
        Err(Error::Config(m)) => {
            assert!(m.contains("unknown scenario \"myokimia\""), "{m}");
            for (name, _) in simulate::list() {
                assert!(m.contains(name), "{m} does not list {name}");
            }
        }
        other => panic!("expected a config error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_parameters_are_config_errors_naming_the_field() {
    let cases: &[(&str, &[&str])] = &[
        ("seconds = 0\n[[sources]]\nclass = \"regular\"\n", &["seconds", "positive"]),
        ("seconds = -3\n[[sources]]\nclass = \"regular\"\n", &["seconds"]),
        (
            "[[sources]]\nclass = \"fasciculation\"\nrate_hz = [-1, 0.5]\n",
            &["sources[0] (fasciculation)", "rate_hz", "must be positive"],
        ),
        (
            "[recording]\nrate_hz = 2048\n[[sources]]\nclass = \"myokymic\"\nintraburst_rate_hz = [20, 1500]\n",
            &["intraburst_rate_hz", "Nyquist", "1024"],
        ),
        (
            "[[sources]]\nclass = \"neuromyotonic\"\nrate_hz = [300, 150]\n",
            &["rate_hz", "empty"],
        ),
        (
            "[[sources]]\nclass = \"complex-repetitive\"\njitter = 0.02\n",
            &["jitter", "1 %"],
        ),
        (
            "[recording]\nelectrode = \"surface\"\n[[sources]]\nclass = \"fibrillation\"\n",
            &["fibrillation", "surface"],
        ),
        (
            "[[sources]]\nclass = \"myokymic\"\npotentials_per_burst = [20, 30]\nintraburst_rate_hz = [5, 10]\n",
            &["potentials_per_burst", "max_duty"],
        ),
        (
            "[[sources]]\nclass = \"myokymic\"\nintraburst_rate = [20, 40]\n",
            &["TOML line", "unknown field `intraburst_rate`"],
        ),
        ("[[sources]]\nclass = \"myokymia\"\n", &["unknown variant `myokymia`"]),
        ("seconds = 10\n", &["snr_db", "no sources"]),
        ("[recording]\nmains = { hz = 55 }\n[[sources]]\nclass = \"regular\"\n", &["mains hz", "50 or 60"]),
        (
            "[recording]\nrate_hz = 300\nband_hz = [10, 100]\nmains = { hz = 60, amplitude_uv = 5 }\n[[sources]]\nclass = \"regular\"\n",
            &["harmonic 3", "180 Hz", "Nyquist"],
        ),
        (
            "[recording]\nchannels = 0\n[[sources]]\nclass = \"regular\"\n",
            &["channels"],
        ),
        (
            "[[sources]]\nclass = \"regular\"\nwindow = [0.5, 0.2]\n",
            &["window", "empty"],
        ),
    ];
    for (toml, needles) in cases {
        let m = config_error(toml);
        assert!(m.starts_with("simulate: "), "{m}");
        for n in *needles {
            assert!(
                m.contains(n),
                "message {m:?} lacks {n:?} (scenario:\n{toml})"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Firing statistics
// ---------------------------------------------------------------------------------------------

/// Tolerance on a rate measured from truth times: each time lies on the grid of
/// `time_resolution_s`, so a span of `k` intervals is off by at most one grid step.
fn rate_tol(rate: f64, span_s: f64, grid_s: f64) -> f64 {
    rate * grid_s / span_s + 1e-9
}

#[test]
fn myokymic_bursts_have_the_configured_counts_rates_and_recurrence() {
    let s = quiet("[[sources]]\nclass = \"myokymic\"\ncount = 3\n", 300.0);
    let t = truth_of(&s, SEED);
    let grid = t.recording.time_resolution_s;
    let mut per_unit_starts: BTreeMap<usize, Vec<(f64, f64)>> = BTreeMap::new();
    let events: BTreeMap<u64, _> = t.events.iter().map(|e| (e.id, e)).collect();
    for (id, ps) in by_event(&t) {
        let e = events[&id];
        assert_eq!(e.class, Class::Myokymic);
        let n = ps.len();
        // Potentials per burst inside the configured range (default 2–10).
        assert!((2..=10).contains(&n), "burst {id} has {n} potentials");
        assert_eq!(n as f64, e.params["potentials"]);
        // Every potential of a burst comes from one unit.
        assert!(ps.iter().all(|p| p.unit == ps[0].unit));
        let span = ps[n - 1].t - ps[0].t;
        let rate = (n - 1) as f64 / span;
        // Measured intraburst rate inside the configured 20–40 Hz, and equal to the
        // burst's planned rate up to the time grid.
        let tol = rate_tol(rate, span, grid);
        assert!(
            rate >= 20.0 - tol && rate <= 40.0 + tol,
            "burst {id}: {rate} Hz"
        );
        assert!(
            (rate - e.params["intraburst_rate_hz"]).abs() <= tol,
            "burst {id}"
        );
        // The amplitude trend is linear from 1 − a/2 to 1 + a/2.
        let a = e.params["amplitude_trend"];
        let first = ps[0].scale;
        let last = ps[n - 1].scale;
        assert!(
            (last - first - a).abs() < 1e-9,
            "burst {id}: trend {} vs {a}",
            last - first
        );
        per_unit_starts
            .entry(ps[0].unit)
            .or_default()
            .push((ps[0].t, e.params["recurrence_hz"]));
    }
    // Recurrence: the mean start-to-start interval of a unit is 1 / its recurrence rate.
    // Intervals have CV 0.2 (default); with ≥ 100 bursts per unit the mean's relative
    // standard error is ≤ 2 %, so 8 % is four standard errors.
    for (unit, starts) in per_unit_starts {
        assert!(
            starts.len() >= 100,
            "unit {unit}: {} bursts in 300 s",
            starts.len()
        );
        let f = starts[0].1;
        assert!((1.0..=5.0).contains(&f));
        let mean = (starts[starts.len() - 1].0 - starts[0].0) / (starts.len() - 1) as f64;
        assert!(
            (mean * f - 1.0).abs() < 0.08,
            "unit {unit}: mean interval {mean} s at {f} Hz"
        );
    }
}

/// Kolmogorov–Smirnov statistic of `x` against the unit exponential CDF `1 − e^(−x)`:
/// `D = max_i max(i/n − F(x_(i)), F(x_(i)) − (i−1)/n)` over the sorted sample.
fn ks_exponential(mut x: Vec<f64>) -> f64 {
    x.sort_by(f64::total_cmp);
    let n = x.len() as f64;
    x.iter()
        .enumerate()
        .map(|(i, &v)| {
            let f = 1.0 - (-v).exp();
            ((i + 1) as f64 / n - f).max(f - i as f64 / n)
        })
        .fold(0.0, f64::max)
}

/// Critical value of D at α = 0.01 for large n: the Kolmogorov distribution's upper 1 %
/// point is 1.6276 (Smirnov's asymptotic table), divided by √n.
fn ks_critical_001(n: usize) -> f64 {
    1.6276 / (n as f64).sqrt()
}

#[test]
fn fasciculation_intervals_pass_a_kolmogorov_smirnov_test_for_poisson() {
    let s = quiet(
        "[[sources]]\nclass = \"fasciculation\"\ncount = 20\n",
        1000.0,
    );
    let t = truth_of(&s, SEED);
    let rates: BTreeMap<usize, f64> = t
        .events
        .iter()
        .map(|e| (e.units[0], e.params["rate_hz"]))
        .collect();
    // Intervals scaled by each unit's own rate are unit exponentials under a Poisson process.
    let mut x = Vec::new();
    for (unit, ps) in by_unit(&t) {
        let r = rates[&unit];
        assert!((0.1..=0.5).contains(&r), "brief: well under 1 Hz");
        x.extend(ps.windows(2).map(|w| (w[1].t - w[0].t) * r));
    }
    assert!(x.len() > 2000, "{} intervals", x.len());
    let n = x.len();
    let d = ks_exponential(x);
    assert!(
        d < ks_critical_001(n),
        "KS D = {d} ≥ {} (n = {n})",
        ks_critical_001(n)
    );

    // The same test rejects a regular train (power check of the test itself).
    let s = quiet("[[sources]]\nclass = \"regular\"\ncount = 5\n", 200.0);
    let t = truth_of(&s, SEED);
    let mut x = Vec::new();
    for (_, ps) in by_unit(&t) {
        let mean = (ps[ps.len() - 1].t - ps[0].t) / (ps.len() - 1) as f64;
        x.extend(ps.windows(2).map(|w| (w[1].t - w[0].t) / mean));
    }
    let n = x.len();
    assert!(ks_exponential(x) > ks_critical_001(n));
}

#[test]
fn complex_repetitive_intervals_stay_within_the_jitter_bound() {
    let s = quiet(
        "[[sources]]\nclass = \"complex-repetitive\"\ncount = 2\n",
        200.0,
    );
    let t = truth_of(&s, SEED);
    let grid = t.recording.time_resolution_s;
    let events: BTreeMap<u64, _> = t.events.iter().map(|e| (e.id, e)).collect();
    let mut changes = 0;
    let mut checked = 0;
    for (id, ps) in by_event(&t) {
        let e = events[&id];
        let jitter = e.params["jitter"];
        assert!(jitter < 0.01, "brief: far below 1 %");
        let change = e.params.get("change_s").copied().unwrap_or(f64::INFINITY);
        if change.is_finite() {
            changes += 1;
            let r2 = e.params["rate2_hz"];
            assert!((r2 / e.params["rate_hz"] - 1.0).abs() >= 0.2);
        }
        let mut devs = Vec::new();
        for w in ps.windows(2) {
            let rate = if w[0].t < change {
                e.params["rate_hz"]
            } else {
                e.params["rate2_hz"]
            };
            let period = 1.0 / rate;
            let rel = (w[1].t - w[0].t) / period - 1.0;
            // Bound: the configured jitter, plus the time grid (each time is rounded to it,
            // so an interval is off by at most one grid step).
            assert!(
                rel.abs() <= jitter + grid / period + 1e-12,
                "event {id}: {rel}"
            );
            devs.push(rel);
            checked += 1;
        }
        assert!(ps.len() >= 2);
        let cv = (devs.iter().map(|d| d * d).sum::<f64>() / devs.len() as f64).sqrt();
        assert!(cv < 0.01, "event {id}: interval CV {cv}");
    }
    assert!(
        checked > 1000 && changes > 0,
        "{checked} intervals, {changes} rate changes"
    );
}

/// Least-squares slope of `y` on `x`.
fn slope(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let mx = x.iter().sum::<f64>() / n;
    let my = y.iter().sum::<f64>() / n;
    let sxy: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let sxx: f64 = x.iter().map(|a| (a - mx).powi(2)).sum();
    sxy / sxx
}

#[test]
fn neuromyotonic_discharges_wane_at_150_to_300_hz() {
    let s = quiet("[[sources]]\nclass = \"neuromyotonic\"\ncount = 2\n", 120.0);
    let t = truth_of(&s, SEED);
    let grid = t.recording.time_resolution_s;
    let mut n_events = 0;
    for (id, ps) in by_event(&t) {
        n_events += 1;
        let x: Vec<f64> = ps.iter().map(|p| p.t).collect();
        let y: Vec<f64> = ps.iter().map(|p| p.amplitude_uv[0]).collect();
        assert!(slope(&x, &y) < 0.0, "event {id}: amplitude does not wane");
        assert!(y[y.len() - 1] < y[0]);
        let span = x[x.len() - 1] - x[0];
        let rate = (x.len() - 1) as f64 / span;
        // The interval CV is 0.05 (default), so the mean rate over hundreds of intervals
        // is within ~0.5 % of the drawn rate; the brief's 150–300 Hz with 2 % slack.
        assert!(
            rate > 150.0 * 0.98 && rate < 300.0 * 1.02 + rate_tol(rate, span, grid),
            "{rate}"
        );
        assert!(
            (1.0..=4.0 + 0.01).contains(&span),
            "event {id} lasts {span} s"
        );
    }
    assert!(n_events >= 4);
}

#[test]
fn fibrillation_trains_are_regular_in_range_and_slowing() {
    let s = quiet("[[sources]]\nclass = \"fibrillation\"\ncount = 4\n", 120.0);
    let t = truth_of(&s, SEED);
    for (unit, ps) in by_unit(&t) {
        let iv: Vec<f64> = ps.windows(2).map(|w| w[1].t - w[0].t).collect();
        let rates: Vec<f64> = iv.iter().map(|d| 1.0 / d).collect();
        assert!(
            rates.iter().all(|r| (0.5..=15.0).contains(r)),
            "unit {unit}"
        );
        // Drift is −20 %/min to 0: the rate at the end is not above the start (the
        // mean of the first and last ten intervals, CV 2 % each).
        let head = iv[..10].iter().sum::<f64>();
        let tail = iv[iv.len() - 10..].iter().sum::<f64>();
        assert!(tail >= head * 0.95, "unit {unit} sped up");
    }
}

#[test]
fn regular_discharges_have_cv_near_3_5_percent() {
    let s = quiet(
        "[[sources]]\nclass = \"regular\"\ncount = 3\nrate_hz = [10, 18]\n",
        200.0,
    );
    let t = truth_of(&s, SEED);
    for (unit, ps) in by_unit(&t) {
        let iv: Vec<f64> = ps.windows(2).map(|w| w[1].t - w[0].t).collect();
        let n = iv.len() as f64;
        let m = iv.iter().sum::<f64>() / n;
        let sd = (iv.iter().map(|d| (d - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        // ≥ 2000 intervals: the CV estimate's relative standard error is ≈ 1/√(2n) < 2 %;
        // allow 10 %.
        assert!(
            (sd / m - 0.035).abs() < 0.0035,
            "unit {unit}: CV {}",
            sd / m
        );
    }
}

#[test]
fn doublet_intervals_are_2_to_20_ms() {
    let s = quiet("[[sources]]\nclass = \"doublet\"\ncount = 4\n", 300.0);
    let t = truth_of(&s, SEED);
    let grid = t.recording.time_resolution_s;
    let mut groups = 0;
    for (_, ps) in by_event(&t) {
        assert!((2..=3).contains(&ps.len()));
        for w in ps.windows(2) {
            let d = w[1].t - w[0].t;
            assert!(d >= 0.002 - grid && d <= 0.020 + grid, "{d}");
        }
        groups += 1;
    }
    assert!(groups > 50);
}

#[test]
fn myotonic_rate_and_amplitude_wax_and_wane_within_20_to_80_hz() {
    let s = quiet("[[sources]]\nclass = \"myotonic\"\ncount = 2\n", 120.0);
    let t = truth_of(&s, SEED);
    for (id, ps) in by_event(&t) {
        let rates: Vec<f64> = ps.windows(2).map(|w| 1.0 / (w[1].t - w[0].t)).collect();
        // Intervals are 1 / rate(t) exactly, up to the time grid (< 0.1 % at 80 Hz).
        assert!(
            rates.iter().all(|r| *r > 20.0 * 0.999 && *r < 80.0 * 1.001),
            "event {id}"
        );
        // Amplitude rises to a peak inside the discharge and falls again, with the rate.
        let amps: Vec<f64> = ps.iter().map(|p| p.scale).collect();
        let k = amps
            .iter()
            .enumerate()
            .fold(0, |b, (i, &a)| if a > amps[b] { i } else { b });
        assert!(
            amps[0] < amps[k] && amps[amps.len() - 1] < amps[k],
            "event {id}"
        );
    }
}

#[test]
fn voluntary_units_are_recruited_in_order_and_fire_at_6_to_20_hz() {
    let s = quiet("[[sources]]\nclass = \"voluntary\"\n", 120.0);
    let t = truth_of(&s, SEED);
    let events: BTreeMap<u64, _> = t.events.iter().map(|e| (e.id, e)).collect();
    let mut cvs = Vec::new();
    for (id, ps) in by_event(&t) {
        let e = events[&id];
        // Recruitment order: unit k (by threshold) starts no earlier than unit k − 1.
        let mut first: BTreeMap<usize, f64> = BTreeMap::new();
        let mut per: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
        for p in &ps {
            first.entry(p.unit).or_insert(p.t);
            per.entry(p.unit).or_default().push(p.t);
        }
        let order: Vec<f64> = first.values().copied().collect();
        for w in order.windows(2) {
            // The recruitment check runs every 5 ms.
            assert!(
                w[1] >= w[0] - 0.005 - 1e-9,
                "event {id}: recruitment out of order"
            );
        }
        assert_eq!(
            first.len() as f64,
            e.params["recruited_units"],
            "event {id}"
        );
        for ts in per.values() {
            let iv: Vec<f64> = ts.windows(2).map(|w| w[1] - w[0]).collect();
            if iv.len() >= 20 {
                let m = iv.iter().sum::<f64>() / iv.len() as f64;
                // Mean rate between the minimum and peak rates (CV 0.15 around rates that
                // lie in 6–20 Hz).
                assert!(
                    1.0 / m > 6.0 * 0.9 && 1.0 / m < 20.0 * 1.1,
                    "rate {}",
                    1.0 / m
                );
                let sd = (iv.iter().map(|d| (d - m).powi(2)).sum::<f64>() / iv.len() as f64).sqrt();
                cvs.push(sd / m);
            }
        }
    }
    // Interval CV: 0.15 by default, plus the spread the ramps add to a unit's intervals.
    let mean_cv = cvs.iter().sum::<f64>() / cvs.len() as f64;
    assert!(
        cvs.len() > 10 && (0.1..0.3).contains(&mean_cv),
        "{mean_cv} over {}",
        cvs.len()
    );
}

#[test]
fn cramps_drive_many_units_irregularly() {
    let s = quiet("[[sources]]\nclass = \"cramp\"\n", 120.0);
    let t = truth_of(&s, SEED);
    assert!(!t.events.is_empty());
    for e in &t.events {
        assert!(
            e.units.len() >= 5 && e.units.len() <= 15,
            "{}",
            e.units.len()
        );
        assert_eq!(e.units.len() as f64, e.params["units"]);
    }
    // Pooled interval CV (doublets excluded: intervals under 20 ms): gamma intervals
    // with CV 0.45 (brief), mean rates 6–25 Hz; the pooled CV over units of different rates
    // is larger. Allow 0.35–0.8.
    let mut cvs = Vec::new();
    for (_, ps) in by_unit(&t) {
        let iv: Vec<f64> = ps
            .windows(2)
            .map(|w| w[1].t - w[0].t)
            .filter(|d| *d > 0.02 && *d < 1.0)
            .collect();
        if iv.len() > 30 {
            let m = iv.iter().sum::<f64>() / iv.len() as f64;
            let sd = (iv.iter().map(|d| (d - m).powi(2)).sum::<f64>() / iv.len() as f64).sqrt();
            cvs.push(sd / m);
        }
    }
    let mean_cv = cvs.iter().sum::<f64>() / cvs.len() as f64;
    assert!((0.3..0.8).contains(&mean_cv), "{mean_cv}");
}

// ---------------------------------------------------------------------------------------------
// Waveforms
// ---------------------------------------------------------------------------------------------

/// Relative slack on a template's peak-to-peak: it is scaled exactly to the drawn value in
/// f64 and stored as f32 (rounding ~1e-7).
const P2P_SLACK: f64 = 1e-4;

fn templates(toml: &str) -> Vec<(kymo::simulate::waveform::TemplateStats, WaveformKind)> {
    let s = scenario(toml);
    let sim = Simulation::new(&s, SEED).expect("valid");
    let fs = s.recording.rate();
    (0..sim.header().units.len())
        .map(|i| {
            let t = sim.template(i).expect("unit exists");
            (measure(t.phase(0), fs).expect("not flat"), t.kind())
        })
        .collect()
}

#[test]
fn needle_muaps_are_5_to_15_ms_200_uv_to_2_mv_with_2_to_4_phases() {
    let stats = templates("seconds = 1\n[[sources]]\nclass = \"fasciculation\"\ncount = 30\n");
    let mut poly = 0;
    for (s, kind) in &stats {
        assert_eq!(*kind, WaveformKind::NeedleMuap);
        let d = s.duration_s * 1e3;
        assert!((5.0..=15.0).contains(&d), "duration {d} ms");
        assert!(
            s.p2p >= 200.0 * (1.0 - P2P_SLACK) && s.p2p <= 2000.0 * (1.0 + P2P_SLACK),
            "{}",
            s.p2p
        );
        assert!(s.phases >= 2 && s.phases <= 8, "{} phases", s.phases);
        if s.phases > 4 {
            poly += 1;
        }
    }
    assert!(poly < stats.len() / 2, "most units have 2–4 phases");
    // All polyphasic when asked.
    let stats = templates(
        "seconds = 1\n[waveforms.muap]\npolyphasic_fraction = 1\n[[sources]]\nclass = \"fasciculation\"\ncount = 8\n",
    );
    assert!(stats.iter().all(|(s, _)| s.phases >= 5));
}

#[test]
fn surface_muaps_are_wider_and_single_fibre_classes_are_refused() {
    let needle = templates("seconds = 1\n[[sources]]\nclass = \"fasciculation\"\ncount = 15\n");
    let surface = templates(
        "seconds = 1\n[recording]\nelectrode = \"surface\"\n[[sources]]\nclass = \"fasciculation\"\ncount = 15\n",
    );
    let med = |v: &[(kymo::simulate::waveform::TemplateStats, WaveformKind)]| {
        let mut d: Vec<f64> = v.iter().map(|(s, _)| s.duration_s).collect();
        d.sort_by(f64::total_cmp);
        d[d.len() / 2]
    };
    for (s, kind) in &surface {
        assert_eq!(*kind, WaveformKind::SurfaceMuap);
        assert!((8.0..=30.0).contains(&(s.duration_s * 1e3)));
        assert!(s.p2p >= 50.0 * (1.0 - P2P_SLACK) && s.p2p <= 500.0 * (1.0 + P2P_SLACK));
    }
    assert!(med(&surface) > med(&needle));
}

#[test]
fn single_fibre_potentials_have_their_shapes() {
    let stats = templates(
        "seconds = 1\n[[sources]]\nclass = \"fibrillation\"\ncount = 15\n[[sources]]\nclass = \"positive-sharp-wave\"\ncount = 8\n[[sources]]\nclass = \"endplate-spike\"\ncount = 8\n[[sources]]\nclass = \"complex-repetitive\"\ncount = 5\n",
    );
    for (s, kind) in &stats {
        let d = s.duration_s * 1e3;
        match kind {
            WaveformKind::Fibrillation => {
                assert!((1.0..=5.0).contains(&d), "fibrillation {d} ms");
                assert!(s.phases == 2 || s.phases == 3);
                assert_eq!(
                    s.first_phase,
                    Polarity::Positive,
                    "fibrillations are initially positive"
                );
                assert!(s.p2p >= 20.0 * (1.0 - P2P_SLACK) && s.p2p <= 200.0 * (1.0 + P2P_SLACK));
            }
            WaveformKind::PositiveSharpWave => {
                assert!((10.0..=100.0).contains(&d), "PSW {d} ms");
                assert_eq!(s.first_phase, Polarity::Positive);
                assert!(s.phases >= 2);
            }
            WaveformKind::EndplateSpike => {
                assert_eq!(
                    s.first_phase,
                    Polarity::Negative,
                    "endplate spikes are initially negative"
                );
                assert!((1.0..=5.0).contains(&d));
            }
            WaveformKind::Complex => assert!(s.phases >= 4, "a complex is polyphasic"),
            k => panic!("unexpected {k:?}"),
        }
    }
    // The positive sharp wave's sharp positive peak comes before its slow negative phase.
    let s = scenario("seconds = 1\n[[sources]]\nclass = \"positive-sharp-wave\"\ncount = 4\n");
    let sim = Simulation::new(&s, SEED).expect("valid");
    for i in 0..4 {
        let x = sim.template(i).expect("unit").phase(0);
        let (imax, imin) = x.iter().enumerate().fold((0, 0), |(a, b), (i, &v)| {
            (if v > x[a] { i } else { a }, if v < x[b] { i } else { b })
        });
        assert!(imax < imin);
    }
}

/// Every draw of a positive sharp wave ends, in bounded memory, with a wave in the brief's
/// 10–100 ms: the duration fit once took a step of ×1000 after a probe measured a sample or
/// two, and the next probe asked for a 100 GB buffer (seed 15 below).
#[test]
fn positive_sharp_waves_draw_for_every_seed() {
    let s = scenario(
        "seconds = 1\n[recording]\nelectrode = \"needle\"\nnoise = { snr_db = 10 }\n[[sources]]\nclass = \"positive-sharp-wave\"\ncount = 2\n",
    );
    let fs = s.recording.rate();
    for seed in 0..40 {
        let sim = Simulation::new(&s, seed).expect("valid");
        for i in 0..2 {
            let t = sim.template(i).expect("unit");
            let d = measure(t.phase(0), fs).expect("not flat").duration_s * 1e3;
            assert!((10.0..=100.0).contains(&d), "seed {seed}: PSW {d} ms");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Noise
// ---------------------------------------------------------------------------------------------

/// The SNR (definition on `NoiseLevel`) measured from separate clean and noise renderings:
/// per unit, the median rms of its isolated clean potentials over their durations; the
/// median of that over units; over the rms of (noisy − clean).
#[test]
fn snr_is_as_configured_within_1_db() {
    for (snr, channels) in [(12.0, 2usize), (0.0, 1), (25.0, 1)] {
        let body = |noise: &str| {
            format!(
                "seconds = 30\n[recording]\nchannels = {channels}\nnoise = {noise}\n[[sources]]\nclass = \"fasciculation\"\ncount = 9\nrate_hz = [1, 2]\n"
            )
        };
        let (clean, t) = run(&scenario(&body("{ rms_uv = 0 }")), SEED);
        let (noisy, t2) = run(&scenario(&body(&format!("{{ snr_db = {snr} }}"))), SEED);
        assert_eq!(
            t.potentials, t2.potentials,
            "noise must not change the potentials"
        );
        let fs = t.recording.rate_hz;
        let units = &t.units;
        // Isolated potentials: no other potential's duration overlaps this one's.
        let span = |p: &PotentialRecord| {
            let u = &units[p.unit];
            (p.t + u.onset_ms * 1e-3, p.t + u.end_ms * 1e-3)
        };
        for c in 0..channels {
            let noise: Vec<f64> = noisy.channels[c]
                .iter()
                .zip(&clean.channels[c])
                .map(|(a, b)| (*a - *b) as f64)
                .collect();
            let sigma = (noise.iter().map(|v| v * v).sum::<f64>() / noise.len() as f64).sqrt();
            let mut per_unit: BTreeMap<usize, Vec<f64>> = BTreeMap::new();
            for (i, p) in t.potentials.iter().enumerate() {
                let (a, b) = span(p);
                let clear_before = i == 0 || span(&t.potentials[i - 1]).1 < a;
                let clear_after = i + 1 == t.potentials.len() || span(&t.potentials[i + 1]).0 > b;
                if !(clear_before && clear_after) || a < 0.0 {
                    continue;
                }
                let (i0, i1) = ((a * fs).round() as usize, (b * fs).round() as usize);
                if i1 >= clean.channels[c].len() {
                    continue;
                }
                let seg = &clean.channels[c][i0..=i1];
                let rms = (seg.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / seg.len() as f64)
                    .sqrt();
                per_unit.entry(p.unit).or_default().push(rms);
            }
            let median = |mut v: Vec<f64>| {
                v.sort_by(f64::total_cmp);
                let n = v.len();
                if n % 2 == 1 {
                    v[n / 2]
                } else {
                    0.5 * (v[n / 2 - 1] + v[n / 2])
                }
            };
            assert_eq!(per_unit.len(), 9, "every unit has isolated potentials");
            let m = median(per_unit.into_values().map(median).collect());
            let measured = 20.0 * (m / sigma).log10();
            assert!(
                (measured - snr).abs() <= 1.0,
                "channel {c}: SNR {measured:.2} dB, configured {snr} dB"
            );
            assert!((sigma - t2.recording.noise_rms_uv[c]).abs() / sigma < 0.02);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Determinism, streaming, files
// ---------------------------------------------------------------------------------------------

fn run_blocks(s: &Scenario, seed: u64, block: usize) -> (VecSink, Truth) {
    let mut samples = VecSink::default();
    let mut truth = Truth::default();
    Simulation::new(s, seed)
        .expect("valid")
        .with_block_len(block)
        .run(&mut samples, &mut truth)
        .expect("runs");
    (samples, truth)
}

/// First index where two sample vectors differ bit for bit.
fn first_diff(a: &[f32], b: &[f32]) -> Option<usize> {
    a.iter()
        .zip(b)
        .position(|(x, y)| x.to_bits() != y.to_bits())
}

#[test]
fn the_block_size_does_not_change_a_single_bit() {
    // `mixed` has potentials, transients (pops), hum, noise and two channels; make every
    // part dense in 6 s.
    let mut s = simulate::builtin("mixed").expect("built-in");
    s.seconds = 6.0;
    s.recording.pops.rate_per_min = 30.0;
    s.recording.movement.rate_per_min = 20.0;
    s.recording.wander.amplitude_uv = 20.0;
    let (a, ta) = run_blocks(&s, SEED, 16_384);
    for block in [1usize, 7, 1000, 4096, 200_000] {
        let (b, tb) = run_blocks(&s, SEED, block);
        for c in 0..a.channels.len() {
            assert_eq!(a.channels[c].len(), b.channels[c].len());
            assert_eq!(
                first_diff(&a.channels[c], &b.channels[c]),
                None,
                "block {block}, channel {c}: samples differ"
            );
        }
        assert_eq!(ta, tb, "block {block}: truth differs");
    }
    assert!(!ta.artefacts.is_empty() && !ta.potentials.is_empty());
}

#[test]
fn same_seed_same_bytes_different_seed_different_output() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = simulate::builtin("myokymia-facial").expect("built-in");
    s.seconds = 5.0;
    let write = |seed: u64, name: &str| {
        let path = dir.path().join(name);
        let mut w = TruthWriter::create(&path).expect("create");
        let mut samples = VecSink::default();
        simulate::run(&s, seed, &mut samples, &mut w).expect("runs");
        (samples, std::fs::read(&path).expect("truth written"))
    };
    let (a, ja) = write(SEED, "a.truth.json");
    let (b, jb) = write(SEED, "b.truth.json");
    let (c, jc) = write(SEED + 1, "c.truth.json");
    assert_eq!(first_diff(&a.channels[0], &b.channels[0]), None);
    assert_eq!(ja, jb, "same seed: truth files differ");
    assert!(first_diff(&a.channels[0], &c.channels[0]).is_some());
    assert_ne!(ja, jc);
    // Only the three finished files remain: no temporary parts.
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["a.truth.json", "b.truth.json", "c.truth.json"]);
}

#[test]
fn the_truth_file_reads_back_as_the_collected_truth() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("mixed.truth.json");
    let mut s = simulate::builtin("mixed").expect("built-in");
    s.seconds = 20.0;
    let mut w = TruthWriter::create(&path).expect("create");
    simulate::run(&s, SEED, &mut NullSink, &mut w).expect("runs");
    let collected = truth_of(&s, SEED);
    let read = truth::read(&path).expect("reads");
    assert_eq!(read, collected);
    // The file is plain JSON with the documented top-level fields.
    let v: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&path).expect("file")).expect("json");
    for k in [
        "truth_version",
        "generator",
        "seed",
        "scenario",
        "recording",
        "units",
        "potentials",
        "events",
        "artefacts",
        "summary",
    ] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    assert_eq!(v["truth_version"], 1);
    // The scenario in the file reproduces the run.
    let again: Scenario = serde_json::from_value(v["scenario"].clone()).expect("scenario");
    assert_eq!(truth_of(&again, SEED).potentials, collected.potentials);
}

#[test]
fn a_truth_writer_that_is_not_finished_leaves_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("x.truth.json");
    {
        let _w = TruthWriter::create(&path).expect("create");
    }
    assert_eq!(std::fs::read_dir(dir.path()).expect("dir").count(), 0);
}

#[test]
fn scenarios_round_trip_through_toml() {
    for (name, _) in simulate::list() {
        let s = simulate::builtin(name).expect("built-in");
        let text = s.effective().to_toml_string().expect("toml");
        let back = Scenario::from_toml_str(&text).expect("parses back");
        assert_eq!(back, s.effective(), "{name}");
    }
}
