"""What the arena can show: captions per model and video, the media folder, the gold pairs.

Caption files are ``avcap caption`` output (DESIGN.md: one JSONL row per item with ``id``,
``video``, ``caption``, ``model``, ``error``). A model is named by its file's stem (the name
``avcap eval`` gives the same file, so the leaderboard can join an eval report), or by
``NAME=PATH``. A row whose caption failed or is empty is left out; when an id appears twice
(a resumed run), the later row wins. A video is shown only if it is a regular file inside the
videos folder: the row's own path if it lies there, else ``DIR/<file name>``, else
``DIR/<id>.mp4`` (or another video suffix).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from avcap.data import read_records
from avcap.errors import DataError

VIDEO_SUFFIXES = (".mp4", ".webm", ".m4v", ".mov", ".mkv", ".ogv")
RESERVED_PREFIX = "gold:"


def parse_source(arg: str) -> tuple[str, Path]:
    """``PATH`` (named by its stem) or ``NAME=PATH``."""
    if "=" in arg and not Path(arg).exists():
        name, _, path = arg.partition("=")
        if not name.strip() or not path.strip():
            raise DataError(f"{arg}: expected PATH or NAME=PATH")
        return name.strip(), Path(path.strip())
    return Path(arg).stem, Path(arg)


def safe_media_path(root: Path, rel: str) -> Path | None:
    """The file ``rel`` names inside ``root``, or None: for any path an HTTP client sends.

    Refused: absolute paths, ``..`` parts, backslashes, NUL bytes, anything that resolves
    (symlinks followed) outside ``root``, and anything that is not a regular file.
    """
    if not rel or "\x00" in rel or "\\" in rel or rel.startswith("/") or ":" in PurePosixPath(rel).parts[0]:
        return None
    parts = PurePosixPath(rel).parts
    if any(p in ("..", ".") for p in parts):
        return None
    try:
        path = (root / Path(*parts)).resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        return None
    if not path.is_relative_to(root) or not path.is_file():
        return None
    return path


@dataclass(frozen=True)
class GoldItem:
    id: str
    video_path: str
    better: str
    worse: str


@dataclass
class Catalog:
    root: Path  # resolved videos folder
    models: list[str]
    sources: dict[str, str]  # model -> captions file (absolute)
    videos: dict[str, str]  # item id -> media path relative to root ("/"-separated)
    captions: dict[str, dict[str, str]]  # model -> item id -> caption
    gold: dict[str, GoldItem] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def pair_videos(self) -> dict[tuple[str, str], list[str]]:
        """``(model_lo, model_hi) -> [item ids both captioned]``, models in sorted order."""
        out = {}
        for lo, hi in itertools.combinations(sorted(self.models), 2):
            out[(lo, hi)] = [v for v in self.videos if v in self.captions[lo] and v in self.captions[hi]]
        return out

    @property
    def n_pairs(self) -> int:
        return sum(len(v) for v in self.pair_videos().values())

    def media_path(self, rel: str) -> Path | None:
        """A media file a client may fetch: a catalog video, inside the root."""
        if rel not in self._allowed:
            return None
        return safe_media_path(self.root, rel)

    @property
    def _allowed(self) -> set[str]:
        return set(self.videos.values()) | {g.video_path for g in self.gold.values()}


def _find_video(root: Path, base: Path, item_id: str, video: object) -> str | None:
    candidates = []
    if isinstance(video, str) and video.strip() and "\x00" not in video:
        p = Path(video).expanduser()
        p = p if p.is_absolute() else base / p
        candidates += [p, root / p.name]
    candidates += [root / f"{item_id}{suffix}" for suffix in VIDEO_SUFFIXES]
    for cand in candidates:
        try:
            resolved = cand.resolve(strict=True)
        except (OSError, RuntimeError, ValueError):
            continue
        if resolved.is_relative_to(root) and resolved.is_file():
            return resolved.relative_to(root).as_posix()
    return None


def _read_captions(path: Path, warnings: list[str]) -> dict[str, tuple[str, object]]:
    if not path.is_file():
        raise DataError(f"{path}: captions file not found")
    records = read_records(path)  # the project's one row-file reader (JSONL or a JSON list, BOM, file:line errors)
    warnings.extend(f"{err}; skipped" for err in records.errors[:5])
    rows: dict[str, tuple[str, object]] = {}
    failed = empty = 0
    for line, obj in records.items:
        if (obj.get("sample") or 0) != 0:
            continue
        item_id = obj.get("id")
        if isinstance(item_id, bool) or not isinstance(item_id, (str, int)) or not str(item_id).strip():
            warnings.append(f"{path}:{line}: caption row has no 'id'; skipped")
            continue
        caption = obj.get("caption")
        if obj.get("error") is not None:
            failed += 1
            rows.pop(str(item_id), None)
            continue
        if not isinstance(caption, str) or not caption.strip():
            empty += 1
            rows.pop(str(item_id), None)
            continue
        rows[str(item_id)] = (caption.strip(), obj.get("video"))
    if failed or empty:
        warnings.append(f"{path}: left out {failed} failed and {empty} empty captions")
    return rows


def load_catalog(sources: list[tuple[str, Path]], videos: Path, gold: Path | None = None) -> Catalog:
    """Read the caption files and the gold file; :class:`DataError` when nothing can be shown."""
    if not videos.is_dir():
        raise DataError(f"{videos}: videos folder not found")
    root = videos.resolve()
    names = [name for name, _ in sources]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise DataError(f"two caption files share the model name {dup[0]!r}: name them with NAME=PATH")
    if any(n.startswith(RESERVED_PREFIX) for n in names):
        raise DataError(f"model names may not start with {RESERVED_PREFIX!r}")
    if len(sources) < 2:
        raise DataError("the arena needs caption files from at least two models")
    warnings: list[str] = []
    captions: dict[str, dict[str, str]] = {}
    video_of: dict[str, str] = {}
    missing: set[str] = set()
    for name, path in sources:
        captions[name] = {}
        for item_id, (caption, video) in _read_captions(path, warnings).items():
            if item_id not in video_of and item_id not in missing:
                rel = _find_video(root, path.resolve().parent, item_id, video)
                if rel is None:
                    missing.add(item_id)
                else:
                    video_of[item_id] = rel
            if item_id in video_of:
                captions[name][item_id] = caption
    if missing:
        warnings.append(f"{len(missing)} captioned items have no video in {root} (e.g. {sorted(missing)[0]!r})")
    catalog = Catalog(root, names, {n: str(p.resolve()) for n, p in sources}, video_of, captions, warnings=warnings)
    if gold is not None:
        catalog.gold = load_gold(gold, root, warnings)
    if catalog.n_pairs == 0:
        raise DataError(f"no video in {root} has captions from two models: nothing to compare")
    return catalog


def load_gold(path: Path, root: Path, warnings: list[str]) -> dict[str, GoldItem]:
    """Gold pairs: JSONL rows ``{"id", "video", "better", "worse"}`` (``avcap arena gold`` writes them)."""
    if not path.is_file():
        raise DataError(f"{path}: gold file not found")
    records = read_records(path)
    warnings.extend(f"{err}; skipped" for err in records.errors[:5])
    out: dict[str, GoldItem] = {}
    for line, obj in records.items:
        where = f"{path}:{line}"
        item_id, better, worse = obj.get("id"), obj.get("better"), obj.get("worse")
        if not isinstance(item_id, (str, int)) or isinstance(item_id, bool) or not str(item_id).strip():
            warnings.append(f"{where}: gold row has no 'id'; skipped")
            continue
        if not all(isinstance(t, str) and t.strip() for t in (better, worse)) or better.strip() == worse.strip():
            warnings.append(f"{where}: gold row needs two different non-empty captions 'better' and 'worse'; skipped")
            continue
        rel = _find_video(root, path.resolve().parent, str(item_id), obj.get("video"))
        if rel is None:
            warnings.append(f"{where}: gold video of {item_id!r} is not in {root}; skipped")
            continue
        out[str(item_id)] = GoldItem(str(item_id), rel, better.strip(), worse.strip())
    return out

