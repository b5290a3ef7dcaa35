"""RLHF-V's DDPO (dense direct preference optimisation) on Hugging Face transformers.

Modules: ``diff`` (corrected segments from token ids, as the released code finds them),
``loss`` (the ``ddpo-paper``, ``ddpo-sum`` and ``dpo`` objectives), ``data`` (preference
readers), ``inputs`` (record -> model inputs), ``refcache`` (reference log-probs on disk),
``config`` (the documented training config), ``trainer`` (the loop) and ``cli``
(``halbench train ddpo``). torch and transformers are imported lazily; the ``train`` extra
installs what the trainer needs. See docs/ddpo.md.
"""
