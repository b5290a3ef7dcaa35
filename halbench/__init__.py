"""halbench: measure how much vision-language models hallucinate.

Scorers reproduce the published protocols exactly (quirks documented in
``docs/``); the command line is ``halbench``.
"""

__version__ = "0.1.0"
