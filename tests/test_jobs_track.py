"""What the monitor draws, computed without Qt: series, progress and time left, the Pareto front, decimation."""

from __future__ import annotations

import numpy as np

from medvision_app.jobs.track import JobTrack, decimate, format_seconds, pareto_front


def test_training_events_make_curves_progress_and_time_left():
    track = JobTrack(monitor="val_auc")
    events = [{"event": "RunStarted", "epochs": 4, "start_epoch": 1, "batches_per_epoch": 10, "device": "cpu",
               "train_samples": 160, "val_samples": 20}]
    for b in range(1, 11):  # epoch 2 of 4 (1 was done before a resume), one second per batch
        events.append({"event": "BatchProgress", "epoch": 2, "batch": b, "batches": 10, "loss": 1.0 / b, "t": 100.0 + b})
    events.append({"event": "EpochFinished", "epoch": 2, "epochs": 4,
                   "metrics": {"train_loss": 0.5, "val_loss": 0.6, "val_auc": 0.8, "images_per_s": 16.0}})
    events.append({"event": "CheckpointSaved", "epoch": 2, "path": "/r/checkpoints/last.pt", "best": True})
    track.feed(events)
    assert len(track.batch_loss) == 10 and track.batch_loss.x[-1] == 2.0  # epochs on the x axis
    assert list(track.val_metric.y) == [0.8] and list(track.val_loss.x) == [2.0]
    assert track.fraction == 0.5  # 20 of 40 batches, counting the resumed epoch
    assert track.seconds_left == 20.0  # 20 batches left at 1 batch/s
    assert track.throughput == 16.0 and "epoch 2, best" in track.last_checkpoint
    track.feed([{"event": "JobFinished", "job_id": 1, "status": "done", "summary": {"accuracy": 0.9}}])
    assert (track.status, track.fraction, track.seconds_left) == ("done", 1.0, 0.0)


def test_search_candidates_tree_and_pareto_front():
    track = JobTrack()
    rows = [("0-0", None, 1000, 0.70), ("1-0", "0-0", 500, 0.72), ("1-1", "0-0", 2000, 0.80), ("2-0", "1-0", 800, 0.60)]
    for cid, parent, params, acc in rows:
        common = {"iteration": int(cid[0]), "candidate_id": cid, "parent_id": parent, "transformation": "widen",
                  "genotype": f"g{cid}", "params": params, "flops": 1}
        track.feed([{"event": "CandidateStarted", **common},
                    {"event": "CandidateFinished", **common, "accuracy": acc, "loss": 0.1, "epochs": 1, "seconds": 2.0}])
    track.feed([{"event": "SearchFinished", "method": "bbnas", "best_genotype": "g1-1", "params": 2000,
                 "test_accuracy": 0.8, "run_dir": None, "stop_reason": "iteration budget"}])
    params, acc, front, chosen = track.scatter()
    assert sorted(params[front]) == [500, 2000]  # 0-0 and 2-0 are beaten by 1-0 on both counts
    assert params[chosen] == 2000
    assert [(depth, c.id) for depth, c in track.tree_rows()] == [(0, "0-0"), (1, "1-0"), (2, "2-0"), (1, "1-1")]


def test_pareto_front_keeps_ties_out_and_decimate_keeps_spikes():
    assert list(pareto_front(np.array([3.0, 1.0, 2.0]), np.array([0.9, 0.9, 0.95]))) == [1, 2]
    x = np.arange(20_000, dtype=float)
    y = np.zeros(20_000)
    y[12_345] = 5.0
    dx, dy = decimate(x, y, 2000)
    assert len(dx) <= 2000 + 20 and dy.max() == 5.0 and np.all(np.diff(dx) >= 0)
    small = np.arange(10.0)
    assert decimate(small, small)[0] is small
    assert format_seconds(3725) == "1:02:05" and format_seconds(65) == "1:05" and format_seconds(None) == "-"


def test_final_retraining_epochs_are_a_curve_of_their_own():
    track = JobTrack()
    epoch = lambda cid, e, acc: {"event": "CandidateEpoch", "candidate_id": cid, "epoch": e,  # noqa: E731
                                 "val_accuracy": acc, "val_loss": 1 - acc}
    track.feed([epoch("1-0", 1, 0.5), epoch("1-0", 2, 0.6)])  # a candidate's epochs are not the final's
    assert len(track.final_val_accuracy) == 0
    track.feed([epoch("final", e, 0.7 + e / 100) for e in (1, 2, 3)])
    assert list(track.final_val_accuracy.x) == [1, 2, 3] and track.final_val_loss.y[-1] == 1 - 0.73
    assert "retraining the answer: epoch 3" == track.message
    track.feed([epoch("final", 1, 0.8)])  # ENAS: the next final shape starts over
    assert list(track.final_val_accuracy.y) == [0.8] and track.final_runs == 2
