"""Labellers for people: the terminal labeller, offscreen rendering, and the resumable labelling script."""
from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import types

import numpy as np
import pytest

from rlkit_jax.data import load
from rlkit_jax.errors import UsageError
from rlkit_jax.rewards import gather, load_preferences, make_teacher
from rlkit_jax.rewards.labelling_session import plan_refs
from rlkit_jax.rewards.render import RenderError, render_segment, states_from_observations, write_side_by_side
from rlkit_jax.rewards.segments import PreferenceDataError, Queries
from rlkit_jax.rewards.terminal import PROMPT, TerminalLabeller, query_filename

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOPPER = os.path.join(REPO, "rlkit_jax", "assets", "hopper-medium-replay-v5.hdf5")
SCRIPT = os.path.join(REPO, "experiments", "label_preferences.py")


@pytest.fixture(scope="module")
def script():
  if os.path.dirname(SCRIPT) not in sys.path:
    sys.path.append(os.path.dirname(SCRIPT))  # its shared experiments/cli.py
  spec = importlib.util.spec_from_file_location("label_preferences_under_test", SCRIPT)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module


@pytest.fixture(scope="module")
def hopper():
  return load(HOPPER)


def fake_render(env_id, observations, *, width, height):
  """Small distinct frames (the first observation's value as brightness), no OpenGL."""
  del env_id, width, height
  t = len(observations)
  return np.broadcast_to((np.arange(t) * 7 % 256).astype(np.uint8)[:, None, None, None], (t, 6, 8, 3)).copy()


class Terminal:
  """Scripted answers; records prompts and printed lines."""

  def __init__(self, answers, on_prompt=None):
    self.answers, self.prompts, self.printed, self.on_prompt = list(answers), [], [], on_prompt

  def input(self, prompt):
    self.prompts.append(prompt)
    if self.on_prompt is not None:
      self.on_prompt(len(self.prompts))
    return self.answers.pop(0)

  def print(self, *args):
    self.printed.append(" ".join(str(a) for a in args))


def synthetic_queries(q: int, t: int = 4) -> Queries:
  refs = np.stack([np.stack([np.array([i, 0, t]), np.array([i, t, t])]) for i in range(q)]).astype(np.int64)
  return Queries(
      refs=refs, observations=np.zeros((q, 2, t, 11), np.float32), actions=np.zeros((q, 2, t, 3), np.float32),
      rewards=np.zeros((q, 2, t), np.float32), env_id="Hopper-v5",
  )


def test_terminal_labeller_maps_answers_reasks_and_quits(tmp_path):
  terminal = Terminal(["1", "2", "=", "s", "maybe", "1", "q"])
  calls = []
  render = lambda *a, **k: calls.append(a) or fake_render(*a, **k)
  labeller = TerminalLabeller(str(tmp_path), person="alice", input_fn=terminal.input, print_fn=terminal.print, render_fn=render)
  queries = synthetic_queries(7)
  labels = labeller(queries)
  assert labels.dtype == np.float32 and labels.shape == (7,)
  np.testing.assert_array_equal(labels[:3], [1.0, 0.0, 0.5])
  assert math.isnan(labels[3]) and labels[4] == 1.0 and np.isnan(labels[5:]).all()
  assert labeller.stopped and labeller.name == "human:alice"
  assert terminal.prompts == [PROMPT] * 7 and not terminal.answers
  assert any("Please answer" in line for line in terminal.printed)
  assert len(calls) == 12  # 6 pairs rendered; the 7th never reached
  gifs = sorted(os.listdir(tmp_path))
  assert gifs == sorted(query_filename(r) for r in queries.refs[:6])
  assert any(str(tmp_path / gifs[0]) in line for line in terminal.printed)
  # Stopped stays stopped: nothing more is rendered or asked.
  labeller.input_fn = lambda prompt: pytest.fail("asked after quitting")
  assert np.isnan(labeller(synthetic_queries(2))).all()


def test_terminal_labeller_end_of_input_quits(tmp_path):
  def eof(prompt):
    raise EOFError

  labeller = TerminalLabeller(str(tmp_path), input_fn=eof, print_fn=lambda *a: None, render_fn=fake_render)
  assert np.isnan(labeller(synthetic_queries(2))).all() and labeller.stopped


def test_terminal_labeller_rejects_unrenderable_queries(tmp_path):
  labeller = TerminalLabeller(str(tmp_path), render_fn=fake_render)
  import dataclasses

  with pytest.raises(ValueError, match="env_id"):
    labeller(dataclasses.replace(synthetic_queries(1), env_id=None))


def test_write_side_by_side_gif(tmp_path):
  from PIL import Image

  rng = np.random.default_rng(0)
  frames_1 = rng.integers(0, 256, (5, 24, 32, 3), dtype=np.uint8)
  frames_2 = rng.integers(0, 256, (3, 20, 30, 3), dtype=np.uint8)
  path = tmp_path / "sub" / "pair.gif"
  write_side_by_side(str(path), frames_1, frames_2, fps=10, gap=8)
  with Image.open(path) as image:
    assert image.format == "GIF" and image.n_frames == 5 and image.size == (32 + 8 + 30, 24)
    assert image.info["loop"] == 0 and image.info["duration"] == 100
  with pytest.raises(ValueError, match="frames_2"):
    write_side_by_side(str(path), frames_1, frames_2.astype(np.float32))


def test_states_from_observations_rebuilds_x():
  # Constant x velocity 2 m/s for 11 steps of 0.1 s: x goes 0 → 2 m.
  obs = np.zeros((11, 11))
  obs[:, 5] = 2.0
  qpos, qvel = states_from_observations(obs, nq=6, nv=6, dt=0.1, env_id="Hopper-v5")
  np.testing.assert_allclose(qpos[:, 0], 0.2 * np.arange(11))
  assert qpos.shape == (11, 6) and qvel.shape == (11, 6)
  with pytest.raises(ValueError, match=r"\[T, 11\]"):
    states_from_observations(np.zeros((3, 7)), nq=6, nv=6, dt=0.1, env_id="Hopper-v5")


def test_render_segment_rejects_other_tasks():
  with pytest.raises(NotImplementedError, match="Ant-v5.*Hopper-v5"):
    render_segment("Ant-v5", np.zeros((2, 27)))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # gymnasium's viewer __del__ after a failed context
def test_render_segment_reports_a_broken_backend(monkeypatch):
  pytest.importorskip("mujoco")  # imported first: mujoco itself refuses an unknown MUJOCO_GL at import
  monkeypatch.setenv("MUJOCO_GL", "no-such-backend")
  with pytest.raises(RenderError, match="MUJOCO_GL=egl"):
    render_segment("Hopper-v5", np.zeros((2, 11)), width=16, height=16)


def test_render_segment_replays_the_simulator_state():
  """A real Hopper-v5 rollout: the states rendered are the rollout's, and so are the frames."""
  gym = pytest.importorskip("gymnasium")
  env = gym.make("Hopper-v5", render_mode="rgb_array", width=64, height=48)
  obs, _ = env.reset(seed=3)
  env.action_space.seed(3)
  sim = env.unwrapped
  observations, qpos, qvel = [obs], [sim.data.qpos.copy()], [sim.data.qvel.copy()]
  for _ in range(14):
    obs, _, terminated, _, _ = env.step(env.action_space.sample())
    observations.append(obs)
    qpos.append(sim.data.qpos.copy())
    qvel.append(sim.data.qvel.copy())
    if terminated:
      break
  observations, qpos, qvel = map(np.asarray, (observations, qpos, qvel))
  true_x = qpos[:, 0] - qpos[0, 0]

  rebuilt_qpos, rebuilt_qvel = states_from_observations(observations, nq=sim.model.nq, nv=sim.model.nv, dt=sim.dt, env_id="Hopper-v5")
  np.testing.assert_allclose(rebuilt_qpos[:, 1:], qpos[:, 1:], atol=1e-6)
  np.testing.assert_allclose(rebuilt_qvel, np.clip(qvel, -10, 10), atol=1e-6)  # Hopper-v5 clips qvel in its observation
  np.testing.assert_allclose(rebuilt_qpos[:, 0], true_x, atol=5e-3)  # trapezoid integration of qvel[0]

  try:
    frames = render_segment("Hopper-v5", observations.astype(np.float32), width=64, height=48)
  except RenderError as e:
    pytest.skip(f"no OpenGL backend here: {e}")
  assert frames.shape == (len(observations), 48, 64, 3) and frames.dtype == np.uint8
  assert not all(np.array_equal(frames[0], f) for f in frames[1:])
  # The same frames as rendering the true states (x shifted to start at 0).
  expected = []
  for p, v in zip(qpos, qvel):
    sim.set_state(np.r_[p[0] - qpos[0, 0], p[1:]], v)
    expected.append(env.render())
  env.close()
  difference = np.abs(frames.astype(np.int16) - np.asarray(expected, np.int16))
  assert difference.mean() < 1.0, difference.mean()


def test_script_with_oracle_end_to_end(tmp_path, hopper, script):
  out = tmp_path / "prefs.json"
  result = subprocess.run(
      [sys.executable, SCRIPT, "--labeller=oracle", "--num_queries=12", "--segment_length=20", "--seed=5", f"--out={out}"],
      capture_output=True, text=True, cwd=str(tmp_path), timeout=120,
  )
  assert result.returncode == 0, result.stderr
  assert "0 planned pairs left" in result.stdout, result.stdout
  prefs = load_preferences(str(out), dataset=hopper)
  assert prefs.labeller == "oracle" and prefs.dataset == HOPPER
  np.testing.assert_array_equal(prefs.refs, plan_refs(hopper, num_queries=12, segment_length=20, seed=5))
  assert len(prefs) == 12
  # The stored labels are the oracle's (the higher true return wins) on those segments.
  np.testing.assert_array_equal(prefs.labels, make_teacher("oracle", seed=0)(gather(hopper, prefs.refs)))


def test_script_resumes_without_losing_answers(tmp_path, hopper, script):
  out = str(tmp_path / "prefs.json")
  kwargs = dict(loaded=hopper, dataset="hopper", num_queries=8, segment_length=10, seed=1, out=out, labeller="terminal",
                name="alice", render_fn=fake_render, video_dir=str(tmp_path / "videos"))

  def answers_in_file():
    if not os.path.exists(out):
      return 0
    with open(out) as f:
      return len(json.load(f)["queries"])

  seen = []
  first = Terminal(["1", "2", "s", "x", "=", "q"], on_prompt=lambda n: seen.append(answers_in_file()))
  summary = script.run(**kwargs, input_fn=first.input, print_fn=first.print)
  assert summary == {"labelled": 2, "ties": 1, "skipped": 1, "remaining": 4}
  assert seen == [0, 1, 2, 3, 3, 4]  # saved after every answer (the invalid "x" is re-asked, nothing saved)
  with open(out) as f:
    after_first = {tuple(map(tuple, q["segments"])): q["label"] for q in json.load(f)["queries"]}
  assert sorted(after_first.values(), key=str) == sorted([1.0, 0.0, None, 0.5], key=str)

  # Another labeller may not write into alice's file.
  with pytest.raises(PreferenceDataError, match="human:alice"):
    script.run(**{**kwargs, "name": "bob"}, input_fn=lambda p: "1", print_fn=lambda *a: None)

  second = Terminal(["2", "2", "1", "="])
  summary = script.run(**kwargs, input_fn=second.input, print_fn=second.print)
  assert summary == {"labelled": 5, "ties": 2, "skipped": 1, "remaining": 0} and not second.answers
  asked_first = [line for line in first.printed if line.startswith("Open ")]
  asked_second = [line for line in second.printed if line.startswith("Open ")]
  # Only the 4 unanswered pairs are asked, starting with the one quit on.
  assert len(asked_first) == 5 and len(asked_second) == 4
  assert asked_second[0] == asked_first[-1] and not set(asked_second) & set(asked_first[:4])
  with open(out) as f:
    final = {tuple(map(tuple, q["segments"])): q["label"] for q in json.load(f)["queries"]}
  assert {k: final[k] for k in after_first} == after_first
  plan = plan_refs(hopper, num_queries=8, segment_length=10, seed=1)
  assert set(final) == {tuple(map(tuple, r)) for r in plan}
  prefs = load_preferences(out, dataset=hopper)
  assert len(prefs) == 7 and prefs.labeller == "human:alice"

  # A third run has nothing left to ask.
  summary = script.run(**kwargs, input_fn=lambda p: pytest.fail("asked again"), print_fn=lambda *a: None)
  assert summary["remaining"] == 0


def test_script_model_labeller(tmp_path, hopper, script, monkeypatch):
  """--labeller=model through a stand-in reward model module (scores: the true segment returns)."""
  loaded = []

  class FakeEnsemble:
    def segment_scores(self, queries):
      return np.asarray(queries.rewards, np.float64).sum(-1)

  fake = types.ModuleType("rlkit_jax.rewards.reward_model_files")
  fake.load_reward_model = lambda path: loaded.append(path) or FakeEnsemble()
  monkeypatch.setitem(sys.modules, "rlkit_jax.rewards.reward_model_files", fake)
  out = str(tmp_path / "model.json")
  with pytest.raises(UsageError, match="--reward_model"):
    script.run(loaded=hopper, out=out, labeller="model", num_queries=4)
  common = dict(loaded=hopper, dataset="hopper", num_queries=10, segment_length=15, seed=2, print_fn=lambda *a: None)
  script.run(**common, out=out, labeller="model", reward_model="runs/rm")
  script.run(**common, out=str(tmp_path / "oracle.json"), labeller="oracle")
  assert loaded == ["runs/rm"]
  model, oracle = load_preferences(out, dataset=hopper), load_preferences(str(tmp_path / "oracle.json"))
  assert model.labeller == "model:runs/rm"
  np.testing.assert_array_equal(model.refs, oracle.refs)
  np.testing.assert_array_equal(model.labels, oracle.labels)


def test_script_rejects_unknown_labeller(hopper, script, tmp_path):
  with pytest.raises(UsageError, match="oracle"):
    script.run(loaded=hopper, out=str(tmp_path / "x.json"), labeller="nobody")
