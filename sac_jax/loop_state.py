"""The training loop's own variables for one trial, and their checkpoint form."""

import dataclasses

import numpy as np


@dataclasses.dataclass
class LoopState:
    """With the SACState, the env and the replay buffer, what makes a trial resumable."""

    obs: np.ndarray  # the observation the next action is taken in
    random_actions: np.random.Generator  # uniform warm-up actions
    update_start: int  # updates run at env steps > update_start
    step: int = 0  # env steps taken
    episode_return: float = 0.0  # of the episode in progress
    episodes: int = 0  # completed
    last_episode_return: float | None = None
    last_eval: dict = dataclasses.field(default_factory=dict)
    eval_step: int | None = None  # the step of last_eval
    wandb_run_id: str | None = None  # the trial's W&B run, continued on resume (sac_jax.wandb_log)

    def end_episode(self, reset_obs: np.ndarray) -> None:
        self.last_episode_return, self.episode_return = self.episode_return, 0.0
        self.episodes += 1
        self.obs = reset_obs

    def restart_episode(self, obs: np.ndarray) -> None:
        """Drop the episode in progress (one that cannot continue after a resume)."""
        self.obs, self.episode_return = obs, 0.0

    def delay_updates(self, until: int) -> None:
        """No updates before env step `until` (a buffer to refill after a resume without it)."""
        self.update_start = max(self.update_start, until)

    def evaluated_now(self) -> bool:
        """Whether `last_eval` was taken at the current step (a checkpoint then records it)."""
        return self.eval_step == self.step and "return_mean" in self.last_eval

    def state_dict(self) -> dict:
        """JSON data: the counters (with the observation) and the warm-up generator's state."""
        counters = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        del counters["random_actions"]
        counters.update(obs=self.obs.tolist(), obs_dtype=self.obs.dtype.str)
        return {"counters": counters, "random_actions_rng": self.random_actions.bit_generator.state}

    def load_state_dict(self, saved: dict) -> None:
        counters = {"wandb_run_id": None, **saved["counters"]}  # checkpoints older than W&B logging
        obs = np.asarray(counters.pop("obs"), np.dtype(counters.pop("obs_dtype")))
        fields = {f.name for f in dataclasses.fields(self)} - {"obs", "random_actions"}
        if set(counters) != fields:
            raise ValueError(f"saved loop counters {sorted(counters)} are not {sorted(fields)}")
        self.obs = obs
        self.random_actions.bit_generator.state = saved["random_actions_rng"]
        for name, value in counters.items():
            setattr(self, name, value)
