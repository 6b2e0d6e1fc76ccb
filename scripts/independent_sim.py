"""An EMG generator independent of kymo's simulator, for checking that kymo's analysis holds
on signals it was not built against (issue 5: "recordings made by an independent generator
with other waveform and noise models").

Nothing here is shared with `crates/kymo/src/simulate/`: other waveform models, another
noise model, an acquisition filter of its own, firing drawn from the domain brief's numbers
(`../shared/domain/myokymia.md`), and events defined as a reader would mark them.

- Fibre potentials: the Rosenfalck intracellular action potential (Rosenfalck 1969,
  V(z) = 96 z^3 e^-z - 90 mV, z in mm) propagating both ways from the end-plate at
  4 m/s, seen by a point electrode through a line-source volume conductor (1/distance
  weighting of the second spatial derivative, i.e. the transmembrane current), fibres
  ending at their tendons (terminal waves included). A motor unit potential is the sum of
  15-40 such fibres scattered around the needle with end-plate spread; a fibrillation
  potential is one fibre close to the needle; a complex repetitive discharge's complex is
  5-9 fibres time-locked with fixed delays.
- Positive sharp wave: the same travelling source blocked just before the electrode: its
  outward current fades in 1-3 ms and the blocked tip's slow repolarisation (8-25 ms)
  gives the negative phase.
- Noise: white plus 1/f ("pink") noise, 50 or 60 Hz hum with its 3rd harmonic, all
  through a causal amplifier band-pass (2nd-order Butterworth high-pass at 20 Hz,
  4th-order low-pass at 5 kHz), not a zero-phase filter.
- Levels from the brief: concentric-needle motor unit potentials 200 uV-2 mV, fibrillation
  potentials 20-200 uV; baseline noise 6-10 uV rms (typical of needle EMG amplifiers).

Each scenario returns the signal (uV) and its events (class, start, end in s).
"""

from __future__ import annotations

import numpy as np
from scipy import signal

V_MPS = 4.0  # muscle fibre conduction velocity, m/s (typical 3-5 m/s)


def _iap_second_derivative(z_mm: np.ndarray) -> np.ndarray:
    """d2/dz2 of Rosenfalck's 96 z^3 e^-z (the transmembrane current density), 0 for z < 0."""
    z = np.maximum(z_mm, 0.0)
    return np.where(z_mm > 0, 96.0 * (6 * z - 6 * z**2 + z**3) * np.exp(-z), 0.0)


def fibre_potential(
    fs: float,
    r_mm: float,
    endplate_mm: float,
    half_length_mm: float = 30.0,
    block_at_mm: float | None = None,
    tau_block_ms: float = 15.0,
    tau_fast_ms: float = 2.0,
    window_ms: float = 30.0,
) -> np.ndarray:
    """One fibre's extracellular potential (arbitrary units) sampled at `fs`, the window
    starting when the two waves leave the end-plate at `endplate_mm` from the electrode
    (along the fibre). With `block_at_mm`, the wave travelling towards the electrode stops
    there: its outward current fades with `tau_fast_ms`, and the tip's repolarisation gives a
    slow negative phase fading with `tau_block_ms` (positive sharp wave)."""
    n = int(window_ms * 1e-3 * fs)
    t = np.arange(n) / fs
    dz = 0.05  # mm
    # Source profile along the fibre, relative to the wave front (front at 0, tail behind).
    zs = np.arange(0.0, 15.0, dz)
    src = _iap_second_derivative(zs)
    out = np.zeros(n)
    for direction in (+1.0, -1.0):
        # Front position along the fibre axis, measured from the electrode's projection.
        front = endplate_mm + direction * V_MPS * (t * 1e3)  # mm
        tendon = endplate_mm + direction * half_length_mm
        decay = np.ones(n)
        if block_at_mm is not None and direction * (block_at_mm - endplate_mm) > 0:
            reached = direction * (front - block_at_mm) >= 0
            if reached.any():
                t_stop = t[np.argmax(reached)]
                front = np.where(reached, block_at_mm, front)
                # The parked front's outward current fades within 1-3 ms as the blocked
                # tip stops propagating; its repolarisation then draws inward current:
                # the slow negative phase.
                after = np.maximum(t - t_stop, 0.0) * 1e3
                fast = np.exp(-after / tau_fast_ms)
                slow = 0.5 * (1.0 - fast) * np.exp(-after / tau_block_ms)
                decay = np.where(reached, fast - slow, 1.0)
        for i in range(n):
            # Positions of the source elements behind the front (towards the end-plate).
            pos = front[i] - direction * zs
            inside = direction * (tendon - pos) >= 0
            inside &= direction * (pos - endplate_mm) >= 0
            w = 1.0 / np.sqrt(r_mm**2 + pos**2)
            out[i] += decay[i] * np.sum(src[inside] * w[inside]) * dz
    # Only differences matter: remove the value at rest.
    return out - out[0]


def _normalise(w: np.ndarray, p2p_uv: float) -> np.ndarray:
    span = w.max() - w.min()
    return w * (p2p_uv / span) if span > 0 else w


def motor_unit_potential(rng: np.random.Generator, fs: float, p2p_uv: float) -> np.ndarray:
    """A motor unit potential: 15-40 fibres at 0.1-1.5 mm, end-plates spread over 2-6 mm
    around 5-20 mm from the electrode."""
    n_fibres = int(rng.integers(15, 41))
    centre = rng.uniform(5.0, 20.0) * rng.choice([-1, 1])
    spread = rng.uniform(2.0, 6.0)
    acc = None
    for _ in range(n_fibres):
        r = rng.uniform(0.1, 1.5)
        ep = centre + rng.uniform(-spread / 2, spread / 2)
        f = fibre_potential(fs, r, ep, half_length_mm=rng.uniform(40, 60), window_ms=25.0)
        acc = f if acc is None else acc + f
    return _trim(_normalise(acc, p2p_uv))


def fibrillation_potential(rng: np.random.Generator, fs: float, p2p_uv: float) -> np.ndarray:
    """One fibre 30-100 um from the needle, its end-plate 3-10 mm away: a brief spike,
    initially positive (the wave approaches the electrode first)."""
    f = fibre_potential(
        fs, rng.uniform(0.03, 0.1), rng.uniform(3.0, 10.0) * rng.choice([-1, 1]),
        half_length_mm=rng.uniform(40, 60), window_ms=12.0,
    )
    return _trim(_normalise(f, p2p_uv))


def positive_sharp_wave(rng: np.random.Generator, fs: float, p2p_uv: float) -> np.ndarray:
    ep = rng.uniform(4.0, 10.0) * rng.choice([-1, 1])
    block = -np.sign(ep) * rng.uniform(0.0, 0.3)  # just before / at the electrode
    f = fibre_potential(
        fs, rng.uniform(0.03, 0.08), ep, block_at_mm=block,
        tau_block_ms=rng.uniform(8.0, 25.0), tau_fast_ms=rng.uniform(1.0, 3.0),
        window_ms=90.0,
    )
    return _trim(_normalise(f, p2p_uv))


def complex_waveform(rng: np.random.Generator, fs: float, p2p_uv: float) -> np.ndarray:
    """5-9 fibres time-locked at fixed delays of up to 8 ms: a polyphasic complex."""
    parts = []
    for _ in range(int(rng.integers(5, 10))):
        f = fibrillation_potential(rng, fs, rng.uniform(0.4, 1.0))
        delay = int(rng.uniform(0.0, 8e-3) * fs)
        parts.append(np.concatenate([np.zeros(delay), f]))
    n = max(len(p) for p in parts)
    acc = np.zeros(n)
    for p in parts:
        acc[: len(p)] += p
    return _trim(_normalise(acc, p2p_uv))


def _trim(w: np.ndarray) -> np.ndarray:
    """Cuts the flat ends (below 0.5 % of the peak), starting the waveform at 0 (a potential
    is placed by its largest magnitude: `Recording.add`)."""
    thr = 0.005 * np.max(np.abs(w))
    idx = np.flatnonzero(np.abs(w) > thr)
    if idx.size == 0:
        return w
    lo, hi = max(idx[0] - 2, 0), min(idx[-1] + 3, len(w))
    return w[lo:hi] - w[lo]


class Recording:
    def __init__(self, fs: float, seconds: float):
        self.fs = fs
        self.n = int(seconds * fs)
        self.x = np.zeros(self.n)
        self.events: list[dict] = []

    def add(self, w: np.ndarray, t_s: float, scale: float = 1.0) -> None:
        """Adds waveform `w` with its largest magnitude at `t_s`."""
        peak = int(np.argmax(np.abs(w)))
        start = int(round(t_s * self.fs)) - peak
        a, b = max(start, 0), min(start + len(w), self.n)
        if a < b:
            self.x[a:b] += scale * w[a - start : b - start]

    def event(self, cls: str, first_s: float, last_s: float, w: np.ndarray) -> None:
        half = 0.5 * len(w) / self.fs
        self.events.append({"class": cls, "start_s": first_s - half, "end_s": last_s + half})


def add_noise(rec: Recording, rng: np.random.Generator, rms_uv: float, hum_uv: float) -> None:
    n, fs = rec.n, rec.fs
    white = rng.standard_normal(n)
    # Pink noise by shaping the spectrum (1/sqrt(f) amplitude), same rms as the white part.
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1 / fs)
    spec[1:] /= np.sqrt(f[1:] / f[1])
    spec[0] = 0
    pink = np.fft.irfft(spec, n)
    pink /= pink.std()
    noise = white + 0.7 * pink
    t = np.arange(n) / fs
    mains = rng.choice([50.0, 60.0])
    hum = hum_uv * (np.sin(2 * np.pi * mains * t + rng.uniform(0, 6.3))
                    + 0.3 * np.sin(2 * np.pi * 3 * mains * t + rng.uniform(0, 6.3)))
    sos = np.vstack([
        signal.butter(2, 20.0, "highpass", fs=fs, output="sos"),
        signal.butter(4, 5000.0, "lowpass", fs=fs, output="sos"),
    ])
    noise = signal.sosfilt(sos, noise)
    noise *= rms_uv / noise.std()
    rec.x = signal.sosfilt(sos, rec.x) + noise + signal.sosfilt(sos, hum)


# --- Firing patterns (numbers from the domain brief) ------------------------------------------


def myokymic(rng, rec: Recording) -> None:
    """1-2 units firing bursts of 2-10 potentials at 20-60 Hz, recurring semi-rhythmically
    at 0.5-5 Hz (burst-interval CV 0.1-0.3)."""
    for _ in range(int(rng.integers(1, 3))):
        w = motor_unit_potential(rng, rec.fs, rng.uniform(300, 1500))
        n_typ = int(rng.integers(2, 9))
        rate = rng.uniform(20, 60)
        rec_hz = rng.uniform(0.5, 5.0)
        cv = rng.uniform(0.1, 0.3)
        t = rng.uniform(0.2, 1.0)
        while True:
            k = int(np.clip(n_typ + rng.integers(-1, 2), 2, 10))
            times = t + np.concatenate([[0], np.cumsum(rng.normal(1 / rate, 0.05 / rate, k - 1))])
            if times[-1] > rec.n / rec.fs - 0.5:
                break
            for j, tj in enumerate(times):
                rec.add(w, tj, 1.0 - 0.1 * j / max(k - 1, 1))
            rec.event("myokymic", times[0], times[-1], w)
            t = times[-1] + max(rng.normal(1 / rec_hz, cv / rec_hz), 2.5 / rate)


def fasciculation(rng, rec: Recording) -> None:
    """3 units firing single potentials, Poisson, 0.1-0.5 Hz each."""
    for _ in range(3):
        w = motor_unit_potential(rng, rec.fs, rng.uniform(300, 2000))
        rate = rng.uniform(0.1, 0.5)
        t = rng.exponential(1 / rate)
        while t < rec.n / rec.fs - 0.1:
            rec.add(w, t)
            rec.event("fasciculation", t, t, w)
            t += rng.exponential(1 / rate)


def _episodes(rng, rec: Recording, w, cls, dur_s, rate_hz, jitter, gap_s, scales=None) -> None:
    """Episodes of `w` firing at a rate drawn from `rate_hz` (interval SD `jitter` of the
    interval) for a time drawn from `dur_s`, separated by silences drawn from `gap_s`;
    `scales(n)` gives the n potentials' amplitudes (default 1). One event per episode."""
    t = rng.uniform(0.5, 2.0)
    end = rec.n / rec.fs - 0.5
    while True:
        dur, rate = rng.uniform(*dur_s), rng.uniform(*rate_hz)
        if t + dur > end:
            break
        times = t + np.cumsum(rng.normal(1 / rate, jitter / rate, int(dur * rate)))
        amps = scales(len(times)) if scales else np.ones(len(times))
        for tj, a in zip(times, amps):
            rec.add(w, tj, a)
        rec.event(cls, times[0], times[-1], w)
        t = times[-1] + rng.uniform(*gap_s)


def neuromyotonic(rng, rec: Recording) -> None:
    """One unit: discharges of 0.5-3 s at 150-300 Hz, amplitude waning to 30-60 %, abrupt
    start and stop, 2-5 s of silence between them."""
    w = motor_unit_potential(rng, rec.fs, rng.uniform(400, 1500))

    def waning(n):
        floor = rng.uniform(0.3, 0.6)
        return floor + (1 - floor) * np.exp(-3 * np.arange(n) / n)

    _episodes(rng, rec, w, "neuromyotonic", (0.5, 3.0), (150, 300), 0.02, (2.0, 5.0), waning)


def complex_repetitive(rng, rec: Recording) -> None:
    """A complex repeating at 5-60 Hz with interval jitter 0.05 %, episodes of 2-8 s,
    abrupt onset and offset."""
    w = complex_waveform(rng, rec.fs, rng.uniform(200, 800))
    _episodes(rng, rec, w, "complex-repetitive", (2.0, 8.0), (5, 60), 0.0005, (1.5, 4.0))


def _regular_train(rng, rec: Recording, w: np.ndarray, cls: str) -> None:
    """Regular firing at 1-10 Hz (interval CV 1-4 %), slowing by up to 20 % over the train,
    for the whole recording: one event per train."""
    rate, slow = rng.uniform(1.0, 10.0), rng.uniform(0.0, 0.2)
    total = rec.n / rec.fs
    t = rng.uniform(0.05, 1.0 / rate)
    cv = rng.uniform(0.01, 0.04)
    first = t
    last = t
    while t < total - 0.15:
        rec.add(w, t)
        last = t
        r = rate * (1 - slow * t / total)
        t += rng.normal(1 / r, cv / r)
    rec.event(cls, first, last, w)


def fibrillation(rng, rec: Recording) -> None:
    for _ in range(3):
        _regular_train(rng, rec, fibrillation_potential(rng, rec.fs, rng.uniform(50, 200)),
                       "fibrillation")


def positive_sharp_waves(rng, rec: Recording) -> None:
    for _ in range(2):
        _regular_train(rng, rec, positive_sharp_wave(rng, rec.fs, rng.uniform(50, 300)),
                       "positive-sharp-wave")


def voluntary(rng, rec: Recording) -> None:
    """Contractions of 4-8 s (1 s ramps): 4-6 units recruited by threshold, each starting
    at 6 Hz and rising 1.5 Hz per unit of excitation above its threshold to at most 20 Hz,
    interval CV 0.15. One event per contraction."""
    units = [motor_unit_potential(rng, rec.fs, a) for a in
             np.sort(rng.uniform(250, 1500, int(rng.integers(4, 7))))]
    thresholds = np.linspace(0.05, 0.6, len(units))
    t0 = rng.uniform(0.5, 1.5)
    end = rec.n / rec.fs - 0.5
    while True:
        hold = rng.uniform(2.0, 6.0)
        dur = hold + 2.0
        if t0 + dur > end:
            break
        level = rng.uniform(0.4, 0.9)

        def force(t):
            x = t - t0
            return level * np.clip(min(x, dur - x), 0.0, 1.0)

        first, last = None, None
        for w, thr in zip(units, thresholds):
            t = t0
            while t < t0 + dur:
                e = force(t) - thr
                if e <= 0:
                    t += 0.01
                    continue
                rate = min(6.0 + 20.0 * e, 20.0)
                rec.add(w, t)
                first = t if first is None else min(first, t)
                last = t if last is None else max(last, t)
                t += max(rng.normal(1 / rate, 0.15 / rate), 0.02)
        if first is not None:
            rec.event("voluntary", first, last, units[0])
        t0 += dur + rng.uniform(2.0, 4.0)


def rest(rng, rec: Recording) -> None:
    """Noise and hum only."""


SCENARIOS = {
    "myokymic": myokymic,
    "fasciculation": fasciculation,
    "neuromyotonic": neuromyotonic,
    "complex-repetitive": complex_repetitive,
    "fibrillation": fibrillation,
    "positive-sharp-wave": positive_sharp_waves,
    "voluntary": voluntary,
    "rest": rest,
}


def generate(name: str, seed: int, fs: float = 20000.0, seconds: float = 40.0):
    rng = np.random.default_rng([seed, sum(map(ord, name))])
    rec = Recording(fs, seconds)
    SCENARIOS[name](rng, rec)
    add_noise(rec, rng, rms_uv=rng.uniform(6.0, 10.0), hum_uv=rng.uniform(2.0, 20.0))
    return rec
