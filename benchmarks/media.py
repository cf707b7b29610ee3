"""Benchmark: ``load_clip`` (seek + decode forward) vs. decoding every frame, video-SALMONN 2 policy.

Generates (once, cached) a 60 s 640x360 30 fps H.264 + AAC (48 kHz stereo) clip, by default
with a panning textured background and x264 'veryfast' (B-frames, keyframe every 250 frames),
then loads it in fresh subprocesses so time and memory of one method do not leak into another:

- ``load_clip``     avcap.media.load_clip(path, "salmonn2")
- ``decode-all``    PyAV decodes every frame and converts only the sampled ones (same resize,
                    same audio path): the fair baseline, isolating the decoding strategy
- ``read-video``    PyAV decodes every frame and keeps all of them as RGB arrays before picking
                    (what torchvision's old ``read_video`` did): shows the memory cost

Run:  python benchmarks/media.py [--dir DIR] [--gop N] [--preset P] [--flat] [--runs 3] [--no-long | --long-only]
Prints seconds (median of runs), peak RSS (ru_maxrss) and the load_clip / decode-all ratio
(target <= 0.5).

Long files, bounded memory (after the above; ``--no-long`` skips it, ``--long-only`` runs only it): generates (once,
cached) 1 min, 30 min and 2 h videos (96x64, 2 fps, 16 kHz mono AAC) and, for each model of
``--long-models`` (default tiny:salmonn2, a miniature built offline), captions each file with
``avcap caption FILE -m MODEL`` in a fresh process; also ``load_clip`` alone. Prints each run's
peak RSS and its ratio to the 1 min file's (target: 2 h <= 1.5x).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

METHODS = ("load_clip", "decode-all", "read-video")
LONG_DURATIONS = {"1 min": 60.0, "30 min": 1800.0, "2 h": 7200.0}
LONG_TARGET = 1.5


def make_clip(folder: Path, duration_s: float, gop: int | None, preset: str, textured: bool) -> Path:
    """Write the clip once per setting into ``folder`` (in a subprocess, so this one stays small)."""
    name = f"bench_{duration_s:g}s_640x360_30fps_{preset}_{'tex' if textured else 'flat'}_gop{gop or 'default'}.mp4"
    path = folder / name
    if not path.exists():
        code = (
            "import sys; from avcap.synth.sample import SampleVideoSpec, write_sample_video; "
            f"write_sample_video(sys.argv[1], SampleVideoSpec(duration_s={duration_s}, fps=30, width=640, height=360, "
            f"audio_rate_hz=48_000, audio_channels=2, gop_size={gop}, preset={preset!r}, textured={textured}))"
        )
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, str(path)], check=True)
        print(f"generated {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return path


def _decode_all(path: str, keep_all: bool):
    """The baseline: decode every video frame; pick the frame on screen at each sampled time."""
    import numpy as np
    from av.video.reformatter import VideoReformatter

    from avcap.media.clip import AUDIO_SAMPLE_RATE_HZ, Clip
    from avcap.media.decode import convert_frame
    from avcap.media.info import open_media, read_info
    from avcap.media.load import _load_audio
    from avcap.media.policies import get_policy

    reformatter = VideoReformatter()
    with open_media(path) as container:
        info, stream = read_info(container, path)
        plan = get_policy("salmonn2").plan(info.duration_s, info.fps, *info.upright_size, info.num_frames)
        container.seek(0, stream=stream)
        targets = [info.start_s + t for t in plan.frame_times]
        picked, kept, prev, i = [], [], None, 0
        for frame in container.decode(stream):
            if keep_all:
                kept.append((frame.time, frame.to_ndarray(format="rgb24")))
                continue
            while i < len(targets) and frame.time > targets[i] + 1e-3:
                picked.append(convert_frame(prev or frame, info.rotation, plan, reformatter))
                i += 1
            prev = frame
        if keep_all:
            times = np.array([t for t, _ in kept])
            for target in targets:
                j = max(0, int(np.searchsorted(times, target + 1e-3, side="right")) - 1)
                picked.append(kept[j][1])  # (already full size; a real pipeline would resize here)
        while len(picked) < len(targets):
            picked.append(convert_frame(prev, info.rotation, plan, reformatter))
    length = int(round(info.duration_s * AUDIO_SAMPLE_RATE_HZ))
    audio, _ = _load_audio(path, length, info.start_s)
    return Clip(path, np.stack(picked), np.array(plan.frame_times), audio, info.duration_s, True)


def _peak_rss_mb() -> float:
    """This process's resident high-water mark. VmHWM belongs to the current address space;
    ru_maxrss would also count the parent's RSS inherited at fork, before exec."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # non-Linux fallback


def child(method: str, path: str) -> None:
    import av  # noqa: F401  (imported before the baseline reading, like the loader needs it)
    import numpy as np

    from avcap.media import load_clip

    base_rss = _peak_rss_mb()
    t0 = time.perf_counter()
    clip = load_clip(path, "salmonn2") if method == "load_clip" else _decode_all(path, method == "read-video")
    seconds = time.perf_counter() - t0
    peak = _peak_rss_mb()
    checksum = int(np.asarray(clip.frames[:, :4].astype(np.int64)).sum())
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak, "rss_after_imports_mb": base_rss,
                      "frames": list(clip.frames.shape), "audio": int(clip.audio.shape[0]), "checksum": checksum}))


def make_long_clip(folder: Path, duration_s: float) -> Path:
    """A long, cheap-to-decode video with a full soundtrack (the audio is what grows with length)."""
    path = folder / f"long_{duration_s:g}s_96x64_2fps_16k.mp4"
    if not path.exists():
        code = ("import sys; from avcap.synth.sample import SampleVideoSpec, write_sample_video; "
                f"write_sample_video(sys.argv[1], SampleVideoSpec(duration_s={duration_s}, fps=2, width=96, height=64))")
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", code, str(path)], check=True)
        print(f"generated {path} in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return path


def long_child(what: str, path: str, out: str) -> None:
    """Caption ``path`` with model ``what`` through the CLI (or only ``load_clip`` it); print the peak RSS."""
    import atexit

    atexit.register(lambda: print(json.dumps({"peak_rss_mb": _peak_rss_mb()}), file=sys.stderr))
    if what == "load_clip":
        from avcap.media import load_clip

        clip = load_clip(path, "salmonn2")
        print(json.dumps({"audio": int(clip.audio.shape[0]), "frames": list(clip.frames.shape)}))
        return
    from avcap.cli import main as avcap_main

    sys.argv = ["avcap", "caption", path, "-m", what, "-o", out, "--no-progress", "--max-new-tokens", "16"]
    try:
        avcap_main()
    except SystemExit as done:
        if done.code:
            raise


def run_long(folder: Path, models: list[str]) -> None:
    paths = {label: make_long_clip(folder, seconds) for label, seconds in LONG_DURATIONS.items()}
    for what in ["load_clip", *models]:
        peaks = {}
        for label, path in paths.items():
            with tempfile.TemporaryDirectory() as tmp:
                proc = subprocess.run([sys.executable, __file__, "--long-child", what, str(path), str(Path(tmp) / "c.jsonl")],
                                      capture_output=True, text=True)
            if proc.returncode:
                sys.exit(f"{what} on {path.name} failed:\n{proc.stderr[-2000:]}")
            peaks[label] = json.loads(proc.stderr.strip().splitlines()[-1])["peak_rss_mb"]
        base = peaks["1 min"]
        cells = "  ".join(f"{label} {mb:6.0f} MB ({mb / base:.2f}x)" for label, mb in peaks.items())
        verdict = "ok" if peaks["2 h"] <= LONG_TARGET * base else "MISSED"
        print(f"long-file peak RSS  {what:16s} {cells}  (2 h / 1 min target <= {LONG_TARGET}: {verdict})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "avcap-bench-media")
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--gop", type=int, default=None, help="keyframe interval in frames (default: x264's 250)")
    parser.add_argument("--preset", default="veryfast", help="x264 preset; veryfast has B-frames like real encodes")
    parser.add_argument("--flat", action="store_true", help="flat background (the test fixtures' cheap clip)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-long", action="store_true", help="skip the long-file memory line (1 min vs 30 min vs 2 h)")
    parser.add_argument("--long-only", action="store_true", help="only the long-file memory line")
    parser.add_argument("--long-models", default="tiny:salmonn2",
                        help="comma-separated models for the long-file line, e.g. tiny:salmonn2,tiny:omni")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--long-child", nargs=3, metavar=("WHAT", "PATH", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if args.long_child:
        long_child(*args.long_child)
        return
    args.dir.mkdir(parents=True, exist_ok=True)
    if args.long_only:
        run_long(args.dir, [m for m in args.long_models.split(",") if m])
        return
    path = make_clip(args.dir, args.duration, args.gop, args.preset, not args.flat)
    results = {}
    for method in METHODS:
        runs = []
        for _ in range(args.runs):
            out = subprocess.run([sys.executable, __file__, "--child", method, str(path)],
                                 check=True, capture_output=True, text=True)
            runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
        results[method] = runs
        secs = [r["seconds"] for r in runs]
        print(f"{method:11s} {statistics.median(secs):7.3f} s (runs: {', '.join(f'{s:.3f}' for s in secs)})  "
              f"peak RSS {max(r['peak_rss_mb'] for r in runs):7.1f} MB "
              f"(after imports {runs[0]['rss_after_imports_mb']:.1f} MB)  frames {runs[0]['frames']}")
    if results["load_clip"][0]["checksum"] != results["decode-all"][0]["checksum"]:
        print("WARNING: load_clip and decode-all picked different frames", file=sys.stderr)
    ratio = statistics.median(r["seconds"] for r in results["load_clip"]) / statistics.median(
        r["seconds"] for r in results["decode-all"])
    print(f"ratio load_clip / decode-all = {ratio:.2f} (target <= 0.5) on {path.name}")
    if not args.no_long:
        run_long(args.dir, [m for m in args.long_models.split(",") if m])


if __name__ == "__main__":
    main()
