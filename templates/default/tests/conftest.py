"""Makes the project's own modules (`assets.daily`...) importable from its tests."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
