"""Speed benchmark, from the repository root: python -m bench.speed [--quick] [--no-write] [--seed-rounds N]

Measures, in one run on this machine: the matmul ceiling, the FLOPs of one update and the fraction
of the ceiling it reaches; update throughput (single and fused) against a PyTorch reference;
end-to-end `train.py` env steps/s against the bare update rate; cold and warm start time with the
persistent compilation cache; peak memory and replay bytes per transition; and (full runs) 1, 4
and 8 seeds in one process against as many concurrent processes (`bench/seeds.py`). It reports
measurements and the ratios between them, nothing else. The machine may be shared, so rates are
medians over interleaved rounds, and the ratios are taken inside this run.
Prints a table and rewrites the generated section of docs/performance.md.
"""

import argparse
import csv
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np

from bench import seeds
from bench.docs import rewrite_section
from sac_jax import (
    Batch,
    ReplayBuffer,
    create_state,
    default_config,
    select_action,
    update_step,
    update_steps,
)
from sac_jax.envs import make_env
from sac_jax.hostmem import reuse_freed_memory

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "performance.md")
SIZES = {"Humanoid": (348, 17), "HalfCheetah": (17, 6)}
ENV_IDS = {"Humanoid": "Humanoid-v5", "HalfCheetah": "HalfCheetah-v5"}
BATCH, HIDDEN = 256, 256
SEED_ENVS, SEED_STEPS = ("HalfCheetah-v5", "Pendulum-v1"), 3000


# ---- timing -----------------------------------------------------------------------------------


def timed(run, seconds: float) -> float:
    """Units/s of `run(n) -> units`, called in chunks sized to ~`seconds` (each chunk blocks)."""
    n, done, elapsed = 1, 0, 0.0
    while elapsed < seconds:
        t = time.perf_counter()
        done += run(n)
        dt = time.perf_counter() - t
        elapsed += dt
        n = max(1, min(4 * n, int(n * (seconds - elapsed) / max(dt, 1e-6)) + 1))
    return done / elapsed


def interleaved(items: dict, rounds: int, seconds: float) -> dict:
    """Median rate of each item over `rounds`, the items taking turns so load drift hits all."""
    rates = {name: [] for name in items}
    for _ in range(rounds):
        for name, run in items.items():
            rates[name].append(timed(run, seconds))
    return {name: statistics.median(r) for name, r in rates.items()}


# ---- workloads --------------------------------------------------------------------------------


def matmul_runner(n: int):
    """Square float32 matmuls chained in one dispatch (~1 GFLOP), for the machine's ceiling."""
    a = jax.random.normal(jax.random.PRNGKey(0), (n, n)) / np.sqrt(n)
    length = max(1, 2**30 // (2 * n**3))
    f = jax.jit(lambda x: jax.lax.fori_loop(0, length, lambda _, y: y @ a, x))
    f(a).block_until_ready()

    def run(k):
        for _ in range(k):
            out = f(a)
        out.block_until_ready()
        return k * length * 2 * n**3 / 1e9

    return run


def layer_chain_runner(obs_dim: int, act_dim: int, length: int = 32):
    """The update's own matmul shapes (B x in x H, B x H x H, B x H x in), chained in one loop."""
    d = obs_dim + act_dim
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    x = jax.random.normal(keys[0], (BATCH, d))
    w1 = jax.random.normal(keys[1], (d, HIDDEN)) / np.sqrt(d)
    w2 = jax.random.normal(keys[2], (HIDDEN, HIDDEN)) / np.sqrt(HIDDEN)

    def body(_, x):
        h = jax.nn.relu(jax.nn.relu(x @ w1) @ w2)
        return x + 1e-3 * (h @ w1.T)

    f = jax.jit(lambda x: jax.lax.fori_loop(0, length, body, x))
    f(x).block_until_ready()
    flops = length * 2 * BATCH * (2 * d * HIDDEN + HIDDEN * HIDDEN)

    def run(k):
        for _ in range(k):
            out = f(x)
        out.block_until_ready()
        return k * flops / 1e9

    return run


def random_batch(obs_dim: int, act_dim: int, k: int | None = None) -> Batch:
    rng = np.random.default_rng(0)
    shape = (BATCH,) if k is None else (k, BATCH)
    return Batch(
        obs=rng.standard_normal((*shape, obs_dim), np.float32),
        action=rng.uniform(-1, 1, (*shape, act_dim)).astype(np.float32),
        reward=rng.standard_normal(shape, np.float32),
        next_obs=rng.standard_normal((*shape, obs_dim), np.float32),
        terminated=(rng.random(shape) < 0.01).astype(np.float32),
    )


def jax_runners(obs_dim: int, act_dim: int, ks=(1, 4, 16)) -> dict:
    """`update_step` (state kept) and `update_steps` with K fused updates (state donated)."""
    config = default_config()
    state = create_state(config, obs_dim, act_dim)
    batch = jax.device_put(random_batch(obs_dim, act_dim))
    jax.block_until_ready(update_step(state, batch))

    def single(n):
        for _ in range(n):
            out = update_step(state, batch)
        jax.block_until_ready(out)
        return n

    runners = {"update_step": single}
    for k in ks:
        runners[f"update_steps K={k}"] = fused_runner(obs_dim, act_dim, k)
    return runners


def fused_runner(obs_dim: int, act_dim: int, k: int, config=None):
    """`run(n)`: n calls of `update_steps` (K fused updates, the state donated) on one batch set,
    blocking at the end; returns n K. `config`: the update's (default: SAC's defaults)."""
    holder = [create_state(config or default_config(), obs_dim, act_dim)]
    batches = jax.device_put(random_batch(obs_dim, act_dim, k))
    holder[0], _ = update_steps(holder[0], batches)  # compile

    def run(n):
        for _ in range(n):
            holder[0], metrics = update_steps(holder[0], batches)
        jax.block_until_ready(metrics)
        return n * k

    return run


def torch_runners(obs_dim: int, act_dim: int) -> dict:
    """The PyTorch reference at 2 threads and at 1 thread (often its best on a loaded machine)."""
    import torch

    from bench.torch_sac import TorchSAC

    agent = TorchSAC(obs_dim, act_dim)
    batch = [torch.from_numpy(np.asarray(x)) for x in random_batch(obs_dim, act_dim)]

    def with_threads(threads):
        def run(n):
            torch.set_num_threads(threads)
            for _ in range(n):
                agent.update(*batch)
            return n

        return run

    with_threads(2)(1)
    return {"torch 2 threads": with_threads(2), "torch 1 thread": with_threads(1)}


def update_flops_counted(obs_dim: int, act_dim: int, num_critics: int = 2) -> float:
    """Matmul FLOPs of one update from layer sizes (2 per multiply-add), batch BATCH.

    Forward passes: actor on s' and target ensemble on (s', a') for the backup; ensemble on (s, a)
    for J_Q; actor on s and ensemble on (s, a~) for J_pi. Backward passes: J_Q needs weight grads
    of every critic layer and input grads of all but the first; J_pi needs input grads through the
    ensemble (to a~) and weight grads of the actor plus its input grads past the first layer.
    """
    h = HIDDEN
    actor = obs_dim * h + h * h + h * 2 * act_dim
    critic = num_critics * ((obs_dim + act_dim) * h + h * h + h)
    critic_inner = num_critics * (h * h + h)
    macs = (
        actor
        + critic  # backup
        + critic
        + critic
        + critic_inner  # J_Q forward, weight grads, inner input grads
        + actor
        + critic
        + critic_inner
        + num_critics * act_dim * h  # J_pi forward, grad to a~
        + actor
        + (h * h + h * 2 * act_dim)  # actor weight grads, inner input grads
    )
    return 2.0 * BATCH * macs


def update_flops_xla(obs_dim: int, act_dim: int) -> float:
    state = create_state(default_config(), obs_dim, act_dim)
    analysis = update_step.lower(state, random_batch(obs_dim, act_dim)).compile().cost_analysis()
    if isinstance(analysis, list):
        analysis = analysis[0]
    return float(analysis["flops"])


def loop_piece_ms(env_id: str, obs_dim: int, act_dim: int, seconds: float) -> dict:
    """Milliseconds of each piece of a training-loop step other than the update, in isolation."""
    env = make_env(env_id, 0)
    buffer = ReplayBuffer(100_000, obs_dim, act_dim)
    obs, _ = env.reset(seed=0)
    action = np.zeros(act_dim, np.float32)

    def env_step():
        nonlocal obs
        next_obs, reward, terminated, truncated, _ = env.step(action)
        buffer.add(obs, action, reward, terminated, truncated, next_obs)
        obs = env.reset()[0] if terminated or truncated else next_obs

    for _ in range(1000):
        env_step()
    actor = create_state(default_config(), obs_dim, act_dim).actor
    explore = jax.jit(
        lambda actor, o, t: select_action(actor, o, jax.random.fold_in(jax.random.PRNGKey(0), t))
    )
    batch = buffer.sample(BATCH, 1)
    # As the loop passes it: NumPy into a jitted function, which places it on the device.
    to_device = jax.jit(lambda b: jax.tree.map(lambda x: x[0, 0], b))
    pieces = {
        "env.step + buffer.add": env_step,
        "buffer.sample": lambda: buffer.sample(BATCH, 1),
        "batch to device": lambda: jax.block_until_ready(to_device(batch)),
        "exploration action": lambda: np.asarray(explore(actor, obs.astype(np.float32), 1)),
    }
    pieces["exploration action"](), pieces["batch to device"]()  # compile

    def repeat(piece):
        def run(n):
            for _ in range(n):
                piece()
            return n

        return run

    return {name: 1e3 / timed(repeat(piece), seconds) for name, piece in pieces.items()}


# ---- subprocesses: end to end and start time ----------------------------------------------------


def env_config(env_id: str) -> str:
    """The shipped config file of a task: configs/walker2d.py for Walker2d-v5."""
    return os.path.join(ROOT, "configs", env_id.split("-")[0].lower() + ".py")


def run_train(config: str, workdir: str, cache_dir: str, overrides: dict) -> tuple[float, int]:
    """Run train.py with a config file to completion; returns (wall seconds, peak RSS KiB of that
    process)."""
    cmd = [
        sys.executable,
        os.path.join(ROOT, "train.py"),
        "--config",
        config,
        "--workdir",
        workdir,
        f"--compilation_cache_dir={cache_dir}",
    ]
    cmd += [f"--config.{k}={v}" for k, v in overrides.items()]
    env = {**os.environ, "PYTHONPATH": ROOT + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log_path = workdir + ".log"
    with open(log_path, "w") as log:
        t = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=os.path.dirname(workdir), stdout=log, stderr=log)
        _, status, usage = os.wait4(proc.pid, 0)  # wait4, not wait: it also gives the peak RSS
        wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        with open(log_path) as log:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{log.read()[-3000:]}")
    return wall, usage.ru_maxrss


def end_to_end(
    name: str, tmp: str, run: int, log_interval: int, warmup: int, intervals: int
) -> tuple[float, int]:
    """Env steps/s in steady state: over `intervals` log intervals that start `warmup` intervals
    after learning starts (the first compiles the update, and early episodes are short, so resets
    are frequent) and end one interval before the run does (the last one evaluates)."""
    starts = 1000
    first = starts + warmup * log_interval
    total = first + (intervals + 1) * log_interval
    workdir = os.path.join(tmp, f"e2e_{name}_{run}")
    _, rss = run_train(
        env_config(ENV_IDS[name]),
        workdir,
        os.path.join(tmp, "cache_e2e"),
        {
            "learning_starts": starts,
            "total_steps": total,
            "log_interval": log_interval,
            "eval_interval": total,
            "eval_episodes": 1,
        },
    )
    return steady_steps_per_sec(workdir, first, total, log_interval), rss


def steady_steps_per_sec(workdir: str, first: int, total: int, log_interval: int) -> float:
    """Env steps/s of a finished run over its log intervals after step `first` and before the last
    one (`total`, which evaluates): time-weighted, from train.csv (one rate per step, shared by
    the seeds of a run)."""
    with open(os.path.join(workdir, "train.csv")) as f:
        rates = {
            int(r["step"]): float(r["steps_per_sec"])
            for r in csv.DictReader(f)
            if first < int(r["step"]) < total
        }
    if not rates:
        raise ValueError(f"{workdir}/train.csv has no log step in ({first}, {total})")
    return len(rates) * log_interval / sum(log_interval / rate for rate in rates.values())


def start_times(tmp: str) -> dict:
    """Wall time of a whole train.py run that stops right after its first update (Humanoid
    default config, one random step, one update, one eval episode): cold, then warm cache."""
    cache = os.path.join(tmp, "cache_start")
    out = {}
    for label in ("cold", "warm"):
        out[label], _ = run_train(
            env_config("Humanoid-v5"),
            os.path.join(tmp, f"start_{label}"),
            cache,
            {
                "learning_starts": 1,
                "total_steps": 2,
                "eval_interval": 2,
                "eval_episodes": 1,
            },
        )
    return out


def compile_seconds(obs_dim: int, act_dim: int) -> float:
    """In-process XLA compile of `update_steps` (K=1) with no persistent cache. The caches are
    cleared first: the throughput runs above compiled this very program."""
    state = create_state(default_config(), obs_dim, act_dim)
    jax.clear_caches()
    t = time.perf_counter()
    update_steps.lower(state, random_batch(obs_dim, act_dim, 1)).compile()
    return time.perf_counter() - t


def replay_bytes(obs_dim: int, act_dim: int, episode_length: int = 1000) -> tuple[float, float]:
    """(bytes per transition of ReplayBuffer, of the naive obs + next_obs layout), 1M rows.

    The compact buffer spends one extra row per episode; np.zeros pages are lazy, so building the
    1M-row buffer to read `nbytes` costs no memory.
    """
    rows = 1_000_000
    per_row = ReplayBuffer(rows, obs_dim, act_dim).nbytes / rows
    naive = (
        4 * (2 * obs_dim + act_dim + 2) + 1
    )  # obs, next_obs, action, reward, terminated, truncated
    return per_row * (1 + 1 / episode_length), float(naive)


# ---- report -----------------------------------------------------------------------------------


def machine() -> dict:
    model = platform.processor() or "unknown"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    import flax

    versions = f"jax {jax.__version__}, flax {flax.__version__}, numpy {np.__version__}"
    try:
        import torch

        versions += f", torch {torch.__version__}"
    except ImportError:
        pass
    return {
        "cpu": f"{model}, {os.cpu_count()} cores",
        "versions": versions,
        "python": platform.python_version(),
    }


def load() -> str:
    return "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())


def seed_ratio_rows(seed_rows: list[dict]) -> list[tuple[str, str]]:
    """One process over N processes for each N > 1: the median of the per-round ratios, and their
    range."""
    return [
        (
            f"{env}: {n} seeds in one process / {base}, median of rounds (range)",
            f"{statistics.median(r):.2f} ({min(r):.2f}-{max(r):.2f})",
        )
        for (env, n, how, base), r in seeds.ratios_by_round(seed_rows).items()
        if how == "one process"
    ]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and shorter runs")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the docs alone")
    parser.add_argument(
        "--seed-rounds",
        type=int,
        default=2,
        help="interleaved rounds of the seeds comparison (full runs)",
    )
    args = parser.parse_args()
    if args.seed_rounds < 1:
        parser.error(f"--seed-rounds must be at least 1, got {args.seed_rounds}")
    reuse_freed_memory()  # as train() does for one run, so bare and end-to-end rates compare
    rounds, seconds = (2, 1.0) if args.quick else (5, 2.0)
    log_interval, warmup, intervals, e2e_runs = (500, 2, 3, 1) if args.quick else (500, 4, 6, 2)
    load_before = load()
    rows: list[tuple[str, str]] = []
    tmp = tempfile.mkdtemp(prefix="sac_jax_bench_")

    ceiling_items = {f"matmul {n}": matmul_runner(n) for n in (512, 1024, 2048)}
    for name, (o, a) in SIZES.items():
        ceiling_items[f"layer shapes {name}"] = layer_chain_runner(o, a)
    ceiling = interleaved(ceiling_items, rounds, seconds)
    peak = max(ceiling[f"matmul {n}"] for n in (512, 1024, 2048))
    for n in (512, 1024, 2048):
        rows.append(
            (
                f"matmul {n}x{n} float32, chained in one dispatch (GFLOP/s)",
                f"{ceiling[f'matmul {n}']:.1f}",
            )
        )
    rows.append(("matmul ceiling: best of the above (GFLOP/s)", f"{peak:.1f}"))
    for name in SIZES:
        rate = ceiling[f"layer shapes {name}"]
        rows.append(
            (
                f"matmul chain at {name} layer shapes (GFLOP/s)",
                f"{rate:.1f} ({rate / peak:.2f} of ceiling)",
            )
        )

    ratios = {}
    for name, (o, a) in SIZES.items():
        flops_xla, flops_count = update_flops_xla(o, a), update_flops_counted(o, a)
        rates = interleaved({**jax_runners(o, a), **torch_runners(o, a)}, rounds, seconds)
        torch_best = max(rates["torch 2 threads"], rates["torch 1 thread"])
        rows.append(
            (
                f"{name}: FLOPs of one update (XLA / counted matmuls)",
                f"{flops_xla / 1e9:.3f} / {flops_count / 1e9:.3f} GFLOP",
            )
        )
        for label, rate in rates.items():
            rows.append(
                (
                    f"{name}: {label} (updates/s)",
                    f"{rate:.1f} = {rate * flops_xla / 1e9:.1f} GFLOP/s, "
                    f"{rate * flops_xla / 1e9 / peak:.2f} of ceiling",
                )
            )
        ratios[f"{name}: update_step / best torch"] = rates["update_step"] / torch_best
        ratios[f"{name}: fused K=16 fraction of ceiling"] = (
            rates["update_steps K=16"] * flops_xla / 1e9 / peak
        )

        bare_runner = jax_runners(o, a, ks=(1,))["update_steps K=1"]
        bare, e2e = [timed(bare_runner, 2 * seconds)], []
        for run in range(e2e_runs):  # bare, e2e, bare, e2e, bare: each e2e between two bare
            sps, rss = end_to_end(name, tmp, run, log_interval, warmup, intervals)
            e2e.append(sps)
            bare.append(timed(bare_runner, 2 * seconds))
        ratio = statistics.median(s / statistics.mean(bare[i : i + 2]) for i, s in enumerate(e2e))
        rows.append(
            (
                f"{name}: train.py env steps/s, steady state ({warmup * log_interval} to "
                f"{(warmup + intervals) * log_interval} steps after learning starts)",
                f"{statistics.median(e2e):.1f} (bare update_steps K=1 around it: "
                f"{statistics.median(bare):.1f}/s)",
            )
        )
        pieces = loop_piece_ms(ENV_IDS[name], o, a, seconds)
        rows.append(
            (
                f"{name}: loop pieces per env step besides the update (ms)",
                ", ".join(f"{k} {v:.3f}" for k, v in pieces.items())
                + f"; the update itself {1e3 / statistics.median(bare):.1f}",
            )
        )
        rows.append((f"{name}: train.py peak RSS (MiB)", f"{rss / 1024:.0f}"))
        ratios[f"{name}: end-to-end / bare update"] = ratio

    starts = start_times(tmp)
    rows.append(
        (
            "Humanoid: XLA compile of update_steps in-process, no cache (s)",
            f"{compile_seconds(*SIZES['Humanoid']):.1f}",
        )
    )
    rows.append(
        (
            "Humanoid: train.py start to first update + 1 eval episode, cold cache (s)",
            f"{starts['cold']:.1f}",
        )
    )
    rows.append(("Humanoid: same, warm persistent cache (s)", f"{starts['warm']:.1f}"))
    per_transition, naive = replay_bytes(*SIZES["Humanoid"])
    rows.append(
        (
            "Humanoid replay: bytes/transition compact vs naive",
            f"{per_transition:.0f} vs {naive:.0f} ({per_transition / naive:.2f}); "
            f"1M transitions {per_transition * 1e6 / 2**30:.2f} GiB vs {naive * 1e6 / 2**30:.2f} GiB",
        )
    )
    rows.append(
        (
            "benchmark process peak RSS (MiB)",
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f}",
        )
    )

    seed_rows = []  # N seeds in one process vs N processes (bench/seeds.py); full runs only
    if not args.quick:
        for env_id in SEED_ENVS:
            seed_rows += seeds.measure(env_id, [1, 4, 8], SEED_STEPS, rounds=args.seed_rounds)

    rows += [(label, f"{value:.2f}") for label, value in ratios.items()]
    rows += seed_ratio_rows(seed_rows)

    info = machine()
    command = "python -m bench.speed" + " --quick" * args.quick
    if not args.quick and args.seed_rounds != 2:
        command += f" --seed-rounds {args.seed_rounds}"
    header = [
        f"`{command}` on {info['cpu']}; Python {info['python']}, {info['versions']}.",
        f"Machine load: {load_before} at start, {load()} at end (shared machine: rates are medians "
        f"of {rounds} interleaved rounds; compare ratios, not absolute numbers).",
    ]
    table = ["| measurement | result |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows]
    text = "\n".join(header) + "\n\n" + "\n".join(table)
    if seed_rows:
        text += (
            f"\n\nSeeds in one process vs concurrent processes (`bench/seeds.py`, {SEED_STEPS} env "
            f"steps per run, updates from step {SEED_STEPS // 4}; {args.seed_rounds} interleaved "
            f"rounds, odd ones in reverse order):\n\n"
            + "\n".join(seeds.table(seed_rows) + [""] + seeds.round_ratios(seed_rows))
        )
    print(text)
    if not args.no_write:
        rewrite_section(DOC, "bench", text)


if __name__ == "__main__":
    main()
