"""Where the project's own folders are, wherever it is run from."""
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # the checkout: models/, cache/, runs/ are here
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"  # the real datasets (read only)
