//! The pattern stages (trains → bursts → features → classify → summary) on perfect spike
//! sorting taken from the simulator's truth, and on real decomposed motor units.
//!
//! Perfect sorting: every potential of the truth with its true unit (`eval::perfect_input`),
//! so these tests measure the pattern stages alone. Each single-class scenario and `mixed`
//! runs at the seeds in [`SEEDS`]; the rules were developed on seeds 1–5 only, which no
//! test uses. Scenarios with few discharges per 30 s run longer so that one error does not
//! decide an F1.

use kymo::eval::{self, ChannelPrediction, EvalConfig, EvalReport, Prediction};
use kymo::pattern::{
    analyze_channel, ChannelPattern, DischargeClass, PatternConfig, PotentialInput, UnitInput,
    ValidPatternConfig, WaveformClass,
};
use kymo::simulate::{self, truth::Truth, NoiseLevel, NullSink, Scenario};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Seeds of the accuracy tests (development used seeds 1–5).
const SEEDS: [u64; 3] = [101, 202, 303];

/// Discharge-level F1 every class of a scenario must reach on perfect input (issue 5).
const MIN_CLASS_F1: f64 = 0.90;
/// Macro-F1 over the classes in the truth or the prediction (issue 5).
const MIN_MACRO_F1: f64 = 0.93;
/// F1 every true class must keep after dropping 5 % and adding 2 % potentials.
const MIN_NOISY_F1: f64 = 0.85;

/// `(scenario, seconds)`: the built-in scenarios (and three made here for the classes the
/// built-ins have no scenario of), long enough for at least about ten discharges or two
/// trains per class.
const SCENARIOS: [(&str, f64); 13] = [
    ("myokymia-facial", 30.0),
    ("myokymia-limb", 30.0),
    ("fasciculations", 60.0),
    ("neuromyotonia", 120.0),
    ("complex-repetitive", 120.0),
    ("fibrillations", 30.0),
    ("myotonia", 120.0),
    ("cramp", 120.0),
    ("voluntary", 120.0),
    ("mixed", 120.0),
    ("doublets", 60.0),
    ("regular", 60.0),
    ("endplate-spikes", 60.0),
];

fn scenario(name: &str, seconds: f64) -> Scenario {
    let custom = |class: &str, count: u32| {
        Scenario::from_toml_str(&format!(
            "name = \"{name}\"\n[recording]\nelectrode = \"needle\"\n[[sources]]\nclass = \"{class}\"\ncount = {count}\n"
        ))
        .expect("valid scenario")
    };
    let mut s = match name {
        "doublets" => custom("doublet", 3),
        "regular" => custom("regular", 2),
        "endplate-spikes" => custom("endplate-spike", 2),
        n => simulate::builtin(n).expect("built-in scenario"),
    };
    s.seconds = seconds;
    // Only the truth is used: no noise, hum or wander (every random stream is per
    // purpose, so the potentials are those of the noisy recording).
    s.recording.noise = NoiseLevel::RmsUv(0.0);
    s.recording.mains.amplitude_uv = 0.0;
    s.recording.wander.amplitude_uv = 0.0;
    s
}

fn truth(name: &str, seconds: f64, seed: u64) -> Truth {
    let mut t = Truth::default();
    simulate::run(&scenario(name, seconds), seed, &mut NullSink, &mut t).expect("simulation runs");
    t
}

fn cfg() -> ValidPatternConfig {
    PatternConfig::default()
        .check()
        .expect("defaults are valid")
}

/// Analyses every channel of `t` from `(units, potentials)` per channel and scores it.
fn analyse(
    t: &Truth,
    inputs: &[(Vec<UnitInput>, Vec<PotentialInput>)],
) -> (Vec<ChannelPattern>, EvalReport) {
    let cfg = cfg();
    let mut channels = Vec::new();
    let mut patterns = Vec::new();
    for (c, (u, p)) in inputs.iter().enumerate() {
        let r = analyze_channel(u, p, t.recording.seconds, &[], &cfg);
        channels.push(ChannelPrediction::from_pattern(c, p, &r));
        patterns.push(r);
    }
    let rep = eval::score(
        t,
        &Prediction { channels },
        &EvalConfig::default().check().expect("valid"),
    );
    (patterns, rep)
}

fn perfect(t: &Truth) -> Vec<(Vec<UnitInput>, Vec<PotentialInput>)> {
    (0..t.recording.channels.len())
        .map(|c| {
            let (u, p, _) = eval::perfect_input(t, c);
            (u, p)
        })
        .collect()
}

/// Drops 5 % of the potentials at random and adds 2 % spurious ones at uniform random
/// times, each given the unit of a random true potential (so units receive stray
/// potentials in proportion to their own count, as a sorter's errors would).
fn degrade(t: &Truth, seed: u64) -> Vec<(Vec<UnitInput>, Vec<PotentialInput>)> {
    /// Share of potentials dropped (issue 5).
    const DROP: f64 = 0.05;
    /// Share of spurious potentials added (issue 5).
    const ADD: f64 = 0.02;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x005e_ed0f_ba11);
    let (units, mut p) = perfect(t).swap_remove(0);
    let n = p.len();
    p.retain(|_| rng.random::<f64>() >= DROP);
    for _ in 0..((n as f64 * ADD).round() as usize) {
        let src = &t.potentials[rng.random_range(0..n)];
        let u = units
            .iter()
            .find(|u| u.id == src.unit as u32)
            .expect("unit");
        p.push(PotentialInput {
            time_s: rng.random::<f64>() * t.recording.seconds,
            unit: u.id,
            amplitude_uv: u.p2p_uv,
        });
    }
    p.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    vec![(units, p)]
}

fn true_classes(t: &Truth) -> Vec<DischargeClass> {
    let mut c: Vec<DischargeClass> = t.events.iter().map(|e| e.class.into()).collect();
    c.sort();
    c.dedup();
    c
}

#[test]
fn perfect_sorting_classifies_every_scenario() {
    let mut failures = Vec::new();
    let mut table = String::new();
    for (name, seconds) in SCENARIOS {
        for seed in SEEDS {
            let t = truth(name, seconds, seed);
            let (patterns, rep) = analyse(&t, &perfect(&t));
            let d = &rep.discharges;
            for class in true_classes(&t) {
                let s = d
                    .per_class
                    .iter()
                    .find(|c| c.class == class)
                    .expect("scored");
                let f1 = s.f1.unwrap_or(0.0);
                table.push_str(&format!(
                    "{name:<20} seed {seed:<4} {:<20} true {:>4} pred {:>4} matched {:>4} F1 {f1:.3}\n",
                    class.name(),
                    s.n_true,
                    s.n_pred,
                    s.matched
                ));
                if f1 < MIN_CLASS_F1 {
                    failures.push(format!("{name} seed {seed}: {} F1 {f1:.3}", class.name()));
                }
            }
            let macro_f1 = d.macro_f1.unwrap_or(0.0);
            if macro_f1 < MIN_MACRO_F1 {
                failures.push(format!(
                    "{name} seed {seed}: macro-F1 {macro_f1:.3}\n{}",
                    eval::format_table(&rep)
                ));
            }
            // Discharges come in order of start, and every one carries evidence.
            for p in &patterns {
                assert!(p
                    .discharges
                    .windows(2)
                    .all(|w| w[0].start_s <= w[1].start_s));
                assert!(p.discharges.iter().all(|x| !x.evidence.is_empty()
                    && (0.0..=1.0).contains(&x.confidence)
                    && x.start_s < x.end_s));
            }
        }
    }
    println!("{table}");
    assert!(failures.is_empty(), "{}\n{table}", failures.join("\n"));
}

#[test]
fn rest_gives_no_discharge() {
    for seed in SEEDS {
        let t = truth("rest", 30.0, seed);
        assert!(t.events.is_empty() && t.potentials.is_empty());
        let (u, p, a) = eval::perfect_input(&t, 0);
        assert!(!a.is_empty(), "rest has movement artefacts and pops");
        let r = analyze_channel(&u, &p, t.recording.seconds, &a, &cfg());
        assert!(r.discharges.is_empty());
        assert_eq!(r.summary.dominant, None);
        assert_eq!(r.summary.fibrillation_grade.grade, 0);
    }
}

#[test]
fn stray_and_missed_potentials_keep_f1_above_0_85() {
    let mut failures = Vec::new();
    let mut table = String::new();
    for (name, seconds) in SCENARIOS {
        for seed in SEEDS {
            let t = truth(name, seconds, seed);
            let (_, rep) = analyse(&t, &degrade(&t, seed));
            for class in true_classes(&t) {
                let s = rep
                    .discharges
                    .per_class
                    .iter()
                    .find(|c| c.class == class)
                    .expect("scored");
                let f1 = s.f1.unwrap_or(0.0);
                table.push_str(&format!(
                    "{name:<20} seed {seed:<4} {:<20} true {:>4} pred {:>4} matched {:>4} F1 {f1:.3}\n",
                    class.name(),
                    s.n_true,
                    s.n_pred,
                    s.matched
                ));
                if f1 < MIN_NOISY_F1 {
                    failures.push(format!(
                        "{name} seed {seed}: {} F1 {f1:.3}\n{}",
                        class.name(),
                        eval::format_table(&rep)
                    ));
                }
            }
        }
    }
    println!("{table}");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A neuromyotonic discharge whose waning tail the detector catches only in short runs
/// (every second half of each discharge keeps runs of 3 potentials and loses the next 12,
/// silences of 40–90 ms at 150–300 Hz) is still one neuromyotonic discharge, not a
/// discharge and a string of unclassified fragments.
#[test]
fn a_neuromyotonic_tail_in_fragments_stays_one_discharge() {
    for seed in SEEDS {
        let t = truth("neuromyotonia", 60.0, seed);
        let (units, mut p) = perfect(&t).swap_remove(0);
        let tails: Vec<(f64, f64)> = t
            .events
            .iter()
            .map(|e| ((e.first_s + e.last_s) / 2.0, e.last_s))
            .collect();
        let mut k = 0usize;
        p.retain(|x| {
            if !tails.iter().any(|&(a, b)| x.time_s >= a && x.time_s <= b) {
                return true;
            }
            k += 1;
            k % 15 < 3
        });
        let (patterns, rep) = analyse(&t, &[(units, p)]);
        let nmt = rep
            .discharges
            .per_class
            .iter()
            .find(|c| c.class == DischargeClass::Neuromyotonic)
            .expect("scored");
        let unclassified = patterns[0]
            .discharges
            .iter()
            .filter(|d| d.class == DischargeClass::Unclassified)
            .count();
        assert!(
            nmt.f1.unwrap_or(0.0) >= MIN_CLASS_F1 && unclassified == 0,
            "seed {seed}: neuromyotonic true {} pred {} F1 {:?}, {unclassified} unclassified\ntrue: {:?}\nfound: {:?}",
            nmt.n_true,
            nmt.n_pred,
            nmt.f1,
            t.events
                .iter()
                .map(|e| format!("{:.3}-{:.3}", e.first_s, e.last_s))
                .collect::<Vec<_>>(),
            patterns[0]
                .discharges
                .iter()
                .map(|d| format!("{} {:.3}-{:.3} n {}", d.class.name(), d.start_s, d.end_s, d.features.n_potentials))
                .collect::<Vec<_>>()
        );
    }
}

/// An artefact in the middle of trains does not split them: each fibrillation and regular
/// train is still one discharge, and potentials inside the artefact are dropped.
#[test]
fn artefacts_do_not_split_trains() {
    let toml = r#"
name = "trains-with-artefacts"
seconds = 40
[recording]
electrode = "needle"
noise = { rms_uv = 0 }
movement = { rate_per_min = 6 }
[[sources]]
class = "fibrillation"
count = 2
[[sources]]
class = "regular"
"#;
    for seed in SEEDS {
        let s = Scenario::from_toml_str(toml).expect("valid");
        let mut t = Truth::default();
        simulate::run(&s, seed, &mut NullSink, &mut t).expect("runs");
        let (u, p, a) = eval::perfect_input(&t, 0);
        assert!(!a.is_empty(), "seed {seed}: no artefact drawn");
        let r = analyze_channel(&u, &p, t.recording.seconds, &a, &cfg());
        let kept: u64 = r.trains.iter().map(|x| x.potentials).sum();
        assert_eq!(kept + r.summary.diagnostics.in_artefact, p.len() as u64);
        for e in &t.events {
            let c: DischargeClass = e.class.into();
            let n = r
                .discharges
                .iter()
                .filter(|d| d.class == c && d.units == vec![e.units[0] as u32])
                .count();
            assert_eq!(
                n,
                1,
                "seed {seed}: {} train of unit {:?} in {n} pieces (artefacts {a:?})",
                c.name(),
                e.units
            );
        }
    }
}

/// The evidence of a myokymic burst names the unit, its potentials, its rate and the
/// recurrence of the unit's bursts with its CV; the features agree with the truth.
#[test]
fn myokymic_evidence_and_features_match_the_truth() {
    let t = truth("myokymia-facial", 30.0, SEEDS[0]);
    let (patterns, _) = analyse(&t, &perfect(&t));
    let r = &patterns[0];
    let mut checked = 0;
    for e in &t.events {
        let Some(d) = r
            .discharges
            .iter()
            .find(|d| d.class == DischargeClass::Myokymic && (d.first_s - e.first_s).abs() < 1e-9)
        else {
            continue;
        };
        assert_eq!(d.n_potentials as u64, e.n_potentials);
        assert_eq!(d.units, vec![e.units[0] as u32]);
        // The truth's intraburst rate is (n − 1) / (last − first), as kymo measures it, up
        // to the time grid: each of the two end times may move by one grid step.
        let rate = d.features.rate_hz.expect("rate");
        let want = e.params["intraburst_rate_hz"];
        let tol = 2.0 * t.recording.time_resolution_s / (e.last_s - e.first_s);
        assert!((rate / want - 1.0).abs() <= tol, "{rate} vs {want}");
        let ev = &d.evidence;
        assert!(ev.contains(&format!("unit {}", e.units[0])), "{ev}");
        assert!(
            ev.contains(&format!("burst of {} potentials", e.n_potentials)),
            "{ev}"
        );
        assert!(ev.contains("recurring at") && ev.contains("(CV "), "{ev}");
        checked += 1;
    }
    assert!(checked > 50, "only {checked} bursts compared");
    // The summary says the activity is episodic myokymia.
    assert_eq!(r.summary.dominant, Some(DischargeClass::Myokymic));
    assert_eq!(
        r.summary.myokymic.pattern,
        kymo::pattern::summary::MyokymicPattern::Episodic
    );
}

#[test]
fn fibrillation_grade_counts_concurrent_trains() {
    // Three fibrillating fibres and two positive sharp waves firing throughout: five
    // concurrent persistent trains → 3+ with the default cut-points [1, 2, 4, 6].
    let t = truth("fibrillations", 30.0, SEEDS[1]);
    let (patterns, _) = analyse(&t, &perfect(&t));
    let g = &patterns[0].summary.fibrillation_grade;
    assert_eq!(
        (g.concurrent_trains, g.grade, g.label.as_str()),
        (5, 3, "3+")
    );
}

/// Motor units decomposed from a real HD-sEMG recording of a gentle voluntary contraction
/// (openhdemg test file, vastus lateralis, 2048 Hz; see its SOURCE.md): kymo must call
/// their firing voluntary activity, and nothing myokymic, neuromyotonic or fibrillating.
#[test]
fn real_decomposed_voluntary_units_are_voluntary() {
    use kymo::io::{open, read_channel, OpenOptions, ReadLimits};
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/real/openhdemg-otb-testfile/otb_testfile.mat"
    );
    let mut r = open(path.as_ref(), &OpenOptions::default()).expect("the test file opens");
    let fs = r.header().channels[64].rate_hz;
    let seconds = r.header().channels[64].n_samples as f64 / fs;
    let mut units = Vec::new();
    let mut pots = Vec::new();
    // Columns 65–68 (channels 64–67): the binary discharge trains of the four units of the
    // "1 - 4 - Decomposition" (1 at each discharge, 0 elsewhere).
    for ch in 64..68 {
        assert!(r.header().channels[ch].label.contains("Decomposition"));
        let x = read_channel(r.as_mut(), ch, &ReadLimits::default()).expect("reads");
        units.push(UnitInput {
            id: ch as u32,
            waveform: WaveformClass::MotorUnit,
            p2p_uv: 100.0,
            duration_ms: 12.0,
            phases: 3,
            first_phase_positive: false,
        });
        pots.extend(
            x.iter()
                .enumerate()
                .filter(|(_, v)| **v != 0.0)
                .map(|(i, _)| PotentialInput {
                    time_s: i as f64 / fs,
                    unit: ch as u32,
                    amplitude_uv: 100.0,
                }),
        );
    }
    pots.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    assert!(pots.len() > 700);
    let res = analyze_channel(&units, &pots, seconds, &[], &cfg());
    let classes: Vec<DischargeClass> = res.discharges.iter().map(|d| d.class).collect();
    assert!(classes.contains(&DischargeClass::Voluntary), "{classes:?}");
    for bad in [
        DischargeClass::Myokymic,
        DischargeClass::MyokymicContinuous,
        DischargeClass::Neuromyotonic,
        DischargeClass::Fibrillation,
        DischargeClass::PositiveSharpWave,
    ] {
        assert!(!classes.contains(&bad), "{classes:?}");
    }
    let v = res
        .discharges
        .iter()
        .find(|d| d.class == DischargeClass::Voluntary)
        .expect("voluntary");
    assert_eq!(v.units.len(), 4, "{}", v.evidence);
    println!("{}", v.evidence);
}

/// Bad input is skipped and counted, never a panic.
#[test]
fn bad_input_is_counted_not_fatal() {
    let units = [UnitInput {
        id: 1,
        waveform: WaveformClass::MotorUnit,
        p2p_uv: 500.0,
        duration_ms: 8.0,
        phases: 3,
        first_phase_positive: false,
    }];
    let pots = [
        PotentialInput {
            time_s: 2.0,
            unit: 1,
            amplitude_uv: 500.0,
        },
        PotentialInput {
            time_s: f64::NAN,
            unit: 1,
            amplitude_uv: 500.0,
        },
        PotentialInput {
            time_s: 1.0,
            unit: 1,
            amplitude_uv: 500.0,
        },
        PotentialInput {
            time_s: 1.5,
            unit: 9,
            amplitude_uv: 500.0,
        },
        PotentialInput {
            time_s: 3.0,
            unit: 1,
            amplitude_uv: f32::INFINITY,
        },
    ];
    let r = analyze_channel(&units, &pots, f64::NAN, &[(f64::NAN, 1.0)], &cfg());
    let d = &r.summary.diagnostics;
    // 1.0 and 1.5 come after 2.0: two out of order (1.5's unit is unknown, but its time is
    // still seen).
    assert_eq!(
        (
            d.not_finite,
            d.unknown_unit,
            d.out_of_order,
            d.bad_artefacts
        ),
        (2, 1, 2, 1)
    );
    assert_eq!(r.summary.potentials, 2);
    let empty = analyze_channel(&[], &[], 0.0, &[], &cfg());
    assert!(empty.discharges.is_empty() && empty.trains.is_empty());
}

/// A 600 µV, 10 ms, three-phase motor unit.
fn motor_unit(id: u32) -> UnitInput {
    UnitInput {
        id,
        waveform: WaveformClass::MotorUnit,
        p2p_uv: 600.0,
        duration_ms: 10.0,
        phases: 3,
        first_phase_positive: false,
    }
}

/// Four units firing single discharges at random (Poisson, 0.15/s each, 120 s) are
/// fasciculating; the same units discharging within 0.3 s of each other at three moments
/// (a contraction starting, as at the onsets of the real surface recording `emg_1.txt`)
/// are not called fasciculations there.
#[test]
fn units_discharging_together_are_not_fasciculations() {
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let units: Vec<UnitInput> = (0..4).map(motor_unit).collect();
    let mut pots = Vec::new();
    for u in &units {
        let mut t = 0.0;
        loop {
            t += -(1.0 - rng.random::<f64>()).ln() / 0.15;
            if t >= 120.0 {
                break;
            }
            pots.push(PotentialInput {
                time_s: t,
                unit: u.id,
                amplitude_uv: 600.0,
            });
        }
    }
    let onsets = [30.0, 70.0, 100.0];
    for &at in &onsets {
        for (k, u) in units.iter().chain(&units[..2]).enumerate() {
            pots.push(PotentialInput {
                time_s: at + 0.05 * k as f64,
                unit: u.id,
                amplitude_uv: 600.0,
            });
        }
    }
    pots.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    let r = analyze_channel(&units, &pots, 120.0, &[], &cfg());
    let near_onset = |t: f64| onsets.iter().any(|&o| t >= o - 0.01 && t <= o + 0.3);
    let fasc: Vec<f64> = r
        .discharges
        .iter()
        .filter(|d| d.class == DischargeClass::Fasciculation)
        .map(|d| d.first_s)
        .collect();
    assert!(
        fasc.iter().all(|&t| !near_onset(t)),
        "fasciculations at the onsets: {fasc:?}"
    );
    let elsewhere = pots.iter().filter(|p| !near_onset(p.time_s)).count();
    assert!(
        fasc.len() * 10 >= elsewhere * 8,
        "{} of {elsewhere} random single discharges called fasciculations",
        fasc.len()
    );
}

/// F1 of `class` on scenario `name` (`seconds`, `seed`) with perfect sorting, every unit's
/// waveform made a six-phase complex (a polyphasic motor unit potential of brief spikes).
fn f1_with_complex_waveforms(name: &str, seconds: f64, seed: u64, class: DischargeClass) -> f64 {
    let t = truth(name, seconds, seed);
    let mut inputs = perfect(&t);
    for u in &mut inputs[0].0 {
        u.waveform = WaveformClass::Complex;
        u.phases = 6;
    }
    let (_, rep) = analyse(&t, &inputs);
    rep.discharges
        .per_class
        .iter()
        .find(|c| c.class == class)
        .and_then(|c| c.f1)
        .unwrap_or(0.0)
}

/// Myokymic bursts of a polyphasic motor unit potential whose brief spikes make the
/// waveform classes call it a complex (reinnervated units, as in radiation plexopathy)
/// are still myokymic discharges: the grouped, semi-rhythmic firing decides, and complex
/// repetitive discharges ask for machine-like regularity the bursts do not have.
#[test]
fn myokymic_bursts_of_a_polyphasic_unit_are_myokymic() {
    let f1 = f1_with_complex_waveforms("myokymia-facial", 30.0, SEEDS[0], DischargeClass::Myokymic);
    assert!(f1 >= 0.9, "myokymic F1 {f1:.3} with complex waveforms");
}

/// Neuromyotonic discharges of a polyphasic motor unit potential that the waveform
/// classes call a complex (six phases of brief spikes, as the simulated neuromyotonia of
/// seed 18 at 10 dB was sorted) are still neuromyotonic: at 150–300 Hz no complex
/// repetitive or myotonic discharge fires (there all three were unclassified).
#[test]
fn neuromyotonic_discharges_of_a_polyphasic_unit_are_neuromyotonic() {
    for seed in SEEDS {
        let f1 =
            f1_with_complex_waveforms("neuromyotonia", 120.0, seed, DischargeClass::Neuromyotonic);
        assert!(
            f1 >= 0.9,
            "seed {seed}: neuromyotonic F1 {f1:.3} with complex waveforms"
        );
    }
}

/// Units 0–2 contracting voluntarily over `span` (s): 9, 10.5 and 12 Hz, interval CV about
/// 0.1.
fn contraction(rng: &mut ChaCha8Rng, span: (f64, f64), pots: &mut Vec<PotentialInput>) {
    for id in 0..3u32 {
        let rate = 9.0 + id as f64 * 1.5;
        let mut t = span.0 + rng.random::<f64>() / rate;
        while t < span.1 {
            pots.push(PotentialInput {
                time_s: t,
                unit: id,
                amplitude_uv: 600.0,
            });
            t += (1.0 + 0.1 * (rng.random::<f64>() * 2.0 - 1.0) * 1.7) / rate;
        }
    }
}

/// A fasciculating unit one of whose single discharges falls during a voluntary
/// contraction of other units takes part in that episode there, but it has not shown
/// voluntary firing: its single discharges at rest are still fasciculations. A unit that
/// fires steadily in the contraction is under voluntary control, and its single
/// discharges at rest are not called fasciculations.
#[test]
fn a_stray_single_inside_a_contraction_keeps_a_unit_fasciculating() {
    let mut rng = ChaCha8Rng::seed_from_u64(77);
    let units: Vec<UnitInput> = (0..4).map(motor_unit).collect();
    let mut pots = Vec::new();
    // Units 0–2: a 10 s voluntary contraction.
    contraction(&mut rng, (20.0, 30.0), &mut pots);
    // Unit 3: single discharges every few seconds (brief: well under 1 Hz), one of them
    // during the contraction.
    let singles = [2.1, 7.9, 11.4, 16.0, 25.2, 34.7, 41.3, 47.8, 52.6, 58.9];
    for &t in &singles {
        pots.push(PotentialInput {
            time_s: t,
            unit: 3,
            amplitude_uv: 600.0,
        });
    }
    // Unit 2, which fires steadily in the contraction, fires single discharges at rest too.
    for t in [5.3, 38.2, 55.1] {
        pots.push(PotentialInput {
            time_s: t,
            unit: 2,
            amplitude_uv: 600.0,
        });
    }
    pots.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    let r = analyze_channel(&units, &pots, 60.0, &[], &cfg());
    assert!(
        r.discharges
            .iter()
            .any(|d| d.class == DischargeClass::Voluntary),
        "no voluntary episode: {:?}",
        r.discharges.iter().map(|d| d.class).collect::<Vec<_>>()
    );
    let fasc = r
        .discharges
        .iter()
        .filter(|d| d.class == DischargeClass::Fasciculation && d.units == [3])
        .count();
    assert!(
        fasc >= 8,
        "{fasc} of unit 3's 9 single discharges at rest called fasciculations"
    );
    assert!(
        !r.discharges
            .iter()
            .any(|d| d.class == DischargeClass::Fasciculation && d.units == [2]),
        "a unit of the contraction called fasciculating"
    );
}

/// A unit firing continuously at 25 Hz, its rate and amplitude waxing and waning by
/// ±40 % at 1.5 Hz, whose four weakest beats at every third trough the detector missed
/// (pauses of about 5–7 median intervals): one continuous myokymic discharge over the
/// whole train, not pieces (it fails with `tonic_max_pause_intervals` = 0: eleven
/// unclassified pieces).
#[test]
fn a_continuous_unit_is_not_cut_at_its_missed_beats() {
    let units = vec![motor_unit(0)];
    let mut pots = Vec::new();
    let mut t = 0.1;
    let mut k = 0usize;
    while t < 20.0 {
        let phase = (std::f64::consts::TAU * 1.5 * t).sin();
        let amplitude = 600.0 * (1.0 + 0.4 * phase);
        // Four beats around every third trough (phase near −1) are missed.
        let cycle = (1.5 * t).floor() as usize;
        let missed = cycle % 3 == 0 && phase < -0.8;
        if !missed {
            pots.push(PotentialInput {
                time_s: t,
                unit: 0,
                amplitude_uv: amplitude as f32,
            });
        }
        t += 1.0 / (25.0 * (1.0 + 0.4 * phase));
        k += 1;
    }
    assert!(k > 400);
    let r = analyze_channel(&units, &pots, 20.0, &[], &cfg());
    let classes: Vec<DischargeClass> = r.discharges.iter().map(|d| d.class).collect();
    assert_eq!(
        classes,
        vec![DischargeClass::MyokymicContinuous],
        "{:?}",
        r.discharges
            .iter()
            .map(|d| (d.class, d.start_s, d.end_s))
            .collect::<Vec<_>>()
    );
}

/// Sorting errors only add irregularity, so they must not turn a voluntary contraction
/// into a cramp: in every voluntary contraction and every cramp of 120 s, two units in
/// every three are confused in pairs (units 1 and 2, 4 and 5, …: each potential of either
/// goes to the other with probability 0.5, as when a sorter cannot tell two similar units
/// of a crowded needle record apart). Voluntary contractions stay voluntary (the episode's jitter is
/// read from its more regular units, `pattern.jitter.episode_unit_quantile`) and cramps
/// stay cramps.
#[test]
fn units_confused_in_pairs_keep_voluntary_and_cramp_apart() {
    /// Chance that a potential of a confused pair is given to the other unit (with the
    /// median unit's jitter, 0.5 turned a voluntary contraction of seed 101 into a cramp).
    const SWAP: f64 = 0.5;
    for (name, class) in [
        ("voluntary", DischargeClass::Voluntary),
        ("cramp", DischargeClass::Cramp),
    ] {
        for seed in SEEDS {
            let t = truth(name, 120.0, seed);
            let (units, mut p) = perfect(&t).swap_remove(0);
            let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x50_27ed);
            let ids: Vec<u32> = units.iter().map(|u| u.id).collect();
            for x in &mut p {
                let Some(i) = ids.iter().position(|&id| id == x.unit) else {
                    continue;
                };
                let partner = match i % 3 {
                    1 => ids.get(i + 1),
                    2 => ids.get(i - 1),
                    _ => None,
                };
                if let Some(&other) = partner {
                    if rng.random::<f64>() < SWAP {
                        x.unit = other;
                    }
                }
            }
            let (_, rep) = analyse(&t, &[(units, p)]);
            let s = rep
                .discharges
                .per_class
                .iter()
                .find(|c| c.class == class)
                .expect("scored");
            assert!(
                s.f1.unwrap_or(0.0) >= MIN_NOISY_F1,
                "{name} seed {seed}: {} F1 {:?}\n{}",
                class.name(),
                s.f1,
                eval::format_table(&rep)
            );
        }
    }
}

/// Four contractions in 30 s (s).
const CONTRACTIONS: [(f64, f64); 4] = [(3.05, 6.96), (8.82, 12.73), (15.8, 20.27), (23.19, 27.92)];

/// Unit 3's potentials, every one inside [`CONTRACTIONS`]: the times of a unit the sorter
/// took only a few potentials of in the simulated `voluntary` record of seed 20 at 10 dB.
fn push_unit3(pots: &mut Vec<PotentialInput>) {
    let unit3 = [
        3.697, 4.173, 4.872, 5.883, 9.762, 10.147, 10.708, 10.82, 11.088, 11.336, 11.431, 16.672,
        16.806, 17.733, 18.265, 18.454, 18.522, 24.147, 24.149, 24.305, 24.614, 24.888, 25.534,
        25.698, 25.824, 26.11, 26.305, 26.562, 27.332, 27.357,
    ];
    for &t in &unit3 {
        pots.push(PotentialInput {
            time_s: t,
            unit: 3,
            amplitude_uv: 600.0,
        });
    }
}

/// A unit the sorter took only a few potentials of, scattered over the contractions, fires
/// with the contractions: its potentials are not called fasciculations
/// (`fasciculation.contraction_tie_p`). Four 4–5 s contractions of three units in 30 s
/// and unit 3's 30 potentials at the times of such a unit in the simulated `voluntary`
/// record of seed 20 at 10 dB (every one inside a contraction, some 2–120 ms apart, its
/// train one segment over the first two contractions and the rest between them; there
/// they were 11 fasciculations). A unit firing single discharges at random over the whole
/// record stays fasciculating (`a_stray_single_inside_a_contraction_keeps_a_unit_fasciculating`).
#[test]
fn a_unit_firing_only_within_contractions_is_not_fasciculating() {
    let mut rng = ChaCha8Rng::seed_from_u64(78);
    let units: Vec<UnitInput> = (0..4).map(motor_unit).collect();
    let mut pots = Vec::new();
    for span in CONTRACTIONS {
        contraction(&mut rng, span, &mut pots);
    }
    push_unit3(&mut pots);
    pots.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    let r = analyze_channel(&units, &pots, 30.0, &[], &cfg());
    let classes: Vec<DischargeClass> = r.discharges.iter().map(|d| d.class).collect();
    assert_eq!(
        classes
            .iter()
            .filter(|c| **c == DischargeClass::Voluntary)
            .count(),
        4,
        "{classes:?}"
    );
    assert!(
        !classes.contains(&DischargeClass::Fasciculation),
        "{classes:?}"
    );
}

/// The same unit 3 when the contractions are one irregularly firing unit (a contraction
/// sorted badly, its units merged into one irregular train: no voluntary episode, the
/// train unclassified): its firing at voluntary rates is still a contraction, and unit 3,
/// which fires only within it, is not fasciculating (seen on a generator other than
/// kymo's, `scripts/independent-check`, voluntary seed 1: 29 false fasciculations).
#[test]
fn a_unit_firing_only_within_unclassified_contractions_is_not_fasciculating() {
    let mut rng = ChaCha8Rng::seed_from_u64(79);
    let units: Vec<UnitInput> = (0..4).map(motor_unit).collect();
    let mut pots = Vec::new();
    for (a, b) in CONTRACTIONS {
        // Unit 0 at 12 Hz with intervals spread ±70 %: irregular, no class fits.
        let mut t = a + rng.random::<f64>() / 12.0;
        while t < b {
            pots.push(PotentialInput {
                time_s: t,
                unit: 0,
                amplitude_uv: 900.0,
            });
            t += (1.0 + 0.7 * (rng.random::<f64>() * 2.0 - 1.0)) / 12.0;
        }
    }
    push_unit3(&mut pots);
    pots.sort_by(|a, b| a.time_s.total_cmp(&b.time_s));
    let r = analyze_channel(&units, &pots, 30.0, &[], &cfg());
    let of_unit = |u: u32| {
        r.discharges
            .iter()
            .filter(|d| d.units.contains(&u))
            .map(|d| d.class)
            .collect::<Vec<_>>()
    };
    assert!(
        of_unit(0)
            .iter()
            .all(|c| *c == DischargeClass::Unclassified),
        "unit 0: {:?}",
        of_unit(0)
    );
    assert!(
        !of_unit(3).contains(&DischargeClass::Fasciculation),
        "unit 3: {:?}",
        of_unit(3)
    );
}
