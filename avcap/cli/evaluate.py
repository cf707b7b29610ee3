"""``avcap eval``: judge caption files on a benchmark and write report.json + report.html."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

_HELP = """Evaluate captions with LLM-judged metrics; write OUT/report.json and OUT/report.html.

Metrics (--metrics, comma-separated): salmonn2 (video-SALMONN 2 Miss% / Hall% / Total%, median of --judge-runs runs), autodq (DREAM-1K AutoDQ P/R/F1), checklist (AVoCaDO keypoints), dialogue (AVoCaDO dialogue F1), repetition (repetition rate, RepCol; no judge), qa (answer multiple-choice questions from the caption alone; N/A counts as wrong).

Judgments are cached in OUT/judge_cache.sqlite: a re-run (or a run resumed after a crash or Ctrl-C) only asks what is not cached. Items whose judge call fails after its retries are listed in the report with their cause, never dropped. Only --judge-runs applies to salmonn2; the other metrics judge once.

\b
Examples:
  # OpenAI (key from OPENAI_API_KEY), the paper's protocol of 7 runs:
  avcap eval --data test.json --captions caps.jsonl --judge openai \\
      --judge-model gpt-4.1 --judge-runs 7 --metrics salmonn2 --out reports/run1
  # any OpenAI-compatible server (vLLM, llama.cpp, Ollama), several metrics:
  avcap eval --data dream1k.jsonl --captions caps.jsonl --judge openai \\
      --judge-model Qwen/Qwen3-8B --judge-base-url http://localhost:8000/v1 \\
      --metrics autodq,repetition --out reports/dream
  # a rate-limited account: pace calls below 500 requests and 200k tokens a minute
  avcap eval --data test.json --captions caps.jsonl --judge openai --judge-model gpt-4.1 \\
      --judge-rpm 500 --judge-tpm 200000 --out reports/paced
  # a local transformers model as judge; compare two caption files side by side:
  avcap eval --data test.json --captions a.jsonl --compare b.jsonl \\
      --judge hf --judge-model ./Qwen3-4B --out reports/a-vs-b
  # the synthetic world's exact judge (offline; `avcap synth dataset` data):
  avcap eval --data synth/train.json --captions caps.jsonl --judge symbolic --out reports/synth
  # only the videos whose model really heard their sound, with nothing cut:
  avcap eval --data test.json --captions caps.jsonl --judge symbolic --audit-filter complete --out r/heard
  # offline word-overlap judge (plumbing checks and demos only):
  avcap eval --data test.json --captions caps.jsonl --judge scripted --out /tmp/r
"""


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"avcap eval: {message}", err=True)
    return typer.Exit(code)


def eval_command(
    data: Path = typer.Option(..., "--data", help="Benchmark file: video-SALMONN 2 test set (.json/.jsonl), DREAM-1K jsonl, or a QA set."),
    captions: Path = typer.Option(..., "--captions", help="Captions JSONL written by `avcap caption`."),
    out: Path = typer.Option(..., "--out", help="Output folder for report.json, report.html, run.json and the judge cache."),
    compare: list[Path] = typer.Option([], "--compare", help="More caption files to show side by side (repeatable)."),
    metrics: str = typer.Option("salmonn2", "--metrics", help="Comma-separated: salmonn2, autodq, checklist, dialogue, repetition, qa."),
    judge: str = typer.Option("openai", "--judge", help="Judge backend: openai, hf, symbolic (exact, synthetic world), scripted (or package.module:factory)."),
    judge_model: str = typer.Option(None, "--judge-model", help="Model name for openai; model folder for hf."),
    judge_base_url: str = typer.Option(None, "--judge-base-url", help="OpenAI-compatible server URL, e.g. http://localhost:8000/v1."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="Environment variable that holds the API key."),
    judge_runs: int = typer.Option(1, "--judge-runs", help="Judge each caption N times; the median run is reported (paper: 7)."),
    concurrency: int = typer.Option(16, "--concurrency", help="Judge calls in flight at once."),
    judge_rpm: float = typer.Option(None, "--judge-rpm", help="Requests per minute the judge server allows "
                                    "(openai): calls are paced below it for the whole run."),
    judge_tpm: float = typer.Option(None, "--judge-tpm", help="Tokens per minute the judge server allows "
                                    "(openai; prompt + answer, estimated at 4 characters a token)."),
    temperature: float = typer.Option(0.0, "--temperature", help="Judge temperature (the protocol uses 0)."),
    max_tokens: int = typer.Option(None, "--max-tokens", help="Answer length limit per judge call."),
    timeout_s: float = typer.Option(120.0, "--timeout", help="Seconds before an HTTP judge call is retried."),
    max_attempts: int = typer.Option(6, "--max-attempts", help="Calls per question on 429/5xx/timeouts, first included."),
    retry_base_delay: float = typer.Option(0.5, "--retry-base-delay", help="First backoff delay in seconds (doubles each retry)."),
    max_reasks: int = typer.Option(2, "--max-reasks", help="Re-asks after a malformed answer before the item fails."),
    json_mode: bool = typer.Option(True, "--json-mode/--no-json-mode", help="Send response_format=json_object (turn off for servers that reject it)."),
    price_prompt: float = typer.Option(None, "--price-prompt", help="USD per 1M prompt tokens, for the cost line."),
    price_completion: float = typer.Option(None, "--price-completion", help="USD per 1M completion tokens."),
    cache: Path = typer.Option(None, "--cache", help="Judge cache file (default OUT/judge_cache.sqlite); share it between runs."),
    sample: int = typer.Option(0, "--sample", help="Which sample index of the caption files to evaluate."),
    device: str = typer.Option("cpu", "--device", help="Device for --judge hf (cpu, cuda, cuda:1)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
    audit_filter: str = typer.Option(None, "--audit-filter",
                                     help="Evaluate only items whose caption row's modality audit passes: fed_audio, "
                                          "no_audio_fed, truncated, complete (fed its sound, nothing cut)."),
) -> None:
    from avcap.errors import AvcapError
    from avcap.eval import EvalConfig, EvalJob, Prices, run_job
    from avcap.judge import BackendOptions, JudgeConfig, RetryPolicy

    try:
        job = EvalJob(
            data=data, captions=[captions, *compare], out=out, judge=judge,
            config=EvalConfig(metrics=tuple(metrics.split(",")), judge_runs=judge_runs),
            backend=BackendOptions(model=judge_model, base_url=judge_base_url, api_key_env=api_key_env,
                                   timeout_s=timeout_s, device=device, requests_per_minute=judge_rpm,
                                   tokens_per_minute=judge_tpm),
            judge_config=JudgeConfig(
                concurrency=concurrency, temperature=temperature, max_tokens=max_tokens, max_reasks=max_reasks,
                json_mode=json_mode, retry=RetryPolicy(max_attempts=max_attempts, base_delay_s=retry_base_delay),
            ),
            cache_path=cache,
            prices=None if price_prompt is None and price_completion is None
            else Prices(price_prompt or 0.0, price_completion or 0.0),
            sample=sample, audit_filter=audit_filter,
        )
        outcome = run_job(job, progress=progress and sys.stderr.isatty())
    except (AvcapError, ValueError, OSError) as err:  # OSError: e.g. an output folder that cannot be written
        raise _fail(str(err)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; judgments so far are cached, run the same command again to resume", 130) from None
    code = _print_summary(outcome)
    if code:
        raise typer.Exit(code)


def _print_summary(outcome) -> int:
    """Print the summary; return the exit code: 1 when a caption set had nothing scored or some
    items could not be judged (the first cause is printed), else 0."""
    from avcap.cli.console import echo_capped, printable

    report = outcome.report
    echo_capped("skipped malformed row", report["data_errors"])
    code = 0
    for s in report["caption_sets"]:
        echo_capped(f"{s['name']}: skipped caption row", s["caption_file_errors"])
        parts = []
        for metric, m in s["metrics"].items():
            if metric == "salmonn2" and m.get("n_scored"):
                parts.append(f"Miss {m['miss']:.1%} Hall {m['hall']:.1%} Total {m['total']:.1%} "
                             f"(run {m['median_run']}; mean {m['mean']['total']:.1%} ± {m['std']['total']:.1%})")
            elif metric == "autodq" and m.get("n_scored"):
                parts.append(f"AutoDQ P {m['precision']:.1%} R {m['recall']:.1%} F1 {m['f1']:.1%}")
            elif metric == "checklist" and m.get("n_scored"):
                parts.append(f"checklist {m['score']:.1%}")
            elif metric == "dialogue" and m.get("n_scored"):
                parts.append(f"dialogue F1 {m['f1']:.1%}")
            elif metric == "repetition" and m.get("n_scored"):
                parts.append(f"repetition {m['repetition_rate']:.1%} RepCol {m['repcol']:.1%}")
            elif metric == "qa" and m.get("n_scored"):
                parts.append(f"QA accuracy {m['accuracy']:.1%}")
        failures = len(s["judge_failures"])
        bad_captions = len(s["failed_captions"])
        typer.echo(f"{s['name']}: " + "; ".join(parts or ["nothing scored"])
                   + (f"; {failures} judge failures" if failures else "")
                   + (f"; {bad_captions} failed captions" if bad_captions else ""))
        if failures:
            first = s["judge_failures"][0]
            typer.echo(f"{s['name']}: first judge failure ({printable(first['id'])}, {first['metric']}): "
                       f"{printable(first['cause'])}", err=True)
            code = 1
        if not parts:
            why = "every caption failed" if bad_captions and not failures else "no item could be judged"
            typer.echo(f"{s['name']}: nothing was scored ({why})", err=True)
            code = 1
    stats = outcome.stats
    waited = outcome.rate_limit_wait_s
    tokens = report.get("tokens", {})
    cost = f", est. ${tokens['cost_usd']:.4f}" if tokens.get("cost_usd") is not None else ""
    typer.echo(f"judge calls this run: {stats.calls} ({stats.cache_hits} cached, {stats.retries} retries, "
               f"{stats.reasks} re-asks) in {outcome.wall_s:.1f}s"
               + (f", {waited:.1f}s paced by the rate limits" if waited else "")
               + f"; tokens {tokens.get('prompt', 0)} prompt + {tokens.get('completion', 0)} completion{cost}")
    typer.echo(f"wrote {outcome.report_path} and {outcome.html_path}")
    return code


def register(app: typer.Typer) -> None:
    app.command("eval", help=_HELP, no_args_is_help=True)(eval_command)
