"""AWAC: the shared agent checks of ``offline_agent_checks``."""
from __future__ import annotations

from offline_agent_checks import *  # noqa: F401,F403 (the shared tests and fixtures)

AGENT = "AWAC"
