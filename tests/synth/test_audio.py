"""The sound track: each sound audible and recognisable in its own window, collisions in sync."""

import av
import numpy as np
import pytest

from avcap.errors import ConfigError
from avcap.synth import audio
from avcap.synth import lexicon as lx
from avcap.synth.audio import SAMPLE_RATE_HZ, render_audio
from avcap.synth.render import write_video
from avcap.synth.sampler import sample_script
from avcap.synth.world import Event, Script, WorldConfig

FPS = 12


def sound_script(*events: Event, n_frames: int = 96, speech: str | None = None) -> Script:
    return Script(seed=(1,), fps=FPS, n_frames=n_frames, size=128, speech=speech, objects=(), events=events)


def window(track: np.ndarray, event: Event, fps: int = FPS) -> np.ndarray:
    start = int(round(event.frame / fps * SAMPLE_RATE_HZ))
    return track[start:start + int(round(float(event.args["duration_s"]) * SAMPLE_RATE_HZ))]


def peak_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / SAMPLE_RATE_HZ)[np.argmax(spectrum)])


def flatness(x: np.ndarray) -> float:
    """Geometric over arithmetic mean of the power spectrum: ~0 for a tone, ~0.5+ for white noise."""
    p = np.abs(np.fft.rfft(x)) ** 2 + 1e-12
    return float(np.exp(np.mean(np.log(p))) / np.mean(p))


def test_tones_have_their_pitch_and_silence_is_silent():
    events = tuple(Event("tone", 12 * k + 6, {"pitch": p, "duration_s": 0.6}) for k, p in enumerate(lx.PITCHES_HZ))
    track = render_audio(sound_script(*events))
    assert track.dtype == np.float32 and len(track) == 8 * SAMPLE_RATE_HZ
    for e in events:
        w = window(track, e)
        assert abs(peak_hz(w) - lx.PITCHES_HZ[e.args["pitch"]]) < 3
        assert np.sqrt(np.mean(w ** 2)) > 0.2  # clearly audible (RMS of a 0.35 sine is 0.25)
    assert np.all(track[:int(0.5 * SAMPLE_RATE_HZ)] == 0) and np.all(track[int(3.2 * SAMPLE_RATE_HZ):] == 0)


@pytest.mark.parametrize("count", [1, 2, 3])
def test_beeps_can_be_counted(count):
    e = Event("beep", 12, {"count": count, "duration_s": round(count * 0.2 - 0.1, 2)})
    w = window(render_audio(sound_script(e)), e)
    assert abs(peak_hz(w) - lx.BEEP_HZ) < 15
    on = np.abs(w).reshape(-1, 80).max(1) > 0.1  # 5 ms blocks
    pulses = int(on[0]) + int(np.sum(on[1:] & ~on[:-1]))
    assert pulses == count


def test_noise_and_bang_are_broadband_tones_are_not():
    tone = Event("tone", 6, {"pitch": "medium", "duration_s": 0.6})
    noise = Event("noise", 24, {"duration_s": 0.5})
    bang = Event("bang", 48, {"duration_s": 0.25})
    track = render_audio(sound_script(tone, noise, bang))
    assert flatness(window(track, noise)) > 0.4 and flatness(window(track, tone)) < 0.01
    b = window(track, bang)
    assert np.abs(b[:160]).max() > 0.3 > np.abs(b[-800:]).max(), "a bang starts loud and dies away"
    other_seed = Script(seed=(2,), fps=FPS, n_frames=96, size=128, speech=None, objects=(), events=(tone, noise, bang))
    assert np.array_equal(track, render_audio(sound_script(tone, noise, bang)))
    assert not np.array_equal(window(track, noise), window(render_audio(other_seed), noise)), "seeded by the script"


def test_collision_sound_lines_up_with_contact_frame_after_encoding(tmp_path):
    """The bang starts within one frame of the frame on which the shapes touch, in the decoded mp4."""
    checked = 0
    for i in range(60):
        s = sample_script((11, i), WorldConfig(fps=FPS))
        hits = [e for e in s.events if e.kind == "hit"]
        if not hits:
            continue
        with av.open(str(write_video(s, tmp_path / f"{i}.mp4"))) as c:
            decoded = np.concatenate([f.to_ndarray().reshape(-1) for f in c.decode(audio=0)])
        for hit in hits:
            t = hit.frame / s.fps
            lo = int((t - 1 / s.fps) * SAMPLE_RATE_HZ)
            seg = np.abs(decoded[lo:lo + int(2 / s.fps * SAMPLE_RATE_HZ)])
            onset = lo + int(np.argmax(seg > 0.2))
            assert abs(onset / SAMPLE_RATE_HZ - t) < 1 / s.fps, (i, onset / SAMPLE_RATE_HZ, t)
            assert np.abs(decoded[lo:int(t * SAMPLE_RATE_HZ) - 320]).max() < 0.05, "silent before the hit"
            checked += 1
        if checked >= 3:
            break
    assert checked >= 3


def test_speech_placed_with_a_given_voice_and_refused_without_one():
    say = Event("say", 24, {"word": "hello", "duration_s": lx.SPEECH_SLOT_S})
    fake = np.full(4000, 0.25, dtype=np.float32)
    track = render_audio(sound_script(say, speech="espeak-ng"), speak=lambda word: fake)
    start = 2 * SAMPLE_RATE_HZ
    assert np.all(track[start:start + 4000] == 0.25) and np.all(track[:start] == 0) and track[start + 4000] == 0
    with pytest.raises(ConfigError, match="no speech engine"):
        render_audio(sound_script(say, speech=None))


def test_espeak_voice_when_installed_else_a_clear_error(monkeypatch):
    if audio.espeak_available():
        voice = audio.espeak_word("stop")
        assert voice.dtype == np.float32 and 0.15 * SAMPLE_RATE_HZ < len(voice) <= lx.SPEECH_SLOT_S * SAMPLE_RATE_HZ
        assert np.abs(voice).max() == pytest.approx(0.5, abs=1e-3)
        assert 100 < peak_hz(voice) < 4000, "energy in the voice band"
        assert "eSpeak" in (audio.espeak_version() or "")
    monkeypatch.setattr(audio.shutil, "which", lambda name: None)
    audio.espeak_word.cache_clear()
    assert not audio.espeak_available()
    with pytest.raises(ConfigError, match="apt-get install espeak-ng"):
        audio.espeak_word("go")
    audio.espeak_word.cache_clear()
