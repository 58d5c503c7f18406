"""Evaluate a checkpoint and record a video, headless.

    python -m sac_jax.evaluate --workdir DIR [--step N] [--episodes K] [--video out.mp4|out.gif]

Runs K deterministic episodes of the checkpoint's policy on its env, prints the mean and std
return, and with --video writes the first episode as a GIF or MP4 (imageio). Rendering needs no
display: MuJoCo uses EGL (MUJOCO_GL=egl) and pygame (Pendulum) a dummy video driver, unless
the environment already sets these variables.
"""

import argparse
import os
import sys
import warnings

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is first imported (at env creation)
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import imageio.v2 as imageio  # noqa: E402

from sac_jax.acting import evaluate  # noqa: E402
from sac_jax.checkpointing import CheckpointError  # noqa: E402
from sac_jax.envs import make_env  # noqa: E402
from sac_jax.policy import load_policy  # noqa: E402

VIDEO_FORMATS = (".gif", ".mp4")


def write_video(path: str, frames: list, fps: float) -> None:
    if path.lower().endswith(".gif"):
        imageio.mimsave(path, frames, duration=1000.0 / fps, loop=0)
    else:  # MP4 through imageio-ffmpeg; frame sides rounded up to even sizes for H.264
        with warnings.catch_warnings():  # JAX warns on any fork; ffmpeg's fork+exec is safe
            warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
            imageio.mimsave(path, frames, fps=fps, macro_block_size=2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sac_jax.evaluate", description=__doc__)
    parser.add_argument("--workdir", required=True, help="the run's --workdir")
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    parser.add_argument("--episodes", type=int, default=10, help="deterministic episodes to run")
    parser.add_argument("--seed", type=int, default=0, help="episode i resets with seed + i")
    parser.add_argument(
        "--video", default=None, help="write the first episode to this .gif or .mp4"
    )
    args = parser.parse_args(argv)
    if args.episodes < 1:
        parser.error(f"--episodes={args.episodes} must be >= 1")
    if args.video and not args.video.lower().endswith(VIDEO_FORMATS):
        parser.error(f"--video={args.video!r} must end with one of {VIDEO_FORMATS}")

    try:
        policy = load_policy(args.workdir, args.step)
    except CheckpointError as e:
        sys.exit(f"error: {e}")
    env = make_env(policy.env_id, args.seed, render_mode="rgb_array" if args.video else None)
    frames = [] if args.video else None
    returns = evaluate(policy.actor, env, args.episodes, args.seed, policy.obs_stats, frames)
    env.close()
    print(
        f"{policy.env_id}, checkpoint step {policy.step}: return {returns.mean():.2f} +- "
        f"{returns.std():.2f} over {args.episodes} deterministic episodes"
    )
    if args.video:
        write_video(args.video, frames, fps=env.metadata.get("render_fps", 30))
        print(f"video: {args.video} ({len(frames)} frames)")


if __name__ == "__main__":
    main()
