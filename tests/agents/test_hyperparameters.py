"""Hyperparameter ranges: declared per agent, checked by create, --hparams and --sweep before anything compiles."""
import functools
import math
import os
import subprocess
import sys

import jax
import pytest

from rlkit_jax.training import core
import rlkit_jax.agents
from rlkit_jax.agents import AWR, CQL, DQN, IQL, SAC, TD3BC
from rlkit_jax.agents.common import agent_options
from rlkit_jax.agents.hyperparameters import OPEN_UNIT, POLYAK, POSITIVE, Range, check_hyperparameters, range_of
from rlkit_jax.errors import HyperparameterError, UsageError
from rlkit_jax.offline import OfflineConfig
from rlkit_jax.online import OnlineConfig

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
AGENTS = [getattr(rlkit_jax.agents, name) for name in rlkit_jax.agents.__all__]  # every agent the package exports


def test_ranges_print_and_contain_as_intervals():
  assert str(OPEN_UNIT) == "(0, 1)" and str(POLYAK) == "(0, 1]" and str(POSITIVE) == "(0, inf)"
  assert str(Range(-1.0, 2.0)) == "[-1, 2]"
  assert 0.5 in OPEN_UNIT and 0.0 not in OPEN_UNIT and 1.0 not in OPEN_UNIT
  assert 1.0 in POLYAK and 0.0 not in POLYAK and 1e-9 in POSITIVE and 0.0 not in POSITIVE


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.__name__)
def test_every_default_lies_in_its_range_and_every_float_has_one(agent):
  for name, default in agent_options(agent).items():
    valid = range_of(agent, name)
    if isinstance(default, float):
      assert valid is not None, f"{agent.__name__}.{name} declares no range"
    if valid is not None and not isinstance(default, bool):
      assert default in valid, (agent.__name__, name, default, str(valid))


@pytest.mark.parametrize(
    "agent, name, value, valid",
    [
        (IQL, "expectile", 1.5, "(0, 1)"),
        (IQL, "expectile", 0.0, "(0, 1)"),
        (IQL, "tau", 0.0, "(0, 1]"),
        (IQL, "discount", 1.01, "[0, 1]"),
        (IQL, "actor_lr", 0.0, "(0, inf)"),
        (IQL, "temperature", -1.0, "[0, inf)"),
        (IQL, "num_critics", 0, "[1, inf)"),
        (CQL, "cql_alpha", -5.0, "[0, inf)"),
        (CQL, "num_sampled_actions", 0, "[1, inf)"),
        (SAC, "init_temperature", 0.0, "(0, inf)"),
        (TD3BC, "policy_delay", 0, "[1, inf)"),
        (DQN, "cql_alpha", -1.0, "[0, inf)"),
        (AWR, "max_weight", 0.0, "(0, inf)"),
    ],
)
def test_create_refuses_values_outside_the_range(agent, name, value, valid):
  with pytest.raises(HyperparameterError) as error:
    agent.create(jax.random.key(0), 3, 2, hidden_dims=(4,), **{name: value})
  assert str(error.value) == (
      f"{agent.__name__}.create: {name}={value:g} is outside {agent.__name__}'s valid range {valid}; "
      f"fix: choose a value in {valid}"
  )
  assert isinstance(error.value, UsageError) and error.value.exit_code == 2


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.__name__)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_create_refuses_non_finite_values_of_every_numeric_option(agent, value):
  for name, default in agent_options(agent).items():
    if isinstance(default, bool):
      continue
    with pytest.raises(HyperparameterError, match=rf"{agent.__name__}.create: {name}=-?(nan|inf) is not a finite number"):
      agent.create(jax.random.key(0), 3, 2, hidden_dims=(4,), **{name: value})


def test_traced_values_are_left_to_the_job_and_concrete_arrays_are_checked():
  create = functools.partial(IQL.create, observation_dim=3, action_dim=2, hidden_dims=(4,))
  state = core.init_run_state(create, seed=0, num_seeds=1, settings=[{"expectile": 0.6}, {"expectile": 0.9}])
  assert state.agents.expectile.tolist() == pytest.approx([0.6, 0.9])
  with pytest.raises(HyperparameterError, match="expectile=2 is outside"):
    check_hyperparameters(IQL, {"expectile": jax.numpy.asarray([0.5, 2.0])})


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"agent_kwargs": {"expectile": math.nan}}, "--hparams: expectile=nan is not a finite number; fix: choose a finite value in (0, 1)"),
        ({"agent_kwargs": {"expectile": 1.5}}, "--hparams: expectile=1.5 is outside IQL's valid range (0, 1)"),
        ({"sweep": {"expectile": (0.7, 1.0)}}, "--sweep: expectile=1 is outside IQL's valid range (0, 1)"),
        ({"sweep": {"actor_lr": (3e-4, math.inf)}}, "--sweep: actor_lr=inf is not a finite number"),
        ({"algo": "cql", "agent_kwargs": {"num_sampled_actions": 0}}, "--hparams: num_sampled_actions=0 is outside CQL's"),
    ],
)
def test_offline_config_checks_hparams_and_every_sweep_value(overrides, message):
  with pytest.raises(HyperparameterError) as error:
    OfflineConfig(**overrides).validate()
  assert message in str(error.value)


def test_online_config_checks_sac_hparams():
  with pytest.raises(HyperparameterError, match=r"--hparams: tau=2 is outside SAC's valid range \(0, 1\]"):
    OnlineConfig(agent_kwargs={"tau": 2.0}).validate()


@pytest.mark.parametrize("flag", ["--hparams=expectile=nan", "--hparams=expectile=1.5", "--sweep=discount=0.9,1.5"])
def test_driver_refuses_a_bad_value_in_one_line_before_compiling(flag, tmp_path):
  out = subprocess.run(
      [sys.executable, os.path.join(REPO, "experiments", "train_offline.py"), flag, f"--workdir={tmp_path / 'run'}"],
      capture_output=True, text=True, timeout=120,
  )
  assert out.returncode == 2, out.stderr[-2000:]
  assert "Traceback" not in out.stderr
  assert "valid range" in out.stderr or "finite" in out.stderr
  assert not (tmp_path / "run").exists()
