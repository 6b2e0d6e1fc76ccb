use super::*;
use crate::simulate::{self, truth::Truth, VecSink};

fn simulated(name: &str, seconds: f64, seed: u64) -> (ChannelInfo, Vec<f32>, Truth) {
    let mut sc = simulate::builtin(name).unwrap();
    sc.seconds = seconds;
    simulated_scenario(&sc, seed)
}

/// The first channel of scenario `sc` simulated with `seed`, with its channel info.
fn simulated_scenario(sc: &simulate::Scenario, seed: u64) -> (ChannelInfo, Vec<f32>, Truth) {
    let mut sink = VecSink::default();
    let mut truth = Truth::default();
    simulate::run(sc, seed, &mut sink, &mut truth).unwrap();
    let x = sink.channels.swap_remove(0);
    let info = ChannelInfo {
        index: 0,
        label: "sim".into(),
        unit: "uV".into(),
        rate_hz: truth.recording.rate_hz,
        n_samples: x.len() as u64,
        physical_range: None,
    };
    (info, x, truth)
}

#[test]
fn units_scale_to_microvolts() {
    assert_eq!(microvolt_scale("mV").0, 1e3);
    assert_eq!(microvolt_scale("uV").0, 1.0);
    assert_eq!(microvolt_scale(" V ").0, 1e6);
    let (s, w) = microvolt_scale("degC");
    assert_eq!(s, 1.0);
    assert!(w.unwrap().contains("degC"));
}

#[test]
fn millivolt_input_gives_the_same_result_as_microvolts() {
    let (info, x, _) = simulated("fasciculations", 20.0, 77);
    let cfg = AnalysisConfig::default().check().unwrap();
    let a = analyze_samples(&info, &x, &cfg).unwrap();
    let mv: Vec<f32> = x.iter().map(|v| v / 1000.0).collect();
    let info_mv = ChannelInfo {
        unit: "mV".into(),
        ..info
    };
    let b = analyze_samples(&info_mv, &mv, &cfg).unwrap();
    assert_eq!(a.n_detected, b.n_detected);
    assert_eq!(a.discharges.len(), b.discharges.len());
    assert!(
        (a.settings.noise_sigma_uv - b.settings.noise_sigma_uv).abs()
            < 0.01 * a.settings.noise_sigma_uv
    );
}

#[test]
fn chunked_sorting_links_units_across_chunks() {
    // 60 s of myokymic bursts sorted in 10 s chunks: the same units come back in every
    // chunk and must keep their ids, so the bursts still classify as myokymic.
    let (info, x, _) = simulated("myokymia-facial", 60.0, 78);
    let whole = AnalysisConfig::default().check().unwrap();
    let a = analyze_samples(&info, &x, &whole).unwrap();
    let mut chunked = AnalysisConfig::default();
    chunked.chunk.max_seconds = 10.0;
    let b = analyze_samples(&info, &x, &chunked.check().unwrap()).unwrap();
    assert!(b.n_chunks >= 5, "{} chunks", b.n_chunks);
    assert_eq!(a.n_chunks, 1);
    let linked = b.units.iter().filter(|u| u.n_chunks >= 3).count();
    assert!(
        linked >= 1,
        "no unit linked over chunks: {:?}",
        b.units
            .iter()
            .map(|u| (u.id(), u.n_chunks, u.n_potentials))
            .collect::<Vec<_>>()
    );
    let myo = |c: &ChannelAnalysis| {
        c.discharges
            .iter()
            .filter(|d| d.class == crate::pattern::DischargeClass::Myokymic)
            .count()
    };
    let (ma, mb) = (myo(&a), myo(&b));
    assert!(ma > 0);
    assert!(mb as f64 >= 0.8 * ma as f64, "whole {ma}, chunked {mb}");
}

/// Sorting each chunk in the background while the next is read gives the same analysis
/// as sorting in turn (chunks still link in recording order), also in a pool of one thread,
/// which must not wait on itself.
#[test]
fn chunks_sorted_in_the_background_give_the_same_analysis() {
    let (info, x, _) = simulated("mixed", 30.0, 79);
    let mut c = AnalysisConfig::default();
    c.chunk.max_seconds = 6.0;
    let cfg = c.check().unwrap();
    // Every sample is counted once as progress, the last ones only when all is sorted.
    let run = |pipeline: bool| {
        let done = std::sync::atomic::AtomicU64::new(0);
        let count = |n: u64| {
            done.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
        };
        let a = analyze_channel_with(&info, &cfg, &count, pipeline, |start, buf| {
            let s = start as usize;
            buf.copy_from_slice(&x[s..s + buf.len()]);
            Ok(())
        })
        .unwrap();
        assert_eq!(done.into_inner(), x.len() as u64);
        a
    };
    let in_turn = serde_json::to_string(&run(false)).unwrap();
    assert!(run(false).n_chunks >= 5);
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let background = serde_json::to_string(&pool.install(|| run(true))).unwrap();
        assert!(
            background == in_turn,
            "{threads} thread(s): the analyses differ"
        );
    }
}

#[test]
fn bad_config_is_a_clear_error() {
    let mut c = AnalysisConfig::default();
    c.chunk.max_seconds = 0.0;
    let e = c.check().unwrap_err().to_string();
    assert!(e.contains("chunk.max_seconds"), "{e}");
    let mut c = AnalysisConfig::default();
    c.link.min_correlation = 2.0;
    let e = c.check().unwrap_err().to_string();
    assert!(e.contains("link.min_correlation"), "{e}");
}

#[test]
fn a_slow_wave_unit_does_not_cut_the_trains_around_it() {
    // Two fibres firing positive sharp waves for 30 s at 10 dB. The waves' long negative
    // phases also cross the threshold and are sorted as a one-phase "unit", left out as a
    // slow wave; that unit's crossings come in runs faster than any discharge, which were
    // once flagged as artefacts and cut the sharp waves' trains into pieces around them.
    let sc = simulate::Scenario::from_toml_str(
        r#"
name = "psw"
description = "two fibres firing positive sharp waves"
seconds = 30
[recording]
electrode = "needle"
noise = { snr_db = 10 }
mains = { hz = 50, amplitude_uv = 5 }
[[sources]]
class = "positive-sharp-wave"
count = 2
"#,
    )
    .unwrap();
    let (info, x, _) = simulated_scenario(&sc, 7);
    let a = analyze_samples(&info, &x, &AnalysisConfig::default().check().unwrap()).unwrap();
    assert!(
        a.warnings.iter().any(|w| w.contains("slow wave")),
        "the scene this test is about has a slow-wave unit: {:?}",
        a.warnings
    );
    assert!(a.artefacts.is_empty(), "artefacts: {:?}", a.artefacts);
    let psw: Vec<_> = a
        .discharges
        .iter()
        .filter(|d| d.class == crate::pattern::DischargeClass::PositiveSharpWave)
        .collect();
    assert_eq!(psw.len(), 2, "one discharge per fibre: {psw:?}");
    assert!(psw.iter().all(|d| d.end_s - d.start_s > 25.0));
}

/// A detection sorted into the same unit as a much larger one within the unit's duration
/// is a component of that potential (e.g. early fibres' spike 3.9 ms before the main
/// phase), not a second firing; a doublet (two of one size), another unit's potential and
/// a potential beyond the unit's duration are kept.
#[test]
fn pieces_of_a_potential_are_not_second_firings() {
    let p = |time_s: f64, unit: u32, amplitude_uv: f32| ChunkPotential {
        time_s,
        unit: Some(unit),
        amplitude_uv,
        found: Found::Detected,
    };
    let duration_s = |unit: u32| if unit == 0 { 6.8e-3 } else { 3.0e-3 };
    let mut v = vec![
        p(1.0, 0, 190.0),
        p(1.0039, 0, 1247.0), // its early spike is the piece above
        p(2.0, 0, 1200.0),
        p(2.004, 0, 1100.0), // a doublet: both kept
        p(3.0, 1, 100.0),
        p(3.002, 0, 1250.0), // another unit's: kept
        p(4.0, 0, 1250.0),
        p(4.008, 0, 200.0), // beyond unit 0's 6.8 ms: kept
        p(5.0, 0, 1250.0),
        p(5.005, 0, 200.0), // a late component: the piece
    ];
    let kept = |v: &[ChunkPotential]| v.iter().map(|p| p.time_s).collect::<Vec<_>>();
    let mut off = v.clone();
    drop_pieces(&mut off, duration_s, 0.0);
    assert_eq!(kept(&off), kept(&v));
    drop_pieces(&mut v, duration_s, 0.3);
    assert_eq!(kept(&v), [1.0039, 2.0, 2.004, 3.0, 3.002, 4.0, 4.008, 5.0]);
}
