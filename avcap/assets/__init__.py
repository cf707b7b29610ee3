"""Files shipped with avcap: the nano captioner (``builtin:nano``) lives in ``nano/``."""
