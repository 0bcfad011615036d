"""Opening DICOM files: decode pixels in any supported transfer syntax."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pydicom.config
from pydicom.encaps import generate_frames, parse_fragments
from pydicom.errors import InvalidDicomError

from medvision_app.imaging import dicom_header as hdr
from medvision_app.imaging.errors import ImageOpenError
from medvision_app.imaging.files import open_regular
from medvision_app.imaging.limits import check_declared_size
from medvision_app.imaging.medical_image import MedicalImage

log = logging.getLogger(__name__)

# Vendor files break VR length and character rules all the time; pydicom
# would warn on every access. We read leniently and report only real failures.
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
# pydicom logs each failed decoder plugin with a traceback; our ImageOpenError
# carries the reason instead, so the user sees one plain line.
logging.getLogger("pydicom").setLevel(logging.CRITICAL)

_SYNTAX_NAMES = {
    "1.2.840.10008.1.2": "Implicit VR Little Endian",
    "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
    "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
    "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
    "1.2.840.10008.1.2.4.50": "JPEG Baseline",
    "1.2.840.10008.1.2.4.51": "JPEG Extended",
    "1.2.840.10008.1.2.4.57": "JPEG Lossless",
    "1.2.840.10008.1.2.4.70": "JPEG Lossless SV1",
    "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
    "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
    "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
    "1.2.840.10008.1.2.4.91": "JPEG 2000",
    "1.2.840.10008.1.2.5": "RLE Lossless",
}


def transfer_syntax_name(ds: pydicom.Dataset) -> str:
    uid = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if uid is None:
        return "Implicit VR Little Endian (assumed)"
    return _SYNTAX_NAMES.get(str(uid), getattr(uid, "name", str(uid)))


def _short(exc: BaseException) -> str:
    text = str(exc)
    if "all available plugins" in text:
        # One line per decoder tried; the first is the best decoder's verdict.
        plugins = [line.strip() for line in text.splitlines()[1:] if line.strip()]
        if plugins:
            text = plugins[0].split(": ", 1)[-1]
    text = " ".join(text.split()) or type(exc).__name__
    return text if len(text) <= 240 else text[:237] + "..."


def read_dataset(
    path: Path, *, force: bool = False, stop_before_pixels: bool = False, fileobj=None
) -> pydicom.Dataset:
    """``pydicom.dcmread`` with every failure turned into :class:`ImageOpenError`.

    ``fileobj``, when given, is read instead of opening ``path`` (which then
    only names the file in messages). Only regular files are opened, and a
    deflated data set is inflated under a cap (:mod:`.deflate`).
    """
    if fileobj is None:
        with open_regular(path) as fh:
            return read_dataset(path, force=force, stop_before_pixels=stop_before_pixels, fileobj=fh)
    try:
        with warnings.catch_warnings():
            # pydicom warns about every vendor quirk it tolerates; the user
            # cannot act on those.
            warnings.simplefilter("ignore")
            if not force and _says_deflated(fileobj):
                from medvision_app.imaging.deflate import read_deflated

                return read_deflated(path, fileobj, stop_before_pixels=stop_before_pixels)
            return pydicom.dcmread(fileobj, force=force, stop_before_pixels=stop_before_pixels)
    except ImageOpenError:
        raise
    except InvalidDicomError as exc:
        raise ImageOpenError(path, f"not a valid DICOM file ({_short(exc)})") from exc
    except (OSError, EOFError) as exc:
        raise ImageOpenError(path, f"cannot read the file: {_short(exc)}") from exc
    except MemoryError:
        raise ImageOpenError(path, "not enough memory to read this DICOM file") from None
    except Exception as exc:  # pydicom raises many types on malformed data
        raise ImageOpenError(path, f"the DICOM header is damaged and could not be parsed: {_short(exc)}") from exc


_DEFLATED_UID = b"1.2.840.10008.1.2.1.99"


def _says_deflated(fh) -> bool:
    """Whether the file meta header (which follows the preamble) names the deflated transfer syntax."""
    start = fh.tell()
    head = fh.read(4096)
    fh.seek(start)
    if head[128:132] != b"DICM" or len(head) < 144:
        return False
    meta_end = 144 + int.from_bytes(head[140:144], "little") if head[132:136] == b"\x02\x00\x00\x00" else len(head)
    return _DEFLATED_UID in head[132:meta_end]


def check_pixel_data_size(path: Path, ds: pydicom.Dataset) -> None:
    """Refuse a header whose image is too large, or larger than the pixel data present can hold.

    Runs before any decoder allocates from the header. Native (uncompressed)
    data must hold every declared byte; RLE data at most 64 times their size
    (a PackBits replicate run turns 2 bytes into 128); other compressed
    syntaxes have no such bound and rely on the size limits.
    """
    rows, columns = hdr.int_value(ds, "Rows"), hdr.int_value(ds, "Columns")
    if rows is None or columns is None:
        raise ImageOpenError(path, "the DICOM header has no Rows or Columns: the image size is unknown")
    frames = hdr.n_frames(ds)
    declared_frames = hdr.int_value(ds, "NumberOfFrames")
    if declared_frames is not None and declared_frames < 1:
        raise ImageOpenError(path, f"the header declares {declared_frames} frames")
    check_declared_size(path, rows, columns, frames)
    bits = hdr.int_value(ds, "BitsAllocated") or 0
    samples = hdr.int_value(ds, "SamplesPerPixel") or 1
    if bits not in (1, 8, 16, 32, 64) or not 1 <= samples <= 4:
        raise ImageOpenError(path, f"the header declares {bits} bits allocated and {samples} samples per pixel, "
                                   "which no image has")
    if "PixelData" not in ds:
        return
    data = ds["PixelData"]
    value = data.value
    if not isinstance(value, (bytes, bytearray)):
        return
    needed = (rows * columns * frames * samples * bits + 7) // 8
    syntax = str(getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", ""))
    encapsulated = getattr(data, "is_undefined_length", False) or value[:4] == b"\xfe\xff\x00\xe0"
    if not encapsulated and len(value) < needed:
        raise ImageOpenError(
            path,
            f"the header declares {frames} frame(s) of {columns} x {rows} x {samples} sample(s) at {bits} bits "
            f"({needed:,} bytes) but the file holds {len(value):,} bytes of pixel data",
        )
    if encapsulated and frames > 1:
        # Every frame takes at least one fragment: more frames than fragments is a lie.
        try:
            fragments = parse_fragments(value)[0] - 1  # the first item is the Basic Offset Table
        except Exception as exc:  # a damaged item structure: the decoder will say so
            log.debug("cannot count the fragments: %s", exc)
            fragments = frames
        if frames > fragments:
            raise ImageOpenError(path, f"the header declares {frames} frames but the pixel data hold only "
                                       f"{fragments} fragment(s)")
    if syntax == pydicom.uid.RLELossless and needed > 64 * len(value) + 64:
        raise ImageOpenError(
            path,
            f"the header declares {frames} frame(s) of {columns} x {rows} ({needed:,} bytes), more than the "
            f"{len(value):,} bytes of RLE data present can hold",
        )


def modality_problem(modality: hdr.ModalityLut, ds: pydicom.Dataset) -> str:
    """Why a Modality LUT would make the image unreadable ("" when it is fine).

    A slope of 0 maps every pixel to the intercept, and a NaN or infinite
    value makes every pixel NaN or infinite: the image would show as one flat
    value and a model would still answer on it.
    """
    if modality.lut is not None:
        if not np.isfinite(modality.lut).all():
            return "the Modality LUT holds values that are not finite numbers"
        if modality.lut.size and float(modality.lut.max()) == float(modality.lut.min()):
            return "the Modality LUT maps every stored value to the same value: the image has no contrast"
        return ""
    slope, intercept = modality.slope, modality.intercept
    if not (np.isfinite(slope) and np.isfinite(intercept)):
        return f"Rescale Slope {slope:g} / Rescale Intercept {intercept:g} are not finite numbers"
    if slope == 0:
        return "Rescale Slope is 0: every pixel would have the same value (the intercept), the image has no contrast"
    bits = int(ds.get("BitsStored", ds.get("BitsAllocated", 16)) or 16)
    top = float(2 ** min(bits, 64))
    ends = np.array([slope * -top + intercept, slope * top + intercept], dtype=np.float64)
    with np.errstate(over="ignore"):  # an overflow is the answer here, not a warning
        shown = ends.astype(np.float32)
    if not np.isfinite(shown).all():
        return (f"Rescale Slope {slope:g} / Rescale Intercept {intercept:g} give values beyond what can be "
                "computed (every pixel would show as infinite)")
    return ""


def _decode(path: Path, ds: pydicom.Dataset) -> np.ndarray:
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise ImageOpenError(path, "the DICOM file has no pixel data (a header-only or non-image object)")
    syntax = transfer_syntax_name(ds)
    fast = _decode_rle_grayscale(ds)
    if fast is not None:
        return fast
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arr = ds.pixel_array
    except Exception as exc:
        raise ImageOpenError(path, f"{syntax} pixel data could not be decoded: {_short(exc)}") from exc
    if arr.size == 0:
        raise ImageOpenError(path, f"{syntax} pixel data is empty")
    return arr


def _decode_rle_grayscale(ds: pydicom.Dataset) -> np.ndarray | None:
    """Grayscale RLE straight through pylibjpeg-rle, or None to use pydicom's path.

    pydicom's generic pixel pipeline copies the encoded and decoded buffers
    several times; calling the RLE decoder on each frame directly halves the
    time to open a 12-megapixel RLE mammogram. Anything unusual (colour,
    sign extension of a partial bit depth, a decoder error) takes pydicom's
    path, which also produces the error message when decoding really fails.
    """
    if str(getattr(ds.file_meta, "TransferSyntaxUID", "")) != pydicom.uid.RLELossless:
        return None
    try:
        from rle.rle import decode_frame
    except ImportError:
        return None
    bits = int(ds.get("BitsAllocated", 0))
    signed = int(ds.get("PixelRepresentation", 0)) == 1
    if int(ds.get("SamplesPerPixel", 1)) != 1 or bits not in (8, 16):
        return None
    if signed and int(ds.get("BitsStored", bits)) != bits:
        return None
    rows, cols, count = int(ds.Rows), int(ds.Columns), hdr.n_frames(ds)
    dtype = np.dtype(("i" if signed else "u") + str(bits // 8)).newbyteorder("<")
    try:
        frames = [
            np.frombuffer(decode_frame(frame, rows * cols, bits, "<"), dtype=dtype).reshape(rows, cols)
            for frame in generate_frames(ds.PixelData, number_of_frames=count)
        ]
    except Exception as exc:
        log.debug("direct RLE decoding failed (%s); using pydicom", type(exc).__name__)
        return None
    if len(frames) != count:
        return None
    return frames[0] if count == 1 else np.stack(frames)


def _to_frames(arr: np.ndarray, ds: pydicom.Dataset) -> np.ndarray:
    samples = int(ds.get("SamplesPerPixel", 1))
    frames = hdr.n_frames(ds)
    single = arr.ndim == (3 if samples > 1 else 2)
    if frames == 1 or single:
        arr = arr[np.newaxis]
    return arr


def read_dicom(path: Path, *, force: bool = False, fileobj=None) -> MedicalImage:
    ds = read_dataset(path, force=force, fileobj=fileobj)
    if len(ds) == 0:
        raise ImageOpenError(path, "the DICOM data set is empty or damaged: no elements could be read")
    if force and "PixelData" not in ds and not hasattr(ds, "file_meta"):
        raise ImageOpenError(path, "not a DICOM file")
    if force and not getattr(ds.file_meta, "TransferSyntaxUID", None):
        # A preamble-less file carries no transfer syntax: DICOM's default applies.
        ds.file_meta.TransferSyntaxUID = pydicom.uid.ImplicitVRLittleEndian
    if "PixelData" not in ds and "FloatPixelData" not in ds and "DoubleFloatPixelData" not in ds:
        raise ImageOpenError(path, "the DICOM file has no pixel data (a header-only or non-image object)")
    check_pixel_data_size(path, ds)
    modality = hdr.modality_lut(ds)
    problem = modality_problem(modality, ds)
    if problem:
        raise ImageOpenError(path, problem)
    arr = _decode(path, ds)
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip().upper()
    bits_stored = int(ds.get("BitsStored", ds.get("BitsAllocated", 8)) or 8)
    if photometric == "PALETTE COLOR":
        from pydicom.pixels import apply_color_lut

        try:
            arr = apply_color_lut(arr, ds)
        except Exception as exc:
            raise ImageOpenError(path, f"the palette colour lookup table could not be applied: {_short(exc)}") from exc
        bits_stored = 8 if arr.dtype == np.uint8 else 16
    frames = _to_frames(arr, ds)
    color = frames.ndim == 4
    rows, columns = hdr.int_value(ds, "Rows"), hdr.int_value(ds, "Columns")
    if frames.shape[1:3] != (rows, columns) or frames.shape[0] != hdr.n_frames(ds):
        # A header that lies in a way the decoder tolerated (e.g. fewer columns than the data hold).
        raise ImageOpenError(path, f"the decoded pixel data ({' x '.join(map(str, frames.shape))}) do not match the "
                                   f"header's {hdr.n_frames(ds)} frame(s) of {columns} x {rows}")
    return MedicalImage(
        path=path,
        frames=frames,
        photometric=photometric,
        format="DICOM",
        metadata=hdr.metadata_from_dataset(ds),
        modality_lut=hdr.ModalityLut() if color else modality,
        presets=[] if color else hdr.voi_presets(ds),
        pixel_spacing=hdr.pixel_spacing(ds),
        bits_stored=bits_stored,
        transfer_syntax=transfer_syntax_name(ds),
    )
