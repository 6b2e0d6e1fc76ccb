//! Clinical context: what the discharges found are usually consistent with, given the
//! muscle, and what a clinician would usually consider next.
//!
//! Decision support, never a diagnosis. Every rule lives in one data file,
//! `rules.toml` beside this module (embedded at build time), with its trigger, its
//! statement ("consistent with …"), the workup to consider and its sources; the muscle
//! table there says which muscles are facial, cranial, limb or trunk. This module only
//! reads the file, turns an [`Analysis`] into [`Findings`] and matches the rules.
//! Each [`Statement`] carries the finding that triggered it, so a reader sees why it was
//! made.
//!
//! ```
//! use kymo::clinical::{self, Findings, Patient};
//! use kymo::pattern::DischargeClass;
//!
//! let rules = clinical::Rules::builtin()?;
//! let findings = Findings::from_counts(&[(DischargeClass::Myokymic, 12)], 60.0);
//! let patient = Patient { muscle: Some("orbicularis oculi".into()), ..Patient::default() };
//! let ctx = rules.evaluate(&findings, &patient);
//! assert!(ctx.statements.iter().any(|s| s.rule == "facial-myokymia"));
//! println!("{}\n  because: {}", ctx.statements[0].text, ctx.statements[0].finding);
//! # Ok::<(), kymo::Error>(())
//! ```

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::analyze::Analysis;
use crate::pattern::DischargeClass;
use crate::{Error, Result};

/// The rules file, embedded.
pub const RULES_TOML: &str = include_str!("rules.toml");

/// Where a muscle is, as the rules distinguish it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// Muscles of facial expression (facial nerve, VII).
    Facial,
    /// Muscles of other cranial nerves (masseter, tongue, sternocleidomastoid …).
    Cranial,
    /// Limb and limb-girdle muscles.
    Limb,
    /// Paraspinal, abdominal and respiratory muscles.
    Trunk,
    /// No muscle given, or one kymo does not know (only in rule triggers).
    Unknown,
}

impl Region {
    /// The lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Region::Facial => "facial",
            Region::Cranial => "cranial",
            Region::Limb => "limb",
            Region::Trunk => "trunk",
            Region::Unknown => "unknown",
        }
    }
}

/// Side of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Left.
    Left,
    /// Right.
    Right,
}

impl Side {
    /// `left` or `right`.
    pub fn name(self) -> &'static str {
        match self {
            Side::Left => "left",
            Side::Right => "right",
        }
    }

    /// Parses `left`/`l`/`right`/`r` (any case).
    pub fn parse(s: &str) -> Result<Side> {
        match s.trim().to_ascii_lowercase().as_str() {
            "left" | "l" => Ok(Side::Left),
            "right" | "r" => Ok(Side::Right),
            other => Err(Error::config(format!(
                "clinical: side \"{other}\" is not left or right"
            ))),
        }
    }
}

/// A muscle of the table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Muscle {
    /// Canonical name.
    pub name: String,
    /// Other names and abbreviations.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Region (never [`Region::Unknown`]).
    pub region: Region,
    /// Usual innervation.
    #[serde(default)]
    pub nerve: String,
}

/// Which myokymic form a rule asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MyokymicForm {
    /// Bursts (`myokymic`) were found.
    Episodic,
    /// Continuous trains (`myokymic-continuous`) were found.
    Continuous,
}

/// A rule's trigger: every key given must hold (see the head of `rules.toml`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Trigger {
    /// At least one of these classes was found.
    pub any_of: Vec<DischargeClass>,
    /// Every one of these classes was found.
    pub all_of: Vec<DischargeClass>,
    /// None of these classes was found.
    pub none_of: Vec<DischargeClass>,
    /// The muscle's region is one of these.
    pub regions: Vec<Region>,
    /// The muscle is one of these (canonical names).
    pub muscles: Vec<String>,
    /// The myokymic form found.
    pub myokymic: Option<MyokymicForm>,
    /// The history contains one of these words (case-insensitive).
    pub history: Vec<String>,
    /// Discharges needed for a class to count as found (default: the settings').
    pub min_discharges: Option<u64>,
}

/// One rule of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Unique id.
    pub id: String,
    /// Short heading.
    pub title: String,
    /// The statement (`{muscle}` is replaced by the muscle's name).
    pub statement: String,
    /// What a clinician would usually consider next.
    pub consider: Vec<String>,
    /// Where the statement comes from.
    pub sources: Vec<String>,
    /// When it applies.
    pub when: Trigger,
}

/// The `[settings]` of the file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Discharges below this confidence are not counted.
    pub min_confidence: f64,
    /// Default discharges needed for a class to count as found.
    pub min_discharges: u64,
    /// The not-a-diagnosis note shown with every clinical section.
    pub disclaimer: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    settings: Settings,
    muscle: Vec<Muscle>,
    rule: Vec<Rule>,
}

/// The rules and the muscle table, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Rules {
    /// Settings.
    pub settings: Settings,
    /// Muscles.
    pub muscles: Vec<Muscle>,
    /// Rules in report order.
    pub rules: Vec<Rule>,
}

/// What is known about the patient and the recording site (all optional).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Patient {
    /// Muscle as the user wrote it.
    pub muscle: Option<String>,
    /// Side.
    pub side: Option<Side>,
    /// Free-text history.
    pub history: Option<String>,
}

/// The muscle as identified.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MuscleContext {
    /// As given.
    pub given: String,
    /// The table's entry, when known.
    pub known: Option<Muscle>,
}

/// Discharges of one class on one channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChannelCount {
    /// Channel label.
    pub channel: String,
    /// Discharges at or above the minimum confidence.
    pub discharges: u64,
    /// The same per minute of the channel.
    pub per_min: f64,
}

/// One class found, pooled over channels.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassFinding {
    /// The class.
    pub class: DischargeClass,
    /// Channels where it occurs.
    pub channels: Vec<ChannelCount>,
}

impl ClassFinding {
    /// Discharges over all channels.
    pub fn total(&self) -> u64 {
        self.channels.iter().map(|c| c.discharges).sum()
    }
}

/// The fibrillation/PSW grade of one channel.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GradeFinding {
    /// Channel label.
    pub channel: String,
    /// 0–4.
    pub grade: u8,
    /// `0` … `4+`.
    pub label: String,
}

/// What an analysis found, as the rules see it.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Findings {
    /// Classes with at least one confident discharge, in [`DischargeClass::ALL`] order.
    pub classes: Vec<ClassFinding>,
    /// The highest fibrillation/PSW grade over the channels, if above 0.
    pub fibrillation_grade: Option<GradeFinding>,
    /// The confidence used.
    pub min_confidence: f64,
}

impl Findings {
    /// The findings of `analysis`: discharges of confidence at least `min_confidence`,
    /// per class and channel.
    pub fn from_analysis(analysis: &Analysis, min_confidence: f64) -> Findings {
        let mut classes = Vec::new();
        for class in DischargeClass::ALL {
            let channels: Vec<ChannelCount> = analysis
                .channels
                .iter()
                .filter_map(|ch| {
                    let n = ch
                        .discharges
                        .iter()
                        .filter(|d| d.class == class && d.confidence >= min_confidence)
                        .count() as u64;
                    (n > 0).then(|| ChannelCount {
                        channel: ch.label.clone(),
                        discharges: n,
                        per_min: per_min(n, ch.duration_s),
                    })
                })
                .collect();
            if !channels.is_empty() {
                classes.push(ClassFinding { class, channels });
            }
        }
        let fibrillation_grade = analysis
            .channels
            .iter()
            .filter(|c| c.summary.fibrillation_grade.grade > 0)
            .max_by_key(|c| c.summary.fibrillation_grade.grade)
            .map(|c| GradeFinding {
                channel: c.label.clone(),
                grade: c.summary.fibrillation_grade.grade,
                label: c.summary.fibrillation_grade.label.clone(),
            });
        Findings {
            classes,
            fibrillation_grade,
            min_confidence,
        }
    }

    /// Findings from plain counts on one channel called `recording` of `seconds` (for
    /// tests and examples).
    pub fn from_counts(counts: &[(DischargeClass, u64)], seconds: f64) -> Findings {
        let classes = DischargeClass::ALL
            .iter()
            .filter_map(|&class| {
                let n: u64 = counts
                    .iter()
                    .filter(|(c, _)| *c == class)
                    .map(|x| x.1)
                    .sum();
                (n > 0).then(|| ClassFinding {
                    class,
                    channels: vec![ChannelCount {
                        channel: "recording".into(),
                        discharges: n,
                        per_min: per_min(n, seconds),
                    }],
                })
            })
            .collect();
        Findings {
            classes,
            fibrillation_grade: None,
            min_confidence: 0.0,
        }
    }

    /// The finding for `class`, if any.
    pub fn class(&self, class: DischargeClass) -> Option<&ClassFinding> {
        self.classes.iter().find(|c| c.class == class)
    }

    fn count(&self, class: DischargeClass) -> u64 {
        self.class(class).map_or(0, ClassFinding::total)
    }
}

fn per_min(n: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        n as f64 * 60.0 / seconds
    } else {
        0.0
    }
}

/// One statement of the clinical section.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Statement {
    /// The rule's id.
    pub rule: String,
    /// Heading.
    pub title: String,
    /// What the finding is consistent with.
    pub text: String,
    /// The finding that triggered it, with its numbers.
    pub finding: String,
    /// What to consider.
    pub consider: Vec<String>,
    /// Sources.
    pub sources: Vec<String>,
}

/// The clinical section of a report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClinicalContext {
    /// The not-a-diagnosis note.
    pub disclaimer: String,
    /// The muscle, if given.
    pub muscle: Option<MuscleContext>,
    /// Side, if given (or read from the muscle's name).
    pub side: Option<Side>,
    /// History as given.
    pub history: Option<String>,
    /// Statements in the rules' order.
    pub statements: Vec<Statement>,
    /// Things the reader should know about the inputs (an unknown muscle …).
    pub notes: Vec<String>,
    /// The confidence below which discharges were not counted.
    pub min_confidence: f64,
}

/// A plural human name of a class ("myokymic discharges").
pub fn class_plural(c: DischargeClass) -> &'static str {
    match c {
        DischargeClass::Voluntary => "voluntary motor unit discharges",
        DischargeClass::Fasciculation => "fasciculation potentials",
        DischargeClass::Doublet => "doublets/multiplets",
        DischargeClass::Myokymic => "myokymic discharges (bursts)",
        DischargeClass::MyokymicContinuous => "continuous myokymic discharges",
        DischargeClass::Neuromyotonic => "neuromyotonic discharges",
        DischargeClass::ComplexRepetitive => "complex repetitive discharges",
        DischargeClass::Fibrillation => "fibrillation potential trains",
        DischargeClass::PositiveSharpWave => "positive sharp wave trains",
        DischargeClass::Myotonic => "myotonic discharges",
        DischargeClass::Cramp => "cramp discharges",
        DischargeClass::Regular => "regular single-unit discharges",
        DischargeClass::EndplateSpike => "endplate spike trains",
        DischargeClass::Unclassified => "unclassified discharges",
    }
}

/// Lower-cases, turns punctuation into spaces and collapses spaces.
fn normalise(s: &str) -> String {
    let lowered: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                ' '
            }
        })
        .collect();
    lowered.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Drops a leading "m"/"musculus" and a side word; returns the rest and the side.
fn strip_prefixes(s: &str) -> (String, Option<Side>) {
    let mut words: Vec<&str> = s.split(' ').collect();
    let mut side = None;
    loop {
        match words.first().copied() {
            Some("m") | Some("musculus") | Some("muscle") => {
                words.remove(0);
            }
            Some("left") | Some("l") if words.len() > 1 => {
                side = Some(Side::Left);
                words.remove(0);
            }
            Some("right") | Some("r") if words.len() > 1 => {
                side = Some(Side::Right);
                words.remove(0);
            }
            _ => break,
        }
    }
    (words.join(" "), side)
}

static BUILTIN: OnceLock<std::result::Result<Rules, String>> = OnceLock::new();

impl Rules {
    /// The embedded rules (`rules.toml`).
    pub fn builtin() -> Result<&'static Rules> {
        BUILTIN
            .get_or_init(|| Rules::from_toml_str(RULES_TOML).map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| Error::config(e.clone()))
    }

    /// Parses and checks a rules file.
    pub fn from_toml_str(text: &str) -> Result<Rules> {
        let file: RulesFile = toml::from_str(text).map_err(|e| {
            Error::config(format!(
                "clinical rules: {}",
                e.message().trim_end_matches('.')
            ))
        })?;
        let s = &file.settings;
        if !(0.0..=1.0).contains(&s.min_confidence) {
            return Err(Error::config(format!(
                "clinical rules: settings.min_confidence {} is not between 0 and 1",
                s.min_confidence
            )));
        }
        if s.disclaimer.trim().is_empty() {
            return Err(Error::config(
                "clinical rules: settings.disclaimer is empty",
            ));
        }
        let mut names = BTreeSet::new();
        for m in &file.muscle {
            if m.region == Region::Unknown {
                return Err(Error::config(format!(
                    "clinical rules: muscle \"{}\" has region \"unknown\"",
                    m.name
                )));
            }
            for n in std::iter::once(&m.name).chain(&m.aliases) {
                let key = normalise(n);
                if key.is_empty() || !names.insert(key.clone()) {
                    return Err(Error::config(format!(
                        "clinical rules: muscle name \"{n}\" is empty or given twice"
                    )));
                }
            }
        }
        let mut ids = BTreeSet::new();
        for r in &file.rule {
            let bad = |what: &str| {
                Err(Error::config(format!(
                    "clinical rules: rule \"{}\": {what}",
                    r.id
                )))
            };
            if !ids.insert(r.id.as_str()) {
                return bad("the id is used twice");
            }
            if r.sources.is_empty() || r.consider.is_empty() {
                return bad("needs at least one source and one thing to consider");
            }
            let w = &r.when;
            if w.any_of.is_empty() && w.all_of.is_empty() && w.none_of.is_empty() {
                return bad("its trigger names no class (any_of, all_of or none_of)");
            }
            for m in &w.muscles {
                if !file.muscle.iter().any(|x| x.name == *m) {
                    return bad(&format!("muscle \"{m}\" is not in the muscle table"));
                }
            }
            let lower = r.statement.to_lowercase();
            if !(lower.contains("consistent with") || lower.contains("consider")) {
                return bad("the statement must say \"consistent with\" or \"consider\"");
            }
        }
        Ok(Rules {
            settings: file.settings,
            muscles: file.muscle,
            rules: file.rule,
        })
    }

    /// The table's muscle called `name` (canonical name or alias, any case and
    /// punctuation, with an optional leading side word), and the side read from the name.
    pub fn muscle(&self, name: &str) -> (Option<&Muscle>, Option<Side>) {
        let (key, side) = strip_prefixes(&normalise(name));
        let found = self.muscles.iter().find(|m| {
            std::iter::once(&m.name)
                .chain(&m.aliases)
                .any(|n| normalise(n) == key)
        });
        (found, side)
    }

    /// The clinical context of `analysis` for `patient`.
    pub fn context(&self, analysis: &Analysis, patient: &Patient) -> ClinicalContext {
        let findings = Findings::from_analysis(analysis, self.settings.min_confidence);
        self.evaluate(&findings, patient)
    }

    /// Matches every rule against `findings` and `patient`.
    pub fn evaluate(&self, findings: &Findings, patient: &Patient) -> ClinicalContext {
        let mut notes = Vec::new();
        let given = patient
            .muscle
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty());
        let (known, side_from_name) = given.map_or((None, None), |g| self.muscle(g));
        if let (Some(g), None) = (given, known) {
            notes.push(format!(
                "kymo does not know the muscle \"{g}\", so only statements that hold for any muscle are given."
            ));
        }
        let side = patient.side.or(side_from_name);
        if let (Some(a), Some(b)) = (patient.side, side_from_name) {
            if a != b {
                notes.push(format!(
                    "the muscle's name says {} but the side given is {}; {} is used.",
                    b.name(),
                    a.name(),
                    a.name()
                ));
            }
        }
        let site = Site {
            muscle: known,
            side,
            history: patient.history.as_deref().map(str::to_lowercase),
        };
        let statements = self
            .rules
            .iter()
            .filter_map(|r| self.apply(r, findings, &site))
            .collect();
        ClinicalContext {
            disclaimer: self.settings.disclaimer.clone(),
            muscle: given.map(|g| MuscleContext {
                given: g.to_string(),
                known: known.cloned(),
            }),
            side,
            history: patient.history.clone().filter(|h| !h.trim().is_empty()),
            statements,
            notes,
            min_confidence: findings.min_confidence,
        }
    }

    /// The statement of `rule` when its trigger holds.
    fn apply(&self, rule: &Rule, f: &Findings, site: &Site<'_>) -> Option<Statement> {
        let w = &rule.when;
        let min = w
            .min_discharges
            .unwrap_or(self.settings.min_discharges)
            .max(1);
        let found = |c: DischargeClass| f.count(c) >= min;
        let mut parts: Vec<String> = Vec::new();

        if !w.all_of.iter().all(|&c| found(c)) {
            return None;
        }
        if !w.any_of.is_empty() && !w.any_of.iter().any(|&c| found(c)) {
            return None;
        }
        if w.none_of.iter().any(|&c| found(c)) {
            return None;
        }
        let region = site.muscle.map_or(Region::Unknown, |m| m.region);
        if !w.regions.is_empty() && !w.regions.contains(&region) {
            return None;
        }
        if !w.muscles.is_empty() && !site.muscle.is_some_and(|m| w.muscles.contains(&m.name)) {
            return None;
        }
        if let Some(form) = w.myokymic {
            let class = match form {
                MyokymicForm::Episodic => DischargeClass::Myokymic,
                MyokymicForm::Continuous => DischargeClass::MyokymicContinuous,
            };
            if !found(class) {
                return None;
            }
        }
        let history_word = if w.history.is_empty() {
            None
        } else {
            let h = site.history.as_deref()?;
            Some(w.history.iter().find(|k| h.contains(&k.to_lowercase()))?)
        };

        // The finding, in words.
        let mut shown = BTreeSet::new();
        for &c in w.all_of.iter().chain(&w.any_of) {
            if found(c) && shown.insert(c) {
                if let Some(cf) = f.class(c) {
                    parts.push(describe_class(cf));
                }
            }
        }
        if shown.iter().any(|c| {
            matches!(
                c,
                DischargeClass::Fibrillation | DischargeClass::PositiveSharpWave
            )
        }) {
            if let Some(g) = &f.fibrillation_grade {
                parts.push(format!(
                    "fibrillation/PSW grade {} at this site ({})",
                    g.label, g.channel
                ));
            }
        }
        if w.any_of.is_empty() && w.all_of.is_empty() {
            let names: Vec<&str> = w.none_of.iter().map(|&c| class_plural(c)).collect();
            parts.push(format!(
                "none of these reached confidence {:.2}: {}",
                f.min_confidence,
                names.join(", ")
            ));
        }
        if let Some(form) = w.myokymic {
            parts.push(format!(
                "myokymic activity is {}",
                match form {
                    MyokymicForm::Episodic => "episodic (bursts)",
                    MyokymicForm::Continuous => "continuous",
                }
            ));
        }
        if !w.regions.is_empty() || !w.muscles.is_empty() {
            parts.push(match site.muscle {
                Some(m) => {
                    let mut s = format!("muscle: {}", m.name);
                    if let Some(side) = site.side {
                        let _ = write!(s, " ({})", side.name());
                    }
                    let _ = write!(s, ", {} region", m.region.name());
                    if !m.nerve.is_empty() {
                        let _ = write!(s, ", {}", m.nerve);
                    }
                    s
                }
                None => "muscle: not given or not known".to_string(),
            });
        }
        if let Some(word) = history_word {
            parts.push(format!("the history mentions \"{}\"", word.trim()));
        }
        let muscle_name = site.muscle.map_or("this muscle", |m| m.name.as_str());
        Some(Statement {
            rule: rule.id.clone(),
            title: rule.title.clone(),
            text: rule.statement.replace("{muscle}", muscle_name),
            finding: parts.join("; "),
            consider: rule.consider.clone(),
            sources: rule.sources.clone(),
        })
    }
}

/// The recording site as the rules see it.
struct Site<'a> {
    muscle: Option<&'a Muscle>,
    side: Option<Side>,
    history: Option<String>,
}

/// "12 myokymic discharges (bursts) (EMG1: 12, 12.0/min)".
fn describe_class(cf: &ClassFinding) -> String {
    let per: Vec<String> = cf
        .channels
        .iter()
        .map(|c| format!("{}: {}, {:.1}/min", c.channel, c.discharges, c.per_min))
        .collect();
    format!(
        "{} {} ({})",
        cf.total(),
        class_plural(cf.class),
        per.join("; ")
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
