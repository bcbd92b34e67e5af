"""`import rlkit_jax` stays light: gymnasium, orbax, matplotlib, h5py and scipy load where used."""
import subprocess
import sys

HEAVY = ("gymnasium", "mujoco", "orbax", "matplotlib", "h5py", "scipy")


def test_import_loads_no_environment_checkpoint_plotting_or_file_library():
  code = (
      "import sys, rlkit_jax as rk\n"
      "rk.IQL, rk.expectile_loss, rk.data.Dataset, rk.networks.MLP\n"
      f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
      "rk.envs\n"  # a lazy submodule loads on first use
      "print('gymnasium' in sys.modules)\n"
  )
  out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
  loaded, envs_loaded = out.stdout.strip().splitlines()
  assert loaded == "[]" and envs_loaded == "True"
