"""The case report: contents, de-identification (30+ markers checked with pypdf and pdftotext), burned-in
text, and the CLI's one-line errors. Uses the shipped demo model, no ../shared data."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import numpy as np
import pydicom
import pytest
from pypdf import PdfReader

from medvision_app.cli.main import main
from medvision_app.reports import DISCLAIMER
from medvision_app.reports.case_analysis import FAILED, analyse_case
from medvision_app.reports.case_report import build_case_report
from tests.dicom_factory import write_dicom

MODEL = "breastmnist"
UID = "1.2.826.0.1.3680043.9.7777."

# One distinct marker per identifying attribute of the Basic Profile.
MARKERS = {
    "PatientName": "QZXPN^ALPHA",
    "PatientID": "QZXID0002",
    "PatientBirthDate": "19310217",
    "PatientAddress": "QZXADDR Street 3",
    "PatientTelephoneNumbers": "QZXTEL0004",
    "OtherPatientIDs": "QZXOTHERID5",
    "OtherPatientNames": "QZXOTHERNAME^SIX",
    "PatientMotherBirthName": "QZXMOTHER^SEVEN",
    "PatientBirthName": "QZXBIRTHNAME^EIGHT",
    "AccessionNumber": "QZXACC0009",
    "InstitutionName": "QZXINSTITUTION TEN",
    "InstitutionAddress": "QZXINSTADDR ELEVEN",
    "InstitutionalDepartmentName": "QZXDEPT TWELVE",
    "ReferringPhysicianName": "QZXREFER^THIRTEEN",
    "PerformingPhysicianName": "QZXPERFORM^FOURTEEN",
    "OperatorsName": "QZXOPERATOR^FIFTEEN",
    "NameOfPhysiciansReadingStudy": "QZXREADER^SIXTEEN",
    "PhysiciansOfRecord": "QZXRECORD^SEVENTEEN",
    "RequestingPhysician": "QZXREQUEST^EIGHTEEN",
    "StationName": "QZXSTATION19",
    "StudyID": "QZXSTUDY20",
    "StudyDate": "19320321",
    "SeriesDate": "19330422",
    "AcquisitionDate": "19340523",
    "ContentDate": "19350624",
    "StudyTime": "071319.4242",
    "StudyInstanceUID": UID + "27",
    "SeriesInstanceUID": UID + "28",
    "FrameOfReferenceUID": UID + "30",
    "DeviceSerialNumber": "QZXSERIAL31",
    "StudyDescription": "QZXSTUDYDESC 32",
    "SeriesDescription": "QZXSERIESDESC 33",
    "PatientComments": "QZXCOMMENT 34",
    "ImageComments": "QZXIMGCOMMENT 35",
    "AdditionalPatientHistory": "QZXHISTORY 36",
    "MilitaryRank": "QZXRANK37",
    "Occupation": "QZXOCCUPATION38",
    "ProtocolName": "QZXPROTOCOL40",
}
PRIVATE = "QZXPRIVATE39"


def _marker_dicom(folder, *, modality="US", burned="NO"):
    rng = np.random.default_rng(0)
    pixels = (rng.random((96, 80)) * 200).astype(np.uint8)
    pixels[30:60, 25:55] = 250
    path = write_dicom(folder / "QZXFILE41.dcm", pixels, Modality=modality, BurnedInAnnotation=burned,
                       Laterality="L", **MARKERS)
    ds = pydicom.dcmread(path)
    block = ds.private_block(0x0009, "QZXPRIVCREATOR", create=True)
    block.add_new(0x01, "LO", PRIVATE)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = UID + "29"
    ds.save_as(path, enforce_file_format=True)
    return path


def _strings() -> list[str]:
    out = [PRIVATE, "QZXPRIVCREATOR", "QZXFILE41", UID + "29"]
    for value in MARKERS.values():
        out.append(value)
        out += [part for part in re.split(r"[\^ ]", value) if len(part) >= 5]
        if re.fullmatch(r"\d{8}", value):
            out.append(f"{value[:4]}-{value[4:6]}-{value[6:]}")
    return out


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_deidentified_report_leaks_none_of_the_markers(tmp_path):
    path = _marker_dicom(tmp_path)
    assert len(MARKERS) + 1 >= 30  # attributes carrying a marker (+ the private one)
    pdf = tmp_path / "case.pdf"
    pdf.write_bytes(build_case_report(analyse_case([path], MODEL, deidentify=True)))
    reader = PdfReader(str(pdf))
    text = _flat(" ".join(page.extract_text() or "" for page in reader.pages))
    haystacks = {"pypdf text": text, "pdf metadata": _flat(" ".join(str(v) for v in (reader.metadata or {}).values()))}
    if reader.xmp_metadata is not None:
        haystacks["xmp"] = str(reader.xmp_metadata.rdf_root.toxml())
    if shutil.which("pdftotext"):
        haystacks["pdftotext"] = _flat(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True,
                                                      text=True, check=True).stdout)
    images = [img for page in reader.pages for img in page.images]
    assert len(images) == 2  # the picture and its heatmap overlay
    for i, img in enumerate(images):
        haystacks[f"image {i} bytes"] = img.data.decode("latin-1")
        haystacks[f"image {i} info"] = repr(img.image.info)
    for marker in _strings():
        for where, hay in haystacks.items():
            assert marker not in hay, f"{marker!r} leaked into the {where}"
    assert "Patient identity removed" in text
    assert "PS3.15 Annex E Basic Application Level Confidentiality Profile" in text
    assert "dicognito" in text
    assert DISCLAIMER in text


def test_identified_report_shows_the_patient_block_and_the_results(tmp_path):
    path = _marker_dicom(tmp_path)
    facts = analyse_case([path], MODEL)
    reader = PdfReader(io.BytesIO(build_case_report(facts)))
    text = _flat(" ".join(page.extract_text() or "" for page in reader.pages))
    # the same markers are there without --deidentify: the leak test above can fail
    for marker in ("QZXPN ALPHA", "QZXID0002", "1931-02-17", "QZXACC0009", "QZXINSTITUTION TEN", "QZXFILE41.dcm"):
        assert marker in text
    item = facts.images[0]
    assert item.status == "succeeded" and item.predicted in facts.card.classes
    for name, prob in item.probabilities.items():
        assert f"{name} {prob:.3f}" in text
    pages = len(reader.pages)
    for page in range(1, pages + 1):
        assert f"page {page} of {pages}" in text
    assert text.count(DISCLAIMER) >= pages
    card = facts.card
    for words in (card.graph_sha256, f"{card.name}, version {card.version}", "Provenance", "Intended use",
                  "Test metrics", "Training data", "MedVision 0.", "Generated", "Predicted at the operating threshold"):
        assert words in text


def test_burned_in_warning_and_border_mask(tmp_path):
    path = _marker_dicom(tmp_path, burned="YES", modality="OT")
    plain = analyse_case([path], MODEL, deidentify=True)
    assert "BurnedInAnnotation = YES" in plain.images[0].burned_in and not plain.images[0].masked
    masked = analyse_case([path], MODEL, deidentify=True, mask_burned_in=True)
    picture = masked.images[0].picture
    assert masked.images[0].masked and picture[:5].max() == 0 and picture[:, -5:].max() == 0
    assert picture[40:50, 30:40].max() > 200  # the middle is kept
    text = _flat(" ".join(p.extract_text() for p in PdfReader(io.BytesIO(build_case_report(masked))).pages))
    assert "Burned-in text" in text and "masked" in text


def test_case_cli_deidentified_and_its_one_line_errors(tmp_path, capsys):
    path = _marker_dicom(tmp_path)
    out = tmp_path / "r.pdf"
    assert main(["report", "case", str(path), "--model", MODEL, "--out", str(out), "--deidentify"]) == 0
    assert out.is_file() and "QZX" not in _flat(" ".join(p.extract_text() for p in PdfReader(str(out)).pages))
    capsys.readouterr()
    broken = tmp_path / "broken.dcm"
    broken.write_bytes(b"\0" * 128 + b"DICM" + b"\x02\x00\x10\x00garbage")
    for args in ([str(broken)], [str(tmp_path / "absent.png")]):
        bad_out = tmp_path / "bad.pdf"
        code = main(["report", "case", *args, "--model", MODEL, "--out", str(bad_out)])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and err[0].startswith("error: ") and args[0] in err[0]
        assert not bad_out.exists()
    # --keep-going reports the broken image as failed instead
    facts = analyse_case([path, broken], MODEL, keep_going=True)
    assert [i.status for i in facts.images] == ["succeeded", FAILED]


def test_outside_intended_use_gives_no_class(tmp_path):
    path = _marker_dicom(tmp_path, modality="MG")
    facts = analyse_case([path], MODEL)
    if not getattr(facts.card, "modalities", None):
        pytest.skip("the shipped card names no modality yet")
    assert facts.images[0].status == "outside intended use" and facts.images[0].predicted is None


def test_deidentified_header_keeps_no_marker_anywhere(tmp_path):
    from medvision_app.reports.deid import burned_in_warning, deidentify_dataset

    ds = pydicom.dcmread(_marker_dicom(tmp_path))
    out = deidentify_dataset(ds)
    values = []
    out.walk(lambda _ds, element: values.append(str(element.value)))
    values += [str(e.value) for e in out.file_meta]
    joined = " | ".join(values)
    for marker in _strings():
        if marker == "QZXFILE41":
            continue  # the file name is not in the header
        assert marker not in joined, f"{marker!r} is still in the de-identified header"
    assert out.PatientIdentityRemoved == "YES" and "DICOGNITO" in str(out.DeidentificationMethod)
    assert not any(e.tag.is_private for e in out.iterall())
    assert not any(e.VR in ("DA", "DT", "TM") for e in out.iterall())
    assert out.Modality == "US" and out.Laterality == "L"  # what the report may print survives
    assert ds.PatientName == MARKERS["PatientName"]  # the input is not modified
    assert "ultrasound" in burned_in_warning(out)
    ds.Modality = "MG"
    assert burned_in_warning(ds) is None
