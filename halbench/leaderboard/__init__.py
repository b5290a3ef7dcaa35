"""The static leaderboard: reference entries and result records to HTML (see build.py)."""

from halbench.leaderboard.add import add_records
from halbench.leaderboard.build import build_site

__all__ = ["add_records", "build_site"]
