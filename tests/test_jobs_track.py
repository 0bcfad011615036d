"""What the monitor draws, computed without Qt: series, progress and time left, the Pareto front, decimation."""

from __future__ import annotations

import numpy as np

from medvision_app.jobs.track import JobTrack, decimate, format_seconds, pareto_front, search_plan


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


def _enas_config(**enas) -> dict:
    from medvision_app.search.config import SearchConfig
    from medvision_app.utils.config_io import to_dict

    config = to_dict(SearchConfig(method="enas"))
    config["enas"].update(enas)
    return config


def test_an_enas_search_shows_its_phase_share_and_time_left():
    plan = search_plan(_enas_config(epochs=10, final_epochs=5, final_shapes=["enas-7", "enas-17"]))
    assert plan["final_runs"] == 2 and plan["enas_epochs"] == 10 and plan["budget_seconds"] == 0.0
    track = JobTrack(plan=plan)
    assert track.progress_text == "-"
    # 4 of 10 shared epochs, 10 s each, the first ending at t = 110
    track.feed([{"event": "EnasEpochFinished", "epoch": k, "shared_loss": 0.5, "shared_accuracy": 0.7,
                 "mean_reward": 0.6, "sampled_arc": "", "seconds": 10.0, "t": 100.0 + 10 * k} for k in range(1, 5)])
    assert track.progress_text == "search 40%" and track.seconds_left == 60.0
    # the retraining: 2 networks x 5 epochs, the second network at its epoch 2, 20 s an epoch
    finals = [(1, 1), (1, 2), (1, 3), (1, 4), (1, 5), (2, 1), (2, 2)]
    track.feed([{"event": "CandidateEpoch", "candidate_id": f"final-{run}", "epoch": epoch, "val_accuracy": 0.8,
                 "val_loss": 0.4, "t": 200.0 + 20 * i} for i, (run, epoch) in enumerate(finals)])
    assert track.phase == "retraining" and track.progress_text == "retraining 70%"
    assert track.seconds_left == 60.0  # 3 epochs left at 20 s
    track.feed([{"event": "JobFinished", "job_id": 1, "status": "done", "summary": {}}])
    assert track.progress_text == "100%"


def test_a_bbnas_search_is_bounded_by_its_time_budget_or_iterations_or_not_at_all():
    from medvision_app.search.config import SearchConfig
    from medvision_app.utils.config_io import to_dict

    finished = [{"event": "CandidateFinished", "iteration": 0, "candidate_id": "0-0", "parent_id": None,
                 "transformation": "initial", "genotype": "g", "params": 10, "flops": 1, "accuracy": 0.8,
                 "loss": 0.4, "epochs": 2, "seconds": 30.0, "t": 1030.0},
                {"event": "IterationFinished", "iteration": 0, "best_id": "0-0", "best_accuracy": 0.8,
                 "smallest_id": "0-0", "smallest_params": 10, "t": 1030.0}]
    budget = JobTrack(plan=search_plan(to_dict(SearchConfig(budget_seconds=120.0))))
    budget.feed(finished)
    assert budget.progress_text == "search 25%" and budget.seconds_left == 90.0
    iterations = JobTrack(plan=search_plan(to_dict(SearchConfig(max_iterations=3))))
    iterations.feed(finished)
    assert iterations.progress_text == "search 25%" and iterations.seconds_left is None
    unbounded = JobTrack(plan=search_plan(to_dict(SearchConfig())))  # only the stopping rule ends it
    unbounded.feed(finished)
    assert unbounded.progress_text == "-"
    assert search_plan({"train": {}}) == {}  # a training config has no search plan


def test_an_ensemble_retraining_reaches_its_end_with_its_last_epoch():
    from medvision_app.search.config import FinalTraining, SearchConfig
    from medvision_app.utils.config_io import to_dict

    # three networks trained side by side: one sequence of 4 epochs (final.py, networks/ensemble.py)
    track = JobTrack(plan=search_plan(to_dict(SearchConfig(final=FinalTraining(epochs=4, ensemble=3)))))
    track.feed([{"event": "CandidateEpoch", "candidate_id": "final", "epoch": e, "val_accuracy": 0.8,
                 "val_loss": 0.4, "t": 10.0 * e} for e in range(1, 5)])
    assert track.progress_text == "retraining 100%" and track.seconds_left == 0.0
    enas = JobTrack(plan=search_plan(_enas_config(final_epochs=2, final_shapes=["enas-7"]) | {
        "final": {"ensemble": 3}}))
    enas.feed([{"event": "CandidateEpoch", "candidate_id": "final-enas-7", "epoch": 1, "val_accuracy": 0.8,
                "val_loss": 0.4, "t": 1.0}])
    assert enas.progress_text == "retraining 50%"
