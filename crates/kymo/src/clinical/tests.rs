use super::*;
use DischargeClass as C;

/// One table row: what was found, the site, and what must (and must not) be said.
struct Case {
    found: &'static [(DischargeClass, u64)],
    muscle: Option<&'static str>,
    history: Option<&'static str>,
    /// The rule that must fire, and a phrase its statement or workup must hold.
    fires: (&'static str, &'static str),
    /// A phrase its finding must hold (the numbers behind it).
    finding: &'static str,
    /// Rules that must not fire.
    silent: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        found: &[(C::Myokymic, 12)],
        muscle: Some("mentalis"),
        history: None,
        fires: ("facial-myokymia", "MRI"),
        finding: "12 myokymic discharges",
        silent: &[
            "limb-myokymia",
            "myokymia-muscle-unknown",
            "eyelid-myokymia",
        ],
    },
    Case {
        found: &[(C::MyokymicContinuous, 2)],
        muscle: Some("Orbicularis Oris"),
        history: None,
        fires: ("facial-myokymia-continuous", "pontine"),
        finding: "myokymic activity is continuous",
        silent: &["eyelid-myokymia", "limb-myokymia"],
    },
    Case {
        found: &[(C::Myokymic, 30)],
        muscle: Some("left orbicularis oculi"),
        history: None,
        fires: ("eyelid-myokymia", "benign eyelid myokymia"),
        finding: "muscle: orbicularis oculi (left), facial region",
        silent: &["limb-myokymia", "facial-myokymia-continuous"],
    },
    Case {
        found: &[(C::Myokymic, 40)],
        muscle: Some("biceps"),
        history: None,
        fires: ("limb-myokymia", "radiation plexopathy"),
        finding: "limb region, musculocutaneous nerve",
        silent: &[
            "facial-myokymia",
            "limb-myokymia-after-radiotherapy",
            "myokymia-muscle-unknown",
        ],
    },
    Case {
        found: &[(C::Myokymic, 40)],
        muscle: Some("FDI"),
        history: Some("Breast cancer, Radiotherapy to the axilla 2019"),
        fires: (
            "limb-myokymia-after-radiotherapy",
            "favour it over tumour infiltration",
        ),
        finding: "the history mentions \"radiotherapy\"",
        silent: &["facial-myokymia"],
    },
    Case {
        found: &[(C::Myokymic, 5)],
        muscle: Some("tongue"),
        history: None,
        fires: ("cranial-myokymia", "radiotherapy of the head and neck"),
        finding: "hypoglossal nerve",
        silent: &["facial-myokymia", "limb-myokymia"],
    },
    Case {
        found: &[(C::Myokymic, 5)],
        muscle: None,
        history: None,
        fires: ("myokymia-muscle-unknown", "depends on the muscle"),
        finding: "muscle: not given or not known",
        silent: &["facial-myokymia", "limb-myokymia", "no-abnormal-activity"],
    },
    Case {
        found: &[(C::Neuromyotonic, 3)],
        muscle: Some("gastrocnemius"),
        history: None,
        fires: ("neuromyotonia", "Isaacs"),
        finding: "3 neuromyotonic discharges",
        silent: &["hyperexcitability-spectrum", "limb-myokymia"],
    },
    Case {
        found: &[(C::Neuromyotonic, 3), (C::Myokymic, 8)],
        muscle: Some("tibialis anterior"),
        history: None,
        fires: ("hyperexcitability-spectrum", "generalised peripheral nerve"),
        finding: "8 myokymic discharges",
        silent: &["isolated-fasciculations"],
    },
    Case {
        found: &[(C::Fasciculation, 9)],
        muscle: Some("deltoid"),
        history: None,
        fires: ("isolated-fasciculations", "not myokymia"),
        finding: "9 fasciculation potentials",
        silent: &["fasciculations-with-denervation", "limb-myokymia"],
    },
    Case {
        found: &[(C::Fasciculation, 9), (C::Fibrillation, 2)],
        muscle: Some("first dorsal interosseous"),
        history: None,
        fires: ("fasciculations-with-denervation", "active denervation"),
        finding: "2 fibrillation potential trains",
        silent: &["isolated-fasciculations", "no-abnormal-activity"],
    },
    Case {
        found: &[(C::Doublet, 4)],
        muscle: None,
        history: None,
        fires: ("doublets", "calcium or magnesium"),
        finding: "4 doublets/multiplets",
        silent: &[],
    },
    Case {
        found: &[(C::PositiveSharpWave, 1)],
        muscle: Some("vastus lateralis"),
        history: None,
        fires: ("fibrillation", "denervation"),
        finding: "1 positive sharp wave trains",
        silent: &["no-abnormal-activity"],
    },
    Case {
        found: &[(C::ComplexRepetitive, 2)],
        muscle: None,
        history: None,
        fires: ("complex-repetitive", "chronic process"),
        finding: "2 complex repetitive discharges",
        silent: &["no-abnormal-activity"],
    },
    Case {
        found: &[(C::Myotonic, 6)],
        muscle: Some("abductor pollicis brevis"),
        history: None,
        fires: ("myotonic", "not a sign of myokymia"),
        finding: "6 myotonic discharges",
        silent: &["limb-myokymia", "no-abnormal-activity"],
    },
    Case {
        found: &[(C::Cramp, 1)],
        muscle: Some("gastrocnemius"),
        history: None,
        fires: ("cramp", "muscle cramp"),
        finding: "1 cramp discharges",
        silent: &["no-abnormal-activity"],
    },
    Case {
        found: &[(C::EndplateSpike, 2)],
        muscle: None,
        history: None,
        fires: ("endplate", "must not be read as fibrillation"),
        finding: "2 endplate spike trains",
        silent: &["fibrillation"],
    },
    Case {
        found: &[(C::Voluntary, 1)],
        muscle: None,
        history: None,
        fires: ("voluntary", "judged at rest"),
        finding: "1 voluntary motor unit discharges",
        silent: &[],
    },
    Case {
        found: &[(C::Regular, 2)],
        muscle: None,
        history: None,
        fires: ("regular-single-unit", "incomplete relaxation"),
        finding: "2 regular single-unit discharges",
        silent: &["myokymia-muscle-unknown"],
    },
    Case {
        found: &[(C::Fasciculation, 1)],
        muscle: None,
        history: None,
        fires: ("no-abnormal-activity", "this site and this time only"),
        finding: "none of these reached confidence",
        silent: &["neuromyotonia"],
    },
];

#[test]
fn every_rule_fires_on_its_case() {
    let rules = Rules::builtin().unwrap();
    for (i, case) in CASES.iter().enumerate() {
        let findings = Findings::from_counts(case.found, 60.0);
        let patient = Patient {
            muscle: case.muscle.map(String::from),
            side: None,
            history: case.history.map(String::from),
        };
        let ctx = rules.evaluate(&findings, &patient);
        let fired: Vec<&str> = ctx.statements.iter().map(|s| s.rule.as_str()).collect();
        let (id, phrase) = case.fires;
        let s = ctx
            .statements
            .iter()
            .find(|s| s.rule == id)
            .unwrap_or_else(|| panic!("case {i}: rule {id} did not fire; fired: {fired:?}"));
        assert!(
            s.text.contains(phrase) || s.consider.iter().any(|c| c.contains(phrase)),
            "case {i}: {id} says {:?} / {:?}, not {phrase:?}",
            s.text,
            s.consider
        );
        assert!(
            s.finding.contains(case.finding),
            "case {i}: {id} finding {:?} lacks {:?}",
            s.finding,
            case.finding
        );
        for quiet in case.silent {
            assert!(
                !fired.contains(quiet),
                "case {i}: {quiet} fired too: {fired:?}"
            );
        }
        assert!(!ctx.disclaimer.is_empty());
    }
}

#[test]
fn every_rule_has_a_case() {
    let rules = Rules::builtin().unwrap();
    for r in &rules.rules {
        assert!(
            CASES.iter().any(|c| c.fires.0 == r.id),
            "rule {} has no table case",
            r.id
        );
    }
}

#[test]
fn statements_are_decision_support() {
    // Phrased as "consistent with"/"consider", every one with a source, never as a
    // diagnosis made.
    let rules = Rules::builtin().unwrap();
    for r in &rules.rules {
        let t = r.statement.to_lowercase();
        assert!(
            t.contains("consistent with") || t.contains("consider"),
            "{}",
            r.id
        );
        assert!(
            !t.contains("diagnosis of") && !t.contains("diagnostic of"),
            "{}",
            r.id
        );
        assert!(!r.sources.is_empty(), "{}", r.id);
    }
    assert!(rules.settings.disclaimer.contains("not a diagnosis"));
}

#[test]
fn facial_muscles_are_known() {
    let rules = Rules::builtin().unwrap();
    for name in [
        "orbicularis oculi",
        "Orbicularis-Oris",
        "m. mentalis",
        "frontalis",
        "right zygomaticus major",
        "platysma",
        "OO",
    ] {
        let (m, _) = rules.muscle(name);
        assert_eq!(m.map(|m| m.region), Some(Region::Facial), "{name}");
    }
    for name in [
        "biceps",
        "tibialis anterior",
        "APB",
        "first dorsal interosseous",
    ] {
        assert_eq!(
            rules.muscle(name).0.map(|m| m.region),
            Some(Region::Limb),
            "{name}"
        );
    }
    assert_eq!(
        rules.muscle("masseter").0.map(|m| m.region),
        Some(Region::Cranial)
    );
    assert_eq!(rules.muscle("L5 paraspinal").0, None);
    assert_eq!(rules.muscle("left deltoid").1, Some(Side::Left));
    assert_eq!(rules.muscle("r deltoid").1, Some(Side::Right));
}

#[test]
fn an_unknown_muscle_is_a_note_not_an_error() {
    let rules = Rules::builtin().unwrap();
    let f = Findings::from_counts(&[(C::Myokymic, 10)], 60.0);
    let ctx = rules.evaluate(
        &f,
        &Patient {
            muscle: Some("flexor <b>digitorum</b> superficialis".into()),
            ..Patient::default()
        },
    );
    assert!(ctx.notes[0].contains("does not know the muscle"));
    assert!(ctx
        .statements
        .iter()
        .any(|s| s.rule == "myokymia-muscle-unknown"));
}

#[test]
fn conflicting_sides_keep_the_given_one() {
    let rules = Rules::builtin().unwrap();
    let f = Findings::from_counts(&[(C::Myokymic, 10)], 60.0);
    let ctx = rules.evaluate(
        &f,
        &Patient {
            muscle: Some("left mentalis".into()),
            side: Some(Side::Right),
            history: None,
        },
    );
    assert_eq!(ctx.side, Some(Side::Right));
    assert!(ctx.notes.iter().any(|n| n.contains("says left")));
}

#[test]
fn too_few_discharges_do_not_trigger_a_region_rule() {
    // One myokymic burst is below the rules' min_discharges of 2.
    let rules = Rules::builtin().unwrap();
    let f = Findings::from_counts(&[(C::Myokymic, 1)], 60.0);
    let p = Patient {
        muscle: Some("mentalis".into()),
        ..Patient::default()
    };
    let ctx = rules.evaluate(&f, &p);
    assert!(!ctx.statements.iter().any(|s| s.rule == "facial-myokymia"));
}

#[test]
fn bad_rule_files_are_refused_with_the_rule_named() {
    let head = "[settings]\nmin_confidence = 0.3\nmin_discharges = 1\ndisclaimer = \"not a diagnosis\"\n[[muscle]]\nname = \"biceps\"\nregion = \"limb\"\n";
    let rule = |extra: &str, statement: &str| {
        format!(
            "{head}[[rule]]\nid = \"r1\"\ntitle = \"t\"\nstatement = \"{statement}\"\nconsider = [\"x\"]\nsources = [\"s\"]\n[rule.when]\n{extra}\n"
        )
    };
    assert!(Rules::from_toml_str(&rule("any_of = [\"myokymic\"]", "consistent with x")).is_ok());
    let e = Rules::from_toml_str(&rule("any_of = [\"myokymic\"]", "is x")).unwrap_err();
    assert!(e.to_string().contains("rule \"r1\""), "{e}");
    let e = Rules::from_toml_str(&rule("regions = [\"limb\"]", "consistent with x")).unwrap_err();
    assert!(e.to_string().contains("names no class"), "{e}");
    let e = Rules::from_toml_str(&rule(
        "any_of = [\"myokymic\"]\nmuscles = [\"soleus\"]",
        "consistent with x",
    ))
    .unwrap_err();
    assert!(e.to_string().contains("soleus"), "{e}");
    let e =
        Rules::from_toml_str(&rule("any_of = [\"myokymia\"]", "consistent with x")).unwrap_err();
    assert!(e.to_string().contains("clinical rules"), "{e}");
}
