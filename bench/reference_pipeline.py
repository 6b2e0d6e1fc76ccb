#!/usr/bin/env python3
"""The reference pipeline: kymo's stages written in Python as efficiently as the
ecosystem allows, for `bench/compare`.

Per channel, on the same EDF file kymo analyses, with kymo's default parameters:

1. read: pyedflib, the whole channel as physical float64, scaled to µV;
2. mains: Welch spectrum (1 Hz bins) of 8 one-second windows spread over the channel;
   50 or 60 Hz counts as hum when it stands 10 dB above the median of the bins 3-6 Hz
   away (kymo: `dsp::mains::detect`);
3. filter: one `scipy.signal.sosfiltfilt` pass of a 4th-order Butterworth band-pass 20 Hz
   to min(10 kHz, 0.45 x rate) for needle EMG (rate >= 4 kHz), 20-450 Hz for surface EMG,
   with an `iirnotch` section (2 Hz wide) at each of the first 10 mains harmonics appended
   to the cascade (kymo: `dsp::FilterConfig` defaults; at rates that are a multiple of the
   mains frequency kymo removes every harmonic by subtracting the median hum cycle, which
   numpy could do with a reshape and `np.median`, at some cost; notches are the usual
   Python choice);
4. detect: per block of 2^20 samples, sigma = median(|y|)/0.6745 over a strided
   subsample of 32 768 points, threshold 5 sigma, `scipy.signal.find_peaks` on |y| (both
   polarities at once: the larger phase of a biphasic spike wins within the dead time)
   with the 1 ms (needle) / 5 ms (surface) dead time (kymo: `detect` defaults);
5. waveforms: 4 ms before and 6 ms after each peak (needle; surface 10 + 15 ms), one
   fancy-indexing gather;
6. sort: scikit-learn PCA to 3 components, then GaussianMixture (full covariance) for
   1-8 components on at most 20 000 spikes, the number of units chosen by BIC, every
   spike labelled with `predict`; per unit the mean template, its peak-to-peak amplitude,
   duration (span above 10 % of the peak) and number of phases;
7. pattern: per unit, numpy ISI burst grouping (intervals above 250 ms split bursts,
   kymo's `max_intra_isi_ms`), then simple rules on burst size and intra-burst rate:
   single potentials -> fasciculation (unit rate < 1 Hz) or "single"; 2-20 potentials
   at 50-500 Hz -> doublet/multiplet; 2-60 at 5-60 Hz -> myokymic; rate > 150 Hz ->
   neuromyotonic; longer runs at 20-150 Hz -> train; the rest unclassified.

kymo does more in stages 4, 6 and 7 (artefact rules, template matching of overlaps,
chunked sorting with unit linking, a full feature set and scored classification); this
pipeline is the cost floor of the same stages in Python, not an equal analysis.

BLAS runs on one thread per process (threadpoolctl): the sorting stage makes thousands of
calls on 3 x 3 matrices, which OpenBLAS's default two threads slow down by up to 100x on
a busy two-core machine. `--jobs N` analyses channels in N processes.

Usage: reference_pipeline.py FILE.edf [--jobs N] [--out RESULT.json]
Prints one JSON line: per channel the counts found.
"""

import argparse
import json
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pyedflib
from scipy import signal
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

NEEDLE_MIN_RATE_HZ = 4000.0
BLOCK = 1 << 20
SIGMA_SAMPLES = 32768
THRESHOLD_K = 5.0
MAINS_THRESHOLD_DB = 10.0
MAINS_WINDOWS = 8
NOTCH_BANDWIDTH_HZ = 2.0
MAX_NOTCHES = 10
MAX_FIT_SPIKES = 20000
MAX_UNITS = 8
PCA_COMPONENTS = 3
MAX_INTRA_ISI_S = 0.25
SEED = 0

TO_UV = {"uV": 1.0, "µV": 1.0, "mV": 1e3, "V": 1e6, "nV": 1e-3}


def read_channel(path, ch):
    with pyedflib.EdfReader(path) as f:
        x = f.readSignal(ch)
        rate = f.getSampleFrequency(ch)
        unit = f.getPhysicalDimension(ch).strip()
        label = f.getLabel(ch).strip()
    scale = TO_UV.get(unit, 1.0)
    if scale != 1.0:
        x *= scale
    return x, rate, label


def detect_mains(x, rate):
    win = int(round(rate))
    if len(x) < 2 * win:
        return None
    starts = np.linspace(0, len(x) - win, min(MAINS_WINDOWS, len(x) // win)).astype(np.int64)
    sample = np.concatenate([x[s : s + win] for s in starts])
    f, p = signal.welch(sample, fs=rate, window="hann", nperseg=win, noverlap=0)
    bin_hz = f[1] - f[0]
    best = None
    for f0 in (50.0, 60.0):
        if f0 + 6 * bin_hz >= 0.45 * rate:
            continue
        i = int(round(f0 / bin_hz))
        around = np.concatenate([p[i - 6 : i - 2], p[i + 3 : i + 7]])
        db = 10.0 * np.log10(p[i] / max(np.median(around), 1e-300))
        if db >= MAINS_THRESHOLD_DB and (best is None or db > best[1]):
            best = (f0, db)
    return None if best is None else best[0]


def filter_sos(rate, mains):
    """Band-pass sections, then one notch section per mains harmonic below the upper edge
    (at most 10), all in one cascade for a single `sosfiltfilt` pass."""
    needle = rate >= NEEDLE_MIN_RATE_HZ
    hi = min(10000.0 if needle else 450.0, 0.45 * rate)
    sos = [signal.butter(4, [20.0, hi], "bandpass", fs=rate, output="sos")]
    h = 1
    while mains is not None and h * mains < hi and h <= MAX_NOTCHES:
        f = h * mains
        sos.append(signal.tf2sos(*signal.iirnotch(f, f / NOTCH_BANDWIDTH_HZ, fs=rate)))
        h += 1
    return np.vstack(sos), needle


def detect(y, rate, needle):
    dead = int(round((1.0 if needle else 5.0) * rate / 1000.0))
    peaks = []
    sigmas = []
    for start in range(0, len(y), BLOCK):
        blk = np.abs(y[start : start + BLOCK])
        stride = max(1, len(blk) // SIGMA_SAMPLES)
        sigma = np.median(blk[::stride]) / 0.6745
        sigmas.append(sigma)
        p, _ = signal.find_peaks(blk, height=THRESHOLD_K * sigma, distance=max(dead, 1))
        peaks.append(p + start)
    peaks = np.concatenate(peaks) if peaks else np.zeros(0, np.int64)
    return peaks, float(np.median(sigmas)) if sigmas else 0.0


def waveforms(y, peaks, rate, needle):
    pre = int(round((4.0 if needle else 10.0) * rate / 1000.0))
    post = int(round((6.0 if needle else 15.0) * rate / 1000.0))
    peaks = peaks[(peaks >= pre) & (peaks + post <= len(y))]
    w = y[peaks[:, None] + np.arange(-pre, post)]
    return peaks, w, pre


def sort(w, rate, pre):
    n = len(w)
    if n < 2 * PCA_COMPONENTS:
        return np.zeros(n, np.int64), []
    rng = np.random.default_rng(SEED)
    fit = w if n <= MAX_FIT_SPIKES else w[rng.choice(n, MAX_FIT_SPIKES, replace=False)]
    pca = PCA(n_components=PCA_COMPONENTS, random_state=SEED).fit(fit)
    f_fit = pca.transform(fit)
    best, best_bic = None, np.inf
    for k in range(1, min(MAX_UNITS, len(fit) // 10) + 1):
        gm = GaussianMixture(k, covariance_type="full", random_state=SEED).fit(f_fit)
        bic = gm.bic(f_fit)
        if bic < best_bic:
            best, best_bic = gm, bic
    labels = best.predict(pca.transform(w))
    units = []
    for u in range(best.n_components):
        members = labels == u
        if not members.any():
            continue
        t = w[members].mean(axis=0)
        peak = np.abs(t).max()
        above = np.flatnonzero(np.abs(t) >= 0.1 * peak)
        sign = np.sign(t[np.abs(t) >= 0.1 * peak])
        units.append(
            {
                "unit": u,
                "n": int(members.sum()),
                "p2p_uv": float(t.max() - t.min()),
                "duration_ms": float((above[-1] - above[0] + 1) * 1000.0 / rate),
                "phases": int(1 + np.count_nonzero(np.diff(sign))),
            }
        )
    return labels, units


def pattern(peaks, labels, rate, duration_s):
    classes = {}
    n_bursts = 0
    for u in np.unique(labels):
        t = peaks[labels == u] / rate
        if len(t) == 0:
            continue
        isi = np.diff(t)
        starts = np.concatenate([[0], np.flatnonzero(isi > MAX_INTRA_ISI_S) + 1])
        ends = np.concatenate([starts[1:], [len(t)]])
        size = ends - starts
        dur = t[ends - 1] - t[starts]
        rate_hz = np.where(size > 1, (size - 1) / np.maximum(dur, 1e-9), 0.0)
        unit_rate = len(t) / duration_s
        cls = np.full(len(size), "unclassified", dtype=object)
        cls[(size >= 2) & (rate_hz >= 20) & (rate_hz <= 150)] = "train"
        cls[(size >= 2) & (size <= 60) & (rate_hz >= 5) & (rate_hz <= 60)] = "myokymic"
        cls[(size >= 2) & (size <= 20) & (rate_hz >= 50) & (rate_hz <= 500)] = "doublet"
        cls[(size >= 3) & (rate_hz > 150)] = "neuromyotonic"
        cls[size == 1] = "fasciculation" if unit_rate < 1.0 else "single"
        n_bursts += len(size)
        names, counts = np.unique(cls.astype(str), return_counts=True)
        for name, c in zip(names, counts):
            classes[name] = classes.get(name, 0) + int(c)
    return n_bursts, classes


def analyze_channel(path, ch):
    x, rate, label = read_channel(path, ch)
    mains = detect_mains(x, rate)
    sos, needle = filter_sos(rate, mains)
    y = signal.sosfiltfilt(sos, x)
    del x
    peaks, sigma = detect(y, rate, needle)
    peaks, w, pre = waveforms(y, peaks, rate, needle)
    n_samples = len(y)
    del y
    labels, units = sort(w, rate, pre)
    n_bursts, classes = pattern(peaks, labels, rate, n_samples / rate)
    return {
        "channel": ch,
        "label": label,
        "n_samples": n_samples,
        "mains_hz": mains,
        "noise_sigma_uv": sigma,
        "n_detected": int(len(peaks)),
        "n_units": len(units),
        "units": units,
        "n_bursts": n_bursts,
        "discharges": classes,
    }


def _one_blas_thread(path, ch):
    with threadpool_limits(1):
        return analyze_channel(path, ch)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--jobs", type=int, default=1, help="channels analysed in parallel processes")
    ap.add_argument("--out", help="write the result JSON here (default: stdout)")
    ap.add_argument("--imports-only", action="store_true",
                    help="exit right after the imports (to measure their cost)")
    args = ap.parse_args()
    if args.imports_only:
        return
    with pyedflib.EdfReader(args.file) as f:
        n = f.signals_in_file
    if args.jobs > 1 and n > 1:
        with ProcessPoolExecutor(min(args.jobs, n)) as ex:
            channels = list(ex.map(_one_blas_thread, [args.file] * n, range(n)))
    else:
        with threadpool_limits(1):
            channels = [analyze_channel(args.file, c) for c in range(n)]
    text = json.dumps({"tool": "reference-python", "file": args.file, "channels": channels})
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    sys.exit(main())
