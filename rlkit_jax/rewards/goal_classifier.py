"""A goal classifier as the reward of online RL (VICE), as a :class:`rlkit_jax.rewards.base.RewardSource`
(``train_online.py --reward=classifier``).

The loop (Fu et al. 2018, Alg. 1; Singh et al. 2019, Alg. 1):

1. start from success examples D+ (states judged successful outside the agent) and unsuccessful
   states D− (possibly none);
2. repeat: fit the classifier ``D(s) = σ(l(s))`` on batches half from D+ and half from D−
   (:func:`rlkit_jax.objectives.goal_classifier_loss`); collect experience with π; update π (SAC)
   on the reward ``r(s, a, s') = transform(l(s'))`` (default ``log D(s')``, VICE's); add the visited
   states s' to D−.

Each of the driver's S seeds has its own classifier ensemble and its own D−; the S ensembles (and
their E members each) train as one vmapped program. D− is bounded: a reservoir of
``negatives_capacity`` states per seed (a uniform sample of every state added so far).

``add_visited=False`` (``frozen=true`` in ``--reward_kwargs``) is the ablation "a classifier
trained once and frozen": it is fitted at the first update on D+ and the initial D− (or, if the
examples file has no negatives, the first chunk of visited states) and never again.

References:
  Fu, Singh, Ghosh, Yang & Levine, `Variational Inverse Control with Events (VICE)
  <https://arxiv.org/abs/1805.11686>`_, NeurIPS 2018, Sec. 4–5 (log D as the reward, the policy's
  states as negatives); Singh, Yang, Hartikainen, Finn & Levine, `End-to-End Robotic RL without
  Reward Engineering <https://arxiv.org/abs/1904.07854>`_, RSS 2019, Sec. 4–5 (mixup as the
  classifier's regulariser); Vitter, `Random Sampling with a Reservoir
  <https://doi.org/10.1145/3147.3165>`_, 1985 (Algorithm R).
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from rlkit_jax.objectives.classifier import REWARD_TRANSFORMS
from rlkit_jax.rewards import classifier_ensemble
from rlkit_jax.rewards.base import host_rng, parse_reward_kwargs
from rlkit_jax.rewards.classifier_ensemble import ClassifierEnsemble, input_statistics, reservoir_insert
from rlkit_jax.rewards.success_examples import check_examples, load_examples


class ClassifierReward:
  """The goal-classifier reward of VICE, learned in the loop of online RL; one ensemble and one D− per seed.

  Reward of a transition: ``transform(mean_e l_e(s'))`` of the next observation — the reward for
  reaching s'. ``transform`` (see :func:`rlkit_jax.objectives.classifier_reward`): ``"log_d"``
  (default, VICE: log D(s') ≤ 0), ``"logit"``, ``"log_d_minus_log_1_minus_d"`` (= the logit) or
  ``"gail"`` (softplus(l) ≥ 0). ``log_d`` is a cost on every step: use it on tasks without
  terminations (Reacher, Pusher), where ending an episode early is impossible; on tasks that can
  end early it teaches the agent to do so — use ``gail`` there.

  Args:
    num_seeds: S.
    observation_dim: O.
    positives: D+, ``[P, O]`` float32, P ≥ 1, shared by every seed.
    key: initialises the S ensembles and seeds the reservoir of the initial negatives.
    negatives: the initial D−, ``[N0, O]`` float32 (None or N0 = 0: D− starts with the first
      visited states), put into every seed's reservoir.
    negatives_capacity: C, states kept in D− per seed. Reservoir sampling (not FIFO): D− stays a
      uniform sample of every state added so far, like drawing negatives from the whole replay
      buffer (as VICE's implementation does) with bounded memory; with FIFO the states of earlier policies would leave D−, the classifier could
      score them as successes again and the policy could return to them (a cycle).
    add_visited: True: the loop — add every visited s' to D− and refit every
      ``update_every_steps``. False: the frozen ablation — fit once, at the first update, then
      never again; no visited state is added (except the first chunk's, when D− starts empty).
    update_every_steps: env steps between fits in the loop (checked at the driver's updates).
    num_steps: Adam steps per member and fit.
    initial_num_steps: Adam steps of the first fit (default ``10 × num_steps``; the frozen
      classifier only gets this one).
    batch_size: B positives and B negatives per member and step.
    ensemble_size, hidden_dims, learning_rate: see :meth:`ClassifierEnsemble.create`.
    transform: the reward transform, one of :data:`rlkit_jax.objectives.classifier.REWARD_TRANSFORMS`.
    mixup_alpha: mixup's α (0 = off); Singh et al. 2019 regularise VICE's classifier with mixup.
    gradient_penalty: weight of the input-gradient penalty (0 = off).
    gradient_penalty_form: ``"zero_centred"`` (``‖∇l‖²`` on the training inputs) or
      ``"one_centred"`` (``(‖∇l‖ − 1)²`` on interpolates of D+ and D− pairs, WGAN-GP's form); see
      :func:`rlkit_jax.rewards.classifier_ensemble.fit`.
    normalize: standardise inputs with statistics of D+ ∪ D− taken at the first fit (then fixed).
    features: indices into the observation of the features the classifier sees (default all O): the
      part of the state the success examples are about, e.g. ``(0,)``, Swimmer-v5's heading. With
      every feature, the classifier may also separate D+ from the policy's states by what the
      examples leave free (posture, gait); examples, D− and rewards are all sliced alike.

  Raises:
    ValueError: empty D+, examples whose width is not O, non-finite examples, or a bad setting
      (``features`` empty, repeated or outside [0, O)).
  """

  name = "classifier"

  def __init__(
      self,
      *,
      num_seeds: int,
      observation_dim: int,
      positives: np.ndarray,
      key: jax.Array,
      negatives: Optional[np.ndarray] = None,
      negatives_capacity: int = 100_000,
      add_visited: bool = True,
      update_every_steps: int = 1000,
      num_steps: int = 100,
      initial_num_steps: Optional[int] = None,
      batch_size: int = 128,
      ensemble_size: int = 1,
      hidden_dims: Sequence[int] = (256, 256),
      learning_rate: float = 3e-4,
      transform: str = "log_d",
      mixup_alpha: float = 0.0,
      gradient_penalty: float = 0.0,
      gradient_penalty_form: str = "zero_centred",
      normalize: bool = True,
      features: Optional[Sequence[int]] = None,
  ):
    positives = check_examples("positives (D+)", positives, observation_dim, allow_empty=False)
    negatives = check_examples("negatives (D−)", negatives, observation_dim, allow_empty=True)
    if features is not None:
      features = [int(f) for f in features]
      if not features or len(set(features)) < len(features) or not all(0 <= f < observation_dim for f in features):
        raise ValueError(
            f"ClassifierReward: features={features} must be distinct observation indices in [0, {observation_dim})"
        )
      positives, negatives, observation_dim = positives[:, features], negatives[:, features], len(features)
    self.features = None if features is None else np.asarray(features)
    if transform not in REWARD_TRANSFORMS:
      raise ValueError(f"ClassifierReward: transform={transform!r}; choose one of {', '.join(REWARD_TRANSFORMS)}")
    for field, value in (
        ("num_seeds", num_seeds), ("negatives_capacity", negatives_capacity), ("update_every_steps", update_every_steps),
        ("num_steps", num_steps), ("batch_size", batch_size),
    ):
      if value <= 0:
        raise ValueError(f"ClassifierReward: {field} must be positive, got {value}")
    if gradient_penalty_form not in classifier_ensemble.GRADIENT_PENALTY_FORMS:
      raise ValueError(
          f"ClassifierReward: gradient_penalty_form={gradient_penalty_form!r}; choose one of "
          f"{', '.join(classifier_ensemble.GRADIENT_PENALTY_FORMS)}"
      )
    if mixup_alpha < 0 or gradient_penalty < 0:
      raise ValueError(f"ClassifierReward: mixup_alpha and gradient_penalty must be ≥ 0 (0 = off), got {mixup_alpha}, {gradient_penalty}")
    self.num_seeds, self.observation_dim = num_seeds, observation_dim
    self.add_visited, self.update_every_steps = bool(add_visited), update_every_steps
    self.num_steps = num_steps
    self.initial_num_steps = 10 * num_steps if initial_num_steps is None else initial_num_steps
    self.batch_size, self.transform, self.normalize = batch_size, transform, bool(normalize)
    self.mixup_alpha, self.gradient_penalty = float(mixup_alpha), float(gradient_penalty)
    self.gradient_penalty_form = gradient_penalty_form
    self.learning_rate, self.ensemble_size = float(learning_rate), int(ensemble_size)
    self.hidden_dims = tuple(int(h) for h in hidden_dims)
    self.positives = positives
    self._positives = jnp.asarray(positives)
    init_key, reservoir_key = jax.random.split(key)
    self.models = classifier_ensemble.create_seeds(
        jax.random.split(init_key, num_seeds), jnp.asarray(learning_rate, jnp.float32), observation_dim=observation_dim,
        ensemble_size=ensemble_size, hidden_dims=tuple(int(h) for h in hidden_dims),
    )
    self.negatives = np.zeros((num_seeds, negatives_capacity, observation_dim), np.float32)
    self.counts = np.zeros(num_seeds, np.int64)  # filled rows of each seed's D−
    self.seen = np.zeros(num_seeds, np.int64)  # states ever offered to each seed's D−
    rng = host_rng(reservoir_key)
    for i in range(num_seeds):
      self.counts[i], self.seen[i] = reservoir_insert(self.negatives[i], 0, 0, negatives, rng)
    self.added = 0  # replay rows [0, added) of every seed have been offered to D− (or skipped)
    self.fits = 0
    self.last_fit = 0  # env step of the last fit

  def settings(self) -> dict[str, Any]:
    """Every option as this source resolved it, defaults included (JSON scalars and lists): the
    run's ``config.json`` records them, so a run folder says what it trained on even after a
    default changes."""
    return {
        "negatives_capacity": self.negatives.shape[1], "add_visited": self.add_visited,
        "update_every_steps": self.update_every_steps, "num_steps": self.num_steps,
        "initial_num_steps": self.initial_num_steps, "batch_size": self.batch_size, "ensemble_size": self.ensemble_size,
        "hidden_dims": list(self.hidden_dims), "learning_rate": self.learning_rate, "transform": self.transform,
        "mixup_alpha": self.mixup_alpha, "gradient_penalty": self.gradient_penalty,
        "gradient_penalty_form": self.gradient_penalty_form, "normalize": self.normalize,
        "features": None if self.features is None else self.features.tolist(),
    }

  # The RewardSource protocol.

  def update(self, step: int, buffer: Any, key: jax.Array) -> tuple[bool, dict[str, Any]]:
    """Adds the new visited states s' to D− (loop mode), refits when due; see the class docstring.

    Returns:
      ``(changed, metrics)``: changed = a fit happened. Metrics, all ``[S]``: ``negatives`` (|D−|,
      every call); ``visited_accuracy`` (fraction of the new rows' s' that the classifier the
      policy has been trained on — the one before this call's fit — calls failures; VICE's game
      drives it towards 0.5) and ``visited_reward`` (their mean reward under it), from the second
      call on; after a fit ``classifier_loss``, ``classifier_accuracy`` (its training batches, last
      10% of steps), ``positive_accuracy`` (fraction of D+ it calls successes) and
      ``positive_reward`` (D+'s mean reward under it: against ``visited_reward``, the reward's
      range, which a strong regulariser squeezes towards one value).
    """
    rng = host_rng(key)
    start, self.added = self.added, step
    new = self._visited(buffer, start, step)  # [S, k, O]
    metrics: dict[str, Any] = {}
    if self.fits and new.shape[1]:  # the classifier the policy trained on, judging the policy's new states
      metrics["visited_accuracy"] = (np.asarray(classifier_ensemble.seed_mean_logits(self.models, jnp.asarray(new))) < 0).mean(axis=1)
      metrics["visited_reward"] = np.asarray(self._input_rewards(new), np.float64).mean(axis=1)
    if self.add_visited or (self.fits == 0 and self.counts.min() == 0):
      for i, rows in enumerate(self._negative_rows(buffer, new, start, step)):
        self.counts[i], self.seen[i] = reservoir_insert(self.negatives[i], int(self.counts[i]), int(self.seen[i]), rows, rng)
    due = self.fits == 0 or (self.add_visited and step - self.last_fit >= self.update_every_steps)
    if due:
      if self.counts.min() == 0:
        raise ValueError(
            "ClassifierReward: D− is empty at the first fit (no initial negatives and no visited states); give "
            "negatives in the examples file or let the driver collect a chunk first"
        )
      models = self.models
      if self.fits == 0 and self.normalize:
        models = self._normalized_models()
      num_steps = self.initial_num_steps if self.fits == 0 else self.num_steps
      fitted, fit_metrics = classifier_ensemble.fit_seeds(
          models, self._positives, jnp.asarray(self.negatives), jnp.asarray(self.counts, jnp.int32), num_steps=num_steps,
          batch_size=self.batch_size, mixup_alpha=self.mixup_alpha, gradient_penalty=self.gradient_penalty,
          gradient_penalty_form=self.gradient_penalty_form,
      )
      self.models = fitted
      self.fits += 1
      self.last_fit = step
      metrics.update({name: np.asarray(value, np.float64) for name, value in fit_metrics.items()})
      metrics["positive_accuracy"] = np.asarray(classifier_ensemble.positive_accuracy(self.models, self._positives), np.float64)
      metrics["positive_reward"] = np.asarray(self._input_rewards(self._positives), np.float64).mean(axis=1)
    metrics["negatives"] = self.counts.astype(np.float64)
    return due, metrics

  def _select(self, observations: Any) -> np.ndarray:
    """The classifier's features of observations ``[..., O]`` (all of them unless ``features``)."""
    observations = np.asarray(observations, np.float32)
    return observations if self.features is None else observations[..., self.features]

  def _visited(self, buffer: Any, start: int, stop: int) -> np.ndarray:
    """The classifier's inputs of replay rows ``[start, stop)``: the visited states s', ``[S, k, O]`` float32."""
    return self._select(buffer.next_observations[:, start:stop])

  def _negative_rows(self, buffer: Any, visited: np.ndarray, start: int, stop: int) -> list[np.ndarray]:
    """What each seed adds to its D− for replay rows ``[start, stop)``: its visited inputs."""
    del buffer, start, stop
    return list(visited)

  def _input_rewards(self, inputs: np.ndarray) -> jax.Array:
    """``transform(mean_e l_e(x))`` of classifier inputs ``[S, n, O]`` (or ``[n, O]`` shared by every
    seed) → ``[S, n]``, seed by seed."""
    return classifier_ensemble.seed_rewards(self.models, jnp.asarray(inputs, jnp.float32), transform=self.transform)

  def _normalized_models(self) -> ClassifierEnsemble:
    """Every seed's ensemble with input statistics of D+ ∪ its D− (host NumPy; see
    :meth:`ClassifierEnsemble.normalized`)."""
    # Host statistics, written into the stacked ensembles (slicing the seeds' typed keys apart and
    # stacking them again would count as reusing them under jax_debug_key_reuse).
    offsets, scales = zip(*(input_statistics(np.concatenate([self.positives, self.negatives[i, :self.counts[i]]])) for i in range(self.num_seeds)))
    return self.models.replace(input_offset=jnp.asarray(np.stack(offsets)), input_scale=jnp.asarray(np.stack(scales)))

  def rewards(self, observations: Any, actions: Any, next_observations: Any, terminals: Any = None) -> jax.Array:
    """``[S, n, O]``, ``[S, n, A]``, ``[S, n, O]`` → ``[S, n]`` float32: ``transform(mean_e l_e(s'))``,
    seed i's rows by seed i's ensemble."""
    del observations, actions, terminals
    return self._input_rewards(self._select(next_observations))

  def success_probabilities(self, observations: Any) -> np.ndarray:
    """``D(s) = σ(mean_e l_e(s))`` per seed: ``[S, n, O]`` → ``[S, n]`` float32 NumPy."""
    return np.asarray(jax.nn.sigmoid(classifier_ensemble.seed_mean_logits(self.models, jnp.asarray(self._select(observations)))))

  def state(self) -> dict[str, Any]:
    return {
        "models": self.models, "negatives": self.negatives, "counts": self.counts, "seen": self.seen,
        "added": np.asarray(self.added, np.int64), "fits": np.asarray(self.fits, np.int64),
        "last_fit": np.asarray(self.last_fit, np.int64),
    }

  def restore(self, state: Mapping[str, Any]) -> None:
    self.models = state["models"]
    self.negatives = np.array(state["negatives"], np.float32)
    self.counts, self.seen = np.array(state["counts"], np.int64), np.array(state["seen"], np.int64)
    self.added, self.fits, self.last_fit = int(state["added"]), int(state["fits"]), int(state["last_fit"])


# Settings of --reward=classifier (``config.reward_kwargs``), with their types.
_KWARGS: dict[str, type] = {
    "examples": str, "frozen": bool, "example_negatives": bool, "negatives_capacity": int, "update_every_steps": int,
    "num_steps": int, "initial_num_steps": int, "batch_size": int, "ensemble_size": int, "hidden_dims": str,
    "learning_rate": float, "transform": str, "mixup_alpha": float, "gradient_penalty": float,
    "gradient_penalty_form": str, "normalize": bool, "features": str,
}


def make_classifier_reward(*, config: Any, observation_dim: int, key: jax.Array, **unused: Any) -> ClassifierReward:
  """The ``--reward=classifier`` factory; settings from ``config.reward_kwargs``:

  - ``examples`` (required): an ``.npz`` of success examples (:func:`rlkit_jax.rewards.success_examples.save_examples`;
    ``experiments/make_success_examples.py``) made for ``config.env_id``;
  - ``frozen`` (default false): the ablation "trained once and frozen" (``add_visited=False``);
  - ``example_negatives`` (default true): start D− with the file's ``negatives``;
  - ``hidden_dims`` as ``"256-256"``; ``features`` (observation indices the classifier sees) as
    ``"0"`` or ``"0-3-4"``; every other :class:`ClassifierReward` option by name
    (``negatives_capacity``, ``update_every_steps``, ``num_steps``, ``initial_num_steps``,
    ``batch_size``, ``ensemble_size``, ``learning_rate``, ``transform``, ``mixup_alpha``,
    ``gradient_penalty``, ``gradient_penalty_form``, ``normalize``).

  Raises:
    ValueError: no ``examples``, an unknown setting, or a value of the wrong type.
    ExamplesError: the examples file is missing, empty, for another task or observation size.
  """
  kwargs = parse_reward_kwargs("classifier", config.reward_kwargs, _KWARGS)
  if "examples" not in kwargs:
    raise ValueError(
        "--reward=classifier needs success examples: --reward_kwargs=examples=PATH.npz (make them with "
        "experiments/make_success_examples.py --env=" + str(config.env_id) + ")"
    )
  path = kwargs.pop("examples")
  positives, negatives = load_examples(path, env_id=config.env_id, observation_dim=observation_dim)
  add_visited = not kwargs.pop("frozen", False)
  if not kwargs.pop("example_negatives", True):
    negatives = None
  return ClassifierReward(
      num_seeds=config.num_seeds, observation_dim=observation_dim, positives=positives, negatives=negatives, key=key,
      add_visited=add_visited, **kwargs,
  )


__all__ = ["ClassifierReward", "make_classifier_reward"]
