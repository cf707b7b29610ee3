"""``avcap bench``: list the benchmarks, show a protocol, run one (or dry-run it), calibrate a judge."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

bench_app = typer.Typer(
    help=(
        "The field's audio-visual caption benchmarks, each scored by its own official protocol "
        "(judge, sampling, runs, failure rule), with the spread over judge runs, bootstrap "
        "intervals over videos and paired comparisons in report.json.\n\n"
        "Start with `avcap bench list`, then `avcap bench show NAME`."
    ),
    no_args_is_help=True,
)

_RUN_HELP = """Score a captions file on benchmark NAME by its official protocol; write OUT/report.json.

The protocol's judge model, sampling, runs and retries are the defaults; every flag that changes one is listed in report.json under "deviations". Judgments are cached in OUT/judge_cache.sqlite and unusable answers listed in OUT/failed_answers.jsonl: a re-run, or a run resumed after a crash, asks only what is missing (--retry-failed asks the unusable ones again). --dry-run prints the questions, cache hits, estimated tokens and cost, and asks nothing.

Exit status: 0 every item scored; 1 some items failed (judge failures, failed or missing captions; all listed in the report); 2 bad arguments or setup (no caption matches the data, the judge cannot be reached, the OUT folder is busy).

\b
Examples:
  avcap bench run salmonn2-testset --data testset/test.json --captions caps.jsonl \\
      --out reports/s2 --price-prompt 0.5 --price-completion 1.5 --dry-run
  avcap bench run salmonn2-testset --data testset/test.json --captions caps.jsonl --out reports/s2
  # a local judge through an OpenAI-compatible server (vLLM, llama.cpp), two captioners compared:
  avcap bench run dream-1k --data DREAM-1k.jsonl --captions a.jsonl --compare b.jsonl \\
      --judge-model Qwen/Qwen3-8B --judge-base-url http://localhost:8000/v1 --out reports/dream
"""


def _fail(message: str, code: int = 2) -> typer.Exit:
    typer.echo(f"avcap bench: {message}", err=True)
    return typer.Exit(code)


@bench_app.command("list")
def list_command() -> None:
    """List the benchmarks: name, metric, judge, runs and where to download the data.

    \b
    Examples:
      avcap bench list
      avcap bench show dream-1k
    """
    from avcap.eval.benchmarks import all_benchmarks

    for spec in all_benchmarks().values():
        typer.echo(f"{spec.name:26} {spec.title}")
        typer.echo(f"{'':26} judge {spec.judge.model}, {spec.runs} run{'s' if spec.runs > 1 else ''}; "
                   f"data: huggingface.co/datasets/{spec.hub_id}")


@bench_app.command("show")
def show_command(
    name: str = typer.Argument(..., help="A benchmark from `avcap bench list`."),
    as_json: bool = typer.Option(False, "--json", help="Print the whole definition as JSON."),
) -> None:
    """Print one benchmark's pinned protocol and where each detail comes from.

    \b
    Examples:
      avcap bench show salmonn2-testset
      avcap bench show vdc-detailed --json
    """
    from avcap.errors import AvcapError
    from avcap.eval.benchmarks import get_benchmark

    try:
        spec = get_benchmark(name)
    except AvcapError as err:
        raise _fail(str(err)) from None
    if as_json:
        typer.echo(json.dumps(spec.describe(), indent=1))
        return
    j = spec.judge
    typer.echo(f"{spec.name}: {spec.title}\n  data: {spec.data_hint}\n  download: huggingface.co/datasets/{spec.hub_id}")
    typer.echo(f"  metric: {spec.metric}")
    typer.echo(f"  judge: {j.model}; temperature {j.temperature if j.temperature is not None else 'server default'}"
               f", top-p {j.top_p if j.top_p is not None else 'server default'}, seed "
               f"{j.seed if j.seed is not None else 'none'} (+{j.seed_per_run}/run, +{j.seed_per_retry}/retry)")
    typer.echo(f"  runs: {spec.runs} ({spec.aggregation}); retries {spec.retries}"
               f"{', then a fallback prompt' if spec.fallback_prompt else ''}; failures: {spec.failure_rule}")
    for option, effect in spec.options:
        typer.echo(f"  --variant {option}: {effect}")
    typer.echo("  pinned details and their sources:")
    for detail, source in spec.sources:
        typer.echo(f"    - {detail}  [{source}]")
    for note in spec.notes:
        typer.echo(f"  note: {note}")


def _print_outcome(outcome) -> int:
    from avcap.cli.console import echo_capped, printable

    report = outcome.report
    for notice in report["notices"]:
        typer.echo(f"note: {printable(notice)}", err=True)
    for dev in report["deviations"]:
        typer.echo(f"deviation from the protocol: {dev}", err=True)
    echo_capped("skipped malformed row", report["data"]["errors"])
    for s in report["caption_sets"]:
        echo_capped(f"{s['name']}: skipped caption row", s["caption_file_errors"])
    spec = outcome.prepared.spec
    code = 0
    for s in report["caption_sets"]:
        h, key = s["headline"], spec.headline
        value = h.get(key)
        if value is None or not s["n_usable"]:
            typer.echo(f"{s['name']}: nothing scored")
            continue
        ci = s["interval"].get(key) or {}
        spread = s["across_runs"].get(key)
        line = f"{s['name']}: {key} {value:.4g}"
        if ci.get("low") is not None:
            line += f" [{ci['low']:.4g}, {ci['high']:.4g}] ({ci['level']:.0%} bootstrap over videos)"
        if spread and spread["n"] > 1:
            line += f"; run {s['reported_run']} of {spread['n']}, mean {spread['mean']:.4g} ± {spread['std']:.4g}"
        extra = {k: h[k] for k in outcome.prepared.protocol.KEYS if k != key and h.get(k) is not None}
        line += "".join(f"; {k} {v:.4g}" for k, v in extra.items())
        failures = sum(len(r["failures"]) for r in s["runs"])
        if failures:
            line += f"; {failures} judge failures over {len(s['runs'])} runs"
        if s["caption_failed"]:
            line += f"; {len(s['caption_failed'])} failed or missing captions"
        typer.echo(line)
        first = next((r["failures"][0] for r in s["runs"] if r["failures"]), None)
        if first is not None:
            typer.echo(f"{s['name']}: first judge failure ({printable(first['id'])}): {printable(first['cause'])}",
                       err=True)
        if failures or s["caption_failed"]:
            code = 1
    comp = report.get("compare")
    if comp and comp.get("metrics"):
        m = comp["metrics"].get(spec.headline)
        if m:
            typer.echo(f"{comp['a']} - {comp['b']}: {spec.headline} {m['difference']:+.4g} "
                       f"[{m['low']:.4g}, {m['high']:.4g}], p = {m['p_value']:.3g} "
                       f"(paired bootstrap over {comp['n_common_groups']} videos)")
    stats, tokens = outcome.stats, report["tokens"]
    line = (f"judge calls this run: {stats.calls} ({stats.cache_hits} cached, {stats.retries} resends); "
            f"tokens this run: {stats.prompt_tokens} prompt + {stats.completion_tokens} completion")
    prices = outcome.prepared.job.prices
    if prices is not None:
        line += f" = ${prices.cost(stats.prompt_tokens, stats.completion_tokens):.4f}"
    typer.echo(line + f"; report's judgments: {tokens['prompt']} + {tokens['completion']} tokens; {outcome.wall_s:.1f}s")
    typer.echo(f"wrote {outcome.report_path}")
    return code


@bench_app.command("run", help=_RUN_HELP, no_args_is_help=True)
def run_command(
    name: str = typer.Argument(..., help="A benchmark from `avcap bench list`."),
    data: Path = typer.Option(..., "--data", help="The benchmark's data file (or folder, for ugc-videocap)."),
    captions: Path = typer.Option(..., "--captions", help="Captions JSONL (`avcap caption` output, or the official pipelines' files)."),
    out: Path = typer.Option(..., "--out", help="Output folder: report.json, run.json, the judge cache."),
    compare: Path = typer.Option(None, "--compare", help="A second captions file: paired bootstrap test on the same videos."),
    judge: str = typer.Option("openai", "--judge", help="openai (any OpenAI-compatible server), hf (local transformers), scripted, symbolic."),
    judge_model: str = typer.Option(None, "--judge-model", help="Override the protocol's judge model (a deviation)."),
    judge_base_url: str = typer.Option(None, "--judge-base-url", help="OpenAI-compatible server, e.g. http://localhost:8000/v1."),
    api_key_env: str = typer.Option("OPENAI_API_KEY", "--api-key-env", help="Environment variable holding the API key."),
    runs: int = typer.Option(None, "--runs", help="Judge runs (default: the protocol's)."),
    retries: int = typer.Option(None, "--retries", help="Fresh questions after an unusable answer (default: the protocol's)."),
    temperature: float = typer.Option(None, "--temperature", help="Override the judge temperature."),
    top_p: float = typer.Option(None, "--top-p", help="Override top-p."),
    seed: int = typer.Option(None, "--seed", help="Override the base seed."),
    no_seed: bool = typer.Option(False, "--no-seed", help="Send no seed (for a server that rejects the field)."),
    no_fallback: bool = typer.Option(False, "--no-fallback", help="Skip the fallback prompt after the retries."),
    variant: str = typer.Option(None, "--variant", help="A named variant of the protocol (`avcap bench show NAME`)."),
    protocol_file: Path = typer.Option(None, "--protocol-file", help="The official evaluation script to read the judge prompt from (default: found beside --data)."),
    no_protocol_file: bool = typer.Option(False, "--no-protocol-file", help="Judge with avcap's own prompts even if the script is there."),
    protocol_prompt: str = typer.Option(None, "--protocol-prompt", help="Name of the prompt template in the script."),
    protocol_fallback: str = typer.Option(None, "--protocol-fallback", help="Name of the fallback template in the script."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap replicates over videos (0: no interval)."),
    level: float = typer.Option(0.95, "--level", help="Interval level."),
    bootstrap_seed: int = typer.Option(0, "--bootstrap-seed", help="Seed of the bootstrap draws."),
    concurrency: int = typer.Option(16, "--concurrency", help="Judge calls in flight at once."),
    timeout_s: float = typer.Option(120.0, "--timeout", help="Seconds before an HTTP judge call is resent."),
    max_attempts: int = typer.Option(6, "--max-attempts", help="Sends per question on 429/5xx/timeouts (same request, same seed)."),
    price_prompt: float = typer.Option(None, "--price-prompt", help="USD per 1M prompt tokens (dry-run estimate and actual cost)."),
    price_completion: float = typer.Option(None, "--price-completion", help="USD per 1M completion tokens."),
    cache: Path = typer.Option(None, "--cache", help="Judge cache file (default OUT/judge_cache.sqlite)."),
    device: str = typer.Option("cpu", "--device", help="Device for --judge hf."),
    sample: int = typer.Option(0, "--sample", help="Which sample index of the caption files to score."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Ask again the questions an earlier run found unusable (OUT/failed_answers.jsonl)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print calls, cache hits, tokens and cost; ask nothing."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    from avcap.cli.console import printable
    from avcap.errors import AvcapError
    from avcap.eval.benchmarks import Overrides, get_benchmark
    from avcap.eval.benchmarks.runner import AUTO, BenchJob, estimate, run_bench
    from avcap.eval.report_json import Prices
    from avcap.judge import BackendOptions, RetryPolicy

    try:
        spec, deviations = Overrides(
            judge_model=judge_model, temperature=temperature, temperature_set=temperature is not None, top_p=top_p,
            seed=seed, no_seed=no_seed, runs=runs, retries=retries, no_fallback=no_fallback, variant=variant,
        ).apply(get_benchmark(name))
        if protocol_file is not None and no_protocol_file:
            raise _fail("--protocol-file and --no-protocol-file exclude each other")
        job = BenchJob(
            spec=spec, data=data, captions=[captions, *([compare] if compare else [])], out=out,
            deviations=deviations, judge=judge,
            backend=BackendOptions(model=spec.judge.model, base_url=judge_base_url, api_key_env=api_key_env,
                                   timeout_s=timeout_s, device=device),
            concurrency=concurrency, retry=RetryPolicy(max_attempts=max_attempts), cache_path=cache,
            prices=None if price_prompt is None and price_completion is None
            else Prices(price_prompt or 0.0, price_completion or 0.0),
            protocol_file=None if no_protocol_file else (protocol_file or AUTO),
            prompt_name=protocol_prompt, fallback_name=protocol_fallback, variant=variant,
            n_boot=bootstrap, level=level, boot_seed=bootstrap_seed, sample=sample, retry_failed=retry_failed,
        )
        if dry_run:
            _print_estimate(estimate(job))
            return
        outcome = run_bench(job, progress=progress and sys.stderr.isatty())
    except (AvcapError, ValueError, OSError) as err:
        raise _fail(str(err)) from None
    except KeyboardInterrupt:
        raise _fail("interrupted; judgments so far are cached, run the same command again to resume", 130) from None
    code = _print_outcome(outcome)
    nothing = [s["name"] for s in outcome.report["caption_sets"] if s["headline"].get(spec.headline) is None]
    if nothing:
        # Nothing scored: a judge that could not be reached is a setup fault (2); captions that all
        # failed, or answers that were all unusable, are failed items (1).
        records = [rec for item in outcome.report["items"] for name in nothing for rec in item["results"][name]]
        failed = [rec for rec in records if rec.get("status") == "failed"]
        unreachable = bool(failed) and all(rec.get("transport") for rec in failed)
        cause = f": {printable(failed[0]['error'])}" if failed else ""
        raise _fail(f"nothing scored for {', '.join(nothing)}"
                    + (" (the judge could not be reached)" if unreachable else "") + cause, 2 if unreachable else 1)
    raise typer.Exit(code)


def _print_estimate(est: dict) -> None:
    for notice in est["notices"]:
        typer.echo(f"note: {notice}", err=True)
    for dev in est["deviations"]:
        typer.echo(f"deviation from the protocol: {dev}", err=True)
    typer.echo(f"{est['benchmark']} with {est['judge_model']}, {est['runs']} run(s): {est['questions']} questions, "
               f"{est['cached']} already in the cache, {est['to_ask']} to ask "
               f"(at most {est['max_questions_with_retries']} with every retry)")
    line = (f"estimated tokens: {est['estimated_prompt_tokens']} prompt + {est['estimated_completion_tokens']} completion")
    if est["estimated_cost_usd"] is not None:
        line += f" = ${est['estimated_cost_usd']:.4f} at ${est['prices_per_1m'][0]:g} / ${est['prices_per_1m'][1]:g} per 1M"
    else:
        line += " (give --price-prompt / --price-completion for a cost)"
    typer.echo(line)
    typer.echo(f"({est['method']}); nothing was asked")


@bench_app.command("calibrate", no_args_is_help=True)
def calibrate_command(
    local: Path = typer.Option(..., "--local", help="OUT folder (or report.json) of a run judged by the local judge."),
    reference: Path = typer.Option(..., "--reference", help="OUT folder (or report.json) of the same captions judged by the reference judge."),
    out: Path = typer.Option(None, "--out", help="Write the calibration as JSON here."),
    bootstrap: int = typer.Option(1000, "--bootstrap", help="Bootstrap replicates for the shift's interval."),
) -> None:
    """How far a local judge falls from a reference judge on the same captions.

    Per item: agreement of the scores (mean absolute difference, Pearson and Spearman
    correlation; for video-SALMONN 2 also per-event agreement and Cohen's kappa on "missing").
    In aggregate: the shift of each reported metric, local minus reference, with a paired
    bootstrap interval and p-value over the shared videos.

    \b
    Example:
      avcap bench run salmonn2-testset --data t.json --captions c.jsonl --out r/gpt
      avcap bench run salmonn2-testset --data t.json --captions c.jsonl --out r/qwen \\
          --judge-model Qwen/Qwen3-8B --judge-base-url http://localhost:8000/v1
      avcap bench calibrate --local r/qwen --reference r/gpt
    """
    from avcap.errors import AvcapError
    from avcap.eval.benchmarks.calibrate import calibrate, load_report

    try:
        result = calibrate(load_report(local), load_report(reference), n_boot=bootstrap)
    except (AvcapError, ValueError, OSError) as err:
        raise _fail(str(err)) from None
    typer.echo(f"{result['benchmark']}: {result['n_shared_items']} shared items; local {result['local_judge']} vs "
               f"reference {result['reference_judge']}")
    for key, m in result["shift"].items():
        typer.echo(f"  {key}: local {m['a']:.4g}, reference {m['b']:.4g}, shift {m['difference']:+.4g} "
                   f"[{m['low']:.4g}, {m['high']:.4g}], p = {m['p_value']:.3g}")
    for key, a in result["per_item"].items():
        parts = [f"mean |diff| {a['mean_abs_diff']:.4g}"]
        for name in ("pearson", "spearman"):
            if a.get(name) is not None:
                parts.append(f"{name} {a[name]:.3f}")
        typer.echo(f"  per item {key}: " + ", ".join(parts))
    for key, a in result.get("labels", {}).items():
        typer.echo(f"  per event '{key}': agreement {a['agreement']:.1%}, Cohen's kappa "
                   + (f"{a['kappa']:.3f}" if a["kappa"] is not None else "undefined") + f" over {a['n']} events")
    if out is not None:
        from avcap.data import atomic_write_json

        atomic_write_json(out, result)
        typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")
