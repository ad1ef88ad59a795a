import sys
from pathlib import Path

MODEL = Path(__file__).resolve().parents[1]
REPO = MODEL.parent
PARITY = REPO / "test" / "fixtures" / "parity"
sys.path.insert(0, str(MODEL))
