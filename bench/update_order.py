"""What the update would gain if the policy step did not wait for the critic step.

    PYTHONPATH=. python bench/update_order.py [--size Humanoid] [--ks 1 16] [--rounds 8]

SAC's order (`sac_step`): the critic step, then the actor and temperature step against the updated
critic. The variant takes the actor and temperature step from the state before the critic step,
so the two steps share no data and XLA can run them side by side. It is a different update, not
adopted (docs/performance.md); this measures its speed only. The two orders take turns, odd rounds
reversed; printed: each order's median updates/s and the variant's ratio by round.
"""

import argparse
import statistics

import jax

from bench.speed import SIZES, fused_runner, timed
from sac_jax import (
    make_update_steps,
    normalize_batch,
    sac_step,
    update_actor,
    update_critic,
    update_target,
    update_temperature,
)
from sac_jax.hostmem import reuse_freed_memory


def pre_update_critic_step(state, batch):
    """`sac_step` with the actor and temperature stepped against the critic before its step."""
    batch = normalize_batch(state, batch)
    key, critic_key, actor_key = jax.random.split(state.key, 3)
    critic_state, critic_info = update_critic(state, batch, critic_key)
    policy_state, actor_info = update_actor(state, batch, actor_key)
    policy_state, temperature_info = update_temperature(policy_state, actor_info["entropy"])
    state = critic_state.replace(actor=policy_state.actor, temperature=policy_state.temperature)
    state = update_target(state)
    return state.replace(key=key, step=state.step + 1), {**critic_info, **actor_info, **temperature_info}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", choices=sorted(SIZES), default="Humanoid")
    p.add_argument("--ks", type=int, nargs="+", default=[1, 16])
    p.add_argument("--rounds", type=int, default=8)
    p.add_argument("--seconds", type=float, default=1.5, help="timed per order and round")
    args = p.parse_args()
    reuse_freed_memory()  # as train() does for one run
    for k in args.ks:
        runs = {
            name: fused_runner(make_update_steps(step_fn), *SIZES[args.size], k)
            for name, step_fn in [("sac_step", sac_step), ("pre-update critic", pre_update_critic_step)]
        }
        rates = {name: [] for name in runs}
        for r in range(args.rounds):
            for name in runs if r % 2 == 0 else reversed(runs):
                rates[name].append(timed(runs[name], args.seconds))
        ratios = [a / b for a, b in zip(rates["pre-update critic"], rates["sac_step"])]
        print(f"{args.size} K={k}: sac_step {statistics.median(rates['sac_step']):.1f} updates/s, pre-update critic "
              f"{statistics.median(rates['pre-update critic']):.1f}; ratio by round "
              + ", ".join(f"{x:.2f}x" for x in ratios) + f" (median {statistics.median(ratios):.2f}x)")  # fmt: skip


if __name__ == "__main__":
    main()
