"""A PyTorch SAC update of the same architecture, batch and order as `sac_jax.update_step`.

The reference the speed benchmark compares against: written the way popular PyTorch SAC code is
(separate twin critics, one Adam per part, in-place Polyak), with the cheap idioms a careful
PyTorch user would pick (no_grad backups, set_to_none grads, foreach Adam). CPU only; torch is an
optional `bench` extra, never a runtime dependency of sac_jax.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F


def mlp(in_dim: int, hidden: tuple[int, ...], out_dim: int) -> nn.Sequential:
    layers, d = [], in_dim
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    return nn.Sequential(*layers, nn.Linear(d, out_dim))


class Actor(nn.Module):
    """Tanh-Gaussian policy; log_std squashed into [-5, 2] as in sac_jax.networks."""

    def __init__(self, obs_dim: int, action_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.torso = mlp(obs_dim, hidden[:-1], hidden[-1])
        self.head = nn.Linear(hidden[-1], 2 * action_dim)

    def sample(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, raw_log_std = self.head(F.relu(self.torso(obs))).chunk(2, dim=-1)
        log_std = -5.0 + 3.5 * (torch.tanh(raw_log_std) + 1.0)
        std = log_std.exp()
        u = mean + std * torch.randn_like(mean)
        gaussian = -0.5 * ((u - mean) / std).pow(2) - log_std - 0.5 * math.log(2 * math.pi)
        log_det = 2.0 * (math.log(2.0) - u - F.softplus(-2.0 * u))  # log(1 - tanh(u)^2), stable
        return torch.tanh(u), (gaussian - log_det).sum(-1)


class TorchSAC:
    """Critic, then actor against the updated critic, then temperature, then Polyak targets."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden=(256, 256),
        lr=3e-4,
        gamma=0.99,
        tau=0.005,
        seed: int = 0,
    ):
        torch.manual_seed(seed)
        self.actor = Actor(obs_dim, action_dim, hidden)
        self.critics = nn.ModuleList([mlp(obs_dim + action_dim, hidden, 1) for _ in range(2)])
        self.targets = nn.ModuleList([mlp(obs_dim + action_dim, hidden, 1) for _ in range(2)])
        self.targets.load_state_dict(self.critics.state_dict())
        self.targets.requires_grad_(False)
        self.log_alpha = torch.zeros((), requires_grad=True)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr, foreach=True)
        self.critic_opt = torch.optim.Adam(self.critics.parameters(), lr, foreach=True)
        self.alpha_opt = torch.optim.Adam([self.log_alpha], lr, foreach=True)
        self.gamma, self.tau, self.target_entropy = gamma, tau, -float(action_dim)

    @staticmethod
    def _q(nets: nn.ModuleList, obs: torch.Tensor, action: torch.Tensor) -> list[torch.Tensor]:
        x = torch.cat([obs, action], dim=-1)
        return [net(x).squeeze(-1) for net in nets]

    def update(self, obs, action, reward, next_obs, terminated) -> None:
        alpha = self.log_alpha.exp().detach()
        with torch.no_grad():
            next_action, next_log_prob = self.actor.sample(next_obs)
            next_q = torch.min(*self._q(self.targets, next_obs, next_action))
            target = reward + self.gamma * (1.0 - terminated) * (next_q - alpha * next_log_prob)
        critic_loss = sum(
            0.5 * (q - target).pow(2).mean() for q in self._q(self.critics, obs, action)
        )
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()

        self.critics.requires_grad_(False)
        new_action, log_prob = self.actor.sample(obs)
        actor_loss = (alpha * log_prob - torch.min(*self._q(self.critics, obs, new_action))).mean()
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        self.critics.requires_grad_(True)

        alpha_loss = self.log_alpha * (-log_prob.detach().mean() - self.target_entropy)
        self.alpha_opt.zero_grad(set_to_none=True)
        alpha_loss.backward()
        self.alpha_opt.step()

        with torch.no_grad():
            for p, t in zip(self.critics.parameters(), self.targets.parameters()):
                t.lerp_(p, self.tau)
