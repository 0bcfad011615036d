"""Jobs: a training, search, evaluation or export run described once and run anywhere.

A job is a :class:`JobSpec` (kind, the exact config the CLI takes, a run
folder). :func:`execute` runs it in the calling process (the CLI);
:class:`JobProcess` runs it in a child process (the GUI, the queue), whose
typed events come back as JSON lines and land in the run folder's
``events.jsonl``. :class:`JobHistory` records every job in SQLite.

Nothing here imports torch or Qt at module level: the GUI imports this
package, and torch loads only in the process that trains.
"""

from medvision_app.jobs.history import STATUSES, JobHistory, JobRecord
from medvision_app.jobs.spec import KINDS, JobError, JobSpec, default_run_dir

__all__ = ["KINDS", "STATUSES", "JobError", "JobHistory", "JobRecord", "JobSpec", "default_run_dir"]
