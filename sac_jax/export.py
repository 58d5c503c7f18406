"""Export a checkpoint's deterministic policy as a self-contained `jax.export` artifact.

    python -m sac_jax.export --workdir DIR [--step N] --out policy.jaxexport [--platforms cpu,cuda]
    python -m sac_jax.export --workdir DIR [--step N] --out policy.onnx --format onnx

The artifact is one serialized StableHLO function, obs (b, obs_dim) -> action (b, action_dim),
float32, with the batch size b symbolic. The actor's weights, the observation statistics (runs
with normalize_obs), the tanh and the rescaling to the env's action bounds are all inside it, so
`sac_jax.load_exported` runs it with jax alone: no flax, no sac_jax, no checkpoint. With
`--format onnx` the same function is written as an ONNX model (the `onnx` extra).
"""

import argparse
import importlib.util
import logging
import sys

import jax
import jax.numpy as jnp

from sac_jax.acting import select_action
from sac_jax.checkpointing import CheckpointError
from sac_jax.policy import Policy, load_policy

PLATFORMS = ("cpu", "cuda")  # lowered for both, so one file runs on a CPU or an NVIDIA GPU
KNOWN_PLATFORMS = ("cpu", "cuda", "rocm", "tpu")  # jax.export lowers for these without the device


def export_policy(policy: Policy, platforms: tuple[str, ...] = PLATFORMS) -> bytes:
    """The serialized `jax.export` artifact of `policy`'s deterministic action (see module doc).

    Matches `policy(obs)` (deterministic) on any batch; `sac_jax.load_exported` reads it back.
    """
    return jax.export.export(_act(policy), platforms=platforms)(_obs_spec(policy)).serialize()


def export_onnx(policy: Policy) -> bytes:
    """The same function as an ONNX model (input "obs", output "action"), for ONNX runtimes.

    Needs the `onnx` extra (jax2onnx). jax2onnx cannot trace distrax's shape code, so it converts
    the traced jaxpr, whose symbolic batch dimension it keeps.
    """
    from jax.extend.core import jaxpr_as_fun
    from jax2onnx import to_onnx  # optional: python -m pip install -e ".[onnx]"

    # Its plugins for libraries not used here (dm_pix) fail to import on this jax, noisily.
    logging.getLogger("jax2onnx.plugins.plugin_system").setLevel(logging.ERROR)
    obs = _obs_spec(policy)
    jaxpr = jax.make_jaxpr(_act(policy))(obs)
    model = to_onnx(
        lambda o: jaxpr_as_fun(jaxpr)(o)[0], [obs], input_names=["obs"], output_names=["action"]
    )
    return model.SerializeToString()


def _act(policy: Policy):
    """obs -> deterministic action in the env's bounds, with the policy's arrays as constants."""
    low, high = jnp.asarray(policy.low), jnp.asarray(policy.high)

    @jax.jit
    def act(obs: jax.Array) -> jax.Array:
        unit = select_action(policy.actor, obs, None, policy.obs_stats)
        return low + (unit + 1.0) * 0.5 * (high - low)

    return act


def _obs_spec(policy: Policy) -> jax.ShapeDtypeStruct:
    return jax.ShapeDtypeStruct(jax.export.symbolic_shape(f"b, {policy.obs_dim}"), jnp.float32)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sac_jax.export", description=__doc__)
    parser.add_argument("--workdir", required=True, help="the run's --workdir")
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    parser.add_argument("--out", required=True, help="file to write, e.g. policy.jaxexport")
    parser.add_argument(
        "--format", choices=("jaxexport", "onnx"), default="jaxexport", help="artifact format"
    )
    parser.add_argument(
        "--platforms",
        default=",".join(PLATFORMS),
        help=f"comma-separated platforms to lower for, of {KNOWN_PLATFORMS} (jaxexport only)",
    )
    args = parser.parse_args(argv)
    platforms = tuple(args.platforms.split(","))
    if not set(platforms) <= set(KNOWN_PLATFORMS):
        parser.error(f"--platforms={args.platforms!r} must name platforms of {KNOWN_PLATFORMS}")
    if args.format == "onnx" and importlib.util.find_spec("jax2onnx") is None:
        parser.error('--format onnx needs jax2onnx: python -m pip install -e ".[onnx]"')

    try:
        policy = load_policy(args.workdir, args.step)
    except CheckpointError as e:
        sys.exit(f"error: {e}")
    artifact = export_onnx(policy) if args.format == "onnx" else export_policy(policy, platforms)
    with open(args.out, "wb") as f:
        f.write(artifact)
    print(
        f"{policy.env_id}, checkpoint step {policy.step}: wrote {args.out} ({len(artifact)} bytes; "
        f"obs ({policy.obs_dim},) -> action ({policy.action_dim},), any batch)"
    )


if __name__ == "__main__":
    main()
