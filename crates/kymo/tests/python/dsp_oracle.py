"""Reference filtering with scipy for kymo's filter tests (tests/dsp_scipy.rs).

Usage: dsp_oracle.py DIR

DIR/cases.json lists the cases; each names an input file of raw little-endian float64
samples in DIR and describes the filter:
    {"name": ..., "input": "x.f64", "rate": Hz, "order": N, "btype": "bandpass" | "lowpass"
     | "highpass" | "bandstop", "wn": [Hz] or [lo, hi], "notches": [[f, bw], ...],
     "comb": [f0, bw] or null, "freqs": [Hz, ...]}
For each case this writes DIR/<name>.out.f64, the signal filtered exactly as kymo's
Filter does:
    sos = butter(order, wn, btype, fs=rate, output='sos'), plus one iirnotch(f, f/bw) row
          per notch;
    y = sosfiltfilt(sos, x)                      (default odd padding, sosfilt_zi)
    y = filtfilt(*iircomb(f0, f0/bw, 'notch'), y) when there is a comb;
and DIR/results.json with, per case, the cascade's complex response at "freqs", the comb's
magnitude there, scipy's pad length, and the scipy and numpy versions.
"""

import json
import sys
from pathlib import Path

import numpy as np
import scipy
from scipy import signal


def main() -> None:
    root = Path(sys.argv[1])
    cases = json.loads((root / "cases.json").read_text())
    results = {"scipy": scipy.__version__, "numpy": np.__version__, "cases": {}}
    for case in cases:
        x = np.fromfile(root / case["input"], dtype="<f8")
        rate = float(case["rate"])
        wn = case["wn"][0] if len(case["wn"]) == 1 else case["wn"]
        sos = signal.butter(case["order"], wn, case["btype"], fs=rate, output="sos")
        for f, bw in case["notches"]:
            b, a = signal.iirnotch(f, f / bw, fs=rate)
            sos = np.vstack([sos, np.concatenate([b, a])])
        y = signal.sosfiltfilt(sos, x)
        freqs = np.asarray(case["freqs"], dtype=float)
        _, h = signal.sosfreqz(sos, worN=freqs, fs=rate)
        comb_gain = None
        if case["comb"] is not None:
            f0, bw = case["comb"]
            b, a = signal.iircomb(f0, f0 / bw, ftype="notch", fs=rate)
            y = signal.filtfilt(b, a, y)
            _, hc = signal.freqz(b, a, worN=freqs, fs=rate)
            comb_gain = np.abs(hc).tolist()
        y.astype("<f8").tofile(root / f"{case['name']}.out.f64")
        ntaps = 2 * len(sos) + 1
        ntaps -= min((sos[:, 2] == 0).sum(), (sos[:, 5] == 0).sum())
        results["cases"][case["name"]] = {
            "response_re": h.real.tolist(),
            "response_im": h.imag.tolist(),
            "comb_gain": comb_gain,
            "padlen": int(3 * ntaps),
            "n_sections": int(len(sos)),
        }
    (root / "results.json").write_text(json.dumps(results))


if __name__ == "__main__":
    main()
