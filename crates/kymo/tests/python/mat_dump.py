#!/usr/bin/env python3
"""Dump what scipy.io.loadmat sees in a MAT-file, as JSON, for kymo's cross-check tests.

Usage: mat_dump.py FILE.mat ROW:COL [ROW:COL ...]

Prints one JSON object: the scipy version, the shape and dtype of the `Data` matrix
(1x1 cells are unwrapped, as OTBioLab+ exports them), `SamplingFrequency`, the
`Description` labels, and `Data[row, col]` for every ROW:COL given (0-based).
"""
import json
import sys

import numpy as np
import scipy
import scipy.io


def unwrap(v):
    while isinstance(v, np.ndarray) and v.size == 1 and (v.dtype == object or v.dtype.kind == "U"):
        v = v.flat[0]
    return v


def main():
    path = sys.argv[1]
    m = scipy.io.loadmat(path)
    data = unwrap(m["Data"])
    desc = m.get("Description")
    labels = [str(unwrap(x)) for x in desc.flat] if desc is not None else []
    fs = float(unwrap(m["SamplingFrequency"]).ravel()[0]) if "SamplingFrequency" in m else None
    samples = []
    for arg in sys.argv[2:]:
        r, c = (int(x) for x in arg.split(":"))
        samples.append([r, c, float(data[r, c])])
    print(json.dumps({
        "scipy": scipy.__version__,
        "shape": list(data.shape),
        "dtype": str(data.dtype),
        "fs": fs,
        "labels": labels,
        "samples": samples,
    }))


if __name__ == "__main__":
    main()
