"""One declarative module per benchmark; each holds ``SPEC`` and nothing else."""
