"""Fixtures of the job tests."""
import pytest

from offline_testing import offline_config
from rlkit_jax.offline import run_offline


@pytest.fixture(scope="session")
def reference_run(hopper_file, tmp_path_factory):
  """A finished run of the default test config (:func:`offline_testing.offline_config`), trained
  once per test process and only read by the tests: ``(workdir, summary)``."""
  workdir = str(tmp_path_factory.mktemp("reference"))
  return workdir, run_offline(offline_config(hopper_file), workdir, progress=False)
