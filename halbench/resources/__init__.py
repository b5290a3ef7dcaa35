"""Data files shipped with halbench (see SOURCES.md for origins and licences)."""
