"""A short kill-and-resume soak (the benchmark ``python -m bench resume`` runs ten kills).

``medvision train`` processes on one run folder, SIGKILLed during epoch 1
(before any checkpoint exists) and inside a checkpoint write, then finished:
the folder must hold what an uninterrupted run of the same config holds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_killed_in_epoch_one_and_in_a_checkpoint_write_ends_like_an_uninterrupted_run(shared_data, tmp_path):
    sys.path.insert(0, str(ROOT))
    from bench.bench_resume import Kill, soak

    result = soak(tmp_path, lambda _reference, _epochs: [Kill("epoch1", 2), Kill("save", 2)],
                  data_path=shared_data / "breastmnist" / "breastmnist.npz", epochs=3)
    attempts = result["attempts"]
    assert [a["killed"] for a in attempts] == [True, True, False], attempts
    assert [a["mode"] for a in attempts] == ["start", "resume", "resume"]
    assert attempts[1]["last_event"].startswith("SAVED-TMP")
    assert result["failed_attempts"] == 0 and result["final_returncode"] == 0
    assert result["differences_from_uninterrupted"] == [] and result["same_as_uninterrupted"]
    assert result["epochs"] == 3
