"""SAC-N and EDAC (An et al. 2021): offline SAC with N critics, the minimum over N as the
pessimism, and (EDAC) a term that diversifies the members' action gradients."""
from __future__ import annotations

import dataclasses
import functools
from typing import Any, Callable, Optional, Sequence

import flax.struct
import jax
import jax.numpy as jnp
from jax.typing import ArrayLike

from rlkit_jax import objectives
from rlkit_jax.agents.base import MinCriticEnsemble
from rlkit_jax.agents.common import ensemble_td_loss
from rlkit_jax.agents.hyperparameters import NON_NEGATIVE, POSITIVE, checked_create
from rlkit_jax.agents.sac import SAC
from rlkit_jax.data.transitions import Transitions
from rlkit_jax.networks import Ensemble, QFunction


class SACN(MinCriticEnsemble, SAC):
  """SAC-N: :class:`~rlkit_jax.agents.sac.SAC` trained offline with N critics (10 by default),
  whose minimum enters both the target and the actor loss — the ensemble's spread is the
  uncertainty penalty on out-of-distribution actions.

  N is a static option: the N critics are one :class:`~rlkit_jax.networks.Ensemble` call (one
  vectorised forward and backward pass), so N = 50 is still one program. The papers train on the
  raw rewards (``--reward_scaling=none``) with constant step sizes (``actor_decay_steps`` is
  accepted and ignored).

  References:
    An et al., `Uncertainty-Based Offline Reinforcement Learning with Diversified Q-Ensemble
    <https://arxiv.org/abs/2110.01548>`_, NeurIPS 2021, Sec. 3 (SAC-N) and App. C
    (hyperparameters: Adam 3e-4, batch 256, γ 0.99, τ 5e-3, N up to 500).
  """

  hyperparameter_ranges = {"init_temperature": POSITIVE}
  needs_returns_to_go = False

  @classmethod
  @checked_create
  def create(
      cls,
      key: jax.Array,
      observation_dim: int,
      action_dim: int,
      *,
      hidden_dims: Sequence[int] = (256, 256),
      num_critics: int = 10,
      actor_lr: ArrayLike = 3e-4,
      critic_lr: ArrayLike = 3e-4,
      temperature_lr: ArrayLike = 3e-4,
      discount: ArrayLike = 0.99,
      tau: ArrayLike = 0.005,
      init_temperature: float = 1.0,
      actor_decay_steps: Optional[int] = None,
  ) -> "SACN":
    """Initialises networks and optimisers (see :meth:`SAC.create`; N = ``num_critics``, static).

    Raises:
      ValueError: ``num_critics`` < 2.
    """
    del actor_decay_steps
    if int(num_critics) < 2:
      raise ValueError(f"{cls.__name__}.create: num_critics must be an int >= 2, got {num_critics!r}")
    sac = SAC.create(
        key, observation_dim, action_dim, hidden_dims=hidden_dims, num_critics=int(num_critics), actor_lr=actor_lr,
        critic_lr=critic_lr, temperature_lr=temperature_lr, discount=discount, tau=tau, init_temperature=init_temperature,
    )
    return cls(**{field.name: getattr(sac, field.name) for field in dataclasses.fields(SAC)})


@functools.lru_cache(maxsize=None)
def _split_critic_apply(hidden_dims: tuple[int, ...], num_critics: int) -> Callable:
  """The critic ensemble's ``apply`` with one input slice per member (same parameters)."""
  return Ensemble(functools.partial(QFunction, hidden_dims), num_members=num_critics, split_inputs=True).apply


class EDAC(SACN):
  r"""EDAC: SAC-N whose critic loss adds ``η · mean_B`` :func:`~rlkit_jax.objectives.edac_diversity_loss`
  of the members' action gradients ∇_a Q_e(s, a) at the dataset actions.

  The gradients come from one backward pass: each member reads its own copy of the actions
  (:class:`~rlkit_jax.networks.Ensemble` with ``split_inputs``), so the gradient of Σ Q with respect
  to the copies ``[E, B, A]`` is every member's action gradient; the same forward pass gives the
  TD loss its Q values.

  References:
    An et al. 2021 (see :class:`SACN`), Sec. 4.2, and App. C (η = 1 on most MuJoCo datasets,
    N = 10 to 50).
  """

  hyperparameter_ranges = {"init_temperature": POSITIVE, "eta": NON_NEGATIVE}

  eta: jax.Array = None  # η, [] float32, weight of the diversity term
  split_critic_apply: Callable = flax.struct.field(pytree_node=False, default=None)

  @classmethod
  @checked_create
  def create(
      cls,
      key: jax.Array,
      observation_dim: int,
      action_dim: int,
      *,
      hidden_dims: Sequence[int] = (256, 256),
      num_critics: int = 10,
      actor_lr: ArrayLike = 3e-4,
      critic_lr: ArrayLike = 3e-4,
      temperature_lr: ArrayLike = 3e-4,
      discount: ArrayLike = 0.99,
      tau: ArrayLike = 0.005,
      init_temperature: float = 1.0,
      eta: ArrayLike = 1.0,
      actor_decay_steps: Optional[int] = None,
  ) -> "EDAC":
    """As :meth:`SACN.create`, plus ``eta`` (η ≥ 0, may be traced; 0 gives SAC-N's updates)."""
    base = SACN.create(
        key, observation_dim, action_dim, hidden_dims=hidden_dims, num_critics=num_critics, actor_lr=actor_lr,
        critic_lr=critic_lr, temperature_lr=temperature_lr, discount=discount, tau=tau, init_temperature=init_temperature,
        actor_decay_steps=actor_decay_steps,
    )
    return cls(
        **{field.name: getattr(base, field.name) for field in dataclasses.fields(SAC)},
        eta=jnp.asarray(eta, jnp.float32),
        split_critic_apply=_split_critic_apply(tuple(hidden_dims), int(num_critics)),
    )

  def critic_loss(self, params: Any, batch: Transitions, targets: jax.Array) -> tuple[jax.Array, dict[str, jax.Array]]:
    """SAC-N's critic loss plus ``η · mean_B diversity``; logs ``diversity``. One forward pass
    gives both the Q values of the TD loss and (its pullback) the action gradients."""
    num_critics = jax.tree.leaves(params)[0].shape[0]
    tile = lambda x: jnp.broadcast_to(x, (num_critics,) + x.shape)
    q, pullback = jax.vjp(  # q [E, B]: member e at its own copy of the actions
        lambda actions: self.split_critic_apply({"params": params}, tile(batch.observations), actions), tile(batch.actions)
    )
    (action_gradients,) = pullback(jnp.ones_like(q))  # [E, B, A]: ∇_a Q_e(s_b, a_b)
    loss, info = ensemble_td_loss(q, targets)
    diversity = jnp.mean(objectives.edac_diversity_loss(action_gradients))
    return loss + self.eta * diversity, {**info, "critic_loss": loss + self.eta * diversity, "diversity": diversity}
