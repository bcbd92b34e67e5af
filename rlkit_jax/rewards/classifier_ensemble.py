"""Goal-classifier ensembles: ``E`` binary classifiers ``D(s) = σ(l(s))`` on (normalised, selected)
state features, their fit on balanced batches of success examples and unsuccessful states
(:func:`rlkit_jax.objectives.goal_classifier_loss`, with mixup and a gradient penalty as
regularisers), the reservoir that bounds the negatives, and the same functions vmapped over the
online job's seeds. :class:`rlkit_jax.rewards.goal_classifier.ClassifierReward` (VICE) and
:class:`rlkit_jax.rewards.gail.DiscriminatorReward` (GAIL) build on them.

References: Fu et al., VICE, NeurIPS 2018, Sec. 4–5; Singh et al., RSS 2019, Sec. 4–5 (mixup);
Vitter, Random Sampling with a Reservoir, 1985 (Algorithm R).
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from flax.training.train_state import TrainState

from rlkit_jax import objectives
from rlkit_jax.agents.common import train_state
from rlkit_jax.networks import MLP
from rlkit_jax.training.divergence import all_finite, select_runs

GRADIENT_PENALTY_FORMS = ("zero_centred", "one_centred")  # see fit()


@functools.lru_cache(maxsize=None)
def _network(hidden_dims: tuple[int, ...]) -> MLP:
  return MLP((*hidden_dims, 1))


class ClassifierEnsemble(flax.struct.PyTreeNode):
  r"""E goal classifiers ``l_e(s)`` (logits of P(s is a success)), trained in one vmapped program.

  Inputs are standardised, ``(s − input_offset) · input_scale``, with statistics set once by
  :meth:`normalized` (identity until then), so velocities and positions of very different scales
  weigh alike at the start of training.

  Attributes:
    state: the members' ``TrainState`` (an MLP ``[..., O] → [..., 1]``), every leaf with a leading
      axis E.
    key: PRNG key for minibatches and mixup; split and advanced by :func:`fit`.
    input_offset: ``[O]`` float32.
    input_scale: ``[O]`` float32.
  """

  state: TrainState
  key: jax.Array
  input_offset: jax.Array
  input_scale: jax.Array

  @classmethod
  def create(
      cls,
      key: jax.Array,
      observation_dim: int,
      *,
      ensemble_size: int = 1,
      hidden_dims: Sequence[int] = (256, 256),
      learning_rate: float = 3e-4,
  ) -> "ClassifierEnsemble":
    """Initialises E members from independent keys.

    Args:
      key: consumed.
      observation_dim: O.
      ensemble_size: E ≥ 1.
      hidden_dims: hidden widths (default 256 × 256, the width of SAC's networks, Haarnoja et al. 2018).
      learning_rate: Adam step size (a leaf in the optimiser state, may be traced).

    Raises:
      ValueError: ``ensemble_size < 1`` or an empty/non-positive ``hidden_dims``.
    """
    if ensemble_size < 1:
      raise ValueError(f"ClassifierEnsemble: ensemble_size must be ≥ 1, got {ensemble_size}")
    if not hidden_dims or any(int(h) <= 0 for h in hidden_dims):
      raise ValueError(f"ClassifierEnsemble: hidden_dims must be positive widths, got {list(hidden_dims)}")
    net = _network(tuple(int(h) for h in hidden_dims))
    key, init_key = jax.random.split(key)
    dummy = jnp.zeros((1, observation_dim), jnp.float32)

    def init(k):
      return train_state(net.apply, net.init(k, dummy)["params"], learning_rate)

    return cls(
        state=jax.vmap(init)(jax.random.split(init_key, ensemble_size)),
        key=key,
        input_offset=jnp.zeros((observation_dim,), jnp.float32),
        input_scale=jnp.ones((observation_dim,), jnp.float32),
    )

  @property
  def ensemble_size(self) -> int:
    return int(jax.tree.leaves(self.state.params)[0].shape[0])

  def standardize(self, observations: jax.Array) -> jax.Array:
    """``(s − input_offset) · input_scale``: ``[..., O]`` → ``[..., O]``."""
    leading = (1,) * (observations.ndim - 1)
    return (observations - self.input_offset.reshape(leading + (-1,))) * self.input_scale.reshape(leading + (-1,))

  def _member_logits(self, params: Any, inputs: jax.Array) -> jax.Array:
    """One member's logits of standardised inputs ``[..., O]`` → ``[...]``."""
    return self.state.apply_fn({"params": params}, inputs)[..., 0]

  def logits(self, observations: jax.Array) -> jax.Array:
    """Every member's logit ``l_e(s)``: ``[..., O]`` float32 → ``[E, ...]`` float32 (> 0: success)."""
    inputs = self.standardize(jnp.asarray(observations, jnp.float32))
    return jax.vmap(lambda p: self._member_logits(p, inputs))(self.state.params)

  def normalized(self, observations: np.ndarray) -> "ClassifierEnsemble":
    """This ensemble with input statistics from ``observations`` ``[N, O]`` (e.g. D+ ∪ D−):
    offset = mean, scale = 1 / max(std, 1e-3) per feature (constant features are centred only)."""
    offset, scale = input_statistics(observations)
    return self.replace(input_offset=jnp.asarray(offset), input_scale=jnp.asarray(scale))


def input_statistics(observations: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """``(mean [O], 1 / max(std, 1e-3) [O])`` float32 of ``observations`` ``[N, O]`` (host NumPy)."""
  observations = np.asarray(observations, np.float64)
  return observations.mean(axis=0).astype(np.float32), (1.0 / np.maximum(observations.std(axis=0), 1e-3)).astype(np.float32)


def _member_loss(
    model: ClassifierEnsemble, params: Any, positives: jax.Array, negatives: jax.Array, key: jax.Array, *,
    mixup_alpha: float, gradient_penalty: float, gradient_penalty_form: str = "zero_centred",
) -> tuple[jax.Array, jax.Array]:
  """One member's loss and accuracy on a balanced batch of standardised ``[B, O]`` positives and negatives."""
  logit_fn = lambda x: model._member_logits(params, x)
  positive_logits, negative_logits = logit_fn(positives), logit_fn(negatives)
  accuracy = 0.5 * (jnp.mean((positive_logits > 0).astype(jnp.float32)) + jnp.mean((negative_logits < 0).astype(jnp.float32)))
  if mixup_alpha > 0:
    inputs, labels = objectives.mixup(key, positives, negatives, alpha=mixup_alpha)
    loss = jnp.mean(objectives.sigmoid_cross_entropy(logit_fn(inputs), labels))
  else:
    inputs = jnp.concatenate([positives, negatives], axis=0)
    loss = jnp.mean(objectives.goal_classifier_loss(positive_logits, negative_logits))
  if gradient_penalty > 0:
    target = 0.0
    if gradient_penalty_form == "one_centred":  # WGAN-GP/DAC: norm 1 on uniform interpolates of each pair
      inputs, _ = objectives.mixup(jax.random.fold_in(key, 1), positives, negatives, alpha=1.0)
      target = 1.0
    loss = loss + gradient_penalty * jnp.mean(objectives.gradient_penalty(logit_fn, inputs, target=target))
  return loss, accuracy


@functools.partial(jax.jit, static_argnames=("num_steps", "batch_size", "mixup_alpha", "gradient_penalty", "gradient_penalty_form"))
def fit(
    model: ClassifierEnsemble,
    positives: jax.Array,
    negatives: jax.Array,
    negative_count: jax.Array,
    *,
    num_steps: int,
    batch_size: int = 128,
    mixup_alpha: float = 0.0,
    gradient_penalty: float = 0.0,
    gradient_penalty_form: str = "zero_centred",
) -> tuple[ClassifierEnsemble, dict[str, jax.Array]]:
  """Trains every member for ``num_steps`` Adam steps on balanced minibatches; one ``lax.scan``.

  Each step, member e draws its own ``batch_size`` positives (uniformly, with replacement, from
  all P) and ``batch_size`` negatives (from the first ``negative_count`` rows) and minimises the
  balanced cross-entropy :func:`rlkit_jax.objectives.goal_classifier_loss` — whatever the sizes
  of D+ and D−, the classes weigh equally (Fu et al. 2018, Eq. 3; Singh et al. 2019, Sec. 4).
  With ``mixup_alpha > 0`` the pairs are mixed instead (:func:`rlkit_jax.objectives.mixup`,
  Singh et al. 2019, Sec. 5) and trained with soft labels; ``gradient_penalty > 0`` adds
  ``weight · mean`` of :func:`rlkit_jax.objectives.gradient_penalty` in the chosen form, with x
  the standardised input: ``"zero_centred"``, ``‖∇_x l(x)‖²`` on the (mixed) training inputs;
  ``"one_centred"``, ``(‖∇_x l(x)‖ − 1)²`` on uniform interpolates of each positive/negative pair
  (WGAN-GP's form, as DAC uses it).

  Args:
    model: the ensemble; its ``key`` is split and advanced.
    positives: D+, ``[P, O]`` float32, P ≥ 1.
    negatives: D− padded to a capacity, ``[N, O]`` float32.
    negative_count: ``[]`` int32 in [1, N]: rows ``[0, negative_count)`` are D−; it may change
      between calls without a recompile.
    num_steps: Adam steps per member (static).
    batch_size: B, positives and negatives per member and step (2B inputs; static).
    mixup_alpha: Beta(α, α) of mixup; 0 = off (static).
    gradient_penalty: weight of the gradient penalty; 0 = off (static).
    gradient_penalty_form: one of :data:`GRADIENT_PENALTY_FORMS` (static).

  Returns:
    ``(model, metrics)``: ``classifier_loss`` (nats; the regularised training loss) and
    ``classifier_accuracy`` (on the clean balanced batches, in [0, 1]), means over members and the
    last 10% of steps; ``classifier_diverged_members``, how many members went non-finite in this
    fit (each keeps its parameters from before it, so the ensemble stays finite).
  """
  num_positives = positives.shape[0]
  members = model.ensemble_size
  key, steps_key = jax.random.split(model.key)
  positives = model.standardize(jnp.asarray(positives, jnp.float32))
  negatives = model.standardize(jnp.asarray(negatives, jnp.float32))

  def member_step(state, member_key):
    pos_key, neg_key, mix_key = jax.random.split(member_key, 3)
    x_pos = jnp.take(positives, jax.random.randint(pos_key, (batch_size,), 0, num_positives), axis=0)
    x_neg = jnp.take(negatives, jax.random.randint(neg_key, (batch_size,), 0, negative_count), axis=0)
    loss_fn = lambda p: _member_loss(
        model, p, x_pos, x_neg, mix_key, mixup_alpha=mixup_alpha, gradient_penalty=gradient_penalty,
        gradient_penalty_form=gradient_penalty_form,
    )
    (loss, accuracy), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    return state.apply_gradients(grads=grads), loss, accuracy

  def body(carry, _):
    state, key = carry
    key, step_key = jax.random.split(key)
    state, loss, accuracy = jax.vmap(member_step)(state, jax.random.split(step_key, members))
    return (state, key), {"classifier_loss": jnp.mean(loss), "classifier_accuracy": jnp.mean(accuracy)}

  (state, _), metrics = jax.lax.scan(body, (model.state, steps_key), None, length=num_steps)
  tail = max(1, num_steps // 10)
  metrics = jax.tree.map(lambda x: jnp.mean(x[-tail:]), metrics)
  # The non-finite guard over members: one that went non-finite keeps its parameters from before the fit.
  finite = jax.vmap(all_finite)(state)
  state = select_runs(finite, state, model.state)
  return model.replace(state=state, key=key), {**metrics, "classifier_diverged_members": jnp.sum(~finite).astype(jnp.float32)}


def reservoir_insert(
    buffer: np.ndarray, count: int, seen: int, rows: np.ndarray, rng: np.random.Generator
) -> tuple[int, int]:
  """Adds ``rows`` to a reservoir in place (Vitter 1985, Algorithm R): afterwards ``buffer[:count]``
  is a uniform sample without replacement of all ``seen`` rows ever offered.

  The t-th row offered (t = 0, 1, ...) fills slot t while the reservoir has room; after that it
  replaces a uniformly chosen slot j ~ U{0..t} if j < capacity, and is dropped otherwise.

  Args:
    buffer: ``[C, O]`` (C = capacity), modified in place.
    count: filled rows, ``min(seen, C)``.
    seen: rows offered so far.
    rows: ``[k, O]`` new rows, in order.
    rng: the host generator that picks the slots (deterministic given its seed).

  Returns:
    ``(count, seen)`` after the insertion.
  """
  capacity, k = buffer.shape[0], rows.shape[0]
  positions = seen + np.arange(k)
  slots = np.where(positions < capacity, positions, rng.integers(0, positions + 1))
  keep = slots < capacity
  slots, source = slots[keep], np.flatnonzero(keep)
  # A slot chosen twice keeps the later row, as the sequential algorithm would.
  _, last = np.unique(slots[::-1], return_index=True)
  last = len(slots) - 1 - last
  buffer[slots[last]] = rows[source[last]]
  seen += k
  return min(seen, capacity), seen


@functools.partial(jax.jit, static_argnames=("observation_dim", "ensemble_size", "hidden_dims"))
def create_seeds(
    keys: jax.Array, learning_rate: jax.Array, *, observation_dim: int, ensemble_size: int, hidden_dims: tuple[int, ...]
) -> ClassifierEnsemble:
  """One :class:`ClassifierEnsemble` per key ``[S]``, every leaf ``[S, ...]`` (one compiled program)."""
  create = lambda k: ClassifierEnsemble.create(
      k, observation_dim, ensemble_size=ensemble_size, hidden_dims=hidden_dims, learning_rate=learning_rate
  )
  return jax.vmap(create)(keys)


@jax.jit
def positive_accuracy(models: ClassifierEnsemble, positives: jax.Array) -> jax.Array:
  """Fraction of D+ ``[P, O]`` whose ensemble-mean logit is > 0, per seed: ``[S]``."""
  return jax.vmap(lambda m: jnp.mean((jnp.mean(m.logits(positives), axis=0) > 0).astype(jnp.float32)))(models)


@functools.partial(jax.jit, static_argnames=("num_steps", "batch_size", "mixup_alpha", "gradient_penalty", "gradient_penalty_form"))
def fit_seeds(
    models: ClassifierEnsemble, positives: jax.Array, negatives: jax.Array, counts: jax.Array, **options: Any
) -> tuple[ClassifierEnsemble, dict[str, jax.Array]]:
  """:func:`fit` of every seed's ensemble on the shared D+ ``[P, O]`` and its own D− ``[S, C, O]``
  (counts ``[S]``); metrics ``[S]``."""
  return jax.vmap(lambda m, n, c: fit(m, positives, n, c, **options))(models, negatives, counts)


@functools.partial(jax.jit, static_argnames=("transform",))
def seed_rewards(models: ClassifierEnsemble, observations: jax.Array, *, transform: str) -> jax.Array:
  """``transform(mean_e l_e(s))`` per seed: models ``[S]``, ``[S, n, O]`` (or ``[n, O]`` shared by
  every seed, not copied per seed) → ``[S, n]`` float32."""
  shared = observations.ndim == 2
  return jax.vmap(
      lambda m, o: objectives.classifier_reward(jnp.mean(m.logits(o), axis=0), transform=transform),
      in_axes=(0, None if shared else 0),
  )(models, observations)


@jax.jit
def seed_mean_logits(models: ClassifierEnsemble, observations: jax.Array) -> jax.Array:
  """Ensemble-mean logits per seed: models ``[S]``, ``[S, n, O]`` → ``[S, n]``."""
  return jax.vmap(lambda m, o: jnp.mean(m.logits(o), axis=0))(models, observations)
