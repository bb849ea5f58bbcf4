"""Quota settings and the job gate's limits and messages."""

from __future__ import annotations

import pytest

from core.errors import UserInputError
from core.quotas import JobGate, Quotas, queue_full_message

DOCUMENTED = [
    "GAN_STUDIO_MAX_MODELS_PER_VISITOR",
    "GAN_STUDIO_MAX_MB_PER_VISITOR",
    "GAN_STUDIO_ANON_TTL_H",
    "GAN_STUDIO_VISITOR_BUDGET_MB",
    "GAN_STUDIO_ANON_MAX_STEPS",
    "GAN_STUDIO_ANON_MAX_SECONDS",
    "GAN_STUDIO_HEAVY_JOB_MAX_S",
    "GAN_STUDIO_MAX_PENDING_PER_VISITOR",
    "GAN_STUDIO_MAX_PENDING_PER_ADDRESS",
    "GAN_STUDIO_QUEUE_SIZE",
    "GAN_STUDIO_MAX_DECODED_PIXELS_PER_UPLOAD",
    "GAN_STUDIO_JUDGE_MAX_PIXELS",
    "GAN_STUDIO_MAX_TOTAL_FRAMES",
    "GAN_STUDIO_MAX_GIF_BYTES",
    "GAN_STUDIO_MAX_VIDEO_PIXELS",
    "GAN_STUDIO_ALLOW_HUB_IDS",
    "GAN_STUDIO_HUB_MAX_MB",
    "GAN_STUDIO_OUTPUT_TTL_S",
    "GAN_STUDIO_UPLOAD_MB_PER_VISITOR",
    "GAN_STUDIO_UPLOAD_MB_TOTAL",
    "GAN_STUDIO_UPLOAD_TTL_S",
    "GAN_STUDIO_MAX_SESSIONS",
    "GAN_STUDIO_SESSION_TTL_S",
    "GAN_STUDIO_LIBRARY_MAX_ITEMS",
    "GAN_STUDIO_LIBRARY_MAX_MB",
    "GAN_STUDIO_LIBRARY_BUDGET_MB",
    "GAN_STUDIO_LAB2D_MAX_RUNS",
]


def test_documented_names():
    assert Quotas.env_names() == DOCUMENTED


def test_visitor_defaults_are_safe_and_owner_generous():
    visitors, owner = Quotas.from_env(True, env={}), Quotas.from_env(False, env={})
    assert not visitors.allow_hub_ids and owner.allow_hub_ids
    assert visitors.anon_ttl_h == 24
    assert visitors.heavy_job_max_s < 300
    assert visitors.max_pending_per_visitor < visitors.max_pending_per_address < visitors.queue_size
    assert visitors.upload_ttl_s < owner.upload_ttl_s
    for name in ("max_models_per_visitor", "visitor_budget_mb", "max_total_frames", "hub_max_mb"):
        assert getattr(owner, name) > getattr(visitors, name)
    for name in ("max_video_pixels", "max_gif_bytes"):
        assert getattr(owner, name) > getattr(visitors, name)
    for name in (
        "upload_mb_per_visitor",
        "upload_mb_total",
        "max_sessions",
        "session_ttl_s",
        "lab2d_max_runs",
    ):
        assert getattr(owner, name) > getattr(visitors, name)


def test_env_overrides_and_bad_values():
    q = Quotas.from_env(
        True, env={"GAN_STUDIO_MAX_MODELS_PER_VISITOR": "7", "GAN_STUDIO_ALLOW_HUB_IDS": "yes"}
    )
    assert q.max_models_per_visitor == 7 and q.allow_hub_ids
    with pytest.raises(ValueError, match="GAN_STUDIO_ANON_TTL_H"):
        Quotas.from_env(True, env={"GAN_STUDIO_ANON_TTL_H": "a day"})
    with pytest.raises(ValueError, match="negative"):
        Quotas.from_env(True, env={"GAN_STUDIO_QUEUE_SIZE": "-1"})
    with pytest.raises(ValueError):
        Quotas.from_env(True, env={"GAN_STUDIO_ALLOW_HUB_IDS": "maybe"})


def test_one_heavy_job_per_identity():
    gate = JobGate(Quotas())
    with gate.heavy("anon-a", "style"):
        with (
            pytest.raises(UserInputError, match="your style job is still running"),
            gate.heavy("anon-a", "fine-tune"),
        ):
            pass
        with gate.heavy("anon-b", "fine-tune"):  # another visitor is not blocked
            pass
    with gate.heavy("anon-a", "projection"):  # released after the first
        pass


def test_heavy_slot_released_on_error():
    gate = JobGate(Quotas())
    with pytest.raises(RuntimeError), gate.heavy("anon-a", "style"):
        raise RuntimeError("job failed")
    with gate.heavy("anon-a", "style"):
        pass


def test_pending_per_visitor_and_per_address():
    gate = JobGate(Quotas(max_pending_per_visitor=2, max_pending_per_address=3))
    gate.admit("anon-a", "1.2.3.4")
    gate.admit("anon-a", "1.2.3.4")
    with pytest.raises(UserInputError, match="at most 2"):
        gate.admit("anon-a", "1.2.3.4")
    gate.admit("anon-b", "1.2.3.4")  # a fresh session hash from the same address
    with pytest.raises(UserInputError, match="network address"):
        gate.admit("anon-c", "1.2.3.4")
    gate.admit("anon-c", "5.6.7.8")  # other visitors are still served
    assert gate.pending_count(address="1.2.3.4") == 3


def test_pending_released_and_stale_tickets_expire():
    now = [0.0]
    gate = JobGate(Quotas(max_pending_per_visitor=1), stale_s=100, clock=lambda: now[0])
    with gate.pending("anon-a", "ip"), pytest.raises(UserInputError):
        gate.admit("anon-a", "ip")
    gate.admit("anon-a", "ip")  # the ticket was released; this one is never released
    now[0] = 101
    gate.admit("anon-a", "ip")  # stale ticket no longer counts


def test_queue_full_message_is_clear():
    assert "queue is full" in queue_full_message(Quotas(queue_size=8))
    assert "8" in queue_full_message(Quotas(queue_size=8))


def test_anonymous_finetune_steps_and_seconds():
    q = Quotas(anon_max_steps=300, anon_max_seconds=300)
    q.check_finetune(anonymous=True, steps=300, max_seconds=300)
    with pytest.raises(UserInputError, match="300 steps"):
        q.check_finetune(anonymous=True, steps=301, max_seconds=10)
    with pytest.raises(UserInputError, match="300 s"):
        q.check_finetune(anonymous=True, steps=10, max_seconds=900)
    q.check_finetune(anonymous=False, steps=10_000, max_seconds=900)


def test_frame_flood_and_gif_size():
    q = Quotas(max_total_frames=240, max_gif_bytes=8_000_000)
    q.check_frames(240)
    with pytest.raises(UserInputError, match="596 frames"):
        q.check_frames(596)  # the red team's 6 keyframes x 120 frames
    with pytest.raises(UserInputError, match="14.9 MB"):
        q.check_gif_bytes(14_900_000)


def test_deadline_counts_wall_time_across_scales():
    from core.quotas import Deadline

    now = [0.0]
    deadline = Deadline(10, clock=lambda: now[0])
    steps = 0
    with pytest.raises(UserInputError, match="10 s limit"):
        for _scale in range(3):  # coarse-to-fine: one clock for every scale
            for _ in range(100):
                deadline.check("style transfer")
                steps += 1
                now[0] += 0.125
    assert steps == 80 and deadline.remaining() == 0.0
