//! End-to-end analysis (filter → detect → sort → pattern) against the simulator's truth,
//! on seeds never used while developing, and on the real needle recording.
//!
//! These assert what holds today; the full accuracy targets (every class ≥ 0.90
//! discharge F1) are measured by `cargo run --release -p kymo --example accuracy` and are
//! not all met yet (see the README's accuracy section).

#![allow(clippy::unwrap_used)] // test helpers fail loudly by design

use kymo::analyze::{analyze_file, analyze_samples, AnalysisConfig, ChannelAnalysis, ChannelInfo};
use kymo::eval::{score, ChannelPrediction, ClassScores, EvalConfig, EvalReport, Prediction};
use kymo::pattern::DischargeClass;
use kymo::simulate::{self, truth::Truth, NoiseLevel, VecSink};

/// Seeds never used while developing the analysis (development used 9001–9003).
const SEEDS: [u64; 3] = [7101, 7102, 7103];

/// Simulates scenario `name` and analyses every channel.
fn analyse(name: &str, seed: u64, snr_db: f64) -> (Truth, Vec<ChannelAnalysis>) {
    let mut sc = simulate::builtin(name).unwrap();
    if !sc.sources.is_empty() {
        sc.recording.noise = NoiseLevel::SnrDb(snr_db);
    }
    let mut sink = VecSink::default();
    let mut truth = Truth::default();
    simulate::run(&sc, seed, &mut sink, &mut truth).unwrap();
    let cfg = AnalysisConfig::default().check().unwrap();
    let analyses = sink
        .channels
        .iter()
        .enumerate()
        .map(|(c, x)| {
            let info = ChannelInfo {
                index: c,
                label: format!("ch{c}"),
                unit: "uV".into(),
                rate_hz: truth.recording.rate_hz,
                n_samples: x.len() as u64,
                physical_range: None,
            };
            analyze_samples(&info, x, &cfg).unwrap()
        })
        .collect();
    (truth, analyses)
}

fn run(name: &str, seed: u64, snr_db: f64) -> (Truth, Prediction) {
    let (truth, analyses) = analyse(name, seed, snr_db);
    (truth, prediction(analyses))
}

/// What `kymo eval` scores, from the channels' analyses.
fn prediction(analyses: Vec<ChannelAnalysis>) -> Prediction {
    let mut pred = Prediction::default();
    for (c, a) in analyses.into_iter().enumerate() {
        pred.channels.push(ChannelPrediction::from_pattern(
            c,
            &a.potentials,
            &kymo::pattern::ChannelPattern {
                discharges: a.discharges,
                trains: a.trains,
                summary: a.summary,
            },
        ));
    }
    pred
}

/// The discharge score of `class` in an evaluation.
fn class_score(r: &EvalReport, class: DischargeClass) -> &ClassScores {
    r.discharges
        .per_class
        .iter()
        .find(|c| c.class == class)
        .unwrap()
}

#[test]
fn rest_gives_no_discharge() {
    for seed in SEEDS {
        let (_, pred) = run("rest", seed, 10.0);
        let found: Vec<String> = pred
            .channels
            .iter()
            .flat_map(|c| c.discharges.iter())
            .map(|d| format!("{} at {:.2} s", d.class.name(), d.start_s))
            .collect();
        assert!(found.is_empty(), "seed {seed}: rest gave {found:?}");
    }
}

/// Myokymic discharges of a facial muscle at SNR 10 dB: discharge F1 ≥ 0.90 (the issue's
/// bar) for each unseen seed. (Seed 7102 failed until the sorter split units on their whole
/// shape: two myokymic units of similar main spikes were one unit, and their interleaved
/// bursts read as one continuous train.)
#[test]
fn facial_myokymia_at_10_db() {
    class_f1_at_least("myokymia-facial", DischargeClass::Myokymic, 0.90);
}

/// Asserts that `class`'s discharge F1 on scenario `name` at 10 dB is at least `min` on
/// each unseen seed.
fn class_f1_at_least(name: &str, class: DischargeClass, min: f64) {
    let cfg = EvalConfig::default().check().unwrap();
    for seed in SEEDS {
        let (truth, pred) = run(name, seed, 10.0);
        let r = score(&truth, &pred, &cfg);
        let c = class_score(&r, class);
        let f1 = c.f1.unwrap_or(0.0);
        assert!(
            f1 >= min,
            "seed {seed}: {} F1 {f1:.3} ({c:?})",
            class.name()
        );
    }
}

/// Continuous limb myokymia (two units firing without pause, rate and amplitude waxing and
/// waning) at SNR 10 dB: both units' discharges are found as continuous myokymia, F1 ≥ 0.9
/// on each unseen seed. On seed 7102 the sort had merged the two units into one (1709
/// potentials, interval CV 0.61), whose train fit no class (F1 0), until units whose
/// template runs past the 10 ms needle window could be split (`sort/split.rs`).
#[test]
fn continuous_limb_myokymia_at_10_db() {
    class_f1_at_least("myokymia-limb", DischargeClass::MyokymicContinuous, 0.90);
}

/// Myotonic discharges (single-fibre potentials at 20–80 Hz whose rate and amplitude wax
/// and wane) at SNR 10 dB are read as myotonic — discharge F1 ≥ 0.6 on each unseen seed,
/// short of the 0.90 — and never as myokymic, the confusion the domain brief warns
/// about ("waxing and waning" is said of both).
#[test]
fn myotonic_discharges_are_not_myokymic() {
    let cfg = EvalConfig::default().check().unwrap();
    for seed in SEEDS {
        let (truth, pred) = run("myotonia", seed, 10.0);
        let r = score(&truth, &pred, &cfg);
        let f1 = |class| class_score(&r, class).f1.unwrap_or(0.0);
        assert!(
            f1(DischargeClass::Myotonic) >= 0.6,
            "seed {seed}: myotonic F1 {:.3}",
            f1(DischargeClass::Myotonic)
        );
        let myokymic = pred
            .channels
            .iter()
            .flat_map(|c| c.discharges.iter())
            .filter(|d| d.class == DischargeClass::Myokymic)
            .count();
        assert_eq!(myokymic, 0, "seed {seed}: myotonia read as myokymic");
    }
}

/// Complex repetitive discharges at SNR 10 dB are found (F1 ≥ 0.7 on each unseen seed,
/// short of the 0.90: a complex whose parts the sorter splits into two units is
/// reported twice) and measured as machine-regular, interval jitter below 1 % (brief),
/// though the detector marks whichever of the complex's spikes is largest each cycle.
#[test]
fn complex_repetitive_discharges_are_machine_regular() {
    let cfg = EvalConfig::default().check().unwrap();
    for seed in SEEDS {
        let (truth, analyses) = analyse("complex-repetitive", seed, 10.0);
        let jitters: Vec<(f64, Option<f64>)> = analyses
            .iter()
            .flat_map(|a| a.discharges.iter())
            .filter(|d| d.class == DischargeClass::ComplexRepetitive)
            .map(|d| (d.start_s, d.features.jitter))
            .collect();
        let r = score(&truth, &prediction(analyses), &cfg);
        let crd = class_score(&r, DischargeClass::ComplexRepetitive);
        let f1 = crd.f1.unwrap_or(0.0);
        assert!(
            f1 >= 0.7,
            "seed {seed}: complex repetitive F1 {f1:.3} ({crd:?})"
        );
        for (start, jitter) in jitters {
            let jitter = jitter.unwrap_or(1.0);
            assert!(
                jitter < 0.01,
                "seed {seed}: jitter {jitter} at {start:.2} s"
            );
        }
    }
}

/// A complex longer than the sorting window (11 ms against the needle's 10 ms; seed 7201 of
/// the accuracy table, where it was found): the detector marks one spike of the complex in
/// some cycles and another in the rest, and before the complexes were aligned again every
/// potential was reported 4.5 or 8 ms from the complex's largest spike, the train read as
/// interval CV 0.23 and the discharge left unclassified (potential F1 0, discharge F1 0).
#[test]
fn a_complex_longer_than_the_window_is_timed_on_one_spike() {
    let cfg = EvalConfig::default().check().unwrap();
    let (truth, analyses) = analyse("complex-repetitive", 7201, 20.0);
    let r = score(&truth, &prediction(analyses), &cfg);
    let p = &r.potentials[0];
    assert!(p.f1.unwrap_or(0.0) >= 0.95, "potentials {p:?}");
    let crd = class_score(&r, DischargeClass::ComplexRepetitive);
    assert!(crd.f1.unwrap_or(0.0) >= 0.99, "{crd:?}");
}

/// The channel's myokymic, neuromyotonic, fibrillation and positive-sharp-wave discharges,
/// one line each: what a healthy recording must not show.
fn pathological(ch: &ChannelAnalysis) -> Vec<String> {
    ch.discharges
        .iter()
        .filter(|d| {
            matches!(
                d.class,
                DischargeClass::Myokymic
                    | DischargeClass::MyokymicContinuous
                    | DischargeClass::Neuromyotonic
                    | DischargeClass::Fibrillation
                    | DischargeClass::PositiveSharpWave
            )
        })
        .map(|d| format!("{} at {:.2} s: {}", d.class.name(), d.start_s, d.evidence))
        .collect()
}

/// The real needle recording of a healthy gentle contraction (PhysioNet EMGDB) must be
/// reported as voluntary motor unit activity, and not be called myokymic, neuromyotonic or
/// fibrillation.
#[test]
fn healthy_needle_recording_has_no_pathological_discharge() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/data/real/physionet-emgdb/emg_healthy.hea"
    );
    let a = analyze_file(path.as_ref(), None, &AnalysisConfig::default(), &|_| {}).unwrap();
    let ch = &a.channels[0];
    assert!(
        ch.n_detected > 100,
        "only {} potentials detected",
        ch.n_detected
    );
    assert!(!ch.units.is_empty());
    let bad = pathological(ch);
    assert!(bad.is_empty(), "{bad:#?}");
    // Voluntary activity covers most of the 12.7 s contraction.
    let voluntary_s: f64 = ch
        .discharges
        .iter()
        .filter(|d| d.class == DischargeClass::Voluntary)
        .map(|d| d.end_s - d.start_s)
        .sum();
    let all: Vec<String> = ch
        .discharges
        .iter()
        .map(|d| {
            format!(
                "{} at {:.2}–{:.2} s: {}",
                d.class.name(),
                d.start_s,
                d.end_s,
                d.evidence
            )
        })
        .collect();
    assert!(
        voluntary_s > 0.5 * ch.duration_s,
        "voluntary activity over {voluntary_s:.1} s of {:.1} s: {all:#?}",
        ch.duration_s
    );
}

/// The real surface recordings of voluntary contractions (openhdemg's HD-sEMG of vastus
/// lateralis, three electrodes of the grid; BioSPPy's two activation/rest records) must
/// not be called myokymic, neuromyotonic, fibrillation or positive sharp waves.
#[test]
fn real_voluntary_surface_recordings_have_no_pathological_discharge() {
    let real = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/real/");
    let files: [(&str, Option<&[usize]>); 3] = [
        (
            "openhdemg-otb-testfile/otb_testfile.mat",
            Some(&[0, 27, 63]),
        ),
        ("biosppy-examples/emg.txt", None),
        ("biosppy-examples/emg_1.txt", None),
    ];
    for (file, channels) in files {
        let path = format!("{real}{file}");
        let a = analyze_file(path.as_ref(), channels, &AnalysisConfig::default(), &|_| {}).unwrap();
        for ch in &a.channels {
            let bad = pathological(ch);
            assert!(bad.is_empty(), "{file} {}: {bad:#?}", ch.label);
            // Surface EMG does not resolve single-fibre potentials (brief).
            for u in &ch.units {
                assert_eq!(
                    u.measured.class,
                    kymo::sort::WaveformClass::MotorUnit,
                    "{file} {} unit {}: {}",
                    ch.label,
                    u.measured.id,
                    u.measured.class_reason
                );
            }
        }
    }
}

/// Runs the needle scenario `name` at 10 dB with a hum of `hum_uv` and analyses it with
/// each of `cfgs`.
fn analyse_with_hum(
    name: &str,
    seed: u64,
    hum_uv: f64,
    cfgs: &[&kymo::analyze::ValidAnalysisConfig],
) -> (Truth, Vec<ChannelAnalysis>) {
    let mut sc = simulate::builtin(name).unwrap();
    sc.recording.noise = NoiseLevel::SnrDb(10.0);
    sc.recording.mains.amplitude_uv = hum_uv;
    let mut sink = VecSink::default();
    let mut truth = Truth::default();
    simulate::run(&sc, seed, &mut sink, &mut truth).unwrap();
    let info = ChannelInfo {
        index: 0,
        label: "ch0".into(),
        unit: "uV".into(),
        rate_hz: truth.recording.rate_hz,
        n_samples: sink.channels[0].len() as u64,
        physical_range: None,
    };
    let analyses = cfgs
        .iter()
        .map(|cfg| analyze_samples(&info, &sink.channels[0], cfg).unwrap())
        .collect();
    (truth, analyses)
}

/// A 5 µV hum under trains of large positive sharp waves, whose spectrum hid it from
/// one-second detection windows in half of these records (the development seeds where
/// that was found): found, and removed.
#[test]
fn a_small_hum_under_positive_sharp_waves_is_found() {
    let cfg = AnalysisConfig::default().check().unwrap();
    for seed in 11..=16 {
        let (_, a) = analyse_with_hum("fibrillations", seed, 5.0, &[&cfg]);
        let a = &a[0];
        assert_eq!(a.settings.mains_hz, Some(50.0), "seed {seed}");
    }
}

/// The hum is found by default, and with the quiet-window estimate switched on the noise
/// σ is what a reader would measure on the baseline, also where potentials fill most of
/// the time (a contraction, a cramp) or a train of large positive sharp waves surrounds a
/// hum smaller than their spectrum.
#[test]
fn noise_and_hum_are_found_under_busy_signals() {
    let mut quiet = AnalysisConfig::default();
    quiet.detect.quiet_quantile = 0.1;
    let quiet = quiet.check().unwrap();
    let default = AnalysisConfig::default().check().unwrap();
    for seed in SEEDS {
        // A 5 µV hum matters where the noise is a few µV (fibrillations at 10 dB); under
        // the 20–60 µV noise of a contraction it is neither found nor harmful.
        for (name, hum_uv) in [
            ("fibrillations", 5.0),
            ("fibrillations", 0.0),
            ("voluntary", 0.0),
            ("cramp", 0.0),
        ] {
            let (truth, a) = analyse_with_hum(name, seed, hum_uv, &[&default, &quiet]);
            let (a, q) = (&a[0], &a[1]);
            let want_mains = (hum_uv > 0.0).then_some(50.0);
            let what = format!("{name} seed {seed} hum {hum_uv} µV");
            assert_eq!(a.settings.mains_hz, want_mains, "{what}");
            let s = &q.settings;
            assert_eq!(s.mains_hz, want_mains, "{what}");
            // The simulated noise spans 10 Hz–10 kHz, the needle band-pass 20 Hz–9 kHz: a
            // few % of its power is filtered out.
            let truth_sigma = truth.recording.noise_rms_uv[0];
            let ratio = s.noise_sigma_uv / truth_sigma;
            assert!(
                (0.9..1.05).contains(&ratio),
                "{what}: σ {} µV, true noise {truth_sigma} µV",
                s.noise_sigma_uv
            );
            assert!(s.background_sigma_uv >= s.noise_sigma_uv, "{what}");
        }
    }
}

/// A positive sharp wave outlasts the sorting window, so its unit is measured again on a
/// longer average that stops before the next wave (the 10th-percentile interval). A few
/// intervals shorter than the window (a wave detected twice, another unit's potential in
/// the train) must not shorten that average to the window: in this record (seed 25 at 10
/// dB, where they did) both trains of positive sharp waves are units of positive sharp
/// waves.
#[test]
fn a_positive_sharp_wave_detected_twice_is_measured_whole() {
    let (truth, a) = analyse("fibrillations", 25, 10.0);
    let true_psw = truth
        .units
        .iter()
        .filter(|u| u.class == simulate::Class::PositiveSharpWave)
        .count();
    assert_eq!(true_psw, 2);
    let psw: Vec<_> = a[0]
        .units
        .iter()
        .filter(|u| u.measured.class == kymo::sort::WaveformClass::PositiveSharpWave)
        .map(|u| (u.id(), u.n_potentials, u.measured.duration_ms))
        .collect();
    assert_eq!(psw.len(), true_psw, "{psw:?}");
    assert!(psw.iter().all(|p| p.2 >= 10.0), "{psw:?}");
}
