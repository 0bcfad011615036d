"""ENAS's LSTM controller for the micro space and its REINFORCE update.

The controller samples the normal cell and then the reduction cell in one
LSTM sequence. For each node it picks two earlier states by attention over
the states' LSTM outputs (the anchors), then one operation for each.
Index logits are ``tanh_constant * tanh(l)``; operation logits use
``tanh_constant / op_tanh_reduce``, as in the authors' code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import torch
from torch import nn

from medvision_app.networks.enas_space import OPS, Arc
from medvision_app.training.engine import cpu_threads


class Controller(nn.Module):
    def __init__(self, n_nodes: int = 5, lstm_size: int = 64, tanh_constant: float = 1.10, op_tanh_reduce: float = 2.5) -> None:
        super().__init__()
        self.n_nodes = n_nodes
        self.tanh_constant = tanh_constant
        self.op_tanh_reduce = op_tanh_reduce
        self.lstm = nn.LSTMCell(lstm_size, lstm_size)
        self.g_emb = nn.Parameter(torch.empty(1, lstm_size).uniform_(-0.1, 0.1))
        self.w_emb = nn.Embedding(len(OPS), lstm_size)
        self.w_soft = nn.Linear(lstm_size, len(OPS), bias=False)
        self.w_attn_1 = nn.Linear(lstm_size, lstm_size, bias=False)
        self.w_attn_2 = nn.Linear(lstm_size, lstm_size, bias=False)
        self.v_attn = nn.Linear(lstm_size, 1, bias=False)
        for p in self.parameters():
            nn.init.uniform_(p, -0.1, 0.1)

    def _choose(self, logits: torch.Tensor, forced: Optional[int]):
        dist = torch.distributions.Categorical(logits=logits)
        choice = dist.sample() if forced is None else torch.tensor(forced)
        return int(choice), dist.log_prob(choice), dist.entropy()

    def _cell(self, state, forced):
        h, c = state
        anchors, anchors_w1 = [], []
        inputs = self.g_emb
        for _ in range(2):
            h, c = self.lstm(inputs, (h, c))
            anchors.append(torch.zeros_like(h))
            anchors_w1.append(self.w_attn_1(h))
        nodes, log_p, ent = [], [], []
        for n in range(self.n_nodes):
            idx, ops = [], []
            for slot in range(2):
                h, c = self.lstm(inputs, (h, c))
                query = torch.tanh(torch.cat(anchors_w1, 0) + self.w_attn_2(h))  # (n+2) x size
                logits = self.v_attn(query).view(-1)
                logits = self.tanh_constant * torch.tanh(logits)
                k, lp, e = self._choose(logits, None if forced is None else forced[n][2 * slot])
                idx.append(k)
                log_p.append(lp)
                ent.append(e)
                inputs = anchors[k]
            for slot in range(2):
                h, c = self.lstm(inputs, (h, c))
                logits = self.w_soft(h).view(-1)
                logits = (self.tanh_constant / self.op_tanh_reduce) * torch.tanh(logits)
                o, lp, e = self._choose(logits, None if forced is None else forced[n][2 * slot + 1])
                ops.append(o)
                log_p.append(lp)
                ent.append(e)
                inputs = self.w_emb(torch.tensor([o]))
            h, c = self.lstm(inputs, (h, c))
            anchors.append(h)
            anchors_w1.append(self.w_attn_1(h))
            inputs = self.g_emb
            nodes.append((idx[0], ops[0], idx[1], ops[1]))
        return tuple(nodes), torch.stack(log_p).sum(), torch.stack(ent).sum(), (h, c)

    def forward(self, arc: Optional[Arc] = None) -> tuple[Arc, torch.Tensor, torch.Tensor]:
        """Sample an architecture (or score ``arc``): ``(arc, log_prob, entropy)``."""
        size = self.g_emb.shape[1]
        state = (torch.zeros(1, size), torch.zeros(1, size))
        normal, lp1, e1, state = self._cell(state, None if arc is None else arc.normal)
        reduce, lp2, e2, _ = self._cell(state, None if arc is None else arc.reduce)
        return Arc(normal, reduce), lp1 + lp2, e1 + e2


@dataclass
class Reinforce:
    """REINFORCE with a moving-average baseline; ``baseline`` is saved with the search state."""

    entropy_weight: float = 1e-4
    baseline_decay: float = 0.99
    baseline: float = 0.0
    last_entropy: float = 0.0  # of the last sampled architecture, for the reward curve

    def step(self, controller: Controller, optimizer: torch.optim.Optimizer, reward_of: Callable[[Arc], float]) -> tuple[Arc, float]:
        """Sample, score with ``reward_of`` (a validation minibatch accuracy), update; return arc and reward."""
        controller.train()
        with cpu_threads(1):  # tiny LSTM steps: one thread beats several
            arc, log_prob, entropy = controller()
        self.last_entropy = float(entropy.detach())
        reward = float(reward_of(arc)) + self.entropy_weight * self.last_entropy
        self.baseline -= (1 - self.baseline_decay) * (self.baseline - reward)
        loss = -log_prob * (reward - self.baseline)
        with cpu_threads(1):  # tiny LSTM steps: one thread beats several
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return arc, reward
