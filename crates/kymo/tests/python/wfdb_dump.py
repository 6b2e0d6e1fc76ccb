#!/usr/bin/env python3
"""Print a WFDB record as read by wfdb-python, as JSON, for kymo's cross-check tests.

Usage: wfdb_dump.py RECORD [--from N] [--to N]

RECORD is the record path without `.hea`. The samples printed are `sampfrom=N .. sampto=N`
(default: the whole record) of every channel, read so that channels with several samples
per frame keep all of them (`smooth_frames=False` when needed):

    {"wfdb_version": "...", "fs": 360.0, "sig_len": 650000, "n_sig": 2,
     "sig_name": [...], "units": [...], "fmt": [...], "samps_per_frame": [...],
     "adc_gain": [...], "baseline": [...], "adc_res": [...], "adc_zero": [...],
     "init_value": [...], "checksum": [...], "base_time": "HH:MM:SS[.ffffff]" | null,
     "base_date": "YYYY-MM-DD" | null, "comments": [...],
     "digital": [[...], ...],   # digital samples (adu) per channel, physical=False
     "physical": [[...], ...]}  # physical samples per channel, NaN (invalid) as null

A missing package is a hard failure (exit code 2) so the Rust test fails with the message.
"""

import json
import math
import sys

try:
    import wfdb
except ImportError as e:  # pragma: no cover - reported to the Rust test
    sys.stderr.write(f"wfdb_dump.py: cannot import wfdb-python ({e}); pip install wfdb\n")
    sys.exit(2)


def as_list(x):
    return [int(v) for v in x]


def main(argv):
    if len(argv) < 2:
        sys.stderr.write(__doc__)
        return 2
    record = argv[1]
    sampfrom, sampto = 0, None
    args = argv[2:]
    while args:
        flag, value = args[0], args[1]
        if flag == "--from":
            sampfrom = int(value)
        elif flag == "--to":
            sampto = int(value)
        else:
            sys.stderr.write(f"wfdb_dump.py: unknown option {flag}\n")
            return 2
        args = args[2:]

    # smooth_frames=False is needed for channels with several samples per frame, but wfdb 4.3.1
    # fails on it for a big-endian (format 61) channel ("invalid literal for int()" in
    # convert_dtype), so it is used only when some channel has more than one sample per frame.
    hdr = wfdb.rdheader(record)
    smooth = all(int(s) == 1 for s in (hdr.samps_per_frame or [1]))
    kw = dict(sampfrom=sampfrom, sampto=sampto, smooth_frames=smooth)
    dig = wfdb.rdrecord(record, physical=False, **kw)
    phy = wfdb.rdrecord(record, physical=True, **kw)
    if smooth:
        d_chans = [dig.d_signal[:, i] for i in range(dig.n_sig)]
        p_chans = [phy.p_signal[:, i] for i in range(phy.n_sig)]
    else:
        d_chans, p_chans = dig.e_d_signal, phy.e_p_signal

    def phys(ch):
        return [None if math.isnan(v) else float(v) for v in ch]

    out = {
        "wfdb_version": wfdb.__version__,
        "fs": float(dig.fs),
        "sig_len": int(dig.sig_len),
        "n_sig": int(dig.n_sig),
        "sig_name": list(dig.sig_name),
        "units": list(dig.units),
        "fmt": list(dig.fmt),
        "samps_per_frame": as_list(dig.samps_per_frame),
        "adc_gain": [float(g) for g in dig.adc_gain],
        "baseline": as_list(dig.baseline),
        "adc_res": as_list(dig.adc_res),
        "adc_zero": as_list(dig.adc_zero),
        "init_value": as_list(dig.init_value),
        "checksum": as_list(dig.checksum),
        "base_time": None if dig.base_time is None else dig.base_time.isoformat(),
        "base_date": None if dig.base_date is None else dig.base_date.isoformat(),
        "comments": list(dig.comments),
        "digital": [as_list(ch) for ch in d_chans],
        "physical": [phys(ch) for ch in p_chans],
    }
    json.dump(out, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
