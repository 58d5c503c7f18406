"""Evaluate a checkpoint and record a video, headless.

    python -m sac_jax.evaluate --workdir DIR [--step N] [--episodes K] [--video out.mp4|out.gif]

Runs K deterministic episodes of the checkpoint's policy on its env, prints the mean and std
return, and with --video writes the first episode as a GIF or MP4 (imageio). A MuJoCo env whose
model has a camera named "track" (gymnasium's locomotion tasks) is filmed through it, following
the body; others keep their default view. Rendering needs no display: MuJoCo uses EGL
(MUJOCO_GL=egl) and pygame (Pendulum) a dummy video driver, unless the environment already sets
these variables.
"""

import argparse
import os
import sys
import warnings

os.environ.setdefault("MUJOCO_GL", "egl")  # before mujoco is first imported (at env creation)
os.environ.setdefault("SDL_VIDEODRIVER", "dummy")

import imageio.v2 as imageio  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from sac_jax.acting import evaluate  # noqa: E402
from sac_jax.checkpointing import CheckpointError  # noqa: E402
from sac_jax.config import ConfigError, env_kwargs  # noqa: E402
from sac_jax.envs import make_env  # noqa: E402
from sac_jax.policy import load_policy  # noqa: E402

VIDEO_FORMATS = (".gif", ".mp4")


def write_video(path: str, frames: list, fps: float, every: int = 1, scale: float = 1.0) -> None:
    """Every `every`-th frame, resized by `scale` (a GIF of a 1000-step episode at full size runs
    to tens of MB; `--video-every 6 --video-scale 0.5` keeps a Humanoid one under 3 MB)."""
    frames, fps = frames[::every], fps / every
    if scale != 1.0:
        size = lambda f: (round(f.shape[1] * scale), round(f.shape[0] * scale))  # noqa: E731
        frames = [np.asarray(Image.fromarray(f).resize(size(f), Image.LANCZOS)) for f in frames]
    if path.lower().endswith(".gif"):
        imageio.mimsave(path, frames, duration=1000.0 / fps, loop=0)
    else:  # MP4 through imageio-ffmpeg; frame sides rounded up to even sizes for H.264
        with warnings.catch_warnings():  # JAX warns on any fork; ffmpeg's fork+exec is safe
            warnings.filterwarnings("ignore", "os.fork", RuntimeWarning)
            imageio.mimsave(path, frames, fps=fps, macro_block_size=2)


TRACKING_CAMERA = "track"


def follow_the_body(env) -> None:
    """Film a MuJoCo env through its model's tracking camera when it has one: gymnasium's default
    free camera stays put, and a trained walker leaves its view within seconds."""
    renderer = getattr(env.unwrapped, "mujoco_renderer", None)
    if renderer is None:
        return
    import mujoco

    camera = mujoco.mj_name2id(renderer.model, mujoco.mjtObj.mjOBJ_CAMERA, TRACKING_CAMERA)
    if camera >= 0:
        renderer.camera_id = camera


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sac_jax.evaluate", description=__doc__)
    parser.add_argument("--workdir", required=True, help="the run's --workdir")
    parser.add_argument("--step", type=int, default=None, help="checkpoint step (default: latest)")
    parser.add_argument("--episodes", type=int, default=10, help="deterministic episodes to run")
    parser.add_argument("--seed", type=int, default=0, help="episode i resets with seed + i")
    parser.add_argument(
        "--video", default=None, help="write the first episode to this .gif or .mp4"
    )
    parser.add_argument("--video-every", type=int, default=1, help="keep every N-th frame")
    parser.add_argument("--video-scale", type=float, default=1.0, help="resize frames by this")
    args = parser.parse_args(argv)
    if args.video_every < 1 or not 0.0 < args.video_scale <= 1.0:
        parser.error("--video-every must be >= 1 and --video-scale in (0, 1]")
    if args.episodes < 1:
        parser.error(f"--episodes={args.episodes} must be >= 1")
    if args.video and not args.video.lower().endswith(VIDEO_FORMATS):
        parser.error(f"--video={args.video!r} must end with one of {VIDEO_FORMATS}")

    try:
        policy = load_policy(args.workdir, args.step)
        render_mode = "rgb_array" if args.video else None
        env = make_env(policy.env_id, args.seed, render_mode, env_kwargs(policy.config))
        follow_the_body(env)
    except (CheckpointError, ConfigError) as e:
        sys.exit(f"error: {e}")
    frames = [] if args.video else None
    returns = evaluate(policy.actor, env, args.episodes, args.seed, policy.obs_stats, frames)
    env.close()
    print(
        f"{policy.env_id}, checkpoint step {policy.step}: return {returns.mean():.2f} +- "
        f"{returns.std():.2f} over {args.episodes} deterministic episodes"
    )
    if args.video:
        fps = env.metadata.get("render_fps", 30)
        write_video(args.video, frames, fps, args.video_every, args.video_scale)
        print(f"video: {args.video} ({len(frames[:: args.video_every])} frames)")


if __name__ == "__main__":
    main()
