"""IQL throughput at 1, 4 and 16 seeds in one program, and the share of the matmul peak it reaches;
then the cost of a critic ensemble: SAC-N and EDAC updates/s at N = 2, 10 and 50 critics (one
seed, or ``--critic_seeds`` in one program), as a ratio to N = 2 measured in the same run.

  python experiments/benchmark.py

Everything is measured in the same run: the peak is a large float32 matmul timed here; the FLOPs
of one IQL update are counted from the network sizes (dense layers only: forward 2·B·in·out, a
backward pass twice that).
"""
import functools
import json
import time

import jax
import jax.numpy as jnp
import numpy as np
from absl import flags

import cli
from rlkit_jax.training import core
from rlkit_jax.agents import EDAC, IQL, SACN
from rlkit_jax.data.transitions import Transitions

_SEEDS = cli.define_integer_list("seeds", [1, 4, 16], "Seed counts of the IQL measurement (empty: skip).")
_UPDATES = flags.DEFINE_integer("updates", 200, "Updates per timed call (one lax.scan).")
_REPEATS = flags.DEFINE_integer("repeats", 3, "Timed calls per setting (the best is kept).")
_BATCH_SIZE = flags.DEFINE_integer("batch_size", 256, "Minibatch size per seed.")
_HIDDEN = flags.DEFINE_integer("hidden", 256, "Hidden width (two hidden layers).")
_MATMUL = flags.DEFINE_integer("matmul_size", 2048, "n of the n×n float32 matmul used for the peak.")
_CRITICS = cli.define_integer_list("critics", [2, 10, 50], "Ensemble sizes N of the SAC-N / EDAC measurement (empty: skip).")
_CRITIC_SEEDS = flags.DEFINE_integer(
    "critic_seeds", 1, "Seeds per program in the SAC-N / EDAC measurement (the score table runs 3).", lower_bound=1
)
_OBS_DIM, _ACT_DIM, _NUM_CRITICS = 11, 3, 2  # Hopper


def _mlp_macs(sizes):
  return sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))


def iql_update_flops(batch_size, hidden, obs_dim=_OBS_DIM, act_dim=_ACT_DIM, num_critics=_NUM_CRITICS):
  """Dense-layer FLOPs of one IQL update (forward = 2·B·MACs, forward+backward = 3× forward)."""
  fwd = lambda sizes: 2 * batch_size * _mlp_macs(sizes)
  critic = fwd([obs_dim + act_dim, hidden, hidden, 1]) * num_critics
  value = fwd([obs_dim, hidden, hidden, 1])
  actor = fwd([obs_dim, hidden, hidden, act_dim])
  # target critics (fwd); value (fwd+bwd) then V(s), V(s') (fwd); actor (fwd+bwd); critics (fwd+bwd)
  return critic + 3 * value + 2 * value + 3 * actor + 3 * critic


def _best_time(fn, repeats):
  best = float("inf")
  for _ in range(repeats):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    best = min(best, time.perf_counter() - start)
  return best


def matmul_peak(n, repeats):
  a = jax.random.normal(jax.random.key(0), (n, n), jnp.float32)
  b = jax.random.normal(jax.random.key(1), (n, n), jnp.float32)
  matmul = jax.jit(jnp.matmul)
  jax.block_until_ready(matmul(a, b))
  return 2 * n**3 / _best_time(lambda: matmul(a, b), repeats)


def _time_updates(create, dataset, num_seeds, train) -> float:
  """Best wall time of one compiled call of ``train`` (``_UPDATES`` updates of ``num_seeds`` runs)."""
  state, data = core.place(core.init_run_state(create, seed=0, num_seeds=num_seeds), dataset)
  state, _ = train(state, data)  # compile
  jax.block_until_ready(state)
  holder = [state]

  def call():
    holder[0], _ = train(holder[0], data)
    return holder[0]

  return _best_time(call, _REPEATS.value)


def ensemble_costs(dataset, train) -> list[dict]:
  """SAC-N and EDAC updates/s (programs of ``--critic_seeds`` seeds) at each N of ``--critics``, and
  the ratio to the first N."""
  rows = []
  for name, cls in (("sac_n", SACN), ("edac", EDAC)):
    for num_critics in _CRITICS.value:
      create = functools.partial(
          cls.create, observation_dim=_OBS_DIM, action_dim=_ACT_DIM, hidden_dims=(_HIDDEN.value,) * 2, num_critics=num_critics
      )
      seconds = _time_updates(create, dataset, _CRITIC_SEEDS.value, train)
      rows.append({"algo": name, "num_critics": num_critics, "num_seeds": _CRITIC_SEEDS.value, "updates_per_s": _UPDATES.value / seconds})
  for row in rows:
    first = next(r for r in rows if r["algo"] == row["algo"])
    row["cost_vs_first_n"] = first["updates_per_s"] / row["updates_per_s"]
  return rows


def iql_throughput(dataset, train) -> None:
  """IQL updates/s at each seed count of ``--seeds`` in one program, and the share of the matmul peak; printed."""
  peak = matmul_peak(_MATMUL.value, _REPEATS.value + 2)
  flops = iql_update_flops(_BATCH_SIZE.value, _HIDDEN.value)
  create = functools.partial(IQL.create, observation_dim=_OBS_DIM, action_dim=_ACT_DIM, hidden_dims=(_HIDDEN.value,) * 2)
  results = []
  for num_seeds in _SEEDS.value:
    seconds = _time_updates(create, dataset, num_seeds, train)
    updates_per_s = _UPDATES.value / seconds
    achieved = updates_per_s * num_seeds * flops
    results.append({
        "num_seeds": num_seeds,
        "program_updates_per_s": updates_per_s,
        "seed_updates_per_s": updates_per_s * num_seeds,
        "achieved_gflops": achieved / 1e9,
        "share_of_matmul_peak": achieved / peak,
    })
  base = results[0]["seed_updates_per_s"]
  for r in results:
    r["seed_throughput_vs_first"] = r["seed_updates_per_s"] / base
  report = {
      "device": str(jax.devices()[0]),
      "device_count": jax.device_count(),
      "matmul_peak_gflops": peak / 1e9,
      "iql_update_gflop": flops / 1e9,
      "batch_size": _BATCH_SIZE.value,
      "hidden": _HIDDEN.value,
      "results": results,
  }
  print(json.dumps(report, indent=1))
  print(f"{'seeds':>5} {'updates/s':>10} {'seed-upd/s':>11} {'vs 1 seed':>9} {'GFLOP/s':>8} {'% peak':>7}")
  for r in results:
    print(f"{r['num_seeds']:>5} {r['program_updates_per_s']:>10.1f} {r['seed_updates_per_s']:>11.1f} "
          f"{r['seed_throughput_vs_first']:>9.2f} {r['achieved_gflops']:>8.2f} {100 * r['share_of_matmul_peak']:>6.1f}%")
  print(f"matmul peak {peak / 1e9:.1f} GFLOP/s ({_MATMUL.value}² float32); one IQL update = {flops / 1e9:.3f} GFLOP")


def main(argv):
  del argv
  rng = np.random.default_rng(0)
  n = 100_000
  dataset = Transitions(
      observations=rng.normal(size=(n, _OBS_DIM)).astype(np.float32),
      actions=rng.uniform(-1, 1, (n, _ACT_DIM)).astype(np.float32),
      rewards=rng.normal(size=n).astype(np.float32),
      terminals=(rng.uniform(size=n) < 0.01).astype(np.float32),
      next_observations=rng.normal(size=(n, _OBS_DIM)).astype(np.float32),
  )
  train = core.make_train_chunk(batch_size=_BATCH_SIZE.value, num_updates=_UPDATES.value)
  if _SEEDS.value:
    iql_throughput(dataset, train)
  if _CRITICS.value:
    rows = ensemble_costs(dataset, train)
    print(json.dumps({"ensembles": rows}, indent=1))
    print(f"{'algo':>6} {'N':>4} {'updates/s':>10} {'time vs N=' + str(_CRITICS.value[0]):>12}")
    for r in rows:
      print(f"{r['algo']:>6} {r['num_critics']:>4} {r['updates_per_s']:>10.1f} {r['cost_vs_first_n']:>12.2f}")


if __name__ == "__main__":
  cli.run(main)
