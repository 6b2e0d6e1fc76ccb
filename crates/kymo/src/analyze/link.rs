//! Linking the units of successive sorting chunks: a unit of a new chunk is the same motor
//! unit as an earlier one when their templates have the same shape (normalised correlation
//! at the best small shift) and a similar size. The test is the sorter's own merge test
//! (`sort.merge_*`), slightly looser by default because the two templates come from
//! different spikes and a unit's amplitude drifts slowly with needle position.

use serde::{Deserialize, Serialize};

use super::UnitReport;
use crate::pattern::PotentialInput;
use crate::sort::Unit;
use crate::{Error, Result};

/// When two units of different chunks are one unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkConfig {
    /// Least normalised correlation of the templates at the best shift (default 0.95; the
    /// sorter merges units within a chunk at 0.98).
    pub min_correlation: f64,
    /// Least ratio of the smaller to the larger peak-to-peak amplitude (default 0.7).
    pub min_amplitude_ratio: f64,
    /// Largest shift tried, ms (default 0.5).
    pub max_shift_ms: f64,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            min_correlation: 0.95,
            min_amplitude_ratio: 0.7,
            max_shift_ms: 0.5,
        }
    }
}

impl LinkConfig {
    pub(crate) fn check(&self) -> Result<()> {
        let frac = |v: f64, what: &str| {
            if v.is_finite() && (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(Error::config(format!(
                    "analyze: link.{what} {v} is not between 0 and 1"
                )))
            }
        };
        frac(self.min_correlation, "min_correlation")?;
        frac(self.min_amplitude_ratio, "min_amplitude_ratio")?;
        if !(self.max_shift_ms.is_finite() && (0.0..=5.0).contains(&self.max_shift_ms)) {
            return Err(Error::config(format!(
                "analyze: link.max_shift_ms {} is not between 0 and 5 ms",
                self.max_shift_ms
            )));
        }
        Ok(())
    }
}

struct Linked {
    id: u32,
    /// Spike-weighted mean template, aligned on the first chunk's template.
    template: Vec<f64>,
    weight: f64,
    best: Unit,
    chunks: usize,
}

pub(crate) struct Linker {
    cfg: LinkConfig,
    max_shift: usize,
    units: Vec<Linked>,
}

/// Normalised correlation of `a` and `b` with `b` shifted by `s` samples, over the overlap.
fn correlation(a: &[f64], b: &[f32], s: isize) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (i, &x) in a.iter().enumerate() {
        let j = i as isize + s;
        if j < 0 || j as usize >= b.len() {
            continue;
        }
        let y = b[j as usize] as f64;
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa > 0.0 && bb > 0.0 {
        ab / (aa * bb).sqrt()
    } else {
        0.0
    }
}

fn p2p(t: &[f64]) -> f64 {
    let (lo, hi) = t
        .iter()
        .fold((f64::MAX, f64::MIN), |(l, h), &v| (l.min(v), h.max(v)));
    if hi >= lo {
        hi - lo
    } else {
        0.0
    }
}

impl Linker {
    pub(crate) fn new(cfg: &LinkConfig, rate_hz: f64) -> Self {
        Linker {
            cfg: cfg.clone(),
            max_shift: (cfg.max_shift_ms * 1e-3 * rate_hz).round() as usize,
            units: Vec::new(),
        }
    }

    /// Links the units of one chunk; returns the channel-wide id of each, indexed by the
    /// chunk's unit id.
    pub(crate) fn add_chunk(&mut self, units: &[Unit], _pre: usize) -> Vec<u32> {
        let n_ids = units.iter().map(|u| u.id as usize + 1).max().unwrap_or(0);
        let mut ids = vec![u32::MAX; n_ids];
        // Every acceptable (correlation, chunk unit, linked unit, shift), best first.
        let mut pairs: Vec<(f64, usize, usize, isize)> = Vec::new();
        let m = self.max_shift as isize;
        for (ci, u) in units.iter().enumerate() {
            for (gi, g) in self.units.iter().enumerate() {
                let (a, b) = (u.p2p_uv, p2p(&g.template));
                if a.min(b) < self.cfg.min_amplitude_ratio * a.max(b) {
                    continue;
                }
                let (c, s) = (-m..=m)
                    .map(|s| (correlation(&g.template, &u.template, s), s))
                    .fold((f64::MIN, 0), |best, x| if x.0 > best.0 { x } else { best });
                if c >= self.cfg.min_correlation {
                    pairs.push((c, ci, gi, s));
                }
            }
        }
        pairs.sort_by(|x, y| y.0.total_cmp(&x.0));
        let mut taken_c = vec![false; units.len()];
        let mut taken_g = vec![false; self.units.len()];
        for (_, ci, gi, s) in pairs {
            if taken_c[ci] || taken_g[gi] {
                continue;
            }
            taken_c[ci] = true;
            taken_g[gi] = true;
            let u = &units[ci];
            let g = &mut self.units[gi];
            let w = u.n_spikes as f64;
            let total = g.weight + w;
            for (i, t) in g.template.iter_mut().enumerate() {
                let j = i as isize + s;
                let y = if j >= 0 && (j as usize) < u.template.len() {
                    u.template[j as usize] as f64
                } else {
                    *t
                };
                *t = (*t * g.weight + y * w) / total.max(1.0);
            }
            g.weight = total;
            g.chunks += 1;
            if u.n_spikes > g.best.n_spikes {
                g.best = u.clone();
            }
            ids[u.id as usize] = g.id;
        }
        for (ci, u) in units.iter().enumerate() {
            if taken_c[ci] {
                continue;
            }
            let id = self.units.len() as u32;
            self.units.push(Linked {
                id,
                template: u.template.iter().map(|&v| v as f64).collect(),
                weight: u.n_spikes as f64,
                best: u.clone(),
                chunks: 1,
            });
            ids[u.id as usize] = id;
        }
        ids
    }

    /// The channel's units with their potential counts (units left without potentials are
    /// dropped).
    pub(crate) fn finish(self, potentials: &[PotentialInput]) -> Vec<UnitReport> {
        let counts = potentials_per_unit(potentials, self.units.len());
        self.units
            .into_iter()
            .filter(|u| counts[u.id as usize] > 0)
            .map(|u| {
                let mut measured = u.best;
                measured.id = u.id;
                UnitReport {
                    n_potentials: counts[u.id as usize],
                    n_chunks: u.chunks,
                    measured,
                }
            })
            .collect()
    }
}

/// Potentials of each unit id below `n` (ids are the linker's, `0..n`).
pub(crate) fn potentials_per_unit(potentials: &[PotentialInput], n: usize) -> Vec<usize> {
    let mut counts = vec![0usize; n];
    for p in potentials {
        if let Some(c) = counts.get_mut(p.unit as usize) {
            *c += 1;
        }
    }
    counts
}
