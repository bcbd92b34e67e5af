"""The package's import arrows run downward (DESIGN.md): jobs → training → agents/rewards →
networks/objectives; data and envs import no algorithm; no private name crosses a file."""
import ast
import pathlib
import subprocess
import sys

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "rlkit_jax"
JOBS = {"offline", "online", "generation"}
FORBIDDEN = {  # room → rooms it must not import
    "data": {"agents", "training", "rewards", "results"} | JOBS,
    "envs": {"agents", "training", "rewards", "results", "data"} | JOBS,
    "training": {"rewards", "results"} | JOBS,
    "agents": {"training", "rewards", "results"} | JOBS,
    "networks": {"agents", "training", "rewards", "results", "data"} | JOBS,
    "objectives": {"agents", "networks", "training", "rewards", "results", "data"} | JOBS,
    "rewards": JOBS,
}


def _imports(path: pathlib.Path) -> list[tuple[str, str]]:
  """(module, name) pairs of every ``rlkit_jax`` import in a file (name "" for ``import x.y``)."""
  out = []
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "rlkit_jax":
      out += [(node.module, alias.name) for alias in node.names]
    elif isinstance(node, ast.Import):
      out += [(alias.name, "") for alias in node.names if alias.name.startswith("rlkit_jax.")]
  return out


def _room(module: str, name: str) -> str:
  parts = module.split(".")
  return parts[1] if len(parts) > 1 else name


@pytest.mark.parametrize("room", sorted(FORBIDDEN))
def test_room_imports_no_room_above_it(room):
  bad = []
  for path in sorted((PACKAGE / room).rglob("*.py")) if (PACKAGE / room).is_dir() else [PACKAGE / f"{room}.py"]:
    bad += [f"{path.relative_to(PACKAGE)} imports {module}" for module, name in _imports(path)
            if _room(module, name) in FORBIDDEN[room]]
  assert not bad, bad


def test_no_private_name_is_imported_from_another_file():
  bad = [f"{path.relative_to(PACKAGE)}: from {module} import {name}" for path in sorted(PACKAGE.rglob("*.py"))
         for module, name in _imports(path) if name.startswith("_") and not name.startswith("__")]
  assert not bad, bad


def test_the_rule_checker_sees_an_upward_import(tmp_path):
  path = tmp_path / "x.py"
  path.write_text("from rlkit_jax.agents.sac import SAC\nfrom rlkit_jax import online\nimport rlkit_jax.training.core\n")
  assert [_room(m, n) for m, n in _imports(path)] == ["agents", "online", "training"]


def test_training_core_loads_no_environment_library():
  code = "import sys, rlkit_jax as rk\nrk.training.train\nprint('gymnasium' in sys.modules, 'orbax' in sys.modules)\n"
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
  assert out.stdout.strip() == "False False"
