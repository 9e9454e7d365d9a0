"""Demo data for the planner: an invented dealership (shipped) and the Walmart store panel (read from a path)."""

from opsdesk.planner.demo.columns import COLUMNS
from opsdesk.planner.demo.dealership import dealership_files, simulate_dealership, write_dealership, write_files
from opsdesk.planner.demo.profile import Profile, derive_profile, load_profile
from opsdesk.planner.demo.walmart import walmart_files, write_walmart

__all__ = [
    "COLUMNS",
    "Profile",
    "dealership_files",
    "derive_profile",
    "load_profile",
    "simulate_dealership",
    "walmart_files",
    "write_dealership",
    "write_files",
    "write_walmart",
]
