//! `kymo::eval` on hand-made truths and predictions whose scores are worked out by hand in
//! the comments.

use std::collections::BTreeMap;

use kymo::eval::{
    self, overlap, ChannelPrediction, EvalConfig, OverlapRule, PredictedDischarge,
    PredictedPotential, Prediction, ValidEvalConfig,
};
use kymo::pattern::DischargeClass;
use kymo::simulate::truth::{EventRecord, PotentialRecord, Truth, UnitRecord};
use kymo::simulate::waveform::{Polarity, WaveformKind};
use kymo::simulate::Class;
use kymo::Error;

/// Float tolerance for ratios of small integers computed by hand.
const EPS: f64 = 1e-12;

fn unit(id: usize, class: Class) -> UnitRecord {
    UnitRecord {
        id,
        source: id,
        class,
        waveform: WaveformKind::NeedleMuap,
        p2p_uv: 500.0,
        duration_ms: 8.0,
        phases: 3,
        first_phase: Polarity::Positive,
        rms_uv: 100.0,
        onset_ms: -4.0,
        end_ms: 4.0,
        gains: vec![1.0],
        snr_db: vec![None],
    }
}

fn pot(t: f64, unit: usize) -> PotentialRecord {
    PotentialRecord {
        t,
        sample: (t * 20_000.0).round() as u64,
        unit,
        class: Class::Myokymic,
        event: 0,
        scale: 1.0,
        amplitude_uv: vec![500.0],
    }
}

fn event(id: u64, class: Class, start_s: f64, end_s: f64) -> EventRecord {
    EventRecord {
        id,
        class,
        source: 0,
        start_s,
        end_s,
        first_s: start_s,
        last_s: end_s,
        units: vec![0],
        n_potentials: 1,
        params: BTreeMap::new(),
    }
}

fn pp(time_s: f64, unit: u32) -> PredictedPotential {
    PredictedPotential { time_s, unit }
}

fn pd(class: DischargeClass, start_s: f64, end_s: f64) -> PredictedDischarge {
    PredictedDischarge {
        class,
        start_s,
        end_s,
        confidence: 0.9,
        units: vec![],
    }
}

fn cfg() -> ValidEvalConfig {
    EvalConfig::default().check().expect("defaults are valid")
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < EPS)
}

/// Potentials: truth at 1.000 (u0), 1.003 (u0), 2.000 (u1), 3.000 (u1); prediction at
/// 0.9995, 1.0018, 2.0025, 5.0.
///
/// - 1.0018 is 1.8 ms from 1.000 and 1.2 ms from 1.003: greedy by distance gives it to
///   1.003 (1.2 ms); 0.9995 then takes 1.000 (0.5 ms). Matched 2.
/// - 2.0025 is 2.5 ms from 2.000: beyond the 2 ms tolerance. 5.0 matches nothing.
///
/// Precision 2/4, recall 2/4, F1 2·2/(4+4) = 0.5; mean offset (0.5 + 1.2)/2 = 0.85 ms.
#[test]
fn potentials_match_one_to_one_closest_first() {
    let t = Truth {
        units: vec![unit(0, Class::Myokymic), unit(1, Class::Fasciculation)],
        potentials: vec![pot(1.000, 0), pot(1.003, 0), pot(2.000, 1), pot(3.000, 1)],
        ..Truth::default()
    };
    let pred = Prediction {
        channels: vec![ChannelPrediction {
            channel: 0,
            potentials: vec![pp(0.9995, 7), pp(1.0018, 7), pp(2.0025, 8), pp(5.0, 8)],
            discharges: vec![],
        }],
    };
    let r = eval::score(&t, &pred, &cfg());
    let p = &r.potentials[0];
    assert_eq!((p.n_true, p.n_pred, p.matched), (4, 4, 2));
    assert!(close(p.precision, 0.5) && close(p.recall, 0.5) && close(p.f1, 0.5));
    assert!((p.mean_offset_ms.unwrap() - 0.85).abs() < 1e-9);

    // Units: the 2 matched pairs are both (pred 7, true 0). True unit 0 → pred 7, shared 2;
    // precision 2/2 (pred 7 has 2 potentials), recall 2/2 (unit 0 has 2). True unit 1 has no
    // match: recall 0. Pred unit 8 is unmatched. Agreement 2/2.
    let u = &r.units[0];
    assert_eq!(u.units[0].pred_unit, Some(7));
    assert!(close(u.units[0].precision, 1.0) && close(u.units[0].recall, 1.0));
    assert_eq!(u.units[1].pred_unit, None);
    assert!(close(u.units[1].recall, 0.0));
    assert!(close(u.units[1].f1, 0.0));
    assert_eq!(u.unmatched_pred_units, vec![8]);
    assert!(close(u.agreement, 1.0));

    // A wider tolerance (3 ms) also matches 2.0025: 3 of 4.
    let wide = EvalConfig {
        tolerance_ms: 3.0,
        ..EvalConfig::default()
    }
    .check()
    .unwrap();
    assert_eq!(eval::score(&t, &pred, &wide).potentials[0].matched, 3);
}

/// Units: true unit 0 fires at 1, 2, 3, 4; true unit 1 at 10, 11. The sorter put 1, 2, 3
/// and 10 into unit 5 and 4, 11 into unit 6.
///
/// Shared counts: (5, 0) = 3, (5, 1) = 1, (6, 0) = 1, (6, 1) = 1. Greedy by count: (5, 0)
/// first; then (6, 1) (unit 5 and true unit 0 are taken). True unit 0: shared 3, precision
/// 3/4 (unit 5 has 4), recall 3/4. True unit 1: shared 1, precision 1/2, recall 1/2.
/// Agreement (3 + 1) / 6.
#[test]
fn units_are_paired_by_majority() {
    let t = Truth {
        units: vec![unit(0, Class::Myokymic), unit(1, Class::Myokymic)],
        potentials: [1.0, 2.0, 3.0, 4.0]
            .iter()
            .map(|&x| pot(x, 0))
            .chain([10.0, 11.0].iter().map(|&x| pot(x, 1)))
            .collect(),
        ..Truth::default()
    };
    let pred = Prediction {
        channels: vec![ChannelPrediction {
            channel: 0,
            potentials: vec![
                pp(1.0, 5),
                pp(2.0, 5),
                pp(3.0, 5),
                pp(4.0, 6),
                pp(10.0, 5),
                pp(11.0, 6),
            ],
            discharges: vec![],
        }],
    };
    let r = eval::score(&t, &pred, &cfg());
    let u = &r.units[0];
    assert_eq!(u.units[0].pred_unit, Some(5));
    assert_eq!(u.units[0].shared, 3);
    assert!(close(u.units[0].precision, 0.75) && close(u.units[0].recall, 0.75));
    assert_eq!(u.units[1].pred_unit, Some(6));
    assert!(close(u.units[1].precision, 0.5) && close(u.units[1].recall, 0.5));
    assert!(close(u.agreement, 4.0 / 6.0));
    assert!(u.unmatched_pred_units.is_empty());
}

/// Discharges: true events myokymic [0, 1], myokymic [2, 3], fasciculation [5, 5.01].
/// Predictions: myokymic [0.1, 1.1], doublet [2.0, 2.8], fasciculation [7, 7.01].
///
/// - myokymic [0.1, 1.1] vs [0, 1]: IoU 0.9/1.1 = 0.818 ≥ 0.3 → match.
/// - doublet [2.0, 2.8] vs myokymic [2, 3]: IoU 0.8 but another class → off the diagonal.
/// - fasciculation [7, 7.01] overlaps nothing → spurious; the one at 5 is missed.
///
/// Per class: myokymic true 2, pred 1, matched 1 → P 1, R 0.5, F1 2/3; doublet true 0,
/// pred 1 → P 0, F1 0; fasciculation true 1, pred 1, matched 0 → F1 0. Macro-F1 (2/3 + 0
/// + 0)/3 = 2/9. All discharges: matched 1 of 3 true, 3 predicted → P = R = F1 = 1/3.
#[test]
fn discharges_per_class_macro_and_confusion() {
    let t = Truth {
        events: vec![
            event(0, Class::Myokymic, 0.0, 1.0),
            event(1, Class::Myokymic, 2.0, 3.0),
            event(2, Class::Fasciculation, 5.0, 5.01),
        ],
        ..Truth::default()
    };
    let pred = Prediction {
        channels: vec![ChannelPrediction {
            channel: 0,
            potentials: vec![],
            discharges: vec![
                pd(DischargeClass::Myokymic, 0.1, 1.1),
                pd(DischargeClass::Doublet, 2.0, 2.8),
                pd(DischargeClass::Fasciculation, 7.0, 7.01),
            ],
        }],
    };
    let r = eval::score(&t, &pred, &cfg());
    assert!(r.potentials.is_empty() && r.units.is_empty());
    let d = &r.discharges;
    let get = |c: DischargeClass| d.per_class.iter().find(|x| x.class == c).unwrap();
    let m = get(DischargeClass::Myokymic);
    assert_eq!((m.n_true, m.n_pred, m.matched), (2, 1, 1));
    assert!(close(m.precision, 1.0) && close(m.recall, 0.5) && close(m.f1, 2.0 / 3.0));
    let db = get(DischargeClass::Doublet);
    assert!(close(db.precision, 0.0) && db.recall.is_none() && close(db.f1, 0.0));
    assert!(close(get(DischargeClass::Fasciculation).f1, 0.0));
    assert!(close(d.macro_f1, 2.0 / 9.0));
    assert!(close(d.micro.precision, 1.0 / 3.0) && close(d.micro.recall, 1.0 / 3.0));

    // Confusion: classes in ALL order: fasciculation, doublet, myokymic.
    let cf = &d.confusion;
    assert_eq!(
        cf.classes,
        vec![
            DischargeClass::Fasciculation,
            DischargeClass::Doublet,
            DischargeClass::Myokymic
        ]
    );
    // rows = truth: fasciculation [0, 0, 0] missed 1; myokymic [0, 1, 1] missed 0.
    assert_eq!(cf.counts[0], vec![0, 0, 0]);
    assert_eq!(cf.counts[2], vec![0, 1, 1]);
    assert_eq!(cf.missed, vec![1, 0, 0]);
    assert_eq!(cf.spurious, vec![1, 0, 0]);

    let table = eval::format_table(&r);
    assert!(table.contains("macro-F1 0.222"), "{table}");
    assert!(table.contains("confusion"), "{table}");
}

/// IoU vs overlap of the shorter: a 0.1 s prediction inside a 1 s event has IoU 0.1 (no
/// match at 0.3) but covers all of the shorter interval (a match).
#[test]
fn overlap_rules_differ_for_nested_intervals() {
    assert!((overlap((0.0, 1.0), (0.4, 0.5), OverlapRule::Iou) - 0.1).abs() < 1e-9);
    assert!((overlap((0.0, 1.0), (0.4, 0.5), OverlapRule::OfShorter) - 1.0).abs() < 1e-9);
    assert_eq!(overlap((0.0, 1.0), (2.0, 3.0), OverlapRule::Iou), 0.0);
    let t = Truth {
        events: vec![event(0, Class::Neuromyotonic, 0.0, 1.0)],
        ..Truth::default()
    };
    let pred = Prediction {
        channels: vec![ChannelPrediction {
            channel: 0,
            potentials: vec![],
            discharges: vec![pd(DischargeClass::Neuromyotonic, 0.4, 0.5)],
        }],
    };
    assert_eq!(
        eval::score(&t, &pred, &cfg()).discharges.per_class[0].matched,
        0
    );
    let shorter = EvalConfig {
        overlap: OverlapRule::OfShorter,
        min_overlap: 0.5,
        ..EvalConfig::default()
    }
    .check()
    .unwrap();
    assert_eq!(
        eval::score(&t, &pred, &shorter).discharges.per_class[0].matched,
        1
    );
}

/// The same discharge seen on two channels counts once when channels are pooled, and a
/// channel can be scored alone.
#[test]
fn channels_pool_without_double_counting() {
    let t = Truth {
        events: vec![event(0, Class::Myokymic, 1.0, 1.2)],
        ..Truth::default()
    };
    let ch = |c: usize, start: f64| ChannelPrediction {
        channel: c,
        potentials: vec![],
        discharges: vec![pd(DischargeClass::Myokymic, start, start + 0.2)],
    };
    let pred = Prediction {
        channels: vec![ch(0, 1.0), ch(1, 1.01)],
    };
    let pooled = eval::score(&t, &pred, &cfg());
    let m = &pooled.discharges.per_class[0];
    assert_eq!((m.n_true, m.n_pred, m.matched), (1, 1, 1));
    // Without pooling rules, two predictions for one event would halve the precision;
    // scoring channel 1 alone keeps its single prediction.
    let one = EvalConfig {
        channel: Some(1),
        ..EvalConfig::default()
    }
    .check()
    .unwrap();
    let m = &eval::score(&t, &pred, &one).discharges.per_class[0];
    assert_eq!((m.n_pred, m.matched), (1, 1));
}

#[test]
fn bad_config_is_a_config_error_naming_the_field() {
    for (c, field) in [
        (
            EvalConfig {
                tolerance_ms: -1.0,
                ..EvalConfig::default()
            },
            "tolerance_ms",
        ),
        (
            EvalConfig {
                min_overlap: 0.0,
                ..EvalConfig::default()
            },
            "min_overlap",
        ),
        (
            EvalConfig {
                min_overlap: f64::NAN,
                ..EvalConfig::default()
            },
            "min_overlap",
        ),
    ] {
        match c.check() {
            Err(Error::Config(m)) => assert!(m.starts_with("eval: ") && m.contains(field), "{m}"),
            other => panic!("{field}: {other:?}"),
        }
    }
}

/// kymo's analysis JSON (more fields than the prediction needs) reads as a prediction;
/// a malformed file is an `Error::Malformed` naming the file.
#[test]
fn prediction_json_reads_kymo_output_and_ignores_extra_fields() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.json");
    let json = r#"{
      "kymo_version": "0.1.0",
      "channels": [{
        "channel": 0, "label": "EMG1",
        "potentials": [{"time_s": 1.0, "unit": 3, "amplitude_uv": 500.0}],
        "discharges": [{"class": "myokymic-continuous", "confidence": 0.8, "score": 0.9,
                        "start_s": 0.5, "end_s": 9.5, "first_s": 0.51, "last_s": 9.49,
                        "units": [3], "n_potentials": 300, "evidence": "…"}]
      }]
    }"#;
    std::fs::write(&path, json).unwrap();
    let p = Prediction::read(&path).expect("reads");
    assert_eq!(p.channels[0].potentials[0].unit, 3);
    assert_eq!(
        p.channels[0].discharges[0].class,
        DischargeClass::MyokymicContinuous
    );
    std::fs::write(
        &path,
        r#"{"channels": [{"channel": 0, "discharges": [{"class": "nope"}]}]}"#,
    )
    .unwrap();
    match Prediction::read(&path) {
        Err(Error::Malformed { path: p, what }) => {
            assert_eq!(p, path);
            assert!(what.starts_with("events: "), "{what}");
        }
        other => panic!("{other:?}"),
    }
}
