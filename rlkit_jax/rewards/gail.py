"""GAIL's discriminator as the reward of an off-policy learner, with absorbing states
(``train_online.py --reward=gail``).

The game (Ho & Ermon 2016, Alg. 1; off-policy as in Kostrikov et al. 2019, Alg. 1): a
discriminator ``D(s, a) = σ(l(s, a))`` learns to tell the demonstrator's state-action pairs
(positives) from the policy's (negatives, every pair the policy has visited: the replay buffer);
SAC maximises the reward ``−log(1 − D(s, a)) = softplus(l)``
(:func:`rlkit_jax.objectives.classifier_reward` ``"gail"``). The fitting machinery — balanced
batches, per-seed ensembles vmapped, a reservoir-bounded D−, input standardisation, mixup and
the gradient penalty — is the goal classifier's (:class:`rlkit_jax.rewards.goal_classifier.ClassifierReward`);
only the inputs and the reward of terminal steps differ.

Absorbing states (Kostrikov et al. 2019, Sec. 4.2). A reward that is positive on every step
(−log(1 − D) ≥ 0) pays an agent to live long; one that is negative (log D) pays it to die early —
whatever the demonstrator did. DAC's fix: after a termination the episode goes on in an absorbing
state s_a that loops onto itself forever, and the discriminator learns a reward for it like for
any other state. Inputs are ``[s, a, 0]`` for ordinary pairs and ``[0, 0, 1]`` for the absorbing
state (an indicator feature); each buffer (demonstrations and the policy's) holds one absorbing row
per termination it contains, as DAC's replay buffer holds one absorbing transition per terminated
episode. The learner's side is equivalent to DAC's without changing the agent's inputs: the label
of a terminal transition is

    r(s_T, a_T) + γ / (1 − γ) · r(s_a),

the return of r(s_a) per step for ever after, which is exactly the value DAC's critic converges to
for the absorbing state (``r(s_a) + γ Q(s_a, ·)`` with the action ignored there; no entropy bonus,
as no choice made in s_a matters). So if the demonstrator never terminates, r(s_a) falls towards
the policy's side (≈ 0) and terminating forfeits the reward of every later step; if the
demonstrator does terminate, terminating is no longer penalised. ``absorbing=False`` drops both
halves (plain GAIL, terminal labels r(s_T, a_T) only) as an ablation.

References:
  Ho & Ermon, `Generative Adversarial Imitation Learning <https://arxiv.org/abs/1606.03476>`_,
  NeurIPS 2016, Eq. 17 and Alg. 1; Kostrikov, Agrawal, Dwibedi, Levine & Tompson,
  `Discriminator-Actor-Critic <https://arxiv.org/abs/1809.02925>`_, ICLR 2019, Sec. 4.1–4.2 (bias of
  the reward at terminations, absorbing states, off-policy training on the replay buffer).
"""
from __future__ import annotations

from typing import Any, Optional

import jax
import numpy as np

from rlkit_jax.agents.common import agent_options
from rlkit_jax.agents.sac import SAC
from rlkit_jax.data.dataset import Dataset, DatasetError, take_episodes
from rlkit_jax.data.loading import load
from rlkit_jax.rewards.base import parse_reward_kwargs
from rlkit_jax.rewards.classifier_ensemble import ClassifierEnsemble
from rlkit_jax.rewards.goal_classifier import ClassifierReward


class DemonstrationsError(DatasetError):
  """Demonstrations that cannot be imitated on this task; the message names the file, the field and the fix."""


def discriminator_inputs(observations: Any, actions: Any) -> np.ndarray:
  """``[s, a, 0]``: ``[..., O]`` and ``[..., A]`` float32 → ``[..., O + A + 1]`` float32 NumPy
  (the last feature marks the absorbing state, 0 here)."""
  observations, actions = np.asarray(observations, np.float32), np.asarray(actions, np.float32)
  flag = np.zeros(observations.shape[:-1] + (1,), np.float32)
  return np.concatenate([observations, actions, flag], axis=-1)


def absorbing_input(observation_dim: int, action_dim: int) -> np.ndarray:
  """The absorbing state's input ``[0, …, 0, 1]``, ``[O + A + 1]`` float32 (Kostrikov et al. 2019, Sec. 4.2)."""
  row = np.zeros(observation_dim + action_dim + 1, np.float32)
  row[-1] = 1.0
  return row


def expert_inputs(demonstrations: Dataset, *, absorbing: bool = True) -> np.ndarray:
  """D+ of the discriminator: ``[N (+ T), O + A + 1]`` float32 — every demonstrated ``[s, a, 0]``,
  then (``absorbing=True``) one absorbing row ``[0, 0, 1]`` per terminal transition (T of them)."""
  t = demonstrations.transitions
  rows = discriminator_inputs(t.observations, t.actions)
  if not absorbing:
    return rows
  count = int(np.sum(np.asarray(t.terminals) > 0))
  extra = np.repeat(absorbing_input(t.observations.shape[-1], t.actions.shape[-1])[None], count, axis=0)
  return np.concatenate([rows, extra], axis=0)


def load_demonstrations(
    path: str, *, env_id: str, observation_dim: int, action_dim: int, num_demos: Optional[int] = None
) -> Dataset:
  """Demonstrations for ``env_id``: a D4RL-layout file (``experiments/make_demonstrations.py``, or
  any generated/D4RL dataset), optionally cut to its first ``num_demos`` trajectories.

  Args:
    path: a path or dataset name, as :func:`rlkit_jax.data.load` takes.
    env_id: the task the learner acts in; the file's ``env_id`` must be the same.
    observation_dim, action_dim: O and A of that task.
    num_demos: keep the first that many trajectories (None: all).

  Raises:
    DemonstrationsError: the file's task is another one, its observations or actions have another
      width, its actions are discrete, or it holds fewer than ``num_demos`` trajectories.
    DatasetError: the file is missing, unreadable or invalid (NaNs, missing keys; from the loader).
  """
  data = load(path)
  fix = f"fix: make demonstrations of {env_id} with experiments/make_demonstrations.py --dataset=<{env_id} expert dataset>"
  if data.env_id != env_id:
    raise DemonstrationsError(f"{data.source}: env_id is {data.env_id!r}, but the agent acts in {env_id}; {fix}")
  t = data.transitions
  if t.actions.ndim != 2:
    raise DemonstrationsError(f"{data.source}: actions are discrete indices {list(t.actions.shape)}; GAIL here needs continuous actions")
  for field, array, want in (("observations", t.observations, observation_dim), ("actions", t.actions, action_dim)):
    if array.shape[-1] != want:
      raise DemonstrationsError(f"{data.source}: {field} have width {array.shape[-1]}, {env_id} has {want}; {fix}")
  if num_demos is not None:
    try:
      data = take_episodes(data, num_demos)
    except DatasetError as e:
      raise DemonstrationsError(f"num_demos={num_demos}: {e}") from None
  return data


class DiscriminatorReward(ClassifierReward):
  """GAIL's reward ``transform(mean_e l_e(s, a))`` from a discriminator learned in the loop of
  online RL, with DAC's absorbing states; one discriminator ensemble and one D− per seed.

  Every ``update_every_steps`` env steps each seed's discriminator is refitted for ``num_steps``
  Adam steps on balanced batches of demonstrated inputs (D+) and its own visited inputs (D−, a
  reservoir of ``negatives_capacity`` rows: with capacity ≥ the run's steps plus terminations it
  is the whole replay buffer, as in DAC), and the replay is relabelled.

  Args:
    num_seeds: S.
    observation_dim, action_dim: O and A; the discriminator's inputs have O + A + 1 features.
    demonstrations: D+, ``[P, O + A + 1]`` float32 (:func:`expert_inputs`).
    key: initialises the S ensembles and seeds the reservoirs.
    discount: γ of the learner (the absorbing state's value is ``r(s_a) / (1 − γ)``), in [0, 1).
    absorbing: DAC's absorbing states (see the module docstring); False = plain GAIL.
    transform: default ``"gail"`` (−log(1 − D)); see :class:`ClassifierReward` for the others.
    gradient_penalty: weight of the input-gradient penalty on the discriminator's (standardised)
      inputs, default 10 (DAC's weight, Kostrikov et al. 2019, Sec. 5).
    gradient_penalty_form: ``"one_centred"`` (default: ``(‖∇l‖ − 1)²`` on interpolates of expert
      and visited pairs, DAC's own, WGAN-GP's form) or ``"zero_centred"`` (``‖∇l‖²`` on the
      training pairs). At weight 10 the zero-centred form flattens the logits: one fit on Hopper
      leaves visited pairs' rewards within 0.63–0.72 and the demonstrations' at 0.73, where the
      one-centred form spreads them over 0.07–0.91 (BUILD_NOTES, GAIL).
    num_steps: Adam steps per seed's ensemble every ``update_every_steps`` (default 1000) env
      steps: 250, one per 4 SAC updates (the first fit gets ``initial_num_steps``, default 10×).
    batch_size: B demonstrated and B visited inputs per step (default 256, SAC's batch).
    options: every other :class:`ClassifierReward` option (``negatives_capacity``,
      ``update_every_steps``, ``initial_num_steps``, ``ensemble_size``, ``hidden_dims``,
      ``learning_rate``, ``mixup_alpha``, ``normalize``).

  Raises:
    ValueError: empty or mis-shaped demonstrations, ``discount`` outside [0, 1), a bad option.
  """

  name = "gail"

  def __init__(
      self,
      *,
      num_seeds: int,
      observation_dim: int,
      action_dim: int,
      demonstrations: np.ndarray,
      key: jax.Array,
      discount: float = 0.99,
      absorbing: bool = True,
      transform: str = "gail",
      gradient_penalty: float = 10.0,
      gradient_penalty_form: str = "one_centred",
      num_steps: int = 250,
      batch_size: int = 256,
      **options: Any,
  ):
    if not 0.0 <= discount < 1.0:
      raise ValueError(f"DiscriminatorReward: discount must be in [0, 1), got {discount}")
    width = observation_dim + action_dim + 1
    if np.ndim(demonstrations) != 2 or np.shape(demonstrations)[1] != width:
      raise ValueError(
          f"DiscriminatorReward: demonstrations have shape {list(np.shape(demonstrations))}, expected [P, {width}] rows "
          "[s, a, absorbing flag]; build them with expert_inputs(load_demonstrations(...))"
      )
    self.discount, self.absorbing = float(discount), bool(absorbing)
    self._absorbing_row = absorbing_input(observation_dim, action_dim)
    super().__init__(
        num_seeds=num_seeds, observation_dim=width, positives=demonstrations, key=key,
        negatives=None, add_visited=True, transform=transform, gradient_penalty=gradient_penalty,
        gradient_penalty_form=gradient_penalty_form, num_steps=num_steps, batch_size=batch_size, **options,
    )

  def settings(self) -> dict[str, Any]:
    """The classifier's resolved options (:meth:`ClassifierReward.settings`) plus ``discount`` and ``absorbing``."""
    return {**super().settings(), "discount": self.discount, "absorbing": self.absorbing}

  def _visited(self, buffer: Any, start: int, stop: int) -> np.ndarray:
    """``[s, a, 0]`` of replay rows ``[start, stop)``: ``[S, k, O + A + 1]``."""
    return discriminator_inputs(buffer.observations[:, start:stop], buffer.actions[:, start:stop])

  def _negative_rows(self, buffer: Any, visited: np.ndarray, start: int, stop: int) -> list[np.ndarray]:
    """Each seed's visited inputs, then one absorbing row per termination among them."""
    if not self.absorbing:
      return list(visited)
    terminations = np.asarray(buffer.terminals[:, start:stop]).sum(axis=1)
    return [np.concatenate([v, np.repeat(self._absorbing_row[None], int(k), axis=0)]) for v, k in zip(visited, terminations)]

  def _normalized_models(self) -> ClassifierEnsemble:
    """As the goal classifier's, but the absorbing indicator is left as it is (offset 0, scale 1):
    with few absorbing rows its standard deviation is tiny and would blow it up."""
    models = super()._normalized_models()
    return models.replace(
        input_offset=models.input_offset.at[:, -1].set(0.0), input_scale=models.input_scale.at[:, -1].set(1.0)
    )

  def absorbing_reward(self) -> np.ndarray:
    """r(s_a) per seed, ``[S]`` float32 (0 when ``absorbing=False``: no value after a termination)."""
    if not self.absorbing:
      return np.zeros(self.num_seeds, np.float32)
    return np.asarray(self._input_rewards(self._absorbing_row[None]))[:, 0]  # one row, shared by every seed

  def rewards(self, observations: Any, actions: Any, next_observations: Any, terminals: Any = None) -> np.ndarray:
    """``[S, n, O]``, ``[S, n, A]``, ``[S, n, O]``, ``[S, n]`` bool → ``[S, n]`` float32:
    ``transform(mean_e l_e(s, a))``, plus ``γ / (1 − γ) · r(s_a)`` on terminal rows (absorbing
    states; see the module docstring). ``terminals=None``: no row is terminal."""
    del next_observations
    out = np.asarray(self._input_rewards(discriminator_inputs(observations, actions)), np.float32)
    if terminals is not None and self.absorbing:
      bonus = self.discount / (1.0 - self.discount) * self.absorbing_reward()
      out = out + np.asarray(terminals, np.float32) * bonus[:, None]
    return out

  def update(self, step: int, buffer: Any, key: jax.Array) -> tuple[bool, dict[str, Any]]:
    """The goal classifier's update on (s, a) inputs (:meth:`ClassifierReward.update`: metrics
    ``visited_accuracy``, ``visited_reward``, ``classifier_loss``, ``classifier_accuracy``,
    ``positive_accuracy`` = share of demonstrations the discriminator calls expert,
    ``positive_reward`` = their mean reward, ``negatives``),
    plus ``absorbing_reward`` = r(s_a) ``[S]`` after every fit."""
    changed, metrics = super().update(step, buffer, key)
    if changed:
      metrics["absorbing_reward"] = self.absorbing_reward().astype(np.float64)
    return changed, metrics


# Settings of --reward=gail (``config.reward_kwargs``), with their types.
_KWARGS: dict[str, type] = {
    "demos": str, "num_demos": int, "absorbing": bool, "negatives_capacity": int, "update_every_steps": int,
    "num_steps": int, "initial_num_steps": int, "batch_size": int, "ensemble_size": int, "hidden_dims": str,
    "learning_rate": float, "transform": str, "mixup_alpha": float, "gradient_penalty": float,
    "gradient_penalty_form": str, "normalize": bool,
}


def make_gail_reward(*, config: Any, observation_dim: int, action_dim: int, key: jax.Array, **unused: Any) -> DiscriminatorReward:
  """The ``--reward=gail`` factory; settings from ``config.reward_kwargs``:

  - ``demos`` (required): demonstrations of ``config.env_id`` in D4RL layout (a path or dataset
    name; ``experiments/make_demonstrations.py`` cuts N trajectories from an expert dataset);
  - ``num_demos``: use only the file's first that many trajectories (default: all);
  - ``absorbing`` (default true): DAC's absorbing states;
  - ``negatives_capacity`` (default ``2 × num_steps``: the whole replay plus its absorbing rows);
  - every other :class:`DiscriminatorReward` option by name, ``hidden_dims`` as ``"256-256"``.

  The learner's discount is the SAC run's (``--hparams=discount=...``, default 0.99).

  Raises:
    ValueError: no ``demos``, an unknown setting, or a value of the wrong type.
    DemonstrationsError, DatasetError: see :func:`load_demonstrations`.
  """
  kwargs = parse_reward_kwargs("gail", config.reward_kwargs, _KWARGS)
  if "demos" not in kwargs:
    raise ValueError(
        "--reward=gail needs demonstrations: --reward_kwargs=demos=PATH.hdf5 (cut them from an expert dataset with "
        f"experiments/make_demonstrations.py; the task must be {config.env_id})"
    )
  demos = load_demonstrations(
      kwargs.pop("demos"), env_id=config.env_id, observation_dim=observation_dim, action_dim=action_dim,
      num_demos=kwargs.pop("num_demos", None),
  )
  absorbing = kwargs.pop("absorbing", True)
  kwargs.setdefault("negatives_capacity", 2 * config.num_steps)
  discount = config.sac_kwargs().get("discount", agent_options(SAC)["discount"])
  return DiscriminatorReward(
      num_seeds=config.num_seeds, observation_dim=observation_dim, action_dim=action_dim,
      demonstrations=expert_inputs(demos, absorbing=absorbing), key=key, discount=discount, absorbing=absorbing,
      **kwargs,
  )


__all__ = [
    "DemonstrationsError", "DiscriminatorReward", "absorbing_input", "discriminator_inputs", "expert_inputs",
    "load_demonstrations", "make_gail_reward",
]
