"""litellm is imported with its local price table and leaves the environment as it was.

Each case runs in a fresh interpreter (litellm is imported once per process).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import json, os
from harness.model.names import import_litellm
before = os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP")
import_litellm()
from litellm.litellm_core_utils.get_model_cost_map import get_model_cost_map_source_info
info = get_model_cost_map_source_info()
print(json.dumps({"before": before, "after": os.environ.get("LITELLM_LOCAL_MODEL_COST_MAP"),
                  "source": info["source"], "forced": info["is_env_forced"]}))
"""


def _probe(**env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if k != "LITELLM_LOCAL_MODEL_COST_MAP"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    found: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return found


@pytest.mark.slow  # 4.2 CPU-s: imports litellm
def test_the_price_table_is_local_and_no_variable_is_left_set() -> None:
    found = _probe()
    assert found == {"before": None, "after": None, "source": "local", "forced": True}


@pytest.mark.slow  # 4.1 CPU-s: imports litellm
def test_the_users_own_setting_is_kept() -> None:
    found = _probe(LITELLM_LOCAL_MODEL_COST_MAP="True")
    assert found["before"] == found["after"] == "True"
    assert found["source"] == "local"
