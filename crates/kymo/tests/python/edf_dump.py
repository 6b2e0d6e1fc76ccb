#!/usr/bin/env python3
"""Dump an EDF/BDF file as pyedflib reads it, for kymo's cross-check tests.

Usage: edf_dump.py FILE [--samples-dir DIR]

Prints one JSON object on stdout:

    {
      "pyedflib_version": "0.1.42",
      "patched_header": false,         # true: non-ASCII header bytes were replaced by '?'
                                       # in a temporary copy, because pyedflib refuses them
      "filetype": 1,                   # pyedflib: 0 EDF, 1 EDF+C, 2 EDF+D, 3 BDF, 4 BDF+C, 5 BDF+D
      "start": {"year": 2011, "month": 4, "day": 4, "hour": 12, "minute": 57, "second": 2},
      "datarecord_duration": 1.0,
      "n_datarecords": 600,
      "signals": [ {"label", "unit", "rate", "n_samples", "physical_min", "physical_max",
                    "digital_min", "digital_max", "transducer", "prefilter",
                    "is_annotation", "first": [first 8 physical samples], "sum": float,
                    "samples_file": "DIR/signal_0.f64" or null}, ... ],
      "annotations": [ {"onset": s, "duration": s or null, "text": "..."}, ... ]
    }

With --samples-dir, every signal's physical samples (`readSignal(i)`, float64) are also
written to DIR/signal_<i>.f64 as raw little-endian float64, so the Rust test can compare
every sample without JSON-encoding millions of numbers.

pyedflib's annotation onsets are relative to the start time including its sub-second
part (the first data record's time-keeping TAL), as kymo's are.
"""

import json
import os
import shutil
import sys
import tempfile

import numpy as np
import pyedflib


def open_reader(path):
    """Opens with pyedflib; on a non-ASCII header, retries on a patched temporary copy."""
    try:
        return pyedflib.EdfReader(path), False, None
    except OSError as e:
        if "compliant" not in str(e):
            raise
    with open(path, "rb") as f:
        head = bytearray(f.read(256))
        ns = int(head[252:256].decode("ascii").strip())
        head += f.read(256 * ns)
    patched = bytes(c if c < 0x80 or (i == 0 and c == 0xFF) else ord("?") for i, c in enumerate(head))
    tmpdir = tempfile.mkdtemp(prefix="edf_dump_")
    tmp = os.path.join(tmpdir, os.path.basename(path))
    shutil.copyfile(path, tmp)
    with open(tmp, "r+b") as f:
        f.write(patched)
    return pyedflib.EdfReader(tmp), True, tmpdir


def main():
    args = sys.argv[1:]
    samples_dir = None
    if "--samples-dir" in args:
        k = args.index("--samples-dir")
        samples_dir = args[k + 1]
        del args[k : k + 2]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    path = args[0]

    f, patched, tmpdir = open_reader(path)
    try:
        start = f.getStartdatetime()
        signals = []
        for i in range(f.signals_in_file):
            h = f.getSignalHeader(i)
            is_ann = h["label"].strip() in ("EDF Annotations", "BDF Annotations")
            sig = {
                "label": h["label"].strip(),
                "unit": h["dimension"].strip(),
                "rate": float(f.getSampleFrequency(i)),
                "n_samples": int(f.getNSamples()[i]),
                "physical_min": float(h["physical_min"]),
                "physical_max": float(h["physical_max"]),
                "digital_min": int(h["digital_min"]),
                "digital_max": int(h["digital_max"]),
                "transducer": h["transducer"].strip(),
                "prefilter": h["prefilter"].strip(),
                "is_annotation": is_ann,
                "first": [],
                "sum": 0.0,
                "samples_file": None,
            }
            if not is_ann:
                x = np.asarray(f.readSignal(i), dtype="<f8")
                sig["first"] = [float(v) for v in x[:8]]
                sig["sum"] = float(x.sum())
                if samples_dir is not None:
                    out = os.path.join(samples_dir, "signal_%d.f64" % i)
                    x.tofile(out)
                    sig["samples_file"] = out
            signals.append(sig)
        onsets, durations, texts = f.readAnnotations()
        annotations = [
            {
                "onset": float(o),
                "duration": None if d < 0 else float(d),
                "text": t if isinstance(t, str) else t.decode("utf-8", "replace"),
            }
            for o, d, t in zip(onsets, durations, texts)
        ]
        out = {
            "pyedflib_version": pyedflib.__version__,
            "patched_header": patched,
            "filetype": int(f.filetype),
            "start": {
                "year": start.year,
                "month": start.month,
                "day": start.day,
                "hour": start.hour,
                "minute": start.minute,
                "second": start.second,
            },
            "datarecord_duration": float(f.datarecord_duration),
            "n_datarecords": int(f.datarecords_in_file),
            "signals": signals,
            "annotations": annotations,
        }
    finally:
        f.close()
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
    json.dump(out, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
