"""The static leaderboard: reference entries and result records to HTML (see build.py)."""

from halbench.leaderboard.build import add_records, build_site

__all__ = ["add_records", "build_site"]
