"""Aggregate env steps/s and peak memory: N seeds in one process vs N concurrent processes.

    PYTHONPATH=. python bench/seeds.py --env Pendulum-v1 --seeds 1 4 8 [--steps 2000] [--cpu-devices 2]

Every measurement is a fresh subprocess (`--child`), so each has its own peak RSS and compile.
The rate is loop steps/s over the update phase (after learning_starts, first interval dropped as
compile time, last interval dropped as it holds the final evaluation). The aggregate is seeds x
rate for one process and the sum of the N rates for N processes; per seed = aggregate / seeds,
and the hours 1M env steps take per seed at that rate (evaluations add to it).

It runs on whatever device JAX finds. On a GPU (`pip install -e . "jax[cuda12]"`) the children
do not preallocate device memory (`XLA_PYTHON_CLIENT_PREALLOCATE=false` unless set), so N
processes can share one GPU, and the table adds XLA's peak device allocations. For Humanoid at
8 seeds on one GPU, as in docs/scaling.md:
`CUDA_VISIBLE_DEVICES=0 python bench/seeds.py --env Humanoid-v5 --seeds 1 8 --steps 20000 --rounds 2`.
With `--cpu-devices D`, each N > 1 is also run in one process whose CPU is split into D XLA
devices (`--xla_force_host_platform_device_count`), the seeds sharded over them.
Prints the CPU, the load average before and after, and a Markdown table of measurements and ratios.
"""

import argparse
import csv
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile

LOG_INTERVAL = 250


def bench_config(env_id: str, steps: int, num_seeds: int, seed: int):
    from sac_jax.config import default_config

    c = default_config()  # SAC's own sizes: 256x256 MLPs, batch 256
    c.env_id, c.seed, c.num_seeds = env_id, seed, num_seeds
    c.total_steps, c.learning_starts, c.log_interval = steps, steps // 4, LOG_INTERVAL
    c.eval_interval, c.eval_episodes = steps, 1
    c.checkpoint_interval, c.checkpoint_buffer = steps, False
    return c


def child(env_id: str, steps: int, num_seeds: int, seed: int) -> None:
    import jax

    from sac_jax.loop import train

    config = bench_config(env_id, steps, num_seeds, seed)
    with tempfile.TemporaryDirectory() as workdir:
        train(config, workdir, quiet=True)
        with open(os.path.join(workdir, "train.csv"), newline="") as f:
            rows = [r for r in csv.DictReader(f) if r["seed"] == str(seed)]
    first, last = config.learning_starts + 2 * LOG_INTERVAL, steps - LOG_INTERVAL
    rates = [float(r["steps_per_sec"]) for r in rows if first <= int(r["step"]) <= last]
    device = jax.local_devices()[0]
    peak = (device.memory_stats() or {}).get("peak_bytes_in_use")  # None on CPU
    print(
        json.dumps(
            {
                "rate": sum(rates) / len(rates),
                "rss_mb": peak_rss_mb(),
                "device_mb": None if peak is None else peak / 2**20,
                "device": f"{jax.device_count()} x {device.device_kind}",
            }
        )
    )


def peak_rss_mb() -> float:
    """This process's peak RSS since exec (VmHWM). Not ru_maxrss: Linux carries that over exec from
    the parent, so a child of a large benchmark process would report the parent's peak."""
    with open("/proc/self/status") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    return kib / 1024


def launch(
    env_id: str, steps: int, num_seeds: int, seed: int, devices: int = 1
) -> subprocess.Popen:
    cmd = [
        sys.executable,
        __file__,
        "--child",
        "--env",
        env_id,
        "--steps",
        str(steps),
        "--seeds",
        str(num_seeds),
        "--seed",
        str(seed),
    ]
    env = {"XLA_PYTHON_CLIENT_PREALLOCATE": "false", **os.environ}  # N processes share one GPU
    if devices > 1:
        env["XLA_FLAGS"] = (
            f"{env.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}"
        )
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)


def results(procs) -> list[dict]:
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"a benchmark child failed: {outs}")
    return [json.loads(out.strip().splitlines()[-1]) for out in outs]


def cpu_name() -> str:
    with open("/proc/cpuinfo") as f:
        names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    return f"{names[0]} x {len(names)} logical CPUs" if names else platform.processor()


def load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def measure(
    env_id: str, counts: list[int], steps: int, rounds: int = 1, cpu_devices: int = 1
) -> list[dict]:
    """For each N in `counts`: N seeds in one process and (N > 1) N one-seed processes at once, and
    with cpu_devices D > 1 (N > 1, a multiple of D) N seeds in one process on D CPU devices.

    The machine is shared and its load drifts over minutes, so the settings are interleaved: each
    round measures every setting once, odd rounds in reverse order, and a row reports the median
    round (and the range) of its setting.
    """
    if cpu_devices > 1 and any(n > 1 and n % cpu_devices for n in counts):
        raise SystemExit(
            f"--cpu-devices {cpu_devices} must divide every seed count > 1, got {counts}"
        )
    split = f"one process, {cpu_devices} devices"
    settings = []
    for n in counts:
        settings.append((n, "one process"))
        if n > 1:
            settings += [(n, split)] * (cpu_devices > 1) + [(n, f"{n} processes")]
    samples = {s: [] for s in settings}
    for r in range(rounds):
        for n, how in settings if r % 2 == 0 else settings[::-1]:
            one = how.startswith("one process")
            devices = cpu_devices if how == split else 1
            procs = (
                [launch(env_id, steps, n, 0, devices)]
                if one
                else [launch(env_id, steps, 1, s) for s in range(n)]
            )
            rs = results(procs)
            on_device = rs[0]["device_mb"] is not None  # all or none: one machine
            samples[n, how].append(
                dict(
                    aggregate=sum(x["rate"] * (n if one else 1) for x in rs),
                    rss_mb=sum(x["rss_mb"] for x in rs),
                    device_mb=sum(x["device_mb"] for x in rs) if on_device else None,
                    device=rs[0]["device"],
                )
            )
    rows = []
    for (n, how), runs in samples.items():
        aggregates = [run["aggregate"] for run in runs]
        on_device = runs[0]["device_mb"] is not None
        rows.append(
            dict(
                env=env_id,
                seeds=n,
                how=how,
                aggregate=statistics.median(aggregates),
                low=min(aggregates),
                high=max(aggregates),
                rss_mb=statistics.median(run["rss_mb"] for run in runs),
                device_mb=statistics.median(run["device_mb"] for run in runs)
                if on_device
                else None,
                device=runs[0]["device"],
                per_round=aggregates,
            )
        )
    base = rows[0]["aggregate"]  # counts[0] seeds in one process, normally 1
    for row in rows:
        row["vs_one"] = row["aggregate"] / base
    return rows


def table(rows: list[dict]) -> list[str]:
    """Markdown rows; the device memory column only where the settings measured it (a GPU)."""
    first = f"{rows[0]['seeds']} seed" + "s" * (rows[0]["seeds"] > 1)  # the base of the "vs" column
    on_device = rows[0]["device_mb"] is not None
    lines = [
        f"| env | seeds | how | aggregate env steps/s (median, range) | per seed | vs {first} | "
        "hours per 1M steps per seed | peak RSS (MB, summed) |"
        + " XLA peak device MB (summed) |"
        * on_device,
        "|---|---|---|---|---|---|---|---|" + "---|" * on_device,
    ]
    for r in rows:
        per_seed = r["aggregate"] / r["seeds"]
        lines.append(
            f"| {r['env']} | {r['seeds']} | {r['how']} | "
            f"{r['aggregate']:,.0f} ({r['low']:,.0f}-{r['high']:,.0f}) | "
            f"{per_seed:,.0f} | {r['vs_one']:.2f}x | {1e6 / per_seed / 3600:.1f} | {r['rss_mb']:,.0f} |"
            + (f" {r['device_mb']:,.0f} |" if on_device else "")
        )
    return lines


def ratios_by_round(rows: list[dict]) -> dict[tuple[str, int, str, str], list[float]]:
    """Aggregate ratios by round, per N > 1, keyed (env, N, setting, base): one process over N
    processes, and (with --cpu-devices) one process on several devices over one process and over
    N processes. Each round measures the settings back to back, so drift hits both alike."""
    per_round = {(r["env"], r["seeds"], r["how"]): r["per_round"] for r in rows}
    ratios = {}
    for (env, n, how), rounds in per_round.items():
        if n == 1 or how.endswith("processes"):
            continue
        for base in (
            [f"{n} processes"] if how == "one process" else ["one process", f"{n} processes"]
        ):
            ratios[env, n, how, base] = [a / b for a, b in zip(rounds, per_round[env, n, base])]
    return ratios


def round_ratios(rows: list[dict]) -> list[str]:
    return [
        f"{env}, {n} seeds, {how} / {base} by round: " + ", ".join(f"{x:.2f}x" for x in ratios)
        for (env, n, how, base), ratios in ratios_by_round(rows).items()
    ]


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--env", default="Pendulum-v1")
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 4, 8])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=3, help="interleaved measurements of each setting")
    p.add_argument(
        "--cpu-devices",
        type=int,
        default=1,
        help="also run N seeds in one process split over this many CPU devices",
    )
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        return child(args.env, args.steps, args.seeds[0], args.seed)

    print(
        f"{cpu_name()}, {args.env}, {args.steps} steps (updates after {args.steps // 4})\n\n"
        f"before: {load()}\n"
    )
    rows = measure(args.env, args.seeds, args.steps, args.rounds, args.cpu_devices)
    print(f"devices: {', '.join(sorted({r['device'] for r in rows}))}\n")
    print("\n".join(table(rows) + [""] + round_ratios(rows)))
    print(f"\nafter: {load()}")


if __name__ == "__main__":
    main()
