"""Frames and mp4 files: shapes where and when the script says, words in the top strip, fast."""

import time

import av
import numpy as np
import pytest

from avcap.synth import lexicon as lx
from avcap.synth.render import read_video_tag, render_frames, shape_mask, text_mask, video_tag, write_video
from avcap.synth.sampler import sample_script
from avcap.synth.world import Event, ObjectTrack, Script, WorldConfig

SIZE = 128


def one_object_script() -> Script:
    """A red circle: appears on frame 3 on the left, moves right on frames 6-12, turns green on 15, gone on 20."""
    track = ObjectTrack(id=0, shape="circle", radius=lx.OBJECT_RADIUS, appear=3, vanish=20,
                        path=((3, 0.2, 0.6), (6, 0.2, 0.6), (12, 0.5, 0.6)), colours=((3, "red"), (15, "green")))
    events = (Event("appear", 3, {"object": 0, "colour": "red", "shape": "circle", "place": "left"}),
              Event("text", 2, {"word": "go", "end_frame": 8}),
              Event("move", 6, {"object": 0, "colour": "red", "shape": "circle", "direction": "right"}),
              Event("turn", 15, {"object": 0, "colour": "red", "shape": "circle", "new_colour": "green"}),
              Event("vanish", 20, {"object": 0, "colour": "green", "shape": "circle"}))
    events = tuple(sorted(events, key=lambda e: e.frame))
    return Script(seed=(0,), fps=12, n_frames=24, size=SIZE, speech=None, objects=(track,), events=events)


def pixel(frame: np.ndarray, x: float, y: float) -> tuple[int, ...]:
    return tuple(int(v) for v in frame[int(round(y * SIZE)), int(round(x * SIZE))])


def test_shape_masks():
    r = 20.0
    areas = {s: int(shape_mask(s, r).sum()) for s in lx.SHAPES}
    assert areas["circle"] == pytest.approx(np.pi * r * r, rel=0.03)
    assert areas["square"] == pytest.approx((1.7 * r + 1) ** 2, rel=0.05)
    assert all(0.35 * np.pi * r * r < a < 1.3 * np.pi * r * r for a in areas.values())
    for s in lx.SHAPES:
        m = shape_mask(s, r)
        assert m.shape == (41, 41) and m[20, 20] and not m[0, 0]
        assert np.array_equal(m, m[:, ::-1]), "left-right symmetric"
    with pytest.raises(ValueError):
        shape_mask("hexagon", r)


def test_text_mask_covers_every_word():
    for word in lx.WORDS:
        m = text_mask(word, 2)
        assert m.shape == (14, 2 * (6 * len(word) - 1)) and m.any()
    with pytest.raises(ValueError, match="glyph"):
        text_mask("xyz", 1)


def test_frames_follow_the_script():
    s = one_object_script()
    frames = render_frames(s)
    bg, red, green = lx.BACKGROUND_RGB, lx.COLOURS["red"], lx.COLOURS["green"]
    assert frames.shape == (24, SIZE, SIZE, 3) and frames.dtype == np.uint8
    assert pixel(frames[2], 0.2, 0.6) == bg  # not yet there
    assert pixel(frames[3], 0.2, 0.6) == red  # appears on its event's frame
    assert pixel(frames[9], 0.35, 0.6) == red and pixel(frames[9], 0.2, 0.6) == bg  # half way at frame 9
    assert pixel(frames[14], 0.5, 0.6) == red and pixel(frames[15], 0.5, 0.6) == green  # turns on frame 15
    assert pixel(frames[19], 0.5, 0.6) == green and pixel(frames[20], 0.5, 0.6) == bg  # gone on frame 20
    strip = slice(0, int(0.25 * SIZE))
    has_text = [bool((frames[i, strip] == lx.TEXT_RGB).all(-1).any()) for i in range(24)]
    assert has_text == [2 <= i < 8 for i in range(24)]
    assert not (frames[:, int(0.25 * SIZE):] == lx.TEXT_RGB).all(-1).any(), "text stays in the top strip"


def test_written_video_decodes_as_rendered(tmp_path):
    s = one_object_script()
    path = write_video(s, tmp_path / "v.mp4")
    assert [p.name for p in tmp_path.iterdir()] == ["v.mp4"], "no temporary file left behind"
    with av.open(str(path)) as c:
        v, a = c.streams.video[0], c.streams.audio[0]
        assert (v.width, v.height, a.sample_rate, a.channels) == (SIZE, SIZE, 16_000, 1)
        decoded = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(decoded) == s.n_frames
    assert np.abs(np.array(pixel(decoded[9], 0.35, 0.6)) - lx.COLOURS["red"]).max() < 30
    assert np.abs(np.array(pixel(decoded[16], 0.5, 0.6)) - lx.COLOURS["green"]).max() < 30
    assert read_video_tag(path) == video_tag(s)
    (tmp_path / "junk.mp4").write_bytes(b"not a video")
    assert read_video_tag(tmp_path / "junk.mp4") is None
    assert read_video_tag(tmp_path / "absent.mp4") is None


def test_tag_changes_with_the_script():
    a, b = sample_script((0, 1)), sample_script((0, 2))
    assert video_tag(a) == video_tag(sample_script((0, 1))) and video_tag(a) != video_tag(b)


def test_colours_stay_distinct_after_encoding(tmp_path):
    """Every colour of the world decodes nearer to itself than to any other colour."""
    tracks = tuple(ObjectTrack(id=k, shape="square", radius=0.08, appear=0, vanish=None,
                               path=((0, 0.15 + 0.14 * k, 0.6),), colours=((0, c),))
                   for k, c in enumerate(lx.COLOURS))
    s = Script(seed=(0,), fps=8, n_frames=8, size=SIZE, speech=None, objects=tracks, events=())
    with av.open(str(write_video(s, tmp_path / "c.mp4"))) as c:
        frame = next(iter(c.decode(video=0))).to_ndarray(format="rgb24")
    palette = np.array(list(lx.COLOURS.values()), dtype=float)
    for k, _ in enumerate(lx.COLOURS):
        got = np.array(pixel(frame, 0.15 + 0.14 * k, 0.6), dtype=float)
        assert int(np.argmin(np.abs(palette - got).sum(1))) == k


def test_render_speed_6s_128px(tmp_path):
    s = sample_script((0, 3), WorldConfig(min_duration_s=6, max_duration_s=6, size=128, fps=12))
    write_video(s, tmp_path / "warm.mp4")  # first call pays for codec initialisation
    start = time.perf_counter()
    write_video(s, tmp_path / "v.mp4")
    elapsed = time.perf_counter() - start
    assert s.duration_s == 6.0 and elapsed < 0.5, f"6 s video took {elapsed:.2f} s"
