"""Blind pairwise votes between captioners, and rankings with honest uncertainty.

``catalog`` (what can be shown) → ``schedule`` (which pair next) → ``app`` (the web page,
Starlette on uvicorn) → ``store`` (SQLite, WAL) → ``ranking`` (online Elo of video-SALMONN 2's
Table 9, Bradley–Terry with bootstrap intervals, length-controlled Bradley–Terry) and
``export`` (CSV / JSON, DPO preference rows). ``qc`` scores voters on gold pairs (``gold``).

Only ``app`` needs the ``serve`` extra (starlette, uvicorn); ranking and export run without it.
"""
