"""Pieces shared by the one-update checks against d3rlpy (``d3rlpy_sac_check.py``,
``d3rlpy_td3_check.py``, ``d3rlpy_dt_check.py``): the same minibatch for both libraries, our flax
layers copied into d3rlpy's torch modules, the largest parameter gap after both updates, and
d3rlpy's Gaussian draws replaced by the ones our update makes from its keys.

A layer pair is ``(group, params, module)``: ``params`` a flax ``Dense`` (``kernel [in, out]``,
``bias``), ``LayerNorm`` (``scale``, ``bias``) or ``Embed`` (``embedding [N, D]``) parameter dict,
``module`` the torch ``Linear`` (``weight [out, in]``), ``LayerNorm`` or ``Embedding`` that stands
for it.
"""
from __future__ import annotations

import contextlib
from typing import Iterable, Iterator

import jax.numpy as jnp
import numpy as np

from rlkit_jax.data import load, preprocessing
from rlkit_jax.data.transitions import Transitions

FIELDS = ("observations", "actions", "rewards", "terminals", "next_observations", "next_actions")


def minibatch(dataset: str, seed: int, batch_size: int) -> tuple[dict[str, np.ndarray], np.ndarray, Transitions]:
  """``batch_size`` rows of ``dataset`` drawn with ``seed``: ``(arrays, rows, batch)``, the host
  arrays (with the dataset's next actions, ``preprocessing.with_next_actions``) for d3rlpy's
  ``TransitionMiniBatch`` and our :class:`Transitions` of the same rows."""
  data = preprocessing.with_next_actions(load(dataset))
  arrays = {k: np.asarray(getattr(data.transitions, k)) for k in FIELDS}
  rows = np.random.default_rng(seed).integers(0, len(data), batch_size)
  return arrays, rows, Transitions(**{k: jnp.asarray(v[rows], jnp.float32) for k, v in arrays.items()})


def dense_layers(tree: dict) -> list[dict]:
  """A flax ``{Dense_i: …}`` tree's Dense layers in creation order."""
  return [tree[f"Dense_{i}"] for i in range(sum(name.startswith("Dense_") for name in tree))]


def _tensors(params: dict, module) -> Iterator[tuple[np.ndarray, object]]:
  """(ours in torch's layout, the torch parameter) for each tensor of a layer pair."""
  if "kernel" in params:
    yield np.asarray(params["kernel"]).T, module.weight
  else:  # LayerNorm's scale or an Embed's table [N, D]: the same layout in torch
    yield np.asarray(params.get("scale", params.get("embedding"))), module.weight
  if "bias" in params:
    yield np.asarray(params["bias"]), module.bias


def transplant(torch, pairs: Iterable[tuple[str, dict, object]]) -> None:
  """Copies every pair's flax parameters into its torch module."""
  with torch.no_grad():
    for _, params, module in pairs:
      for ours, theirs in _tensors(params, module):
        theirs.copy_(torch.from_numpy(np.array(ours)))


def largest_gaps(pairs: Iterable[tuple[str, dict, object]]) -> dict[str, float]:
  """Largest ``|ours − d3rlpy|`` over each group's tensors."""
  worst: dict[str, float] = {}
  for group, params, module in pairs:
    for ours, theirs in _tensors(params, module):
      worst[group] = max(worst.get(group, 0.0), float(np.max(np.abs(ours - theirs.detach().numpy()))))
  return worst


@contextlib.contextmanager
def replaced(owner, name: str, value) -> Iterator[None]:
  """``owner.name`` set to ``value`` inside the block (e.g. d3rlpy's noise source), restored after."""
  original = getattr(owner, name)
  setattr(owner, name, value)
  try:
    yield
  finally:
    setattr(owner, name, original)
