"""``avcap train <recipe> --config FILE.yaml [--key value ...]``: the training recipes.

Flags are not declared here: every ``--key value`` (dotted for nested groups, e.g.
``--optim.learning_rate 1e-5``) is a field of the recipe's config dataclass in
:mod:`avcap.train.configs`, and the help below is generated from those dataclasses.
"""

from __future__ import annotations

from pathlib import Path

import typer

# One offline example per recipe (README "Train"): synthetic rows from `avcap synth dataset`,
# the shipped nano captioner as the starting model.
RECIPE_EXAMPLES = {
    "align": "avcap train align --config configs/nano/align.yaml --model.name builtin:nano --optim.max_steps 20",
    "sft": "avcap train sft --config configs/nano/sft.yaml --model.name builtin:nano --data synth/train.json "
           "--output_dir runs/sft --optim.max_steps 20",
    "dpo": "avcap train dpo --data pairs.jsonl --output_dir runs/dpo --model.name builtin:nano --lora.r 16",
    "gdpo": "avcap train gdpo --data pairs.jsonl --output_dir runs/gdpo --model.name builtin:nano --lam 0.1",
    "mrdpo": "avcap train mrdpo --config configs/nano/mrdpo.yaml --model.name builtin:nano --rounds 1",
}

RECIPE_HELP = {
    "align": "Audio modality alignment: train only the audio aligner on ASR / audio-caption rows.",
    "sft": "Audio-visual SFT: LoRA on the LLM plus the audio aligner, loss on the answer tokens.",
    "dpo": "One DPO round on preference rows (reference = the model with its fresh LoRA disabled).",
    "gdpo": "One gDPO round: DPO + λ·cross-entropy on the ground-truth caption (video-SALMONN 2 eq. 9).",
    "mrdpo": "Multi-round DPO: per round sample, judge, select pairs (Table 6), train gDPO, merge the LoRA.",
}
RECIPE_EXAMPLES["negdpo"] = ("avcap train negdpo --data pairs.jsonl --media_root synth --output_dir runs/negdpo "
                              "--model.name builtin:nano --lora.r 16")
RECIPE_HELP["negdpo"] = ("Tarsier2 DPO: pairs from `avcap pairs negatives` (clean vs corrupted-video caption), "
                         "AutoDQ-filtered, vanilla DPO on the clean clip.")

RECIPE_EXAMPLES["grpo"] = ("avcap train grpo --config configs/nano/grpo.yaml --model.name builtin:nano "
                            "--optim.max_steps 2 --num_generations 4")
RECIPE_HELP["grpo"] = ("AVoCaDO GRPO: G samples per clip (audio + frames), R = R_C + R_D + R_L via a judge, "
                       "group-normalised advantages, clipped ratio + KL to the adapter-disabled reference.")

LAUNCH = """\b
Launch on several GPUs or nodes with torchrun or accelerate:
  torchrun --nproc_per_node 8 -m avcap.train {name} --config run.yaml
  accelerate launch --config_file configs/train/accelerate_fsdp.yaml -m avcap.train {name} --config run.yaml
DeepSpeed ZeRO-2/3: --optim.deepspeed configs/train/ds_zero2.json (or ds_zero3.json).
A killed run resumes when re-run with the same output_dir."""


def _help(name: str) -> str:
    import inspect

    from avcap.config import config_help
    from avcap.train.configs import RECIPE_CONFIGS

    cls = RECIPE_CONFIGS[name]
    options = config_help(cls)
    example = f"\b\nExample (offline):\n  {RECIPE_EXAMPLES[name]}\n\n" if name in RECIPE_EXAMPLES else ""
    return (f"{RECIPE_HELP[name]}\n\n{inspect.cleandoc(cls.__doc__ or '')}\n\n" + example + LAUNCH.format(name=name)
            + "\n\n\b\nConfig keys (YAML or --key value):\n" + options)


def _command(name: str):
    def command(
        ctx: typer.Context,
        config: Path = typer.Option(None, "--config", "-c", help="YAML file with the recipe's config keys."),
    ) -> None:
        import logging

        from avcap.errors import AvcapError, ConfigError, MissingDependencyError, ModelError, require

        # avcap's own progress lines (one per MrDPO round, ...) on stderr; transformers logs separately.
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("avcap: %(message)s"))
        logger = logging.getLogger("avcap")
        if not logger.handlers:
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)

        try:
            for module in ("peft", "accelerate"):
                require(module, "train", f"avcap train {name}")
            from avcap.train.recipes import run_recipe

            report = run_recipe(name, config, list(ctx.args))
        except (ConfigError, ModelError, MissingDependencyError) as err:  # set-up faults: nothing ran
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(code=2) from None
        except AvcapError as err:
            typer.echo(f"error: {err}", err=True)
            raise typer.Exit(code=1) from None
        where = report.get("final_model") or report.get("model")
        status = "already finished, nothing to do" if report.get("already_finished") else "done"
        typer.echo(f"avcap train {name}: {status}; model at {where}")

    return command


def register(app: typer.Typer) -> None:
    train_app = typer.Typer(help="Train captioners: align, sft, dpo, gdpo, mrdpo, negdpo, grpo (video-SALMONN 2, Tarsier2, AVoCaDO).",
                            no_args_is_help=True)
    for name in RECIPE_HELP:
        train_app.command(
            name, help=_help(name), short_help=RECIPE_HELP[name],
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        )(_command(name))
    app.add_typer(train_app, name="train")
