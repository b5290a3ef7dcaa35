"""Classic CHAIR (Rohrbach et al., EMNLP 2018): see README.md in this folder."""
