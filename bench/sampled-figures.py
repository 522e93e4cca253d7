#!/usr/bin/env python3
"""Flat-top figures on held-out material: instruments recorded as samples (the FluidR3 GM
sound font: piano, guitars, basses, strings, brass, winds, drum kits) played by fluidsynth
from MIDI this script writes. None of headroom's rules was chosen on it; it is where the
figures of bench/clipping-figures.py, all made from synthetic material, are checked.

    python3 bench/sampled-figures.py [--old PATH] [--binary PATH] [--minutes N] [--takes N] > /tmp/sampled.md

Its output is the "Sampled instruments" section of docs/clipping-figures.md.

Needs what bench/clipping-figures.py needs, and fluidsynth with the FluidR3 sound font
(Debian: fluidsynth fluid-soundfont-gm). --old names another headroom binary to count
beside (for "before"); --minutes the clean minutes of each kind (default 3); --takes the dry
takes of each kind clipped for the detection table (default 2).
"""

import argparse
import importlib.util
import os
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np
import soundfile as sf

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("figures", os.path.join(HERE, "clipping-figures.py"))
figures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(figures)

RATE = figures.RATE
SOUND_FONT = "/usr/share/sounds/sf2/FluidR3_GM.sf2"
TICKS = 960  # MIDI ticks a second: 480 a quarter note at 120 bpm


# ---------------------------------------------------------------- MIDI


def vlq(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.insert(0, (n & 0x7F) | 0x80)
        n >>= 7
    return bytes(out)


def write_midi(path, events):
    """A type-0 MIDI file of `events`, (tick, message bytes), at 120 bpm."""
    events = sorted(events, key=lambda e: (e[0], e[1][0] & 0xF0 == 0x90))  # note-offs first
    data = b"\x00\xff\x51\x03" + struct.pack(">I", 500000)[1:]
    last = 0
    for tick, message in events:
        data += vlq(tick - last) + message
        last = tick
    data += b"\x00\xff\x2f\x00"
    with open(path, "wb") as f:
        f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480))
        f.write(b"MTrk" + struct.pack(">I", len(data)) + data)


def melodic(rng, program, low, high, seconds, channel=0, voices=1, legato=False):
    """Notes of random length (an eighth to a half note) and velocity, `voices` at a time."""
    events = [(0, bytes([0xC0 | channel, program]))]
    t = 0
    while t < seconds * TICKS:
        length = int(rng.choice([120, 240, 480, 960]))
        root = int(rng.integers(low, high))
        for k in range(voices):
            note = min(127, root + [0, 4, 7, 12][k % 4])
            events.append((t, bytes([0x90 | channel, note, int(rng.integers(40, 127))])))
            events.append((t + (length if legato else int(length * 0.8)), bytes([0x80 | channel, note, 0])))
        t += length
    return events


def kit(rng, seconds):
    """A drummer: kick and snare on the beats, hats on eighths, fills, crashes; velocities vary."""
    events = []
    t = 0
    while t < seconds * TICKS:
        i = (t // 120) % 16
        if i in (0, 8) or rng.random() < 0.1:
            events.append((t, bytes([0x99, 36, int(rng.integers(90, 127))])))
        if i in (4, 12) or rng.random() < 0.05:
            events.append((t, bytes([0x99, int(rng.choice([38, 40])), int(rng.integers(80, 127))])))
        if i % 2 == 0:
            events.append((t, bytes([0x99, int(rng.choice([42, 42, 46])), int(rng.integers(50, 110))])))
        if rng.random() < 0.03:
            events.append((t, bytes([0x99, int(rng.choice([41, 45, 48, 50])), int(rng.integers(80, 127))])))
        if i == 0 and rng.random() < 0.2:
            events.append((t, bytes([0x99, int(rng.choice([49, 51, 57])), int(rng.integers(80, 127))])))
        t += 120
    return events


def machine(rng, seconds, bpm):
    """A drum machine: a fixed pattern, every hit at one velocity, a snare roll every 4 bars."""
    events = []
    step = int(TICKS * 60 / bpm / 4)
    kick, snare = int(rng.choice([35, 36])), int(rng.choice([38, 40]))
    pattern = rng.random((4, 16)) < [[0.4], [0.3], [0.8], [0.1]]
    t, bar = 0, 0
    while t < seconds * TICKS:
        i = (t // step) % 16
        bar += i == 0
        if pattern[0][i] or i in (0, 8):
            events.append((t, bytes([0x99, kick, 127])))
        if pattern[1][i] or i in (4, 12) or (bar % 4 == 0 and i >= 12):
            events.append((t, bytes([0x99, snare, 127])))
        if pattern[2][i]:
            events.append((t, bytes([0x99, 42, 100])))
        if pattern[3][i]:
            events.append((t, bytes([0x99, int(rng.choice([45, 48, 50])), 127])))
        t += step
    return events


KINDS = {
    "piano": lambda r, s: melodic(r, 0, 36, 84, s, voices=3),
    "electric piano": lambda r, s: melodic(r, 4, 40, 80, s, voices=2),
    "organ": lambda r, s: melodic(r, 16, 40, 76, s, voices=3, legato=True),
    "nylon guitar": lambda r, s: melodic(r, 24, 40, 76, s, voices=2),
    "steel guitar": lambda r, s: melodic(r, 25, 40, 76, s, voices=3),
    "clean electric guitar": lambda r, s: melodic(r, 27, 40, 76, s),
    "overdriven guitar": lambda r, s: melodic(r, 29, 40, 70, s, voices=2),
    "distortion guitar": lambda r, s: melodic(r, 30, 40, 70, s, voices=2),
    "acoustic bass": lambda r, s: melodic(r, 32, 28, 52, s),
    "finger bass": lambda r, s: melodic(r, 33, 28, 52, s),
    "slap bass": lambda r, s: melodic(r, 36, 28, 52, s),
    "synth bass": lambda r, s: melodic(r, 38, 28, 52, s),
    "violin": lambda r, s: melodic(r, 40, 55, 90, s, legato=True),
    "strings": lambda r, s: melodic(r, 48, 40, 84, s, voices=3, legato=True),
    "choir": lambda r, s: melodic(r, 52, 48, 76, s, voices=3, legato=True),
    "trumpet": lambda r, s: melodic(r, 56, 55, 82, s),
    "alto sax": lambda r, s: melodic(r, 65, 49, 80, s),
    "flute": lambda r, s: melodic(r, 73, 60, 96, s),
    "drum kit": kit,
    "band (kit, bass, piano, guitar)": lambda r, s: kit(r, s)
    + melodic(r, 33, 28, 52, s, channel=1)
    + melodic(r, 0, 48, 84, s, channel=2, voices=3)
    + melodic(r, 27, 52, 76, s, channel=3),
    "drum machine, 90 bpm": lambda r, s: machine(r, s, 90),
    "drum machine, 120 bpm": lambda r, s: machine(r, s, 120),
    "drum machine, 174 bpm": lambda r, s: machine(r, s, 174),
}


def render(tmp, index, kind, seed, seconds):
    """`seconds` of `kind` (one side of fluidsynth's stereo: a mono take), 48 kHz. Odd seeds
    with fluidsynth's reverb and chorus, even ones dry."""
    base = os.path.join(tmp, f"r{index}-{seed}")
    write_midi(base + ".mid", KINDS[kind](np.random.default_rng(1000 * index + seed), seconds))
    args = ["fluidsynth", "-ni", "-q", "-g", "0.4", "-r", str(RATE), "-F", base + ".wav", "-T", "wav", "-O", "float"]
    if seed % 2 == 0:
        args += ["-R", "0", "-C", "0"]
    subprocess.run(args + [SOUND_FONT, base + ".mid"], check=True, capture_output=True)
    x, _ = sf.read(base + ".wav", dtype="float64")
    os.remove(base + ".wav")
    return x[:, seed % 2]


def loudest(x, seconds):
    """The `seconds` of `x` with the most energy, in whole seconds."""
    energy = np.add.reduceat(x**2, np.arange(0, len(x), RATE))
    starts = [energy[i : i + seconds].sum() for i in range(len(energy) - seconds)]
    s = int(np.argmax(starts)) * RATE
    return x[s : s + seconds * RATE]


# ---------------------------------------------------------------- the figures


def clean_table(binary, old, tmp, minutes):
    """Flat and clip events on `minutes` 60-second takes of each kind, peaks -1 to -6 dBFS
    (bench/clipping-figures.py's false-alarm table), `old`'s flat events beside."""
    kinds = {kind: lambda s, seed, i=i, k=kind: render(tmp, i, k, seed, s) for i, kind in enumerate(KINDS)}
    return figures.alarm_table(binary, tmp, kinds, minutes, old=old)


def detection_tables(binaries, tmp, takes):
    """The loudest 10 s of each kind's first `takes` dry takes, clipped as
    bench/clipping-figures.py's flat-top table clips: takes with a flat event, per clip and
    drive, and the takes missed from +6 dB."""
    levels, drives, clips = [-1, -3, -6, -12], [3, 6, 10], ["hard", "asymmetric", "converter-like"]
    found = {(n, k, d): 0 for n in binaries for k in clips for d in drives}
    missed = {n: {} for n in binaries}
    # The drum machines are the drummer's kit; even seeds are dry takes.
    kinds = [(i, k) for i, k in enumerate(KINDS) if not k.startswith("drum machine")]
    items = [(i, k, seed) for i, k in kinds for seed in range(0, 2 * takes, 2)]
    for index, kind, seed in items:
        x = figures.normalize(loudest(render(tmp, index, kind, seed, 60), 10))
        paths, keys = [], []
        for level in levels:
            c = 10 ** (level / 20)
            for d in drives:
                y = x * c * 10 ** (d / 20)
                for k in clips:
                    path = os.path.join(tmp, f"x{index}-{seed}-{level}-{d}-{k}.wav")
                    figures.write(path, figures.clip_as(k, y, c))
                    paths.append(path)
                    keys.append((k, d, level))
        for name, binary in binaries.items():
            for (k, d, level), (_, flat, *_) in zip(keys, figures.analyze(binary, paths)):
                found[(name, k, d)] += flat > 0
                if flat == 0 and d >= 6:
                    missed[name].setdefault(f"{kind} (take {seed // 2 + 1}), {k}, +{d} dB", []).append(level)
        for path in paths:
            os.remove(path)
    count = 4 * len(items)
    names = list(binaries)
    lines = ["| clip | " + " | ".join(f"+{d} dB drive" for d in drives) + " |", "|---" * (len(drives) + 1) + "|"]
    for k in clips:
        cells = []
        for d in drives:
            cell = " / ".join(f"{100 * found[(n, k, d)] // count} %{n}" for n in names)
            cells.append(cell)
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"{count} takes in each cell. Missed from +6 dB of drive (clip levels, dBFS):")
    lines.append("")
    for name in names:
        misses = missed[name]
        text = "; ".join(f"{m} ({', '.join(str(v) for v in levels)})" for m, levels in misses.items()) or "none"
        lines.append(f"- {name.strip(' ()') or 'this build'}: {text}")
    return lines


def positive(text):
    """A whole number of at least 1, for argparse."""
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"a whole number of at least 1, not {text!r}")
    return n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--old", help="another headroom binary, counted beside (\"before\")")
    ap.add_argument("--binary", help="the headroom to measure (default: the release build)")
    ap.add_argument("--minutes", type=positive, default=3, help="clean minutes of each kind (default 3)")
    ap.add_argument("--takes", type=positive, default=2, help="dry takes of each kind to clip (default 2)")
    args = ap.parse_args()
    binary = args.binary or figures.NEW
    if not os.path.exists(binary):
        sys.exit(f"no headroom at {binary} (build it: swift build -c release --product headroom)")
    if args.old and not os.path.exists(args.old):
        sys.exit(f"no headroom at {args.old} (--old)")
    if not shutil.which("fluidsynth") or not os.path.exists(SOUND_FONT):
        sys.exit("needs fluidsynth and the FluidR3 sound font (Debian: fluidsynth fluid-soundfont-gm)")
    binaries = {"": binary}
    if args.old:
        binaries[" (before)"] = args.old
    with tempfile.TemporaryDirectory() as tmp:
        print("## Sampled instruments (held out)\n")
        print("Made by `bench/sampled-figures.py`: instruments recorded as samples (the FluidR3 GM")
        print("sound font) played by fluidsynth from MIDI the script writes, 48 kHz, one side of the")
        print("stereo output as a mono take. No rule was chosen on this material.\n")
        print("### False alarms\n")
        print("60-second takes (odd ones with fluidsynth's reverb and chorus), peaks from -1 to -6 dBFS.\n")
        print("\n".join(clean_table(binary, args.old, tmp, args.minutes)))
        print("\n### Flat tops: detection rate\n")
        print(f"The loudest 10 s of {args.takes} dry takes of each kind but the drum machines, clipped at")
        print("-1, -3, -6 and -12 dBFS as in the flat-top table above (hard, asymmetric, converter-like).")
        print("A take counts as found when it has a `flat` event.\n")
        print("\n".join(detection_tables(binaries, tmp, args.takes)))


if __name__ == "__main__":
    main()
