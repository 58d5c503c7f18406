"""Host CPU time of one dispatch of a donated jitted call, against the number of arrays it takes.

    PYTHONPATH=. python bench/dispatch.py [--arrays 5 20 40 80]

Each call updates N small float32 arrays (the state's leaves, donated) and runs a 512x512 matmul
chain that keeps it in flight; the dispatch is timed (`time.thread_time`) while the previous call
still runs, as in the training loop. The SAC state has 75 arrays (docs/performance.md, "What the
host's work costs the update"). Then the same for the SAC state itself at Humanoid sizes: the
update (`update_steps`, K = 1) against an identity over the same state and batch, each dispatched
onto an idle device and with a call in flight, to separate what the arrays cost from what the
program costs.
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp

from bench.speed import SIZES, random_batch
from sac_jax import create_state, default_config, update_steps
from sac_jax.hostmem import reuse_freed_memory


def dispatch_us(step, state, arg, calls: int = 100) -> tuple[float, float]:
    """Median main-thread CPU microseconds of one dispatch of `state, out = step(state, arg)` (the
    state donated) onto an idle device, and with the previous call still in flight."""
    state, out = step(state, arg)  # compile
    jax.block_until_ready(out)
    idle, in_flight = [], []
    for _ in range(calls):
        cpu = time.thread_time()
        state, _ = step(state, arg)
        idle.append(time.thread_time() - cpu)
        cpu = time.thread_time()
        state, out = step(state, arg)
        in_flight.append(time.thread_time() - cpu)
        jax.block_until_ready(out)
    return statistics.median(idle) * 1e6, statistics.median(in_flight) * 1e6


def arrays_step(num_arrays: int):
    """A donated call on `num_arrays` small arrays whose 512x512 matmul chain keeps it in flight."""
    step = jax.jit(lambda leaves, m: ([x + 1 for x in leaves], m @ m @ m @ m), donate_argnums=0)
    return step, [jnp.ones(1000) for _ in range(num_arrays)], jnp.ones((512, 512))


def identity(state, batch):
    """Every leaf of the state computed anew (so donation aliases it, as in the update)."""
    return jax.tree.map(lambda x: x + jnp.zeros((), x.dtype), state), batch.reward.sum()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arrays", type=int, nargs="+", default=[5, 20, 40, 80])
    p.add_argument("--rounds", type=int, default=2)
    args = p.parse_args()
    reuse_freed_memory()  # as train() does for one run
    steps = {"identity": jax.jit(identity, donate_argnums=0), "update_steps": update_steps}
    batch = jax.device_put(random_batch(*SIZES["Humanoid"], 1))
    for r in range(args.rounds):
        print(f"round {r + 1}, call in flight: "
              + ", ".join(f"{n} arrays {dispatch_us(*arrays_step(n))[1]:.0f} us" for n in args.arrays))  # fmt: skip
        for name, step in steps.items():
            state = create_state(default_config(), *SIZES["Humanoid"])
            idle, in_flight = dispatch_us(step, state, batch)
            print(f"  SAC state at Humanoid sizes, {name}: idle device {idle:.0f} us, call in flight {in_flight:.0f} us")


if __name__ == "__main__":
    main()
