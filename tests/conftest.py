"""Make the in-tree packages importable when the suite runs without `pip install -e .`."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "sw"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
