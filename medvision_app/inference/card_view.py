"""A model card as labelled lines, for the model manager and reports (no Qt)."""

from __future__ import annotations


def _metric(value) -> str:
    text = f"{value.value:.3f}"
    if value.ci_low is not None and value.ci_high is not None:
        text += f" ({value.ci_level:.0%} CI {value.ci_low:.3f}–{value.ci_high:.3f})"
    return text


def _calibration(card) -> str:
    temperature = getattr(card, "temperature", 1.0)
    tta = getattr(card, "tta", "none")
    text = (f"temperature {temperature:.3g}, fitted on the validation split" if temperature != 1.0
            else "none (the network's own probabilities)")
    text += f"; test-time flips ({tta}) inside the file" if tta and tta != "none" else ""
    if getattr(card, "logit_offsets", None):
        text += "; class decisions adjusted toward the training priors (logit offsets, fitted on validation)"
    return text


def card_facts(card, *, provenance: str = "unknown", location: str = "") -> list[tuple[str, str]]:
    """(label, text) rows: task, classes, intended use, training data, metrics, threshold, identity."""
    data = card.training_data
    counts = "; ".join(f"{split}: " + ", ".join(f"{n} {name}" for name, n in per.items())
                       for split, per in data.class_counts.items())
    threshold = getattr(card, "threshold", None)
    rows = [
        ("Name", f"{card.name} v{card.version}"),
        ("Task", f"classification into {len(card.classes)} classes"),
        ("Classes", ", ".join(card.classes)),
        ("Modality", ", ".join(card.modalities) or "not stated"),
        ("Body part", card.body_part or "not stated"),
        ("Input", card.input_description or f"{card.input_channels} x {card.input_size[0]} x {card.input_size[1]}"),
        ("Architecture", card.architecture or "not stated"),
        ("Heatmap", f"{card.heatmap_kind}" + (f": {card.heatmap_note}" if card.heatmap_note else "")),
        ("Training data", ", ".join(x for x in (data.source, data.licence, data.split) if x) or "not stated"),
        ("Class counts", counts or "not stated"),
        ("Test metrics", "; ".join(f"{name} {_metric(v)}" for name, v in card.metrics.items()) or "none"),
        ("Operating threshold", f"{threshold:g} on P({card.classes[0]})" if isinstance(threshold, (int, float))
         else "none (the most probable class)"),
        ("Calibration", _calibration(card)),
        ("Intended use", card.intended_use),
        ("Limitations", " ".join(card.limitations) or "none stated"),
        ("Provenance", provenance + (f" ({location})" if location else "")),
        ("Created", card.created),
        ("sha256", card.graph_sha256),
    ]
    if card.metadata_features:
        rows.insert(6, ("Patient metadata", f"{card.metadata_features} features (age, sex, site)"))
    return rows
