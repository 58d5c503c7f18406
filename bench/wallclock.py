"""Wall-clock time per env step of whole training runs, CrossQ against SAC, from the repository root:

    python -m bench.wallclock [--env Walker2d-v5] [--seeds 3] [--rounds 2] [--steps 3000] [--no-write]

`bench.variants` times the update alone, for one seed. A run also steps its envs, acts and fills
its buffer, and the CrossQ study's runs (docs/results/crossq.md) train 3 seeds in one process.
Here each row is a short `train.py` run of the env with `--seeds` seeds in one process: SAC with
the env's shipped config, CrossQ (`configs/variants/crossq.py`) at critic widths 256 and 512.
Its rate is read from train.csv over `--steps` env steps after learning starts, past the interval
that compiles and before the last, which evaluates: evaluation runs the same 256x256 actor in
every row, so a whole run's ratio lies a little closer to 1. The rows take turns in each round,
and each ratio to SAC is taken within a round. It rewrites the generated section of
docs/variants.md between the `wallclock:begin` and `wallclock:end` markers.
"""

import argparse
import os
import statistics
import tempfile

from bench.docs import median_range, rewrite_section
from bench.speed import ROOT, env_config, machine, run_train, steady_steps_per_sec

DOC = os.path.join(ROOT, "docs", "variants.md")
CROSSQ = os.path.join(ROOT, "configs", "variants", "crossq.py")
WIDTHS = (256, 512)
LEARNING_STARTS, LOG_INTERVAL = 1000, 500


def rows(env_id: str) -> dict[str, tuple[str, dict]]:
    """Row label -> (config file, overrides)."""
    out = {"SAC": (env_config(env_id), {})}
    for width in WIDTHS:
        overrides = {"env_id": env_id, "critic_hidden_dims": f"({width},{width})"}
        out[f"CrossQ-{width}"] = (CROSSQ, overrides)
    return out


def steps_per_sec(config: str, overrides: dict, seeds: int, steps: int, workdir: str) -> float:
    """Env steps/s (of each seed; the seeds step together) of one short run."""
    first = LEARNING_STARTS + LOG_INTERVAL  # the interval that compiles the update ends here
    total = first + steps + LOG_INTERVAL  # the last interval evaluates
    run_train(
        config,
        workdir,
        os.path.join(os.path.dirname(workdir), "compilation_cache"),
        {
            **overrides,
            "num_seeds": seeds,
            "learning_starts": LEARNING_STARTS,
            "total_steps": total,
            "log_interval": LOG_INTERVAL,
            "eval_interval": total,
            "eval_episodes": 1,
            "bias_episodes": 0,
            "checkpoint_interval": total,
        },
    )
    return steady_steps_per_sec(workdir, first, total, LOG_INTERVAL)


def measure(env_id: str, seeds: int, rounds: int, steps: int, tmp: str) -> list[dict]:
    """One row per config: env steps/s in each round, and SAC's rate over its rate (the wall-clock
    ratio) in that round."""
    configs = rows(env_id)
    rates = {name: [] for name in configs}
    for r in range(rounds):
        for name, (config, overrides) in configs.items():
            workdir = os.path.join(tmp, f"{name}_round{r}")
            rates[name].append(steps_per_sec(config, overrides, seeds, steps, workdir))
    return [
        dict(
            config=name, rates=rates[name], ratio=[s / v for v, s in zip(rates[name], rates["SAC"])]
        )
        for name in configs
    ]


def table(results: list[dict], env_id: str, seeds: int, rounds: int, steps: int) -> str:
    info = machine()
    lines = [
        f"Produced by `python -m bench.wallclock --env {env_id} --seeds {seeds} --rounds {rounds} "
        f"--steps {steps}` on {info['cpu']}; Python {info['python']}, {info['versions']}. "
        f"{seeds} seeds in one process, {steps} env steps timed per run, {rounds} interleaved rounds.",
        "",
        "| config | env steps/s (median) | x SAC wall-clock (median, range over rounds) |",
        "|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['config']} | {statistics.median(r['rates']):.1f} | {median_range(r['ratio'])} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.wallclock", description=__doc__)
    parser.add_argument("--env", default="Walker2d-v5", help="a task with a configs/ file")
    parser.add_argument("--seeds", type=int, default=3, help="seeds per run, in one process")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument("--steps", type=int, default=3000, help="env steps timed per run")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the docs alone")
    args = parser.parse_args(argv)
    if min(args.seeds, args.rounds) < 1 or args.steps < LOG_INTERVAL:
        parser.error(
            f"--seeds and --rounds must be >= 1 and --steps >= {LOG_INTERVAL}, "
            f"got {args.seeds}, {args.rounds}, {args.steps}"
        )
    if not os.path.exists(env_config(args.env)):
        parser.error(f"--env {args.env}: no config file {env_config(args.env)}")
    with tempfile.TemporaryDirectory() as tmp:
        results = measure(args.env, args.seeds, args.rounds, args.steps, tmp)
    text = table(results, args.env, args.seeds, args.rounds, args.steps)
    print(text)
    if not args.no_write:
        rewrite_section(DOC, "wallclock", text)


if __name__ == "__main__":
    main()
