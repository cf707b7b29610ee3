"""Policies by name, overrides, and their plans (frame times + frame size) for known sources."""

import pytest

from avcap.errors import ConfigError
from avcap.media import POLICIES, get_policy
from avcap.media.policies import FixedTimesPolicy, QwenPolicy


def test_every_policy_name_plans_a_clip():
    for name in POLICIES:
        plan = get_policy(name).plan(duration_s=10.0, source_fps=30.0, height=360, width=640)
        assert plan.frame_times and all(0 <= t < 10.0 for t in plan.frame_times)
        assert plan.height > 0 and plan.width > 0


def test_salmonn2_plan():
    plan = get_policy("salmonn2").plan(300.0, 25.0, 1080, 1920)
    assert len(plan.frame_times) == 110
    assert (plan.height, plan.width) == (384, 683) and plan.pad_value is None


def test_omni_plan_avocado_budget():
    plan = get_policy("omni").plan(30.0, 30.0, 720, 1280)
    assert len(plan.frame_times) == 60 and (plan.height, plan.width) == (448, 840)
    tokens = len(plan.frame_times) // 2 * (plan.height // 28) * (plan.width // 28)
    assert tokens == 14_400 <= 25_600


def test_omni_enforces_total_pixels_on_long_videos():
    # AVoCaDO's stated total (omni-paper): 400 s at 2 fps wants 800 frames -> 768 (FPS_MAX_FRAMES); the
    # per-frame floor 105,369 px gives 224x420 = 94,080 px, so n * 94,080 <= 2 * 20,070,400 holds up to n = 426.
    plan = get_policy("omni-paper").plan(400.0, 30.0, 1080, 1920)
    assert len(plan.frame_times) == 426 and (plan.height, plan.width) == (224, 420)
    assert len(plan.frame_times) * plan.height * plan.width <= 2 * 20_070_400
    loose = get_policy("omni-paper", enforce_total=False).plan(400.0, 30.0, 1080, 1920)
    assert len(loose.frame_times) == 768  # the release's behaviour: the budget overruns


def test_qwen_vl_alias_uses_qwen_vl_utils_defaults():
    policy = get_policy("qwen-vl")
    assert isinstance(policy, QwenPolicy) and policy.fps == 2.0
    assert policy.max_pixels == 768 * 28 * 28 and policy.total_pixels == int(128_000 * 28 * 28 * 0.9)


def test_tarsier2_and_videollama2_plans():
    t2 = get_policy("tarsier2").plan(10.0, 10.0, 1080, 1920)
    assert len(t2.frame_times) == 16 and (t2.height, t2.width) == (509, 905)
    v2 = get_policy("videollama2", pad=True).plan(10.0, 10.0, 48, 64)
    assert len(v2.frame_times) == 16 and (v2.height, v2.width) == (384, 384)
    assert (v2.content_height, v2.content_width) == (288, 384) and v2.pad_value == 127
    # The release's inference: no padding, short side at `size` (the image processor squares it).
    plain = get_policy("videollama2").plan(10.0, 10.0, 720, 1280)
    assert (plain.height, plain.width, plain.pad_value) == (384, 683, None)


def test_overrides_apply_and_none_is_ignored():
    assert get_policy("salmonn2", max_frames=32, fps=None).max_frames == 32
    assert get_policy("tarsier2", num_frames=8).plan(10.0, 10.0, 48, 64).frame_times[-1] == pytest.approx(9.9)
    assert get_policy("videollama2", num_frames=8, size=224, pad=True).output_size(48, 64, 8) == (224, 224)
    assert get_policy("omni", fps=1.0).plan(10.0, 30.0, 48, 64).frame_times.__len__() == 10


def test_unknown_name_setting_or_value_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown frame policy"):
        get_policy("nope")
    with pytest.raises(ConfigError, match="no setting fps"):
        get_policy("tarsier2", fps=2.0)
    with pytest.raises(ConfigError, match="must be > 0"):
        get_policy("salmonn2", fps=0)
    with pytest.raises(ConfigError, match="max_pixels"):
        get_policy("omni", max_pixels=10)


def test_policy_instances_pass_through_and_fixed_times_keep_base_size():
    base = get_policy("videollama2", num_frames=4, pad=True)
    assert get_policy(base) is base
    fixed = base.at_times([3.0, 1.0, 1.0])
    assert isinstance(fixed, FixedTimesPolicy) and fixed.name == "videollama2@times"
    plan = fixed.plan(5.0, 10.0, 48, 64)
    assert plan.frame_times == [3.0, 1.0, 1.0] and (plan.height, plan.width, plan.pad_value) == (384, 384, 127)
    with pytest.raises(ValueError, match="past the end"):
        fixed.plan(2.0, 10.0, 48, 64)
    with pytest.raises(ConfigError):
        base.at_times([-1.0])
    with pytest.raises(ConfigError):
        base.at_times([])
