"""The non-finite guard: a run driven to overflow on purpose stops at its last finite state, the
other runs of the same vmapped program go on, and the job reports where and why."""
import json
import os
import subprocess
import sys

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

from rlkit_jax.training import core
from rlkit_jax.checkpoint import Checkpointer
from rlkit_jax.offline import OfflineConfig, run_offline
from rlkit_jax.training import DivergenceLog, all_finite, guard_runs, select_runs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Overflowing(flax.struct.PyTreeNode):
  """An agent whose one parameter is multiplied by ``growth`` every update: with growth 10 it
  leaves float32's range (3.4e38) at update 39, as inf; with growth 1 it stays at 1."""

  weight: jax.Array
  growth: jax.Array

  @classmethod
  def create(cls, key, *, growth: float = 10.0):
    del key
    return cls(weight=jnp.ones((2,), jnp.float32), growth=jnp.asarray(growth, jnp.float32))

  def update(self, batch):
    del batch
    weight = self.weight * self.growth
    return self.replace(weight=weight), {"loss": jnp.sum(weight), "growth": self.growth}


def _tiny_dataset():
  from rlkit_jax.data.transitions import Transitions

  zeros = jnp.zeros((4, 1), jnp.float32)
  return Transitions(observations=zeros, actions=zeros, rewards=zeros[:, 0], terminals=zeros[:, 0], next_observations=zeros)


def _random_dataset(n: int = 32):
  """Distinct random rows, so a batch drawn with other keys gives another update."""
  from rlkit_jax.data.transitions import Transitions

  rng = np.random.default_rng(0)
  column = lambda: jnp.asarray(rng.standard_normal((n, 1)), jnp.float32)
  return Transitions(observations=column(), actions=jnp.tanh(column()), rewards=column()[:, 0],
                     terminals=jnp.asarray(rng.random(n) < 0.1, jnp.float32), next_observations=column())


def test_guard_freezes_the_overflowing_run_at_its_last_finite_state():
  state = core.init_run_state(Overflowing.create, seed=0, num_seeds=1, settings=[{"growth": 10.0}, {"growth": 1.0}])
  train = core.make_train_chunk(batch_size=2, num_updates=10)
  log = DivergenceLog(2)
  weights, events = [], []
  data = _tiny_dataset()
  for _ in range(6):
    state, metrics = train(state, data)
    weights.append(np.asarray(state.agents.weight))
    events += log.update(int(state.step), state.active, jax.device_get(metrics))
  assert [e.run for e in events] == [0]
  # 10^30 after 30 updates is finite; the chunk ending at update 40 overflows (10^39 > 3.4e38).
  assert events[0].step == 40
  assert events[0].metrics == {"loss": np.inf}
  assert events[0].describe("seed 0") == "seed 0 diverged at update 40: loss is inf"
  np.testing.assert_allclose(weights[-1][0], np.full(2, 1e30, np.float32), rtol=1e-6)  # frozen at update 30
  np.testing.assert_array_equal(weights[-1][1], np.ones(2))  # the other run went on
  np.testing.assert_array_equal(np.asarray(state.active), [False, True])
  assert int(state.step) == 60
  assert all(bool(all_finite(w)) for w in weights)


def test_guard_parameters_alone_and_typed_keys():
  keys = jax.random.split(jax.random.key(0), 3)
  old = {"w": jnp.zeros((3, 2)), "key": keys, "count": jnp.arange(3)}
  new = {"w": jnp.array([[1.0, 1.0], [jnp.nan, 1.0], [2.0, 2.0]]), "key": jax.random.split(jax.random.key(1), 3),
         "count": jnp.arange(3) + 1}
  out, active = guard_runs(jnp.array([True, True, False]), new, old, {"loss": jnp.zeros(3)})
  np.testing.assert_array_equal(np.asarray(active), [True, False, False])  # NaN parameter; run 2 was inactive
  np.testing.assert_array_equal(np.asarray(out["w"]), [[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]])
  np.testing.assert_array_equal(np.asarray(out["count"]), [1, 1, 2])
  np.testing.assert_array_equal(jax.random.key_data(out["key"]), jax.random.key_data(new["key"]))  # keys advance
  picked = select_runs(jnp.array([False, True, True]), new["w"], old["w"])
  np.testing.assert_array_equal(np.asarray(picked)[0], [0.0, 0.0])
  log = DivergenceLog(3)
  (event,) = log.update(5, active[:2].tolist() + [True], {"loss": np.zeros(3)})
  assert event.describe("seed 1") == "seed 1 diverged at update 5: the parameters are not finite"
  assert DivergenceLog(3, log.to_json()).active.tolist() == [True, False, True]


# A tiny IQL run on the shared Hopper file (``hopper_file``, tests/conftest.py): two 5-update chunks.
TINY = dict(algo="iql", seed=0, num_seeds=2, num_updates=10, batch_size=8, eval_every=5, eval_episodes=1, updates_per_call=5,
            hidden_dims=(8, 8))


def test_offline_job_reports_a_diverged_setting_and_keeps_the_others(hopper_file, tmp_path):
  # critic_lr=1e38 is a valid step size that overflows the critic within the first chunk.
  swept = run_offline(OfflineConfig(dataset=hopper_file, sweep={"critic_lr": (3e-4, 1e38)}, **TINY), str(tmp_path / "swept"),
                      progress=False)
  alone = run_offline(OfflineConfig(dataset=hopper_file, **TINY), str(tmp_path / "alone"), progress=False)
  good, bad = swept["settings"]
  assert bad["normalized_score_per_seed"] == [None, None]
  assert bad["normalized_score_mean"] is None
  assert [(d["setting_index"], d["seed_index"], d["step"]) for d in swept["diverged"]] == [(1, 0, 5), (1, 1, 5)]
  assert "critic_loss" in swept["diverged"][0]["metrics"]
  assert swept["diverged"][1]["message"].startswith("seed 1 of critic_lr=1e+38 diverged at update 5: ")
  np.testing.assert_allclose(good["normalized_score_per_seed"], alone["normalized_score_per_seed"], rtol=1e-4)
  with open(tmp_path / "swept" / "summary.json") as f:
    assert json.load(f)["diverged"] == swept["diverged"]
  # The checkpoint holds the diverged runs' last finite agents (their initial ones here) and the record.
  like = core.init_run_state(lambda key, critic_lr: __import__("rlkit_jax").IQL.create(
      key, 11, 3, hidden_dims=(8, 8), critic_lr=critic_lr, actor_decay_steps=10), seed=0, num_seeds=2,
      settings=[{"critic_lr": 3e-4}, {"critic_lr": 1e38}])
  swept_config = OfflineConfig(dataset=hopper_file, sweep={"critic_lr": (3e-4, 1e38)}, **TINY)
  checkpointer = Checkpointer(str(tmp_path / "swept" / "checkpoints"), swept_config.to_json())
  _, restored, extra = checkpointer.restore(like)
  checkpointer.close()
  assert bool(all_finite(restored.agents))
  np.testing.assert_array_equal(np.asarray(restored.active), [True, True, False, False])
  assert [d["run"] for d in extra["diverged"]] == [2, 3]
  initial = jax.tree.leaves(like.agents.critic.params)
  for saved, init in zip(jax.tree.leaves(restored.agents.critic.params), initial):
    np.testing.assert_array_equal(np.asarray(saved)[2:], np.asarray(init)[2:])


def test_driver_names_the_diverged_seeds_and_fails_when_a_setting_has_no_score(hopper_file, tmp_path):
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "train_offline.py"), "--algo=bc", f"--dataset={hopper_file}",
       "--num_seeds=2", "--num_updates=5", "--eval_every=5", "--updates_per_call=5", "--eval_episodes=1", "--batch_size=8",
       "--hidden_dims=8", "--hparams=actor_lr=1e38", f"--workdir={tmp_path / 'run'}"],
      capture_output=True, text=True, timeout=300,
  )
  assert out.returncode == 1, out.stderr[-2000:]
  assert "every seed diverged, no score" in out.stdout
  assert "seed 1 diverged at update 5: actor_loss is" in out.stdout
  assert "nan ± nan" not in out.stdout


class _OverflowingReward:
  """Seed 0 trains on reward 0, seed 1 on 1e38 per step: its squared TD error overflows to inf."""

  name = "overflow"

  def update(self, step, buffer, key):
    del step, buffer, key
    return False, {}

  def rewards(self, observations, actions, next_observations, terminals):
    del actions, next_observations, terminals
    out = np.zeros(observations.shape[:2], np.float32)
    out[1] = 1e38
    return out

  def state(self):
    return {}

  def restore(self, state):
    del state


def test_online_job_stops_the_overflowing_seed_and_trains_the_other(tmp_path):
  from rlkit_jax.online import OnlineConfig, train_online

  config = OnlineConfig(
      env_id="Pendulum-v1", reward="overflow", num_seeds=2, num_steps=60, start_steps=20, update_every=20,
      batch_size=8, eval_every=20, eval_episodes=1, hidden_dims=(8,),
  )
  run = train_online(config, str(tmp_path / "run"), reward_source=_OverflowingReward(), progress=False)
  summary = run.summary
  assert [(d["seed_index"], d["step"]) for d in summary["diverged"]] == [(1, 20)]
  message = summary["diverged"][0]["message"]
  assert message.startswith("seed 1 diverged at env step 20: ") and "critic_loss is nan" in message
  assert summary["return_per_seed"][1] is None and summary["return_per_seed"][0] is not None
  assert summary["return_mean"] == summary["return_per_seed"][0]
  assert bool(all_finite(run.agents))
  with open(tmp_path / "run" / "metrics.csv") as f:
    seeds = [line.split(",")[1] for line in f.read().splitlines()[1:]]
  assert seeds == ["0", "0", "0"]  # seed 1 diverged in the chunk before its first evaluation: no rows


def test_guard_leaves_finite_runs_bit_identical():
  """The figure in BUILD_NOTES ("the guard changes nothing on finite runs"): the same scan without the guard."""
  from rlkit_jax.agents import IQL
  from rlkit_jax.data.transitions import sample_batch

  create = lambda key: IQL.create(key, 1, 1, hidden_dims=(8,))
  state = core.init_run_state(create, seed=0, num_seeds=2)
  data = _random_dataset()

  @jax.jit
  def unguarded(agents, keys):
    def one(agent, key):
      def body(carry, _):
        agent, key = carry
        key, batch_key = jax.random.split(key)
        return (agent.update(sample_batch(data, batch_key, 2))[0], key), None

      return jax.lax.scan(body, (agent, key), None, length=10)[0]

    return jax.vmap(one)(agents, keys)

  expected, _ = unguarded(state.agents, state.data_keys)
  fresh = core.init_run_state(create, seed=0, num_seeds=2)  # the same start; the first one's keys are consumed
  guarded, _ = core.make_train_chunk(batch_size=2, num_updates=10)(fresh, data)
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(guarded.agents.critic.params), jax.device_get(expected.critic.params))
  jax.tree.map(np.testing.assert_array_equal, jax.device_get(guarded.agents.actor.params), jax.device_get(expected.actor.params))
