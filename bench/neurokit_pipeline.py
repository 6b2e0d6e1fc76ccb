#!/usr/bin/env python3
"""NeuroKit2's `emg_process` on every channel of an EDF file, for `bench/compare`: the EMG
tool Python users already know.

It does much less than kymo: a 100 Hz high-pass (BioSPPy cleaning), a linear-envelope
amplitude and threshold-based onsets/offsets of "activity" (built for surface EMG
contractions). No spike detection, no sorting, no discharge classification. Reading is
pyedflib (whole channel, float64), as in `reference_pipeline.py`.

Usage: neurokit_pipeline.py FILE.edf [--out RESULT.json]
Prints one JSON line: per channel the number of activity periods found.
"""

import argparse
import json
import sys

import neurokit2 as nk
import numpy as np
import pyedflib
from threadpoolctl import threadpool_limits


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file")
    ap.add_argument("--out", help="write the result JSON here (default: stdout)")
    args = ap.parse_args()
    channels = []
    with pyedflib.EdfReader(args.file) as f:
        n = f.signals_in_file
        for ch in range(n):
            x = f.readSignal(ch)
            rate = f.getSampleFrequency(ch)
            with threadpool_limits(1):
                signals, info = nk.emg_process(x, sampling_rate=rate)
            channels.append(
                {
                    "channel": ch,
                    "n_samples": int(len(x)),
                    "n_activity_periods": int(len(info.get("EMG_Onsets", []))),
                    "active_share": float(np.mean(signals["EMG_Activity"].to_numpy())),
                }
            )
            del signals, x
    text = json.dumps({"tool": "neurokit2", "file": args.file, "channels": channels})
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    else:
        print(text)


if __name__ == "__main__":
    sys.exit(main())
