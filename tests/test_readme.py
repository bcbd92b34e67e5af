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
  (tour,) = re.findall(r"```python\n(.*?)\n```", _readme(), re.S)
  namespace = {}
  exec(compile(tour, "README.md", "exec"), namespace)
  assert namespace["metrics"]["critic_loss"].shape == (8,)
