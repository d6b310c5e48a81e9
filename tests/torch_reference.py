"""Runs PyTorch / torchvision reference code in a child process.

torchvision segfaults when imported into a process that already loaded TensorFlow 2.21, so the
references the tests compare against are computed beside, not inside, the test process.
"""
import importlib.util
import json
import subprocess
import sys
import textwrap

import pytest


def run_torch(code, timeout=300):
    """Runs `code` (which must print one JSON line last) with torch; returns the parsed JSON."""
    if importlib.util.find_spec("torchvision") is None:  # do not import it here (see above)
        pytest.skip("torch and torchvision are not installed")
    script = "import json, torch, torchvision\ntorch.set_num_threads(2)\n" + textwrap.dedent(code)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])
