"""Which rows an IQL, AWR or AWAC run's advantage weights favour on a two-policy file (medium-expert:
the medium policy's rows, then the expert's). Loads a finished run's agents (every seed), scores
each row of the file it trained on as its actor loss does (IQL: A = min_e Q_e(s, a) − V(s) with the
target critics; AWR: A = R_t − V(s), standardised; AWAC: A = min_e Q_e(s, a) − min_e Q_e(s, a_π)
with one a_π ~ π(·|s) per row, as its update draws, and "V" its second term; weight
min(exp(βA), max_weight)), and prints Markdown:

* per seed: the share of the total weight on the second policy's rows (%BC's top-10% episodes put
  all of it there), the weights' effective sample size, the spread of the two critics' disagreement
  Q_1 − Q_2 on the same rows (IQL), and the correlation of A between seeds;
* with ``--temperatures``, the same share at other β (the same critics, weights recomputed);
* by step within the episode: mean A and mean V of each policy's rows (the first steps are where
  both policies act from the same start states).

  python experiments/evidence/advantage_by_source.py --run=runs/table100k_walker/iql/walker2d-medium-expert-v5 \
      --first=walker2d-medium-v5 --dataset_dir=datasets --temperatures=10,30
"""
from __future__ import annotations

import itertools
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from rlkit_jax import data as data_lib
from rlkit_jax import objectives
from rlkit_jax.data.preprocessing import with_timesteps
from rlkit_jax.offline.job import load_trained, prepare_dataset

_RUN = flags.DEFINE_string("run", None, "Folder of a finished (or checkpointed) IQL, AWR or AWAC run.", required=True)
_FIRST = flags.DEFINE_string("first", None, "Dataset whose rows open the run's file (e.g. walker2d-medium-v5).", required=True)
_DATASET_DIR = flags.DEFINE_string("dataset_dir", None, "Extra folder to look for the datasets in.")
_TEMPERATURES = flags.DEFINE_list("temperatures", [], "Other β at which to recompute the weight share from the same advantages.")
_BANDS = (0, 5, 10, 20, 50, 200, 1000)


def advantages_and_values(agents, transitions, algo):
  """Per seed, the advantages as the run's actor weights them and V, ``[S, N]`` each, and the
  critics' Q ``[S, E, N]`` (None for AWR): IQL A = min_e Q_e(s, a) − V(s) with the target critics;
  AWR A = R_t − V(s), standardised over the file (the agent standardises over each batch); AWAC
  ``AWAC.advantages`` with the online critics and a fixed key (one a_π ~ π(·|s) per row)."""
  observations = jnp.asarray(transitions.observations)
  if algo == "awac":
    actions, key = jnp.asarray(transitions.actions), jax.random.key(0)

    def advantages_values_q(agent):
      params = agent.critic.params
      return (*agent.advantages(params, observations, actions, key), agent.critic.apply_fn({"params": params}, observations, actions))

    return tuple(np.asarray(x) for x in jax.lax.map(advantages_values_q, agents))
  v = np.asarray(jax.lax.map(lambda agent: agent.value.apply_fn({"params": agent.value.params}, observations), agents))
  if hasattr(agents, "critic"):
    actions = jnp.asarray(transitions.actions)
    q = np.asarray(jax.lax.map(
        lambda agent: agent.critic.apply_fn({"params": agent.target_critic_params}, observations, actions), agents))
    return q.min(axis=1) - v, v, q
  advantages = jnp.asarray(transitions.returns_to_go)[None] - v
  if agents.normalize_advantages:
    advantages = jax.vmap(objectives.normalize_advantages)(advantages)
  return np.asarray(advantages), v, None


def main(argv):
  del argv
  config, agents, dataset = load_trained(_RUN.value, dataset_dir=_DATASET_DIR.value)
  if config.algo not in ("iql", "awr", "awac"):
    raise SystemExit(f"--run={_RUN.value}: a {config.algo} run has no advantage weights to read; give an IQL, AWR or AWAC run.")
  first, _ = prepare_dataset(config, data_lib.load(_FIRST.value, dataset_dir=_DATASET_DIR.value))
  split = len(first.transitions.observations)
  if not np.array_equal(first.transitions.observations, dataset.transitions.observations[:split]):
    raise SystemExit(f"--first={_FIRST.value}: its rows are not the first {split} rows of the run's dataset "
                     f"({config.dataset}); give the file the run's file starts with (medium-expert: medium).")
  advantages, v, q = advantages_and_values(agents, dataset.transitions, config.algo)
  num_rows = v.shape[1]
  weights_at = jax.vmap(lambda a, beta, clip: objectives.advantage_weights(a, temperature=beta, max_weight=clip))
  weights = np.asarray(weights_at(advantages, agents.temperature, agents.max_weight))
  second = np.arange(num_rows) >= split
  step = np.asarray(with_timesteps(dataset).transitions.timesteps)

  print(f"{_RUN.value}: {config.algo}, {num_rows} rows ({split} from {_FIRST.value}, then {num_rows - split}), "
        f"β = {float(agents.temperature[0])}\n")
  print("| seed | weight share on the second policy's rows | ESS / N | std(Q_1 − Q_2) |")
  print("|---|---|---|---|")
  for s, w in enumerate(weights):
    disagreement = "–" if q is None else f"{np.std(q[s, 0] - q[s, -1]):.2f}"
    print(f"| {s} | {w[second].sum() / w.sum():.3f} | {w.sum() ** 2 / (w ** 2).sum() / len(w):.3f} | {disagreement} |")
  for beta in map(float, _TEMPERATURES.value):
    w = np.asarray(weights_at(advantages, jnp.full(len(advantages), beta), agents.max_weight))
    print(f"\nAt β = {beta:g}, the same advantages give the second policy's rows a weight share of "
          + ", ".join(f"{x[second].sum() / x.sum():.3f}" for x in w) + " (seeds 0, 1, ...)")
  pairs = [f"{a}–{b}: {np.corrcoef(advantages[a], advantages[b])[0, 1]:.2f}" for a, b in itertools.combinations(range(len(advantages)), 2)]
  print(f"\nCorrelation of A between seeds, over all rows: {', '.join(pairs)}\n")
  print("| step in episode | A, first policy | A, second policy | V, first policy | V, second policy |")
  print("|---|---|---|---|---|")
  for lo, hi in zip(_BANDS[:-1], _BANDS[1:]):
    band = (step >= lo) & (step < hi)
    mean = lambda x, rows, form: format(x[:, rows].mean(), form) if rows.any() else "–"  # noqa: E731
    cells = [mean(advantages, band & side, "+.2f") for side in (~second, second)]
    cells += [mean(v, band & side, ".1f") for side in (~second, second)]
    print(f"| [{lo}, {hi}) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
  cli.run(main)
