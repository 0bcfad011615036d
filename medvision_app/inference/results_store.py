"""AI results that stay: one row per (image key, model hash) in the shared SQLite database.

The table ``results`` lives in :func:`~medvision_app.utils.paths.database_path`
next to the job history's own tables; WAL mode lets the GUI read while a job
writes. Arrays (the model-space heatmap and the attention maps) are stored as
``.npy`` bytes and read back with ``allow_pickle=False``: the database is a
file like any other. A row that cannot be read back is ignored (and the image
analysed again), never trusted half-way.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import sqlite3
import threading
from pathlib import Path
from typing import Iterable, Optional

import numpy as np

from medvision_app.inference.analysis import ImageResult
from medvision_app.utils.paths import database_path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    image_key TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    created TEXT NOT NULL,
    summary TEXT NOT NULL,
    geometry TEXT,
    heatmap BLOB,
    attention BLOB,
    PRIMARY KEY (image_key, model_sha256)
)
"""


def _to_npy(array: Optional[np.ndarray]) -> Optional[bytes]:
    if array is None:
        return None
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(array, dtype=np.float32), allow_pickle=False)
    return buffer.getvalue()


def _from_npy(data: Optional[bytes]) -> Optional[np.ndarray]:
    if data is None:
        return None
    return np.load(io.BytesIO(data), allow_pickle=False)


def _geometry_json(geometry) -> Optional[str]:
    if geometry is None:
        return None
    return json.dumps({"input_shape": list(geometry.input_shape), "output_shape": list(geometry.output_shape),
                       "scale": list(geometry.scale), "offset": list(geometry.offset)})


def _geometry(text: Optional[str]):
    if not text:
        return None
    from medvision_app.preprocessing.geometry import Geometry

    g = json.loads(text)
    return Geometry(tuple(g["input_shape"]), tuple(g["output_shape"]), tuple(g["scale"]), tuple(g["offset"]))


class ResultsStore:
    """Cached :class:`ImageResult` per image and model. Safe to share between threads."""

    def __init__(self, path: Optional[str | Path] = None) -> None:
        self.path = Path(path) if path is not None else database_path()
        self._lock = threading.Lock()
        self._conn: Optional[sqlite3.Connection] = None

    def _db(self) -> sqlite3.Connection:
        if self._conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, check_same_thread=False, timeout=10)
            conn.execute("PRAGMA journal_mode=WAL")
            # A cache: in WAL mode NORMAL keeps the file consistent after a crash and may lose only the
            # last results, which are analysed again; FULL's sync per commit cost 17 ms an image here.
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(_SCHEMA)
            conn.commit()
            self._conn = conn
        return self._conn

    def put(self, result: ImageResult) -> None:
        """Store an analysed result (failed and refused ones are not cached: they cost nothing to redo)."""
        if not result.analysed or not result.image_key:
            return
        summary = result.summary()
        summary.pop("cached", None)
        row = (result.image_key, result.model_sha256,
               _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), json.dumps(summary),
               _geometry_json(result.geometry), _to_npy(result.heatmap), _to_npy(result.attention_maps))
        with self._lock:
            db = self._db()
            db.execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            db.commit()

    def get(self, image_key: str, model_sha256: str) -> Optional[ImageResult]:
        with self._lock:
            row = self._db().execute(
                "SELECT summary, geometry, heatmap, attention FROM results WHERE image_key = ? AND model_sha256 = ?",
                (image_key, model_sha256)).fetchone()
        if row is None:
            return None
        try:
            data = json.loads(row[0])
            shape = data.pop("original_shape", None)
            fields = {k: v for k, v in data.items() if k in ImageResult.__dataclass_fields__}
            result = ImageResult(**fields)
            result.original_shape = tuple(shape) if shape else None
            result.geometry = _geometry(row[1])
            result.heatmap = _from_npy(row[2])
            result.attention_maps = _from_npy(row[3])
        except (ValueError, TypeError, KeyError, json.JSONDecodeError):
            return None  # a damaged row: analyse again
        return result

    def clear(self, image_keys: Optional[Iterable[str]] = None) -> int:
        """Remove the results of these images (all models), or every result; returns rows removed."""
        with self._lock:
            db = self._db()
            if image_keys is None:
                removed = db.execute("DELETE FROM results").rowcount
            else:
                keys = list(image_keys)
                removed = 0
                for key in keys:
                    removed += db.execute("DELETE FROM results WHERE image_key = ?", (key,)).rowcount
            db.commit()
        return removed

    def count(self) -> int:
        with self._lock:
            return self._db().execute("SELECT COUNT(*) FROM results").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
