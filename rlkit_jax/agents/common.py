"""Pieces every agent shares: optimisers whose learning rate is a pytree leaf."""
from __future__ import annotations

from typing import Optional

import jax.numpy as jnp
import optax
from jax.typing import ArrayLike


def adam(learning_rate: ArrayLike, *, decay_steps: Optional[int] = None) -> optax.GradientTransformation:
  """Adam whose learning rate lives in the optimiser state, so it can be vmapped and swept.

  Args:
    learning_rate: the step size; a Python float or a traced scalar.
    decay_steps: if given, the step size is multiplied by a cosine decay from 1 to 0 over that
      many updates (the IQL reference's actor schedule). A static Python int.

  Returns:
    An optax transformation; ``opt_state[0].hyperparams['learning_rate']`` holds the rate.
  """
  parts = [optax.inject_hyperparams(optax.adam)(learning_rate=jnp.asarray(learning_rate, jnp.float32))]
  if decay_steps:
    parts.append(optax.scale_by_schedule(optax.cosine_decay_schedule(1.0, decay_steps)))
  return optax.chain(*parts)
