"""Update cost per env step of the sample-efficient variants against SAC, from the repository root:

    python -m bench.variants [--env Walker2d-v5] [--rounds 5] [--seconds 2] [--no-write]

One env step of training is one `update_steps` call with the config's `num_critic_updates` fused
updates (the call the loop makes per env step), so its time is what a variant adds to every env
step. Timed here on random batches at the env's sizes: SAC's defaults, each config under
`configs/variants/`, and CrossQ at critic widths 256 to 2048. The rows take turns in every round,
so drift in the machine's speed hits them alike; each row's ratio to SAC is taken within a round,
and the table gives the median over rounds with their range. It rewrites the generated section of
docs/variants.md between the `variants:begin` and `variants:end` markers.
"""

import argparse
import importlib
import os
import statistics

from bench.docs import median_range, rewrite_section
from bench.speed import ROOT, fused_runner, machine, timed
from sac_jax import default_config
from sac_jax.envs import env_dims, make_env

DOC = os.path.join(ROOT, "docs", "variants.md")


def variant_configs() -> dict:
    """Row label -> config: SAC; TQC and DroQ as shipped, and DroQ without its dropout (what the
    masks cost); CrossQ at four critic widths (512 is the shipped config, 2048 the paper's)."""
    shipped = {
        name: importlib.import_module(f"configs.variants.{name}").get_config()
        for name in ("tqc", "droq", "crossq")
    }
    rows = {"SAC": default_config(), "TQC": shipped["tqc"], "DroQ": shipped["droq"]}
    rows["DroQ, no dropout"] = shipped["droq"].copy_and_resolve_references()
    rows["DroQ, no dropout"].critic_dropout = 0.0
    for width in (256, 512, 1024, 2048):
        config = shipped["crossq"].copy_and_resolve_references()
        config.critic_hidden_dims = (width, width)
        rows[f"CrossQ-{width}"] = config
    return rows


def critics(config) -> str:
    widths = config.critic_hidden_dims or config.hidden_dims
    out = f"{config.num_critics} x {'x'.join(map(str, widths))}"
    return out + (f", {config.num_quantiles} quantiles" if config.backup == "tqc" else "")


def measure(env_id: str, rounds: int, seconds: float) -> list[dict]:
    """One row per variant: ms per env step in each round, and its ratio to SAC in that round."""
    obs_dim, act_dim = env_dims(make_env(env_id, 0))
    configs = variant_configs()
    runners = {
        name: fused_runner(obs_dim, act_dim, c.num_critic_updates, c) for name, c in configs.items()
    }
    ms = {name: [] for name in configs}
    for _ in range(rounds):
        for name, run in runners.items():
            ms[name].append(1e3 * configs[name].num_critic_updates / timed(run, seconds))
    return [
        dict(
            variant=name,
            critics=critics(c),
            updates=c.num_critic_updates,
            ms=ms[name],
            ratio=[v / sac for v, sac in zip(ms[name], ms["SAC"])],
        )
        for name, c in configs.items()
    ]


def table(rows: list[dict], env_id: str, rounds: int, seconds: float) -> str:
    info = machine()
    lines = [
        f"Produced by `python -m bench.variants --env {env_id} --rounds {rounds} --seconds "
        f"{seconds:g}` on {info['cpu']}; Python {info['python']}, {info['versions']}. "
        f"{env_id} sizes, batch 256, {rounds} interleaved rounds.",
        "",
        "| variant | critics | updates per env step | ms per env step (median) "
        "| x SAC (median, range over rounds) |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['critics']} | {r['updates']} | "
            f"{statistics.median(r['ms']):.1f} | {median_range(r['ratio'])} |"
        )
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.variants", description=__doc__)
    parser.add_argument("--env", default="Walker2d-v5", help="env whose sizes the batches take")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds")
    parser.add_argument("--seconds", type=float, default=2.0, help="timing per row and round")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the docs alone")
    args = parser.parse_args(argv)
    if args.rounds < 1 or args.seconds <= 0:
        parser.error(f"--rounds must be >= 1 and --seconds > 0, got {args.rounds}, {args.seconds}")
    text = table(measure(args.env, args.rounds, args.seconds), args.env, args.rounds, args.seconds)
    print(text)
    if not args.no_write:
        rewrite_section(DOC, "variants", text)


if __name__ == "__main__":
    main()
