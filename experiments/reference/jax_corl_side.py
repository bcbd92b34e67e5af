"""The JAX-CORL side of ``experiments/reproduce.py`` (IQL, and BC as its IQL with β = 0): its own
code, on our transitions.

JAX-CORL's ``algos/iql.py`` (nissymori/JAX-CORL) is loaded from the path given with
``--jax_corl`` (see :func:`load_jax_corl`) and trained with its defaults (LayerNorm in V, policy
mean without tanh, cosine actor schedule over the run) and with its own update function. All
seeds are vmapped in one program, as it would run them on an accelerator. Its policy acts with the
mean, clipped to [-1, 1], through our evaluator on our episodes. The state is pickled after every
evaluation, so ``--resume`` continues a killed run.

BC is JAX-CORL's IQL with the temperature β = 0: its advantage weights exp(β·(Q − V)) are then all 1,
so its actor maximises the plain log-likelihood of the data's actions (its critics still train, but
the actor never sees them).
"""
from __future__ import annotations

import importlib.util
import os
import pickle
import sys
import time
import types
from typing import Any, Callable

import jax
import jax.numpy as jnp
import numpy as np

from rlkit_jax.data.dataset import Dataset
from rlkit_jax.errors import UsageError

from reference.d3rlpy_side import check_fingerprint, write_rows


def load_jax_corl(path: str | None) -> types.ModuleType:
  """Imports JAX-CORL's IQL script as a module, with d4rl, gym and wandb stubbed and no CLI flags.

  Raises:
    UsageError: no path, no file there, or its own dependencies (distrax, omegaconf, pydantic)
      are missing.
  """
  if not path or not os.path.isfile(path):
    raise UsageError(f"--reference=jax_corl needs --jax_corl=<path to JAX-CORL's algos/iql.py>, got {path!r}")
  for name in ("d4rl", "gym", "wandb"):  # imported at its top, used only by its own main
    sys.modules.setdefault(name, types.ModuleType(name))
  sys.modules["gym"].Env = object  # a type annotation
  argv, sys.argv = sys.argv, [path]  # its OmegaConf.from_cli() reads sys.argv at import
  try:
    spec = importlib.util.spec_from_file_location("jax_corl_iql", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
  except ImportError as error:
    raise UsageError(f"{path}: {error}; fix: pip install distrax omegaconf pydantic") from None
  finally:
    sys.argv = argv
  return module


ALGOS = {"iql": None, "bc": 0.0}  # our algorithm -> JAX-CORL's beta (None: its default)


def settings_rows(corl, num_updates: int, algo: str = "iql") -> list[tuple[str, object, object]]:
  """The settings where JAX-CORL's defaults differ from ours or have no counterpart."""
  config = corl.IQLConfig(max_steps=num_updates)
  bc = [("behaviour cloning", "BC: maximum likelihood", "its IQL with beta=0 (every advantage weight is 1)")]
  return (bc if algo == "bc" else []) + [
      ("V network", "MLP, no LayerNorm", f"LayerNorm after each hidden activation (layer_norm={config.layer_norm})"),
      ("policy mean", "tanh μ(s)", "μ(s), no tanh; actions clipped to [-1, 1] when acting"),
      ("initialisation", "orthogonal(√2) statistics, no QR", "orthogonal(√2)"),
      ("actor schedule", "cosine to 0 over num_updates", f"cosine to 0 over max_steps={num_updates}"),
  ]


def _transitions(corl, dataset: Dataset):
  t = dataset.transitions
  return corl.Transition(
      observations=jnp.asarray(t.observations), actions=jnp.asarray(t.actions), rewards=jnp.asarray(t.rewards),
      next_observations=jnp.asarray(t.next_observations), dones=jnp.asarray(t.terminals),
      dones_float=jnp.asarray(dataset.episode_ends, jnp.float32),
  )


def train(
    corl, dataset: Dataset, *, num_seeds: int, seed: int, num_updates: int, eval_every: int, batch_size: int,
    evaluate: Callable[[Callable[[np.ndarray], np.ndarray], int], np.ndarray], score: Callable[[np.ndarray], np.ndarray],
    folder: str, resume: bool, fingerprint: dict[str, Any], progress: Callable[[int], None] = lambda step: None,
    algo: str = "iql",
) -> list[dict[str, Any]]:
  """Trains ``num_seeds`` JAX-CORL IQL agents (vmapped) on the prepared ``dataset``.

  Args:
    algo: ``iql`` (its defaults) or ``bc`` (its IQL with β = 0), a key of :data:`ALGOS`.
    evaluate: ``(act_fn, step) -> returns [S, K]``, our evaluator on our job's episodes.
    Others as :func:`experiments.reference.d3rlpy_side.train_seed`.

  Returns:
    One metric row per seed and evaluation.
  """
  state_path, metrics_path = os.path.join(folder, "state.pkl"), os.path.join(folder, "metrics.csv")
  if os.path.exists(state_path) and not resume:
    raise UsageError(f"{folder} already holds a reference run; fix: pass --resume to continue it, or choose another --workdir")
  beta = {} if ALGOS[algo] is None else {"beta": ALGOS[algo]}
  config = corl.IQLConfig(max_steps=num_updates, batch_size=batch_size, n_jitted_updates=1, seed=seed, **beta)
  data = _transitions(corl, dataset)
  example = jax.tree.map(lambda x: x[0], data)
  keys = jax.random.split(jax.random.PRNGKey(seed), num_seeds)
  # one seed at a time, op by op: several QRs (orthogonal init) in one XLA CPU program can hang
  seeds = [corl.create_iql_train_state(k, example.observations, example.actions, config) for k in keys]
  stacked = [jnp.stack(leaves) for leaves in zip(*(jax.tree.leaves(state) for state in seeds))]
  states = jax.tree.unflatten(jax.tree.structure(seeds[0]), stacked)  # the static parts of seed 0
  update_keys = jax.vmap(lambda k: jax.random.fold_in(k, 1))(keys)
  step, elapsed, rows = 0, 0.0, []
  if resume and os.path.exists(state_path):
    with open(state_path, "rb") as f:
      saved = pickle.load(f)
    check_fingerprint(saved, fingerprint, folder)
    states = jax.tree.unflatten(jax.tree.structure(states), saved["leaves"])
    update_keys, step, elapsed, rows = jnp.asarray(saved["keys"]), saved["step"], saved["elapsed_s"], saved["rows"]

  @jax.jit
  def chunk(states, keys):
    def body(carry, _):
      states, keys = carry
      keys, batch_keys = jax.vmap(jax.random.split, out_axes=1)(keys)
      states, _ = jax.vmap(lambda s, k: corl.IQL.update_n_times(s, data, k, config))(states, batch_keys)
      return (states, keys), None

    return jax.lax.scan(body, (states, keys), None, length=eval_every)[0]

  act = jax.jit(jax.vmap(lambda actor, obs: jnp.clip(actor.apply_fn(actor.params, obs).mean(), -1.0, 1.0)))
  os.makedirs(folder, exist_ok=True)
  while step < num_updates:
    started = time.time()
    states, update_keys = chunk(states, update_keys)
    jax.block_until_ready(states)
    step, elapsed = step + eval_every, elapsed + time.time() - started

    def act_fn(observations: np.ndarray) -> np.ndarray:
      actions = act(states.actor, jnp.asarray(observations).reshape(num_seeds, -1, observations.shape[-1]))
      return np.asarray(actions).reshape(observations.shape[0], -1)

    returns = evaluate(act_fn, step)
    rows += [{"step": step, "setting_index": 0, "seed_index": i, "normalized_score": float(score(returns[i]).mean()),
              "return_mean": float(returns[i].mean()), "return_std": float(returns[i].std()), "train_s": elapsed}
             for i in range(num_seeds)]
    with open(state_path + ".tmp", "wb") as f:
      pickle.dump({"leaves": [np.asarray(x) for x in jax.tree.leaves(states)], "keys": np.asarray(update_keys),
                   "step": step, "elapsed_s": elapsed, "rows": rows, "fingerprint": fingerprint}, f)
    os.replace(state_path + ".tmp", state_path)
    write_rows(metrics_path, rows)
    progress(step)
  return rows
