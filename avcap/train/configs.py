"""One config dataclass per training recipe, built from shared groups.

``avcap train <recipe> --config FILE.yaml [--key value ...]`` loads these with
:func:`avcap.config.load_config`; nested groups take dotted keys (``--optim.learning_rate
1e-5``, ``--lora.r 64``). Every field carries its help text, so ``--help`` is generated.
Defaults follow video-SALMONN 2 (§4.1-4.2, Appendix C) and its official training script.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from avcap.models.base import DEFAULT_PROMPT

Precision = Literal["fp32", "bf16"]
# Groups SFT may train in full besides the LoRA and the aligner.
FULL_TRAIN_GROUPS = {"visual_encoder", "visual_aligner", "audio_encoder"}


def _help(text: str, **kwargs):
    return field(metadata={"help": text}, **kwargs)


@dataclass
class ModelArgs:
    """Which captioner to start from and where it runs."""

    name: str = _help("captioner to start from: a hub id, a local checkpoint folder, or tiny:<family>",
                      default="tiny:salmonn2")
    backend: str = _help("model family; auto reads the checkpoint's config", default="auto")
    device: str = _help("auto (the local rank's GPU, else CPU), cpu, cuda, cuda:N", default="auto")
    dtype: str = _help("weights dtype of the frozen parts: auto (bf16 when optim.precision is bf16, "
                       "else float32), float32, bfloat16", default="auto")

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("model.name must not be empty")
        if self.dtype not in {"auto", "float32", "fp32", "bfloat16", "bf16"}:
            raise ValueError(f"model.dtype {self.dtype!r}: expected auto, float32 or bfloat16")


@dataclass
class LoraArgs:
    """The LoRA adapter on the LLM (video-SALMONN 2 §3.2, eq. 8)."""

    r: int = _help("LoRA rank (paper: 128)", default=128)
    alpha: float = _help("the paper's LoRA scaling factor α: the update is α·BA (paper: 2.0); "
                         "peft's lora_alpha is α·r (official script: r=128, lora_alpha=256)", default=2.0)
    dropout: float = _help("dropout on the LoRA branch (official script: 0.05)", default=0.05)
    targets: list[str] = _help(
        "names of the LLM's linear layers to adapt (matched as the last part of a module name, "
        "inside the LLM only)",
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
    )

    def __post_init__(self) -> None:
        if self.r < 1:
            raise ValueError("lora.r must be >= 1")
        if not (math.isfinite(self.alpha) and self.alpha > 0):
            raise ValueError("lora.alpha must be > 0")
        if not 0 <= self.dropout < 1:
            raise ValueError("lora.dropout must be in [0, 1)")
        if not self.targets:
            raise ValueError("lora.targets must name at least one layer")


@dataclass
class OptimArgs:
    """Optimisation and the distributed set-up, handed to transformers' TrainingArguments."""

    learning_rate: float = _help("peak learning rate", default=2e-5)
    epochs: float = _help("passes over the training rows (ignored when max_steps > 0)", default=1.0)
    max_steps: int = _help("optimizer steps; > 0 overrides epochs", default=-1)
    batch_size: int = _help("rows per device per micro-batch (paper: 1 per GPU for SFT and DPO)", default=1)
    grad_accum: int = _help("micro-batches accumulated per optimizer step", default=1)
    warmup_ratio: float = _help("fraction of steps with linear warm-up (official script: 0.03)", default=0.03)
    scheduler: str = _help("transformers lr_scheduler_type: cosine, linear, constant, ...", default="cosine")
    weight_decay: float = _help("AdamW weight decay (official script: 0)", default=0.0)
    max_grad_norm: float = _help("gradient clipping norm; 0 disables", default=1.0)
    precision: Precision = _help("fp32, or bf16 autocast (trainable weights stay float32)", default="fp32")
    gradient_checkpointing: bool = _help("recompute LLM activations in backward to save memory", default=False)
    seed: int = _help("seed for data order and LoRA initialisation", default=0)
    logging_steps: int = _help("log every N optimizer steps", default=1)
    save_steps: int = _help("save a resumable checkpoint every N optimizer steps; 0 saves only at the end",
                            default=500)
    save_total_limit: int = _help("keep at most N resumable checkpoints (0 = all)", default=2)
    num_workers: int = _help("DataLoader worker processes decoding videos", default=0)
    deepspeed: str | None = _help("DeepSpeed JSON config (e.g. configs/train/ds_zero2.json, ds_zero3.json)",
                                  default=None)
    fsdp: str = _help("FSDP mode for TrainingArguments (e.g. 'full_shard auto_wrap'); empty = off; "
                      "or launch with accelerate and configs/train/accelerate_fsdp.yaml", default="")
    fsdp_config: str | None = _help("FSDP JSON config for TrainingArguments (configs/train/fsdp.json)", default=None)
    ddp_timeout_s: int = _help("collective timeout; MrDPO ranks wait at a barrier while captions are judged",
                               default=7200)
    report_to: str = _help("transformers integrations to log to: none, tensorboard, wandb, ...", default="none")

    def __post_init__(self) -> None:
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ValueError("optim.learning_rate must be > 0")
        if self.max_steps <= 0 and not self.epochs > 0:
            raise ValueError("optim.epochs must be > 0 (or set optim.max_steps)")
        for name in ("batch_size", "grad_accum", "logging_steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"optim.{name} must be >= 1")
        if not 0 <= self.warmup_ratio < 1:
            raise ValueError("optim.warmup_ratio must be in [0, 1)")
        for name in ("weight_decay", "max_grad_norm", "save_steps", "save_total_limit", "num_workers"):
            if getattr(self, name) < 0:
                raise ValueError(f"optim.{name} must be >= 0")
        if self.deepspeed and self.fsdp:
            raise ValueError("choose one of optim.deepspeed and optim.fsdp")
        if self.ddp_timeout_s < 1:
            raise ValueError("optim.ddp_timeout_s must be >= 1")


@dataclass(kw_only=True)
class MediaPathArgs:
    """Where a dataset's media may live (every recipe that reads rows has these keys)."""

    media_root: str | None = _help("folder that rows' video/audio paths must lie in (default: the dataset "
                                   "file's folder); a path outside is skipped and listed", default=None)
    allow_outside_paths: bool = _help("let rows name media anywhere (only for datasets you trust)", default=False)


def _check_common(cfg) -> None:
    if not str(cfg.output_dir).strip():
        raise ValueError("output_dir must not be empty")
    if not str(cfg.data).strip():
        raise ValueError("data must name a dataset file")


def _check_groups(groups: list[str]) -> None:
    bad = sorted(set(groups) - FULL_TRAIN_GROUPS)
    if bad:
        raise ValueError(f"train_groups: {', '.join(bad)} not among {', '.join(sorted(FULL_TRAIN_GROUPS))} "
                         "(the LLM trains through the LoRA, the audio aligner through train_aligner)")


@dataclass
class AlignConfig(MediaPathArgs):
    """Audio modality alignment (§3.2): only the audio aligner trains on ASR and audio-caption rows."""

    data: str = _help("dataset file (JSON/JSONL): rows with audio (or video) and the transcript or "
                      "audio caption as the answer")
    output_dir: str = _help("run folder: checkpoints/ (resumable), trained/ (LoRA + aligner), model/ (merged captioner), report.json")
    prompt: str = _help("prompt for rows that carry none", default="Transcribe or describe the audio.")
    train_groups: list[str] = _help(
        "further parameter groups trained in full beside the audio aligner (audio_encoder, ...); paper: "
        "none, its Whisper is pretrained -- a model built from scratch (the nano captioner) needs its "
        "audio encoder trained here", default_factory=list)
    disable_dropout: bool = _help("turn off the model's dropout (deterministic steps)", default=False)
    model: ModelArgs = field(default_factory=ModelArgs, metadata={"help": "starting captioner"})
    optim: OptimArgs = field(default_factory=lambda: OptimArgs(learning_rate=1e-4),
                             metadata={"help": "optimisation"})

    def __post_init__(self) -> None:
        _check_common(self)
        _check_groups(self.train_groups)


@dataclass
class SFTConfig(MediaPathArgs):
    """Audio-visual SFT (§3.2): LoRA on the LLM plus the audio aligner; loss on answer tokens only."""

    data: str = _help("dataset file (JSON/JSONL) of rows with a ground-truth answer")
    output_dir: str = _help("run folder: checkpoints/ (resumable), trained/ (LoRA + aligner), model/ (merged captioner), report.json")
    prompt: str = _help("prompt for rows that carry none", default=DEFAULT_PROMPT)
    train_aligner: bool = _help("train the audio aligner together with the LoRA (paper: yes)", default=True)
    train_groups: list[str] = _help(
        "further parameter groups trained in full (visual_encoder, visual_aligner, audio_encoder); "
        "paper: none, its visual LLM is pretrained -- a model built from scratch (the nano "
        "captioner) needs its vision path trained", default_factory=list)
    disable_dropout: bool = _help("turn off the model's dropout (deterministic steps)", default=False)
    modality_mix: list[int] = _help(
        "VideoLLaMA 2 audio-visual joint training (§3.3): each micro-batch holds [audio-visual, visual, audio] "
        "examples in these counts; paper and release: [2, 1, 1] (2:1:1, every audio-visual row once per epoch, "
        "the others cycled). Rows are typed by a 'modality' field (else video rows are audio-visual, audio-only "
        "rows audio); optim.batch_size then counts such groups. Empty: rows as they come", default_factory=list)
    model: ModelArgs = field(default_factory=ModelArgs, metadata={"help": "starting captioner"})
    lora: LoraArgs = field(default_factory=LoraArgs, metadata={"help": "LoRA adapter"})
    optim: OptimArgs = field(default_factory=OptimArgs, metadata={"help": "optimisation"})

    def __post_init__(self) -> None:
        _check_common(self)
        if self.modality_mix and (len(self.modality_mix) != 3 or min(self.modality_mix) < 0 or self.modality_mix[0] < 1):
            raise ValueError(f"modality_mix {self.modality_mix}: give [audio-visual, visual, audio] counts, "
                             "audio-visual >= 1 (paper: [2, 1, 1])")
        _check_groups(self.train_groups)


@dataclass
class DPOConfig(MediaPathArgs):
    """One DPO or gDPO round (§3.3.2, eq. 9) on preference rows (dataset row + chosen + rejected)."""

    data: str = _help("preference dataset (JSON/JSONL): rows with 'chosen', 'rejected' and, for "
                      "gdpo, the ground truth in 'conversations'")
    output_dir: str = _help("run folder: checkpoints/ (resumable), trained/ (LoRA + aligner), model/ (merged captioner), report.json")
    objective: Literal["dpo", "gdpo"] = _help("dpo, or gdpo = dpo + λ·CE on the ground truth (eq. 9)",
                                              default="gdpo")
    beta: float = _help("DPO β (paper and official release: 0.1)", default=0.1)
    lam: float = _help("gDPO λ, the weight of the ground-truth cross-entropy (paper: 0.1)", default=0.1)
    concat_forward: bool = _help("score chosen, rejected and ground truth in one forward pass "
                                 "(faster; off halves peak activation memory)", default=True)
    prompt: str = _help("prompt for rows that carry none", default=DEFAULT_PROMPT)
    train_aligner: bool = _help("train the audio aligner too (its round-start copy stays the reference)",
                                default=True)
    disable_dropout: bool = _help("turn off the model's dropout (not the LoRA's) so policy and reference "
                                  "agree before the first update, as TRL does", default=True)
    model: ModelArgs = field(default_factory=ModelArgs, metadata={"help": "policy at the start of the round"})
    lora: LoraArgs = field(default_factory=LoraArgs, metadata={"help": "the round's fresh LoRA"})
    optim: OptimArgs = field(default_factory=OptimArgs, metadata={"help": "optimisation"})

    def __post_init__(self) -> None:
        _check_common(self)
        _check_dpo(self.beta, self.lam)


def _check_dpo(beta: float, lam: float) -> None:
    if not (math.isfinite(beta) and beta > 0):
        raise ValueError("beta must be > 0")
    if not (math.isfinite(lam) and lam >= 0):
        raise ValueError("lam must be >= 0")


@dataclass
class SamplingArgs:
    """How each round samples candidate captions (nucleus sampling, §3.3.1)."""

    num_samples: int = _help("captions sampled per training video per round (paper: a pair, K=2)", default=2)
    temperature: float = _help("sampling temperature", default=1.0)
    top_p: float = _help("nucleus sampling p", default=0.9)
    max_new_tokens: int = _help("caption length limit in tokens", default=1024)
    batch_videos: int = _help("videos captioned per generate call (sampling and the held-out evaluation)", default=1)

    def __post_init__(self) -> None:
        if self.num_samples < 2:
            raise ValueError("sampling.num_samples must be >= 2 (a pair needs two captions)")
        if not self.temperature > 0:
            raise ValueError("sampling.temperature must be > 0")
        if not 0 < self.top_p <= 1:
            raise ValueError("sampling.top_p must be in (0, 1]")
        if self.max_new_tokens < 1 or self.batch_videos < 1:
            raise ValueError("sampling.max_new_tokens and sampling.batch_videos must be >= 1")


@dataclass
class ScorerArgs:
    """Who counts missing / incorrect / hallucinated events of each sampled caption."""

    kind: str = _help("judge (an LLM judge backend), symbolic (the synthetic world's exact judge), "
                      "or package.module:function returning a scorer", default="judge")
    backend: str = _help("judge backend for kind=judge: openai, hf, scripted, ...", default="openai")
    model: str | None = _help("judge model name (openai) or local folder (hf)", default=None)
    base_url: str | None = _help("OpenAI-compatible server URL; none = api.openai.com", default=None)
    cache: str | None = _help("judge SQLite cache; none = <output_dir>/judge_cache.sqlite", default=None)
    concurrency: int = _help("judge calls in flight", default=16)

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ValueError("scorer.concurrency must be >= 1")


# Per-round learning rates of §4.2: 2e-5 for rounds 1-2, 1e-5 for round 3, 2e-6 afterwards.
PAPER_ROUND_LRS = [2e-5, 2e-5, 1e-5, 2e-6]
# Appendix C, Table 6 (Δe, Δr) per round, as fractions; later rounds reuse the last row.
PAPER_THRESHOLDS = [[0.05, 0.01], [0.20, -0.01], [0.23, -0.01]]


@dataclass
class MrDPOConfig(MediaPathArgs):
    """Multi-round DPO with a LoRA proxy (§3.3.2): sample → judge → select → gDPO → merge, per round."""

    data: str = _help("training videos with ground-truth captions and (optionally) atomic events")
    output_dir: str = _help("run folder: round_N/ with samples, scores, pairs, model and report")
    rounds: int = _help("number of gDPO rounds (paper: 6)", default=6)
    round_lrs: list[float] = _help("learning rate of each round; later rounds reuse the last "
                                   "(paper: 2e-5, 2e-5, 1e-5, then 2e-6)",
                                   default_factory=lambda: list(PAPER_ROUND_LRS))
    thresholds: list[list[float]] = _help("[Δe, Δr] pair-selection thresholds per round as fractions; "
                                          "later rounds reuse the last (Appendix C, Table 6)",
                                          default_factory=lambda: [list(t) for t in PAPER_THRESHOLDS])
    max_miss_rise: float | None = _help(
        "also require the chosen caption's miss rate to exceed the rejected one's by at most this "
        "(fraction; 0.0: never more); not in the paper (None), a guard against pairs won by saying less",
        default=None)
    objective: Literal["dpo", "gdpo"] = _help("loss of each round (paper: gdpo)", default="gdpo")
    beta: float = _help("DPO β", default=0.1)
    lam: float = _help("gDPO λ (paper: 0.1 in every round)", default=0.1)
    concat_forward: bool = _help("score chosen, rejected and ground truth in one forward pass", default=True)
    last_round_data: str | None = _help("extra SFT/QA rows mixed into the last round (§4.2)", default=None)
    last_round_weight: float = _help("weight of the cross-entropy on those extra rows", default=1.0)
    eval_data: str | None = _help("held-out rows captioned greedily and scored after each round", default=None)
    eval_max_new_tokens: int = _help("caption length limit for eval_data", default=1024)
    prompt: str = _help("prompt for rows that carry none", default=DEFAULT_PROMPT)
    train_aligner: bool = _help("train the audio aligner with the LoRA proxy", default=True)
    disable_dropout: bool = _help("turn off the model's dropout (not the LoRA's) during gDPO", default=True)
    model: ModelArgs = field(default_factory=ModelArgs, metadata={"help": "the SFT model MrDPO starts from"})
    lora: LoraArgs = field(default_factory=LoraArgs, metadata={"help": "each round's fresh LoRA proxy"})
    optim: OptimArgs = field(default_factory=OptimArgs, metadata={"help": "optimisation (learning_rate is "
                                                                          "replaced by round_lrs)"})
    sampling: SamplingArgs = field(default_factory=SamplingArgs, metadata={"help": "caption sampling"})
    scorer: ScorerArgs = field(default_factory=ScorerArgs, metadata={"help": "caption scoring"})

    def __post_init__(self) -> None:
        _check_common(self)
        _check_dpo(self.beta, self.lam)
        if self.rounds < 1:
            raise ValueError("rounds must be >= 1")
        if not self.round_lrs or any(not (math.isfinite(lr) and lr > 0) for lr in self.round_lrs):
            raise ValueError("round_lrs must be a non-empty list of learning rates > 0")
        if not self.thresholds or any(len(t) != 2 for t in self.thresholds):
            raise ValueError("thresholds must be a non-empty list of [Δe, Δr] pairs")
        if self.last_round_weight < 0:
            raise ValueError("last_round_weight must be >= 0")

    def round_lr(self, round_index: int) -> float:
        """Learning rate of 1-based round ``round_index``."""
        return self.round_lrs[min(round_index, len(self.round_lrs)) - 1]

    def round_thresholds(self, round_index: int) -> tuple[float, float]:
        """(min Δe, min Δr) of 1-based round ``round_index``."""
        delta_e, delta_r = self.thresholds[min(round_index, len(self.thresholds)) - 1]
        return float(delta_e), float(delta_r)


RECIPE_CONFIGS = {"align": AlignConfig, "sft": SFTConfig, "dpo": DPOConfig, "gdpo": DPOConfig, "mrdpo": MrDPOConfig}


@dataclass
class NegDPOConfig(MediaPathArgs):
    """Tarsier2's DPO (§3.3, Appendix D): pairs from `avcap pairs negatives` -> AutoDQ filter -> vanilla DPO.

    Each pair is {x, y_w = y, y_l = ỹ}: y is the model's caption of the clean clip x, ỹ its caption
    of a corrupted clip; the corrupted clip only generated ỹ, and both captions are scored on the
    clean clip x (eq. 2). A pair is kept when ΔDQ_R >= 0, ΔDQ_P >= 0 and ΔDQ_R + ΔDQ_P >= δ (eq. 1).
    The paper's ablations (Table 10): --no-negative-sampling (y_l = a second clean sample y'),
    --no-filter (every candidate is a pair).

    Pairs: `avcap pairs negatives --help`; the nano world: configs/nano/negdpo.yaml, scripts/negdpo_nano.sh.
    """

    data: str = _help("pairs file written by `avcap pairs negatives` (its rows carry the candidates and "
                      "their AutoDQ scores)")
    output_dir: str = _help("run folder: pairs.jsonl + pair_stats.json (the selected pairs), checkpoints/, "
                            "trained/, model/ (merged captioner), eval_*/ and report.json")
    no_negative_sampling: bool = _help("ablation 'w/o NS': the rejected caption is a second sample of the clean "
                                       "clip (needs pairs made with --second-sample)", default=False)
    no_filter: bool = _help("ablation 'w/o PF': keep every candidate pair, no AutoDQ filter", default=False)
    delta: float = _help("filter threshold δ of eq. 1 (Appendix D: 0.3)", default=0.3)
    num_pairs: int = _help("pairs drawn at random from the eligible ones so every setting trains on the same "
                           "amount (paper: 20K); 0 = all", default=0)
    beta: float = _help("DPO β (Appendix D: 0.1)", default=0.1)
    concat_forward: bool = _help("score chosen and rejected in one forward pass", default=True)
    prompt: str = _help("prompt for pairs that carry none (pairs record the prompt they were sampled with)",
                        default=DEFAULT_PROMPT)
    train_aligner: bool = _help("train the audio aligner too, where the model has one", default=True)
    disable_dropout: bool = _help("turn off the model's dropout so policy and reference agree at step 0",
                                  default=True)
    eval_data: str | None = _help("held-out rows captioned greedily before and after, scored with "
                                  "Miss/Hall/Total and AutoDQ P/R/F1 by `scorer`", default=None)
    eval_max_new_tokens: int = _help("caption length limit for eval_data", default=512)
    eval_batch_size: int = _help("videos per generate call in the held-out evaluation", default=8)
    model: ModelArgs = field(default_factory=ModelArgs, metadata={"help": "the SFT model (policy and reference)"})
    lora: LoraArgs = field(default_factory=LoraArgs, metadata={"help": "the LoRA adapter (the paper trains all "
                                                                         "parameters; avcap's DPO trains a LoRA)"})
    optim: OptimArgs = field(default_factory=lambda: OptimArgs(learning_rate=1e-6),
                             metadata={"help": "optimisation (Tarsier2 DPO: lr 1e-6)"})
    scorer: ScorerArgs = field(default_factory=ScorerArgs, metadata={"help": "held-out scoring"})

    def __post_init__(self) -> None:
        _check_common(self)
        _check_dpo(self.beta, 0.0)
        if not math.isfinite(self.delta):
            raise ValueError("delta must be a finite number")
        if self.num_pairs < 0:
            raise ValueError("num_pairs must be >= 0 (0 = all)")
        if self.eval_max_new_tokens < 1 or self.eval_batch_size < 1:
            raise ValueError("eval_max_new_tokens and eval_batch_size must be >= 1")


RECIPE_CONFIGS["negdpo"] = NegDPOConfig


@dataclass
class RewardArgs:
    """AVoCaDO's reward R = R_C + R_D + R_L (eq. 9), each term switchable (Table 4's ablation)."""

    kind: str = _help("judge (R_C / R_D asked of a judge backend), or package.module:function returning "
                      "one reward per caption: function(rows, captions, n_tokens) -> [float or None]",
                      default="judge")
    checklist: bool = _help("R_C, the checklist coverage of eq. 3", default=True)
    dialogue: bool = _help("R_D, the dialogue F1 of eqs. 4-7", default=True)
    length: bool = _help("R_L, the length reward of eq. 8", default=True)
    length_soft: int = _help("τ1 of eq. 8 in tokens (App. D.2: 2048)", default=2048)
    length_hard: int = _help("τ2 of eq. 8 in tokens (App. D.2: 4096)", default=4096)
    dialogue_threshold: float = _help("γ of the dialogue alignment (paper: 0.6)", default=0.6)
    checklists: str | None = _help("keypoints per row from `avcap data checklist` (JSONL); rows it lacks are "
                                   "decomposed by the judge on the fly (cached)", default=None)
    backend: str = _help("judge backend: openai, hf, symbolic (the synthetic world, exact), scripted, ...",
                         default="openai")
    model: str | None = _help("judge model name (openai) or local folder (hf); paper: GPT-4.1", default=None)
    base_url: str | None = _help("OpenAI-compatible server URL; none = api.openai.com", default=None)
    cache: str | None = _help("judge SQLite cache; none = <output_dir>/judge_cache.sqlite (a re-run asks "
                              "nothing it asked before)", default=None)
    concurrency: int = _help("judge calls in flight", default=16)

    def __post_init__(self) -> None:
        if self.kind == "judge" and not (self.checklist or self.dialogue or self.length):
            raise ValueError("rewards: switch on at least one of checklist, dialogue, length")
        if not 0 < self.length_soft < self.length_hard:
            raise ValueError("rewards.length_soft must be > 0 and below rewards.length_hard")
        if not 0 <= self.dialogue_threshold <= 1:
            raise ValueError("rewards.dialogue_threshold must be in [0, 1]")
        if self.concurrency < 1:
            raise ValueError("rewards.concurrency must be >= 1")


@dataclass
class GRPOConfig(MediaPathArgs):
    """AVoCaDO GRPO (§3.2, App. C): G captions per clip from the current policy (audio + frames),
    rewarded by R = R_C + R_D + R_L, group-normalised advantages (eq. 1), clipped-ratio objective
    with a per-token KL to the reference (eq. 2).

    Reference: with a LoRA, the model with the adapter disabled and the aligners' start values (no
    second copy of the LLM). With finetune: full the LLM trains in full, so the reference needs a
    frozen copy of every trained tensor: avcap keeps one (the start values, swapped in for the
    reference pass), which costs one more LLM in memory.
    Rollouts and rewards of each step go to output_dir/rollouts.jsonl: a resumed run reuses them.
    """

    data: str = _help("training rows (JSON/JSONL): clip + ground-truth caption (+ events for Miss/Hall)")
    output_dir: str = _help("run folder: rollouts.jsonl, checkpoints/ (resumable), trained/, model/ "
                            "(merged captioner), eval_*.json, report.json")
    prompt: str = _help("prompt for rows that carry none", default=DEFAULT_PROMPT)
    num_generations: int = _help("G, captions sampled per clip (paper: 8)", default=8)
    temperature: float = _help("sampling temperature (paper: 1.0)", default=1.0)
    top_p: float = _help("nucleus sampling p (paper: not stated; 1.0 = plain sampling)", default=1.0)
    max_new_tokens: int | None = _help("caption length limit in tokens; none = the captioner's own",
                                       default=None)
    epsilon: float = _help("clip range ε of eq. 2 (GRPO / TRL: 0.2)", default=0.2)
    beta: float = _help("KL coefficient β (App. C: 0.04)", default=0.04)
    finetune: Literal["lora", "full"] = _help(
        "lora: a LoRA on the LLM, reference = adapter disabled; full: the LLM trains in full "
        "(App. C), reference = a frozen copy of the trained tensors", default="lora")
    train_aligner: bool = _help("train the audio aligner (App. C: adapters train)", default=True)
    train_groups: list[str] = _help("further groups trained in full (App. C: the visual aligner too); "
                                    "their start values join the reference", default_factory=lambda: ["visual_aligner"])
    disable_dropout: bool = _help("turn off the model's dropout so policy and reference agree at step 0",
                                  default=True)
    eval_data: str | None = _help("held-out rows captioned greedily before and after: Miss/Hall/Total "
                                  "(scorer), checklist coverage, dialogue F1, length", default=None)
    eval_max_new_tokens: int = _help("caption length limit for eval_data", default=512)
    eval_batch_size: int = _help("videos per generate call in the held-out evaluation", default=8)
    model: ModelArgs = field(default_factory=ModelArgs, metadata={"help": "the SFT model (policy start and reference)"})
    lora: LoraArgs = field(default_factory=LoraArgs, metadata={"help": "the LoRA (finetune: lora)"})
    optim: OptimArgs = field(default_factory=lambda: OptimArgs(learning_rate=1e-5, epochs=1.0),
                             metadata={"help": "optimisation (App. C: lr 1e-5, 1 epoch); batch_size counts clips"})
    rewards: RewardArgs = field(default_factory=RewardArgs, metadata={"help": "the reward R (eq. 9)"})
    scorer: ScorerArgs = field(default_factory=ScorerArgs, metadata={"help": "held-out Miss/Hall/Total scoring"})

    def __post_init__(self) -> None:
        _check_common(self)
        _check_groups(self.train_groups)
        if self.num_generations < 2:
            raise ValueError("num_generations must be >= 2 (a group of one has no advantage)")
        if not self.temperature > 0:
            raise ValueError("temperature must be > 0 (GRPO samples)")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        if not (math.isfinite(self.epsilon) and 0 < self.epsilon < 1):
            raise ValueError("epsilon must be in (0, 1)")
        if not (math.isfinite(self.beta) and self.beta >= 0):
            raise ValueError("beta must be >= 0")
        if self.eval_max_new_tokens < 1 or self.eval_batch_size < 1:
            raise ValueError("eval_max_new_tokens and eval_batch_size must be >= 1")


RECIPE_CONFIGS["grpo"] = GRPOConfig
