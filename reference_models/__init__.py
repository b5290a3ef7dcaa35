"""Reference training code shipped with halbench (RLHF-V's DDPO in ``rlhfv``)."""
