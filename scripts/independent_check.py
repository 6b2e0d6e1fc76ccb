"""Runs kymo on the independent generator's recordings and scores its discharges (see
scripts/independent-check)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import pyedflib

sys.path.insert(0, str(Path(__file__).resolve().parent))
import independent_sim as sim  # noqa: E402


def write_edf(path: Path, x: np.ndarray, fs: float) -> None:
    """One needle channel, 16 bits, 1-s records, physical range just over the signal's."""
    lim = float(np.ceil(np.max(np.abs(x)) * 1.05 + 1.0))
    w = pyedflib.EdfWriter(str(path), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        w.setSignalHeaders([{
            "label": "EMG needle", "dimension": "uV", "sample_frequency": fs,
            "physical_max": lim, "physical_min": -lim,
            "digital_max": 32767, "digital_min": -32768,
            "transducer": "concentric needle", "prefilter": "HP:20Hz LP:5kHz",
        }])
        w.writeSamples([x])
    finally:
        w.close()


def match(truth: list[dict], pred: list[dict]) -> int:
    """One-to-one matches by time overlap, largest overlaps first."""
    pairs = []
    for i, t in enumerate(truth):
        for j, p in enumerate(pred):
            ov = min(t["end_s"], p["end_s"]) - max(t["start_s"], p["start_s"])
            if ov > 0:
                pairs.append((ov, i, j))
    pairs.sort(reverse=True)
    used_t, used_p = set(), set()
    for _, i, j in pairs:
        if i not in used_t and j not in used_p:
            used_t.add(i)
            used_p.add(j)
    return len(used_t)


def f1(n_true: int, n_pred: int, hits: int) -> float:
    return 2 * hits / (n_true + n_pred) if n_true + n_pred else 1.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kymo", required=True)
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--scenarios", default=",".join(sim.SCENARIOS))
    ap.add_argument("--seconds", type=float, default=40.0)
    ap.add_argument("--rate", type=float, default=20000.0)
    ap.add_argument("--keep", help="keep the EDF files and kymo's outputs in this folder")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    scenarios = a.scenarios.split(",")
    tmp = tempfile.TemporaryDirectory()
    work = Path(a.keep) if a.keep else Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    print(f"{'scenario':<20} {'seed':>4}  {'F1':>5}  true  kymo's calls (class: count)")
    per_scenario: dict[str, list[float]] = {}
    for name in scenarios:
        for seed in seeds:
            rec = sim.generate(name, seed, a.rate, a.seconds)
            stem = f"{name}-{seed}"
            edf = work / f"{stem}.edf"
            write_edf(edf, rec.x, a.rate)
            (work / f"{stem}.events.json").write_text(json.dumps(rec.events))
            out = work / stem
            run = subprocess.run(
                [a.kymo, "analyze", str(edf), "--out", str(out), "--format", "json"],
                capture_output=True, text=True,
            )
            if run.returncode != 0:
                sys.exit(f"kymo failed on {edf}: {run.stderr.strip()}")
            result = json.loads(next(out.glob("*.analysis.json")).read_text())
            pred = [d for ch in result["channels"] for d in ch["discharges"]]
            calls = Counter(d["class"] for d in pred)
            true_classes = sorted({e["class"] for e in rec.events})
            if name == "rest":
                score = 1.0 if not pred else 0.0
            else:
                scores = []
                for c in true_classes:
                    t = [e for e in rec.events if e["class"] == c]
                    p = [d for d in pred if d["class"] == c]
                    scores.append(f1(len(t), len(p), match(t, p)))
                # Macro over the true classes and every class called falsely (unclassified
                # calls are not claims of a class and count for nothing, as in kymo eval).
                false = {c for c in calls if c not in true_classes and c != "unclassified"}
                scores += [0.0] * len(false)
                score = float(np.mean(scores))
            per_scenario.setdefault(name, []).append(score)
            call_text = ", ".join(f"{c}: {n}" for c, n in calls.most_common()) or "none"
            print(f"{name:<20} {seed:>4}  {score:5.2f}  {len(rec.events):>4}  {call_text}",
                  flush=True)
    print()
    print("mean F1 by scenario: " + ", ".join(
        f"{k} {np.mean(v):.2f}" for k, v in per_scenario.items()))
    allv = [v for vs in per_scenario.values() for v in vs]
    print(f"mean over {len(allv)} runs: {np.mean(allv):.3f}")


if __name__ == "__main__":
    main()
