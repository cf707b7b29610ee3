"""Every kind of bad input gives one MediaError line naming the file, in the library and the CLI."""

import json

import pytest
from typer.testing import CliRunner

from avcap.cli import app
from avcap.errors import (
    CorruptMediaError,
    EmptyMediaError,
    MediaError,
    MissingMediaError,
    NotAVideoError,
    UnsupportedCodecError,
)
from avcap.media import load_clip, probe

EXPECTED = {
    "missing": (MissingMediaError, "file not found"),
    "empty": (EmptyMediaError, "file is empty (0 bytes)"),
    "text": (NotAVideoError, "text file, not a video"),
    "image": (NotAVideoError, "still image (png), not a video"),
    "directory": (NotAVideoError, "is a directory"),
    "half_mp4": (CorruptMediaError, "damaged or truncated MP4/MOV file"),
    "half_faststart": (CorruptMediaError, "truncated"),
    "random_bytes": (CorruptMediaError, "not a readable media file"),
    "audio_only": (NotAVideoError, "no video stream (audio only: aac)"),
    "zero_duration": (EmptyMediaError, "zero duration"),
    "unsupported_codec": (UnsupportedCodecError, "unsupported or unknown video codec"),
}
BAD_KINDS = tuple(EXPECTED)


def test_every_bad_kind_has_a_fixture(bad_files):
    assert set(bad_files) == set(BAD_KINDS)


@pytest.mark.parametrize("kind", BAD_KINDS)
@pytest.mark.parametrize("fn", [load_clip, probe])
def test_bad_input_raises_one_line_media_error(fn, kind, bad_files):
    path = bad_files[kind]
    error_type, cause = EXPECTED[kind]
    with pytest.raises(error_type) as info:
        fn(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and cause in message and "\n" not in message
    assert info.value.path == str(path)


def test_truncated_faststart_is_caught_by_the_decoder_too(bad_files, monkeypatch):
    # Without the cheap index check, decoding runs off the end of the data and must still say so.
    import avcap.media.info as info_module

    monkeypatch.setattr(info_module, "check_not_truncated", lambda container, path: None)
    path = bad_files["half_faststart"]
    assert probe(path).num_frames == 6  # the header alone looks fine
    with pytest.raises(CorruptMediaError, match="truncated"):
        load_clip(path)


def test_bad_policy_name_is_not_a_media_error(av_video):
    from avcap.errors import ConfigError

    with pytest.raises(ConfigError):
        load_clip(av_video, "nope")
    with pytest.raises(ConfigError, match="past the end"):
        load_clip(av_video, frame_times=[99.0])


runner = CliRunner()


@pytest.mark.parametrize("kind", BAD_KINDS)
def test_cli_prints_one_error_line_per_bad_file(kind, bad_files):
    path = bad_files[kind]
    result = runner.invoke(app, ["media", "probe", str(path)])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    cause = "a folder with no video files" if kind == "directory" else EXPECTED[kind][1]  # folders are searched
    assert len(lines) == 1 and lines[0].startswith(f"{path}: ") and cause in lines[0]
    assert "Traceback" not in result.output and result.stdout == ""


def test_cli_keeps_going_after_a_failure(av_video, silent_video, bad_files):
    files = [av_video, bad_files["text"], silent_video, bad_files["missing"]]
    result = runner.invoke(app, ["media", "probe", *map(str, files), "--frames", "tarsier2"])
    assert result.exit_code == 1
    out = result.stdout.strip().splitlines()
    assert [line.split(":")[0] for line in out] == [str(av_video), str(silent_video)]
    assert "16 frames" in out[0] and "no audio (zeros)" in out[1] and "1 x 30 s chunk" in out[0]
    assert len(result.stderr.strip().splitlines()) == 2


def test_cli_success_and_json(av_video, bad_files):
    ok = runner.invoke(app, ["media", "probe", str(av_video)])
    assert ok.exit_code == 0 and "4 frames [0.00, 1.00, 2.00, 3.00] s -> 64x48" in ok.stdout
    result = runner.invoke(app, ["media", "probe", str(av_video), str(bad_files["empty"]), "--json", "--frames", "omni"])
    assert result.exit_code == 1
    reports = json.loads(result.stdout)
    assert reports[0]["num_frames"] == 8 and (reports[0]["height"], reports[0]["width"]) == (280, 392)
    assert reports[0]["meta"]["codec"] == "h264" and reports[0]["has_audio"] is True
    assert reports[1] == {"path": str(bad_files["empty"]), "error": "file is empty (0 bytes)"}


def test_cli_overrides_and_their_errors(av_video):
    result = runner.invoke(app, ["media", "probe", str(av_video), "--frames", "salmonn2", "--fps", "2", "--max-frames", "3"])
    assert result.exit_code == 0 and "3 frames" in result.stdout
    bad = runner.invoke(app, ["media", "probe", str(av_video), "--frames", "tarsier2", "--fps", "2"])
    assert bad.exit_code == 2 and "no setting fps" in bad.output
    unknown = runner.invoke(app, ["media", "probe", str(av_video), "--frames", "nope"])
    assert unknown.exit_code == 2 and "unknown frame policy" in unknown.output


def test_cli_help_teaches_the_policies():
    result = runner.invoke(app, ["media", "probe", "--help"])
    assert result.exit_code == 0
    for name in ("salmonn2", "omni", "qwen-vl", "tarsier2", "videollama2"):
        assert name in result.output
    assert "1 fps" in result.output and "30 s" in result.output


def test_media_errors_are_avcap_errors():
    assert issubclass(MediaError, Exception) and str(MediaError("a.mp4", "why")) == "a.mp4: why"


def test_media_probe_accepts_folders_like_caption(tmp_path):
    from typer.testing import CliRunner

    from avcap.cli import app
    from avcap.synth.sample import SampleVideoSpec, write_sample_video

    folder = tmp_path / "videos"
    (folder / "sub").mkdir(parents=True)
    write_sample_video(folder / "a.mp4", SampleVideoSpec(duration_s=1.0, fps=4, width=64, height=48))
    write_sample_video(folder / "sub" / "b.mp4", SampleVideoSpec(duration_s=1.0, fps=4, width=64, height=48))
    (folder / "notes.txt").write_text("not a video")
    result = CliRunner().invoke(app, ["media", "probe", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    import json

    assert sorted(r["path"] for r in json.loads(result.output)) == [str(folder / "a.mp4"), str(folder / "sub" / "b.mp4")]
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["media", "probe", str(empty)])
    assert result.exit_code == 1 and "no video files" in result.output
