"""Offscreen rendering of dataset segments, and side-by-side GIFs for a person to compare.

A segment's observations hold the simulator's state, so :func:`render_segment` needs no actions
and no environment seed: for each step it writes the state into a gymnasium MuJoCo environment
(``set_state``) and renders one frame. :func:`write_side_by_side` puts two segments into one
animated GIF with captions "1" and "2" (the answers :class:`~rlkit_jax.rewards.terminal.TerminalLabeller`
asks for).

Rendering needs an OpenGL backend. On a machine without a display, set ``MUJOCO_GL=egl`` (needs
the EGL library ``libEGL.so.1``: a GPU driver or Mesa, e.g. ``apt install libegl1``) or
``MUJOCO_GL=osmesa`` (software, slower: ``apt install libosmesa6``). If ``MUJOCO_GL`` is unset
and no ``DISPLAY``/``WAYLAND_DISPLAY`` exists, :func:`render_segment` sets ``MUJOCO_GL=egl`` in
``os.environ`` itself; with a display it leaves the variable alone and gymnasium tries glfw, egl
and osmesa in turn. This works however late it happens because gymnasium reads ``MUJOCO_GL``
when it creates its OpenGL context (at the first ``render()``), not at ``import mujoco`` (what
``import mujoco`` reads selects only ``mujoco.GLContext``, which is not used here).
"""
from __future__ import annotations

import os

import numpy as np

# Tasks whose observation is ``qpos[1:]`` then ``qvel`` (gymnasium v5 defaults,
# ``exclude_current_positions_from_observation=True``), mapped to whether the observation clips
# ``qvel`` to ±10 (Hopper and Walker2d do in ``_get_obs``; HalfCheetah does not).
SUPPORTED_TASKS: dict[str, bool] = {"Hopper-v5": True, "Walker2d-v5": True, "HalfCheetah-v5": False}


class RenderError(RuntimeError):
  """Offscreen rendering failed (no usable OpenGL backend); the message says what to install or set."""


def _choose_backend() -> None:
  if "MUJOCO_GL" not in os.environ and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
    os.environ["MUJOCO_GL"] = "egl"


def _advice(env_id: str, error: Exception) -> str:
  return (
      f"render_segment({env_id!r}): offscreen rendering failed with MUJOCO_GL={os.environ.get('MUJOCO_GL')!r}: "
      f"{type(error).__name__}: {error}. Rendering needs gymnasium[mujoco] and an OpenGL backend: set MUJOCO_GL=egl "
      "(needs libEGL.so.1 from a GPU driver or Mesa, e.g. apt install libegl1) or MUJOCO_GL=osmesa (needs libOSMesa, "
      "e.g. apt install libosmesa6) in the environment before starting Python"
  )


def states_from_observations(observations: np.ndarray, *, nq: int, nv: int, dt: float, env_id: str) -> tuple[np.ndarray, np.ndarray]:
  """Simulator states ``(qpos [T, nq], qvel [T, nv])`` float64 from observations ``[T, O]``.

  With ``O = nq − 1 + nv`` the observation is ``qpos[1:]`` then ``qvel``; the unobserved x
  position ``qpos[0]`` is rebuilt from x = 0 by integrating the observed x velocity ``qvel[0]``
  with the trapezoid rule, ``x_{t+1} = x_t + dt (v_t + v_{t+1}) / 2`` (``dt`` in seconds per
  environment step), so forward motion shows against the floor. With ``O = nq + nv`` (made with
  ``exclude_current_positions_from_observation=False``) x is observed and used as is.

  Hopper-v5 and Walker2d-v5 clip ``qvel`` to ±10 in the observation, so fast joint velocities
  come back clipped; rendering depends on positions only, and the x velocity of these tasks
  stays far below 10 m/s, so the frames are not affected.

  Raises:
    ValueError: ``observations`` is not ``[T, O]`` with one of the two sizes above.
  """
  observations = np.asarray(observations, np.float64)
  if observations.ndim != 2 or observations.shape[1] not in (nq - 1 + nv, nq + nv):
    raise ValueError(
        f"render_segment({env_id!r}): observations must be [T, {nq - 1 + nv}] (qpos[1:], qvel) or "
        f"[T, {nq + nv}] (qpos, qvel), got shape {observations.shape}; were they made on another task?"
    )
  if observations.shape[1] == nq + nv:
    return observations[:, :nq].copy(), observations[:, nq:].copy()
  qvel = observations[:, nq - 1:]
  steps = 0.5 * dt * (qvel[1:, 0] + qvel[:-1, 0])
  x = np.concatenate([np.zeros(1), np.cumsum(steps)])
  return np.concatenate([x[:, None], observations[:, :nq - 1]], axis=1), qvel.copy()


def render_segment(env_id: str, observations: np.ndarray, *, width: int = 320, height: int = 240) -> np.ndarray:
  """Renders the segment ``observations`` ``[T, O]`` of task ``env_id`` offscreen.

  Each step's state is rebuilt by :func:`states_from_observations`, written with
  ``env.unwrapped.set_state(qpos, qvel)`` and rendered with the task's default camera (for
  Hopper and Walker2d it follows the torso, so progress shows as the floor moving past).

  Args:
    env_id: one of :data:`SUPPORTED_TASKS` (``"Hopper-v5"``, ``"Walker2d-v5"``, ``"HalfCheetah-v5"``).
    observations: ``[T, O]`` float, as stored in the dataset.
    width, height: frame size in pixels.

  Returns:
    ``[T, height, width, 3]`` uint8 RGB frames.

  Raises:
    NotImplementedError: ``env_id`` is not a supported task.
    ValueError: see :func:`states_from_observations`.
    RenderError: no OpenGL backend works (set ``MUJOCO_GL=egl`` or ``osmesa``; see the module doc).
  """
  if env_id not in SUPPORTED_TASKS:
    raise NotImplementedError(
        f"render_segment: cannot render {env_id!r}; supported tasks are {sorted(SUPPORTED_TASKS)} (their "
        "observation is the simulator state qpos[1:], qvel, so a segment can be replayed without actions)"
    )
  _choose_backend()
  import gymnasium as gym

  try:
    env = gym.make(env_id, render_mode="rgb_array", width=width, height=height)
  except Exception as e:  # mujoco validates MUJOCO_GL when first imported, here
    raise RenderError(_advice(env_id, e)) from e
  try:
    sim = env.unwrapped
    qpos, qvel = states_from_observations(
        observations, nq=sim.model.nq, nv=sim.model.nv, dt=float(sim.dt), env_id=env_id
    )
    env.reset(seed=0)
    frames = np.empty((len(qpos), height, width, 3), np.uint8)
    for t in range(len(qpos)):
      sim.set_state(qpos[t], qvel[t])
      try:
        frames[t] = env.render()
      except Exception as e:  # the backends' errors have no common base (ImportError, RuntimeError, AttributeError, ...)
        raise RenderError(_advice(env_id, e)) from e
    return frames
  finally:
    env.close()


def write_side_by_side(
    path: str,
    frames_1: np.ndarray,
    frames_2: np.ndarray,
    *,
    fps: float = 30,
    labels: tuple[str, str] = ("1", "2"),
    gap: int = 8,
) -> None:
  """Writes one looping animated GIF with segment 1 on the left and segment 2 on the right.

  Each half carries its caption (``labels``) in the top-left corner; a white ``gap`` (pixels)
  separates them. Segments of different lengths hold the shorter one's last frame; different
  heights are padded with white below. Pillow merges identical consecutive frames (summing
  their durations), so playback time stays ``max(T1, T2) / fps`` seconds.

  Args:
    path: the ``.gif`` file; its folder is created.
    frames_1, frames_2: ``[T1, H1, W1, 3]`` and ``[T2, H2, W2, 3]`` uint8 RGB.
    fps: frames per second (GIF timing has 10 ms resolution).
    labels: the two captions.
    gap: pixels between the halves.

  Raises:
    ValueError: frames that are not ``[T, H, W, 3]`` uint8 with T ≥ 1.
  """
  from PIL import Image, ImageDraw, ImageFont

  for name, frames in (("frames_1", frames_1), ("frames_2", frames_2)):
    if not (isinstance(frames, np.ndarray) and frames.dtype == np.uint8 and frames.ndim == 4 and frames.shape[-1] == 3 and len(frames)):
      got = (getattr(frames, "shape", None), getattr(frames, "dtype", type(frames).__name__))
      raise ValueError(f"write_side_by_side: {name} must be [T, H, W, 3] uint8 with T ≥ 1, got shape/dtype {got}")
  (t1, h1, w1, _), (t2, h2, w2, _) = frames_1.shape, frames_2.shape
  height = max(h1, h2)
  font = ImageFont.load_default(size=max(12, height // 10))
  images = []
  for t in range(max(t1, t2)):
    canvas = np.full((height, w1 + gap + w2, 3), 255, np.uint8)
    canvas[:h1, :w1] = frames_1[min(t, t1 - 1)]
    canvas[:h2, w1 + gap:] = frames_2[min(t, t2 - 1)]
    image = Image.fromarray(canvas)
    draw = ImageDraw.Draw(image)
    for x, text in ((4, labels[0]), (w1 + gap + 4, labels[1])):
      box = draw.textbbox((x, 2), text, font=font)
      draw.rectangle((box[0] - 3, box[1] - 2, box[2] + 3, box[3] + 2), fill=(0, 0, 0))
      draw.text((x, 2), text, fill=(255, 255, 255), font=font)
    images.append(image)
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  images[0].save(path, save_all=True, append_images=images[1:], duration=int(round(1000 / fps)), loop=0)
