"""avcap: detailed audio-visual video captioning — caption, evaluate, train, rank."""

__version__ = "0.1.0"
