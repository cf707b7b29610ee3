"""The Ray engine: caption a corpus on Ray Data, one captioner replica per GPU (or CPU actors).

Pipeline (streaming; Ray Data's executor back-pressures each stage on the object store, so a
slow model never lets decoded clips pile up in memory)::

    pending items ──map (CPU tasks, --decode-workers)──▶ decoded clips (avcap.media, the model's policy)
                  ──map_batches (actors, --replicas)───▶ caption rows (JSON)
                  ──iter_batches in the driver─────────▶ ONE writer appends captions.jsonl

The driver holds the output lock, checks the file's settings and skips finished ``(id, sample)``
keys exactly as the local engine does (:func:`avcap.models.captioning.open_run`), and writes
every row itself: replicas never touch the file, so a killed run leaves whole rows only and the
next run resumes. A video that cannot be decoded, or a batch whose generation fails, becomes error
rows (never a failed task). Rows are the local engine's rows; only their order may differ.

Ray is started locally by the run (``ray.init``: no dashboard, warnings only) unless ``--address``
or ``RAY_ADDRESS`` names a cluster (``ray start --head`` on the head node, ``ray start
--address=HEAD:6379`` on the others; avcap and the model must be installed on each node).
Why Ray Data rather than a hand-made pool: it gives streaming, back-pressure, actor pools, GPU
placement and multi-node scheduling; see NeMo Curator's video pipeline for the same shape.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import pickle
import time
from dataclasses import dataclass

from avcap.engines.spec import CaptionerSpec
from avcap.errors import ConfigError, ModelError, require
from avcap.models.captioning import (
    CaptionItem,
    CaptionRunConfig,
    RowWriter,
    RunPlan,
    RunSummary,
    _progress,
    caption_decoded,
    captioner_info,
    decode_item,
    open_run,
)

# Scheduling hint of one decode task: its worker's libraries (~500 MB measured) plus a clip (a
# 768-frame Qwen clip is ~250 MB of frames).
DECODE_MEMORY_BYTES = 768 * 2**20


@dataclass(frozen=True)
class RayOptions:
    replicas: int = 1
    num_gpus_per_replica: float = 0.0  # 0: CPU actors
    cpus_per_replica: float = 1.0  # also the torch threads of a CPU replica
    decode_workers: int | None = None  # concurrent decode tasks (default: one per replica)
    address: str | None = None  # None: RAY_ADDRESS, else a local Ray started here
    num_cpus: int | None = None  # logical CPUs of a local Ray (default: enough for replicas + decoders)

    def __post_init__(self) -> None:
        if self.replicas < 1:
            raise ConfigError(f"--replicas must be >= 1, got {self.replicas}")
        if self.num_gpus_per_replica < 0:
            raise ConfigError(f"--num-gpus-per-replica must be >= 0, got {self.num_gpus_per_replica}")
        if self.decode_workers is not None and self.decode_workers < 1:
            raise ConfigError(f"--decode-workers must be >= 1, got {self.decode_workers}")

    @property
    def decoders(self) -> int:
        return self.decode_workers or self.replicas


def _init_ray(ray, options: RayOptions) -> bool:
    """Connect to (or start) Ray; True when this call started it (and so shuts it down)."""
    if ray.is_initialized():
        return False
    address = options.address or os.environ.get("RAY_ADDRESS") or None
    # Quiet: errors only from Ray itself (our own lines say what failed), workers' logs stay in
    # Ray's session folder instead of the terminal.
    kwargs = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False,
                  configure_logging=True)
    if address is None:
        # Logical CPUs are scheduling tokens: a local Ray gets at least enough for every replica and
        # decoder, so a 2-core machine runs 2 replicas + 2 decoders (decoding is light next to a step).
        need = int(options.replicas * options.cpus_per_replica + options.decoders + 0.999)
        kwargs["num_cpus"] = options.num_cpus or max(os.cpu_count() or 1, need)
        if options.num_gpus_per_replica == 0:
            kwargs["num_gpus"] = 0
    ray.init(address=address, **kwargs)
    for name in ("ray", "ray.data"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return True


def _describe(spec: CaptionerSpec):
    """The captioner's name, policy and defaults, learned in a worker (the driver loads no model)."""
    captioner, _ = spec.load()
    return captioner_info(captioner)


def _decode_row(row: dict, policy, mute_audio: bool) -> dict:
    item = CaptionItem(**json.loads(row["item"]))
    if item.timestamps is not None:
        item.timestamps = tuple(item.timestamps)
    decoded = decode_item(item, policy, mute_audio)
    return {"index": row["index"], "decoded": pickle.dumps(decoded, protocol=pickle.HIGHEST_PROTOCOL)}


class CaptionReplica:
    """One captioner replica (a Ray actor): decoded clips in, finished rows (JSON text) out."""

    def __init__(self, spec: CaptionerSpec, plan: RunPlan, threads: int):
        import torch

        if spec.device in ("auto", "cpu") and not torch.cuda.is_available():
            torch.set_num_threads(max(1, threads))
        self.captioner, _ = spec.load()
        self.plan = plan

    def __call__(self, batch: dict) -> dict:
        decoded = [pickle.loads(blob) for blob in batch["decoded"]]
        indices = [int(i) for i in batch["index"]]
        groups: dict[tuple, list] = {}  # one generate call per (prompt, prefix), as the local engine batches
        for index, d in zip(indices, decoded):
            groups.setdefault((self.plan.prompt_of(d.item), d.item.prefix), []).append((index, d))
        rows: list[str] = []
        gen = self.plan.generation
        size = self.plan.config.batch_size
        for members in groups.values():
            # Sampling seeds as the local engine's: seed + batch number of the group's first item.
            batch_gen = gen if gen.seed is None else dataclasses.replace(gen, seed=gen.seed + members[0][0] // size)
            for result in caption_decoded(self.captioner, [d for _, d in members], self.plan, batch_gen):
                rows += [json.dumps(r, ensure_ascii=False) for r in self.plan.rows(result, set())]
        return {"row": rows}


def run_ray(spec: CaptionerSpec, items: list[CaptionItem], config: CaptionRunConfig,
            options: RayOptions) -> RunSummary:
    """Caption ``items`` into ``config.out`` on Ray; same rows, resume and errors as the local engine."""
    from avcap.data.lock import OutputLock

    ray = require("ray", "ray", "--engine ray")
    require("ray.data", "ray", "--engine ray")
    start = time.perf_counter()
    with OutputLock(config.out, what="captions file"):  # before starting Ray: a second writer stops at once
        started = _init_ray(ray, options)
        try:
            return _run(ray, spec, items, config, options, start)
        finally:
            if started:
                ray.shutdown()


def _run(ray, spec, items, config, options, start) -> RunSummary:
    import ray.data

    replica_resources = {"num_cpus": options.cpus_per_replica, "num_gpus": options.num_gpus_per_replica}
    try:
        info = ray.get(ray.remote(_describe).options(**replica_resources, max_retries=0).remote(spec))
    except ray.exceptions.RayTaskError as err:
        cause = err.cause if getattr(err, "cause", None) is not None else err
        raise ModelError(f"{spec.model}: cannot load on a Ray worker ({' '.join(str(cause).split())[:300]})") from None
    plan = RunPlan.make(info, dataclasses.replace(config, frames=config.frames or info.frame_policy))
    opened = open_run(plan, items)
    writer = RowWriter(opened.out)
    try:
        pending = opened.pending
        if pending:
            _check_resources(ray, options)
            logging.getLogger("ray.data").setLevel(logging.WARNING)  # no "execution finished" lines
            ctx = ray.data.DataContext.get_current()
            ctx.execution_options.preserve_order = False  # rows are keyed; take them as they finish
            ctx.enable_progress_bars = False  # one progress bar (ours)
            ctx.print_on_execution_start = False
            ctx.issue_detectors_config.detectors = []  # its hints go to the terminal; our rows say what failed
            rows = [{"index": i, "item": json.dumps(dataclasses.asdict(it))} for i, it in enumerate(pending)]
            ds = ray.data.from_items(rows, override_num_blocks=max(1, min(len(rows), 4 * options.decoders * 8)))
            # Decoding stays in its own CPU tasks: their memory reservation (room for one decoded clip)
            # makes their resources differ from the replicas', so Ray Data does not fuse the two
            # stages into the actors, and the replicas only generate.
            ds = ds.map(_decode_row, fn_kwargs={"policy": plan.policy, "mute_audio": config.mute_audio},
                        num_cpus=1, memory=DECODE_MEMORY_BYTES,
                        compute=ray.data.TaskPoolStrategy(size=options.decoders))
            ds = ds.map_batches(CaptionReplica, fn_constructor_kwargs={
                "spec": spec, "plan": plan, "threads": int(options.cpus_per_replica)},
                batch_size=config.batch_size, batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=options.replicas), **replica_resources)
            progress = _progress(config.progress, total=len(pending))
            with progress:
                task = progress.add_task("captioning", total=len(pending))
                for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
                    new = [json.loads(text) for text in batch["row"]]
                    writer.write(new)
                    progress.advance(task, len({row["id"] for row in new}))
    finally:
        opened.out.close()
    return writer.summary(plan, len(items), opened, start)


def _check_resources(ray, options: RayOptions) -> None:
    """Fail in one line, not hang, when the cluster cannot place the replicas."""
    have = ray.cluster_resources()
    need_gpu = options.replicas * options.num_gpus_per_replica
    if need_gpu and have.get("GPU", 0) < need_gpu:
        raise ConfigError(f"--replicas {options.replicas} x --num-gpus-per-replica {options.num_gpus_per_replica} "
                          f"needs {need_gpu:g} GPUs; the Ray cluster has {have.get('GPU', 0):g}")
    need_cpu = options.replicas * options.cpus_per_replica + 1  # + at least one decode task
    if have.get("CPU", 0) < need_cpu:
        raise ConfigError(f"{options.replicas} replica(s) and a decoder need {need_cpu:g} CPUs; the Ray cluster "
                          f"has {have.get('CPU', 0):g} (start workers with more --num-cpus, or fewer --replicas)")
