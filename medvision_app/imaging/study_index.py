"""Scanning a folder (or a DICOMDIR) into patients -> studies -> series -> instances.

Only headers are read (``stop_before_pixels``): a folder of mammograms indexes
in milliseconds per file. Non-DICOM images form one series per folder under a
"Non-DICOM images" patient. A file that cannot be read is listed with its
reason and never stops the scan.
"""

from __future__ import annotations

import functools
import logging
import os
import stat
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Optional, Union

from medvision_app.events import CancelToken, Emit, Progress, ignore
from medvision_app.imaging import dicom_header as hdr
from medvision_app.imaging.dicom_reader import read_dataset, transfer_syntax_name
from medvision_app.imaging.errors import ImageOpenError
from medvision_app.imaging.files import is_folder, not_regular_reason, os_error_reason
from medvision_app.imaging.metadata import ImageMetadata
from medvision_app.imaging.sniff import HEAD_BYTES, is_candidate, sniff_bytes

log = logging.getLogger(__name__)

NON_DICOM_PATIENT = "Non-DICOM images"
UNKNOWN = "(unknown)"


@dataclass(frozen=True)
class InstanceRecord:
    """One image file as the index sees it (header only).

    ``location`` is the file's path as text; :attr:`path` is the same as a
    ``Path``, built on first use (a scan of 10,000 files would otherwise
    spend a third of its time constructing Path objects nobody reads).
    """

    location: str
    metadata: ImageMetadata
    format: str
    rows: Optional[int] = None
    columns: Optional[int] = None
    n_frames: int = 1
    photometric: Optional[str] = None
    has_pixels: bool = True
    transfer_syntax: Optional[str] = None

    @functools.cached_property
    def path(self) -> Path:
        return Path(self.location)


@dataclass(frozen=True)
class UnreadableFile:
    path: Path
    reason: str


@dataclass
class SeriesNode:
    uid: str
    description: Optional[str] = None
    modality: Optional[str] = None
    number: Optional[int] = None
    instances: list[InstanceRecord] = field(default_factory=list)


@dataclass
class StudyNode:
    uid: str
    description: Optional[str] = None
    date: Optional[str] = None
    series: list[SeriesNode] = field(default_factory=list)


@dataclass
class PatientNode:
    patient_id: str
    name: Optional[str] = None
    studies: list[StudyNode] = field(default_factory=list)


@dataclass
class StudyIndex:
    root: Path
    patients: list[PatientNode] = field(default_factory=list)
    unreadable: list[UnreadableFile] = field(default_factory=list)

    def instances(self) -> Iterator[InstanceRecord]:
        for patient in self.patients:
            for study in patient.studies:
                for series in study.series:
                    yield from series.instances

    @property
    def n_instances(self) -> int:
        return sum(1 for _ in self.instances())


def read_header(path: Union[str, os.PathLike]) -> InstanceRecord:
    """The index record of one file, reading its header only.

    Raises :class:`ImageOpenError` when the file is neither DICOM nor a
    supported raster image, or its header cannot be parsed.
    """
    location = os.fspath(path)
    try:
        # os.open/os.read: most files in a large folder are rasters whose
        # first bytes say all the index needs, and a buffered file object
        # costs more than the read itself. Only DICOM gets one, for pydicom.
        fd = os.open(location, _OPEN_FLAGS)
        try:
            # O_NONBLOCK made opening a FIFO return at once; nothing but a
            # regular file is read (a FIFO blocks, /dev/zero never ends).
            mode = os.fstat(fd).st_mode
            if not stat.S_ISREG(mode):
                raise ImageOpenError(location, not_regular_reason(mode))
            head = os.read(fd, HEAD_BYTES)
            fmt = sniff_bytes(head, location)
            if fmt is not None and fmt.startswith("DICOM"):
                fh, fd = os.fdopen(fd, "rb"), -1  # the file object owns the descriptor now
                with fh:
                    fh.seek(0)
                    return _dicom_record(location, fh, force=fmt != "DICOM")
        finally:
            if fd >= 0:
                os.close(fd)
        if fmt is None:
            raise ImageOpenError(location, "not a DICOM, PNG, JPEG, TIFF, BMP or PGM file")
    except OSError as exc:
        raise ImageOpenError(location, os_error_reason(exc)) from exc
    rows = columns = None
    if fmt == "PNG" and len(head) >= 24:
        # The IHDR chunk always comes first: width and height at bytes 16-24.
        columns, rows = struct.unpack(">II", head[16:24])
    return InstanceRecord(location, _NO_METADATA, fmt, rows, columns)


_NO_METADATA = ImageMetadata()  # frozen, so every raster record can share it
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_BINARY", 0) | getattr(os, "O_NOCTTY", 0)


_PIXEL_TAGS = (b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10", b"\xe0\x7f\x08\x00", b"\xe0\x7f\x09\x00")


def _dicom_record(location: str, fh, *, force: bool) -> InstanceRecord:
    path = Path(location)
    ds = read_dataset(path, force=force, stop_before_pixels=True, fileobj=fh)
    if "SOPClassUID" not in ds and "PatientID" not in ds and "Rows" not in ds:
        raise ImageOpenError(path, "not a DICOM image (no patient, SOP class or image rows)")
    if str(getattr(ds.file_meta, "TransferSyntaxUID", "")) == "1.2.840.10008.1.2.1.99":
        # Deflated files are read from an inflated copy: the file position says nothing.
        has_pixels = "Rows" in ds
    else:
        # pydicom stops right before the pixel data element: look at what follows.
        has_pixels = fh.read(4) in _PIXEL_TAGS
    return InstanceRecord(
        location=location,
        metadata=hdr.metadata_from_dataset(ds),
        format="DICOM",
        rows=hdr.int_value(ds, "Rows"),
        columns=hdr.int_value(ds, "Columns"),
        n_frames=hdr.n_frames(ds),
        photometric=hdr.text_value(ds, "PhotometricInterpretation"),
        has_pixels=has_pixels,
        transfer_syntax=transfer_syntax_name(ds),
    )


def iter_files(root: Path) -> Iterator[Path]:
    """Candidate image files under ``root``, depth first, in a stable order."""
    return (Path(location) for _folder, location in _walk(root))


def _walk(root: Path, unreadable: Optional[list[UnreadableFile]] = None) -> Iterator[tuple[str, str]]:
    # Paths stay text (DirEntry.path is joined in C), and the folder rides
    # along so the tree builder need not re-derive it from every path.
    # Folders that cannot be listed go to ``unreadable`` with their reason.
    folder = os.fspath(root)
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as exc:
        # Listed with the unreadable files when the caller keeps them; a warning otherwise.
        (log.debug if unreadable is not None else log.warning)("cannot list a folder: %s", exc.strerror)
        if unreadable is not None:
            unreadable.append(UnreadableFile(Path(folder), f"cannot list the folder: {os_error_reason(exc)}"))
        return
    subfolders = []
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            continue
        if is_dir:
            if not entry.name.startswith("."):
                subfolders.append(entry.path)
        elif is_candidate(entry.name):
            yield folder, entry.path
    for sub in subfolders:
        yield from _walk(sub, unreadable)


def dicomdir_files(dicomdir: Path) -> list[Path]:
    """The image files a DICOMDIR references (missing ones included, to be reported)."""
    from pydicom.fileset import FileSet

    ds = read_dataset(dicomdir)
    ds.filename = os.fspath(dicomdir)  # read through a descriptor; FileSet finds the files from this path
    try:
        fileset = FileSet(ds)
    except Exception as exc:
        raise ImageOpenError(dicomdir, f"the DICOMDIR could not be read: {' '.join(str(exc).split())}") from exc
    return [Path(instance.path) for instance in fileset]


def scan_folder(
    root: Union[str, os.PathLike],
    *,
    emit: Emit = ignore,
    cancel: Optional[CancelToken] = None,
) -> StudyIndex:
    """Index every image under ``root`` (a folder, or a DICOMDIR file or folder holding one).

    Emits :class:`Progress` events (``done`` files of ``total``); raises
    :class:`medvision_app.events.Cancelled` when ``cancel`` is set.
    """
    root = Path(root)
    folder = is_folder(root)  # ImageOpenError when it cannot be looked at
    if not folder and not os.path.lexists(root):
        raise ImageOpenError(root, "no such folder")
    if not folder and root.name.upper() != "DICOMDIR":
        raise ImageOpenError(root, "is a file, not a folder or DICOMDIR")
    if folder:
        try:
            os.scandir(root).close()
        except OSError as exc:
            raise ImageOpenError(root, f"cannot list the folder: {os_error_reason(exc)}") from None
    dicomdir = root / "DICOMDIR" if folder else root
    index = StudyIndex(root=root)
    if os.path.isfile(dicomdir):
        files = [(os.path.dirname(p), os.fspath(p)) for p in dicomdir_files(dicomdir)]
    else:
        files = list(_walk(root, index.unreadable))
    records, folders = [], []
    total = len(files)
    emit(Progress(0, total, "scanning"))
    for done, (folder, path) in enumerate(files, 1):
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            records.append(read_header(path))
            folders.append(folder)
        except ImageOpenError as exc:
            index.unreadable.append(UnreadableFile(Path(path), exc.reason))
            log.debug("unreadable: %s", exc.reason)
        if done % 64 == 0 or done == total:
            emit(Progress(done, total, os.path.basename(path)))
    index.patients = build_tree(records, folders)
    return index


def build_tree(records: Iterable[InstanceRecord], folders: Optional[list[str]] = None) -> list[PatientNode]:
    """Group records into patients -> studies -> series.

    ``folders``, if given, holds each record's folder as a string (as the scan
    already knows it).
    """
    patients: dict[str, PatientNode] = {}
    studies: dict[tuple[str, str], StudyNode] = {}
    series: dict[tuple[str, str, str], SeriesNode] = {}
    parents: dict[str, str] = {}  # folder -> its parent, computed once per folder
    for i, rec in enumerate(records):
        md = rec.metadata
        folder = folders[i] if folders is not None else os.path.dirname(rec.location)
        if rec.format == "DICOM":
            pid = md.patient_id or UNKNOWN
            study_uid = md.study_uid or UNKNOWN
            series_uid = md.series_uid or f"{study_uid}/{folder}"
        else:
            pid = NON_DICOM_PATIENT
            study_uid = parents.get(folder) or parents.setdefault(folder, os.path.dirname(folder))
            series_uid = folder
        patient = patients.get(pid)
        if patient is None:
            patient = patients[pid] = PatientNode(pid, md.patient_name if rec.format == "DICOM" else None)
        study = studies.get((pid, study_uid))
        if study is None:
            study = studies[(pid, study_uid)] = StudyNode(
                study_uid, md.study_description if rec.format == "DICOM" else os.path.basename(study_uid), md.study_date
            )
            patient.studies.append(study)
        key = (pid, study_uid, series_uid)
        node = series.get(key)
        if node is None:
            description = md.series_description if rec.format == "DICOM" else os.path.basename(series_uid)
            node = series[key] = SeriesNode(series_uid, description, md.modality, md.series_number)
            study.series.append(node)
        node.instances.append(rec)
    for node in series.values():
        # Raster series arrive in the walk's name order already; DICOM ones
        # follow their instance numbers.
        if node.instances[0].format == "DICOM":
            node.instances.sort(key=lambda r: (r.metadata.instance_number or 0, r.location))
    return sorted(patients.values(), key=lambda p: (p.patient_id == NON_DICOM_PATIENT, p.patient_id))
