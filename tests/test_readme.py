"""The README's promises: its tour runs as written, and CI runs the README's test command."""
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _readme():
  with open(os.path.join(REPO, "README.md")) as f:
    return f.read()


def test_readme_has_exactly_two_setup_commands_and_ci_runs_the_test_one():
  commands = re.findall(r"```bash\n(.*?)\n```", _readme(), re.S)
  assert len(commands) == 2
  main, tests = commands
  assert main.endswith("python experiments/train_offline.py")
  with open(os.path.join(REPO, ".ci", "run")) as f:
    ci = f.read()
  install, test = tests.split(" && ")[-2:]
  assert install in ci and test in ci


def test_readme_tour_runs():
  tour, _ = re.findall(r"```python\n(.*?)\n```", _readme(), re.S)
  namespace = {}
  exec(compile(tour, "README.md", "exec"), namespace)
  assert namespace["metrics"]["critic_loss"].shape == (8,)


def test_readme_training_on_own_arrays_runs_without_an_environment(monkeypatch):
  import numpy as np

  def no_env(*args, **kwargs):
    raise AssertionError("an environment was created")

  monkeypatch.setattr("gymnasium.make", no_env)
  _, snippet = re.findall(r"```python\n(.*?)\n```", _readme(), re.S)
  assert "num_updates=100_000" in snippet
  rng = np.random.default_rng(0)
  namespace = {
      "observations": rng.normal(size=(200, 5)).astype(np.float32),
      "actions": rng.uniform(-1, 1, (200, 2)).astype(np.float32),
      "rewards": rng.normal(size=200).astype(np.float32),
      "terminals": np.zeros(200, bool),
      "timeouts": np.arange(200) % 50 == 49,
  }
  exec(compile(snippet.replace("num_updates=100_000", "num_updates=1_000"), "README.md", "exec"), namespace)
  assert namespace["actions_of_seed_0"].shape == (10, 2)
  assert namespace["result"].metrics["critic_loss"].shape == (1, 3)
