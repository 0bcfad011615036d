"""Sources described by a CSV file: a generic manifest, HAM10000 and DermaMNIST-JPEG."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Optional

import numpy as np

from medvision_app.data.errors import DataError
from medvision_app.data.files import open_data_text
from medvision_app.data.table import SPLITS, SampleTable

UNKNOWN = "unknown"
GROUP_COLUMNS = ("group", "patient_id", "lesion_id")


def _read_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with open_data_text(path) as fh:
            reader = csv.DictReader(fh)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in required if c not in columns]
            if missing:
                raise DataError(
                    f"{path}: missing column(s) {', '.join(missing)}; found {', '.join(columns) or 'none'}"
                )
            rows = [{(k or "").strip(): (v or "").strip() for k, v in row.items()} for row in reader]
    except OSError as exc:
        raise DataError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file: {exc}") from None
    if not rows:
        raise DataError(f"{path}: no rows")
    return rows


def _age(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        return float("nan")
    return value if value >= 0 else float("nan")


def _category(text: str) -> str:
    text = text.strip().lower()
    return text if text and text not in ("nan", "none", "na") else UNKNOWN


def _encode_labels(raw: list[str], source: Path, column: str = "label") -> tuple[list[str], np.ndarray]:
    _no_empty(raw, source, column)
    names = sorted(set(raw))
    if len(names) < 2:
        raise DataError(f"{source}: needs at least two classes, found {names}")
    index = {n: i for i, n in enumerate(names)}
    return names, np.asarray([index[r] for r in raw], dtype=np.int64)


def _no_empty(values: list[str], source: Path, column: str) -> None:
    # An empty label used to become a class named '' and an empty path the CSV's own folder.
    empty = [i for i, v in enumerate(values) if not v]
    if empty:
        more = f" and {len(empty) - 1} more row(s)" if len(empty) > 1 else ""
        raise DataError(f"{source}: column {column} is empty on line {empty[0] + 2}{more}; "
                        f"every row needs a {column}")


def _missing_files(paths: list[Path], source: Path) -> None:
    missing = [p for p in paths if not p.exists()]
    if missing:
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise DataError(f"{source}: image {missing[0]} listed but not found{more}")


def manifest_columns(path: Path) -> list[str]:
    """The header of a CSV manifest (empty when it cannot be read: :func:`read_manifest` says why)."""
    try:
        with open_data_text(Path(path)) as fh:
            return [c.strip() for c in (csv.DictReader(fh).fieldnames or [])]
    except (OSError, csv.Error, UnicodeDecodeError):
        return []


def group_column_of(columns, requested: Optional[str], source: Path) -> Optional[str]:
    """The column that groups a manifest's rows: ``requested``, else the first of GROUP_COLUMNS present."""
    if requested:
        if requested not in columns:
            raise DataError(f"{source}: no column {requested!r} to group the split by; "
                            f"found {', '.join(columns) or 'none'}")
        return requested
    return next((c for c in GROUP_COLUMNS if c in columns), None)


def read_manifest(path: Path, image_root: Optional[Path] = None, group_column: Optional[str] = None) -> SampleTable:
    """Read a CSV manifest: ``path``, ``label`` and optionally ``age``, ``sex``, ``site``,
    a group column and ``split``.

    Image paths are relative to ``image_root``, else to the CSV's folder.
    Rows that share a value of ``group_column`` (by default ``group``,
    ``patient_id`` or ``lesion_id``, the first present) never straddle two
    splits.
    """
    path = Path(path)
    rows = _read_rows(path, ("path", "label"))
    base = Path(image_root) if image_root else path.parent
    columns = list(rows[0])
    group_col = group_column_of(columns, group_column, path)
    _no_empty([r["path"] for r in rows], path, "path")
    paths = [base / r["path"] for r in rows]
    _missing_files(paths, path)
    names, labels = _encode_labels([r["label"] for r in rows], path)
    splits = None
    if "split" in columns:
        splits = [r["split"].lower() for r in rows]
        bad = sorted(set(splits) - set(SPLITS))
        if bad:
            raise DataError(f"{path}: column split has value(s) {bad}; expected train, val or test")
    return SampleTable(
        source=str(path),
        class_names=names,
        ids=[r["path"] for r in rows],
        labels=labels,
        paths=paths,
        groups=[r[group_col] or r["path"] for r in rows] if group_col else None,
        splits=splits,
        age=np.asarray([_age(r["age"]) for r in rows]) if "age" in columns else None,
        sex=[_category(r["sex"]) for r in rows] if "sex" in columns else None,
        site=[_category(r["site"]) for r in rows] if "site" in columns else None,
    )


def read_ham10000(root: Path) -> SampleTable:
    """Read HAM10000: ``HAM10000_metadata.csv`` plus ``images/<image_id>.jpg``; grouped by lesion."""
    root = Path(root)
    csv_path = root / "HAM10000_metadata.csv"
    if not csv_path.is_file():
        raise DataError(f"{root}: no HAM10000_metadata.csv in this folder")
    rows = _read_rows(csv_path, ("lesion_id", "image_id", "dx", "age", "sex", "localization"))
    image_dir = root / "images" if (root / "images").is_dir() else root
    paths = [image_dir / f"{r['image_id']}.jpg" for r in rows]
    _missing_files(paths, csv_path)
    names, labels = _encode_labels([r["dx"] for r in rows], csv_path, "dx")
    return SampleTable(
        source=str(csv_path),
        class_names=names,
        ids=[r["image_id"] for r in rows],
        labels=labels,
        paths=paths,
        groups=[r["lesion_id"] for r in rows],
        age=np.asarray([_age(r["age"]) for r in rows]),
        sex=[_category(r["sex"]) for r in rows],
        site=[_category(r["localization"]) for r in rows],
    )


def read_dermamnist_jpeg(root: Path) -> SampleTable:
    """Read the DermaMNIST JPEG folder: ``labels.csv`` (image_id, dx, lesion_id) and ``images/``.

    The official split is encoded in the IDs (``DermaMNIST_train_00000``).
    """
    root = Path(root)
    csv_path = root / "labels.csv"
    rows = _read_rows(csv_path, ("image_id", "dx"))
    splits = []
    for r in rows:
        parts = r["image_id"].split("_")
        if len(parts) < 3 or parts[1] not in SPLITS:
            raise DataError(f"{csv_path}: image_id {r['image_id']!r} does not name its split")
        splits.append(parts[1])
    paths = [root / "images" / f"{r['image_id']}.jpg" for r in rows]
    _missing_files(paths, csv_path)
    names, labels = _encode_labels([r["dx"] for r in rows], csv_path, "dx")
    return SampleTable(
        source=str(csv_path),
        class_names=names,
        ids=[r["image_id"] for r in rows],
        labels=labels,
        paths=paths,
        groups=[r.get("lesion_id") or r["image_id"] for r in rows],
        splits=splits,
    )
