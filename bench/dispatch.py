"""Host CPU time of one dispatch of a donated jitted call, against the number of arrays it takes.

    PYTHONPATH=. python bench/dispatch.py [--arrays 5 20 40 80]

Each call updates N small float32 arrays (the state's leaves, donated) and runs a 512x512 matmul
chain that keeps it in flight; the dispatch is timed (`time.thread_time`) while the previous call
still runs, as in the training loop. The SAC state has 75 arrays (docs/performance.md, "What the
host's work costs the update").
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp


def dispatch_us(num_arrays: int, calls: int = 200) -> float:
    """Median main-thread CPU microseconds of one dispatch with an earlier call in flight."""
    step = jax.jit(lambda leaves, m: ([x + 1 for x in leaves], m @ m @ m @ m), donate_argnums=0)
    leaves, m = [jnp.ones(1000) for _ in range(num_arrays)], jnp.ones((512, 512))
    leaves, out = step(leaves, m)  # compile
    jax.block_until_ready(out)
    samples = []
    for _ in range(calls):
        leaves, _ = step(leaves, m)  # in flight while the next one is dispatched
        cpu = time.thread_time()
        leaves, out = step(leaves, m)
        samples.append(time.thread_time() - cpu)
        jax.block_until_ready(out)
    return statistics.median(samples) * 1e6


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arrays", type=int, nargs="+", default=[5, 20, 40, 80])
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    for r in range(args.rounds):
        print(f"round {r + 1}: " + ", ".join(f"{n} arrays {dispatch_us(n):.0f} us" for n in args.arrays))


if __name__ == "__main__":
    main()
