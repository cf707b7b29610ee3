"""Judge backends; each module has a ``from_options(BackendOptions)`` factory used by the registry."""
