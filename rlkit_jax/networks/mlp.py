"""Multi-layer perceptrons and the ensemble wrapper used for critics and reward models."""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def default_init(scale: float = math.sqrt(2.0)) -> Callable:
  """Kernel initialiser with the statistics of the IQL reference's orthogonal(√2) init, minus the QR.

  A ``[fan_in, fan_out]`` orthogonal matrix with gain ``scale`` has orthonormal rows or columns,
  whichever are fewer, so its entries have variance ``scale² / max(fan_in, fan_out)``: for the
  first layer of a 256-wide network on 11 observations that is ``2 / 256``, not ``2 / 11``. This
  draws the entries i.i.d. (truncated normal) with that variance. The QR decomposition behind
  ``nn.initializers.orthogonal`` is a LAPACK call on CPU, and several of them in one XLA CPU program
  (every layer of every network in a vmapped ``create``) can deadlock with jaxlib 0.10 (see
  BUILD_NOTES.md); this initialiser uses no LAPACK.
  """

  def init(key: jax.Array, shape: Sequence[int], dtype: Any = jnp.float32) -> jax.Array:
    fan_in, fan_out = math.prod(shape[:-1]), shape[-1]
    variance = scale**2 * fan_in / max(fan_in, fan_out)  # variance_scaling divides by fan_in
    return nn.initializers.variance_scaling(variance, "fan_in", "truncated_normal")(key, shape, dtype)

  return init


INITS = ("orthogonal", "lecun", "torch")


def layer_init(init: str, fan_in: int) -> tuple[Callable, Callable]:
  """``(kernel_init, bias_init)`` of a Dense layer with ``fan_in`` inputs under the scheme ``init``:

  - ``"orthogonal"``: the toolkit's :func:`default_init` (variance 2 / max(fan_in, fan_out)), zero biases;
  - ``"lecun"``: flax's own default, LeCun normal (variance 1 / fan_in, truncated normal), zero
    biases: what flax-based references that keep flax's defaults (SBX's SAC) start from;
  - ``"torch"``: PyTorch's ``nn.Linear`` default, kernel and bias U(−1/√fan_in, 1/√fan_in): what
    d3rlpy's networks start from.

  Raises:
    ValueError: an unknown scheme.
  """
  if init == "orthogonal":
    return default_init(), nn.initializers.zeros_init()
  if init == "lecun":
    return nn.initializers.lecun_normal(), nn.initializers.zeros_init()
  if init == "torch":
    bound = 1.0 / math.sqrt(fan_in)
    uniform = lambda key, shape, dtype=jnp.float32: jax.random.uniform(key, shape, dtype, -bound, bound)
    return nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform"), uniform
  raise ValueError(f"unknown initialisation {init!r}; fix: one of {', '.join(INITS)}")


def dense(width: int, fan_in: int, init: str) -> nn.Dense:
  """``nn.Dense(width)`` initialised by :func:`layer_init` ``(init, fan_in)``."""
  kernel, bias = layer_init(init, fan_in)
  return nn.Dense(width, kernel_init=kernel, bias_init=bias)


class MLP(nn.Module):
  """Dense layers with ReLU between them.

  Attributes:
    hidden_dims: output width of each layer; the last entry is the output width.
    activate_final: apply the activation after the last layer too.
    activation: the nonlinearity (default ReLU).
    layer_norm: LayerNorm after every hidden layer's activation (Dense → ReLU → LayerNorm, as
      ReBRAC's code and d3rlpy's ``use_layer_norm`` place it; Tarasov et al. 2023).
    init_scheme: the layers' initialisation scheme, one of :data:`INITS` (:func:`layer_init`).

  Input ``[..., D]`` → output ``[..., hidden_dims[-1]]``, float32.
  """

  hidden_dims: Sequence[int]
  activate_final: bool = False
  activation: Callable[[jax.Array], jax.Array] = nn.relu
  layer_norm: bool = False
  init_scheme: str = "orthogonal"

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    for i, width in enumerate(self.hidden_dims):
      x = dense(width, x.shape[-1], self.init_scheme)(x)
      if i + 1 < len(self.hidden_dims) or self.activate_final:
        x = self.activation(x)
        if self.layer_norm:
          x = nn.LayerNorm()(x)
    return x


class Ensemble(nn.Module):
  """``num_members`` independent copies of a module, evaluated in one vectorised call.

  Parameters get a leading axis ``E`` (``nn.vmap`` over ``params`` with split RNGs); inputs are
  shared; outputs get a leading axis ``E``. Reduce explicitly (``q.min(axis=0)``).

  Attributes:
    net_cls: the member module class, or a ``functools.partial`` of one.
    num_members: E.
    split_inputs: every input has a leading axis ``E`` too, member e reading slice e (the same
      parameters as the shared-input form: ``ensemble.clone(split_inputs=True).apply(variables,
      ...)``). EDAC uses it to take each member's gradient with respect to its own copy of the
      actions in one backward pass.
  """

  net_cls: Callable[..., nn.Module]
  num_members: int = 2
  split_inputs: bool = False

  @nn.compact
  def __call__(self, *args):
    vmapped = nn.vmap(
        self.net_cls,
        variable_axes={"params": 0},
        split_rngs={"params": True},
        in_axes=0 if self.split_inputs else None,
        out_axes=0,
        axis_size=self.num_members,
    )
    return vmapped()(*args)
