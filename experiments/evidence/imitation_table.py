"""Imitation results as a fraction of the demonstrator's return: online runs on a learned reward
(``train_online.py --reward=gail``) and behaviour cloning (``train_offline.py --algo=bc``) on the
same demonstrations file; prints a Markdown table and writes the learning-curve PNG.

  python experiments/evidence/imitation_table.py --demos=runs/gail/hopper-expert-v5-10demos.hdf5 \
      --online=runs/gail/Hopper-v5/gail --bc=runs/gail/Hopper-v5/bc --png=docs/gail_Hopper-v5.png
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
from absl import flags

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # experiments/
import cli  # noqa: E402
from rlkit_jax.data import load
from rlkit_jax.results import load_metrics, plot_online

_DEMOS = flags.DEFINE_string("demos", None, "The demonstrations file both methods learned from.", required=True)
_ENV_ID = cli.define_env_id("Gymnasium task of a --demos file that names none.")
_ONLINE = flags.DEFINE_list("online", [], "Online run folders (train_online.py --workdir).")
_BC = flags.DEFINE_string("bc", None, "Behaviour-cloning run folder (train_offline.py --algo=bc --workdir).")
_LAST = flags.DEFINE_integer("last", 3, "Average each seed's last that many evaluations (evaluation returns are noisy).")
_PNG = flags.DEFINE_string("png", None, "Learning-curve PNG of the online runs (with the demonstrator and BC as levels).")


def _final(workdir: str, column: str) -> tuple[str, np.ndarray]:
  """``(steps covered, per-seed mean of column over the last --last evaluations)``."""
  steps, values = load_metrics(workdir, column)
  last = min(_LAST.value, len(steps))
  covered = f"{steps[-1]}" if last == 1 else f"{steps[-last]}–{steps[-1]}"
  return covered, values[-last:].mean(axis=0)


def _reward_range(workdir: str) -> str:
  """The learned reward on demonstrated and on visited pairs, seed-mean over the last evaluations:
  how far apart the discriminator puts them ("–" where the run did not log it)."""
  cells = []
  for column in ("reward_positive_reward", "reward_visited_reward"):
    try:
      cells.append(f"{_final(workdir, column)[1].mean():.2f}")
    except KeyError:
      cells.append("–")
  return " / ".join(cells)


def main(argv):
  del argv
  demo_returns = load(_DEMOS.value, env_id=_ENV_ID.value).episode_returns()
  expert = float(demo_returns.mean())
  rows = [("demonstrator", f"{len(demo_returns)} trajectories", demo_returns, "")]
  labels = []
  for workdir in _ONLINE.value:
    with open(os.path.join(workdir, "config.json")) as f:
      config = json.load(f)
    step, returns = _final(workdir, "return")
    given = config.get("reward_kwargs", {})
    settings = ", ".join(f"{k}={v}" for k, v in sorted(given.items()) if k != "demos")
    resolved = config.get("reward_settings", {})  # recorded since 2026-12-05: name the penalty even where it was a default
    if "gradient_penalty_form" in resolved and "gradient_penalty_form" not in given:
      penalty = f"penalty {resolved['gradient_penalty_form']} × {resolved['gradient_penalty']:g}"
      settings = f"{settings}; {penalty}" if settings else penalty
    name = f"SAC, {config['reward']} reward" + (f" ({settings})" if settings else "")
    rows.append((name, f"env steps {step}", returns, _reward_range(workdir)))
    labels.append(name)
  levels = {f"demonstrator ({expert:.0f})": expert}
  if _BC.value:
    step, returns = _final(_BC.value, "return_mean")
    rows.append(("behaviour cloning", f"updates {step}", returns, ""))
    levels[f"BC on the same demos ({returns.mean():.0f})"] = float(returns.mean())
  print(
      f"| method | evaluations averaged (last {_LAST.value}) | return (mean ± std over seeds) | fraction of demonstrator "
      "| learned reward: demonstrations / visited |"
  )
  print("|---|---|---|---|---|")
  for name, budget, returns, reward_range in rows:
    fraction = returns / expert
    print(
        f"| {name} | {budget} | {returns.mean():.1f} ± {returns.std():.1f} (n={len(returns)}) | "
        f"{fraction.mean():.3f} ± {fraction.std():.3f} | {reward_range} |"
    )
  if _PNG.value and _ONLINE.value:
    print("wrote", plot_online(_ONLINE.value, _PNG.value, labels=labels, levels=levels))


if __name__ == "__main__":
  cli.run(main)
