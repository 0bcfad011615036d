"""The case report: one study's AI results as a PDF a clinician can file.

Patient and study block (or "Patient identity removed" and the method), per
image the picture and its heatmap overlay, the probabilities, the class at
the operating threshold and the status; the model block (name, version,
sha256, provenance, training data, test metrics with intervals, intended
use); software version and time of generation; on every page the header,
"page X of Y" and the decision-support statement.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np
from reportlab.lib.units import mm
from reportlab.platypus import Image, KeepTogether, Paragraph, Spacer, Table, TableStyle

from medvision_app.reports import DISCLAIMER
from medvision_app.reports.case_analysis import FAILED, OUTSIDE, SUCCEEDED, CaseFacts, CaseImage, analyse_case
from medvision_app.reports.pdf import MARGIN, PAGE, esc, grid_table, key_value_table, render_pdf, styles, write_pdf

WIDTH = PAGE[0] - 2 * MARGIN
TITLE = "MedVision AI case report"


def _jpeg(rgb: np.ndarray) -> io.BytesIO:
    from PIL import Image as PilImage

    buffer = io.BytesIO()
    # JPEG is embedded as is (no re-encoding by ReportLab) and Pillow writes no
    # metadata beyond the JFIF header: nothing from the DICOM travels with it.
    PilImage.fromarray(np.ascontiguousarray(rgb)).save(buffer, format="JPEG", quality=88)
    buffer.seek(0)
    return buffer


def _picture(rgb: np.ndarray, width: float, max_height: float) -> Image:
    h, w = rgb.shape[:2]
    scale = min(width / w, max_height / h)
    return Image(_jpeg(rgb), width=w * scale, height=h * scale)


def _model_rows(facts: CaseFacts) -> list[tuple[str, str]]:
    card = facts.card
    td = card.training_data
    counts = "; ".join(f"{split}: " + ", ".join(f"{c} {n}" for c, n in per.items())
                       for split, per in (td.class_counts or {}).items())
    training = ", ".join(x for x in (td.source, f"licence {td.licence}" if td.licence else "",
                                     f"split {td.split}" if td.split else "") if x)
    metrics = []
    for name, m in (card.metrics or {}).items():
        text = f"{name} {m.value:.3f}"
        if m.ci_low is not None and m.ci_high is not None:
            text += f" ({m.ci_low:.3f}-{m.ci_high:.3f}, {int(round(m.ci_level * 100))} % CI)"
        metrics.append(text)
    threshold = (f"{facts.threshold:.3f} on P({card.classes[0]})" if facts.threshold is not None
                 and len(card.classes) == 2 else "none (most probable class)")
    rows = [
        ("Model", f"{card.name}, version {card.version}"),
        ("sha256 (graph and weights)", card.graph_sha256 or "not recorded"),
        ("Provenance", facts.provenance),
        ("Architecture", card.architecture or "not recorded"),
        ("Classes", ", ".join(card.classes)),
        ("Operating threshold", threshold),
        ("Training data", training or "not recorded"),
    ]
    if counts:
        rows.append(("Samples per split", counts))
    rows.append(("Test metrics", "; ".join(metrics) or "not recorded"))
    modalities = getattr(card, "modalities", None)
    use = card.intended_use + (f" Modalities: {', '.join(modalities)}." if modalities else "")
    rows.append(("Intended use", use))
    if card.limitations:
        rows.append(("Limitations", " ".join(card.limitations)))
    return rows


def _image_block(item: CaseImage, classes: Sequence[str]) -> list:
    st = styles()
    colour = {FAILED: "#b91c1c", OUTSIDE: "#b45309"}.get(item.status, "#166534")
    head = f"{esc(item.label)}: <font color='{colour}'><b>{esc(item.status)}</b></font>"
    flow: list = [Paragraph(head, st["h3"])]
    if item.reason:
        flow.append(Paragraph(esc(item.reason), st["small"]))
    if item.status == FAILED:
        return flow
    if item.burned_in:
        note = item.burned_in + (". A border band of the picture is masked." if item.masked else ".")
        flow.append(Paragraph("Warning: " + esc(note), st["warn"]))
    rows = [[c, f"{item.probabilities.get(c, float('nan')):.3f}"] for c in classes]
    table = grid_table(["class", "probability"], rows, [40 * mm, 22 * mm])
    verdict = (f"Predicted at the operating threshold: <b>{esc(item.predicted)}</b>" if item.predicted
               else "No class is reported: the image is outside the model's intended use.")
    side = [table, Spacer(1, 2 * mm), Paragraph(verdict, st["body"])]
    if item.heatmap_kind:
        side.append(Paragraph(esc(f"Heatmap: {item.heatmap_kind} (where the model looked, not a finding)"),
                              st["small"]))
    pictures = []
    if item.picture is not None:
        pictures.append(_picture(item.picture, 55 * mm, 70 * mm))
    if item.overlay is not None:
        pictures.append(_picture(item.overlay, 55 * mm, 70 * mm))
    grid = Table([[*pictures, side]], colWidths=[58 * mm] * len(pictures) + [WIDTH - 58 * mm * len(pictures)],
                 hAlign="LEFT")
    grid.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 1)]))
    flow.append(grid)
    return [KeepTogether(flow)]


def build_case_report(facts: CaseFacts) -> bytes:
    st = styles()
    story: list = [Paragraph(TITLE, st["title"]),
                   Paragraph(esc(DISCLAIMER), st["warn"]),
                   Paragraph("Patient and study", st["h2"])]
    if facts.deidentified:
        story.append(Paragraph("<b>Patient identity removed</b>", st["body"]))
        story.append(key_value_table([r for r in facts.patient_rows if r[0] != "Patient"]))
    else:
        story.append(key_value_table(facts.patient_rows))
    warnings = [i for i in facts.images if i.burned_in]
    if warnings:
        masked = all(i.masked for i in warnings)
        story.append(Paragraph(esc(
            f"Burned-in text: {len(warnings)} image(s) may carry identifying text in their pixels, which "
            "attribute rules cannot remove. " + ("A border band of each was masked." if masked else
                                                 "Check the pictures before this report leaves the workstation.")),
            st["warn"]))
    counts = {status: sum(i.status == status for i in facts.images) for status in (SUCCEEDED, OUTSIDE, FAILED)}
    story.append(Paragraph("Results", st["h2"]))
    story.append(Paragraph(esc(f"{len(facts.images)} image(s): " + ", ".join(f"{n} {s}" for s, n in counts.items())
                               + f". Model output: {facts.model_identity}."), st["body"]))
    for item in facts.images:
        story += _image_block(item, facts.card.classes)
    story.append(Paragraph("Model", st["h2"]))
    story.append(key_value_table(_model_rows(facts)))
    story.append(Paragraph("Report", st["h2"]))
    story.append(key_value_table([("Software", facts.software), ("Generated", facts.generated),
                                  ("Statement", DISCLAIMER)]))
    subject = "AI decision support case report" + (" (patient identity removed)" if facts.deidentified else "")
    return render_pdf(story, title=TITLE, subject=subject, header=TITLE,
                      keywords=["MedVision", "decision support", "research use"], generated=facts.generated)


def write_case_report(paths: Sequence[str | Path], model: str | Path, out: str | Path, **options) -> Path:
    """Predict ``paths`` with ``model`` and write the PDF (options of :func:`analyse_case`)."""
    return write_pdf(out, build_case_report(analyse_case(paths, model, **options)))
