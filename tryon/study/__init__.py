"""Studies: compute → ``results.json`` → render (demos, evaluations and benchmarks alike).

* :class:`Study` — the record of one run: machine facts, budget, timed sections, saved images, atomic results file;
* :func:`main` / :func:`run` / :func:`add_study_arguments` — the ``--out``, ``--budget``, ``--render-only`` command line;
* :func:`study_verb` — a study as a CLI verb (``configure=``/``run=``) in one line;
* :func:`load_results` — read a results file back (renderers and ``docs/benchmarks.md`` figures start here);
* :func:`facts` — date, machine and versions (torch-free), the one copy every results file records;
* :func:`machine_summary` — those facts in the one line a rendered report starts with;
* :func:`add_figure` — an image the computation saved, shown in a rendered report;
* :func:`seed_verdict` — held / mixed / not held of an ordering over training seeds.
"""

from __future__ import annotations

from .facts import facts, now, versions
from .figures import add_figure
from .runner import add_study_arguments, main, run, script, study_verb
from .study import RESERVED, RESULTS, SCHEMA_VERSION, Study, load_results
from .summary import machine_summary
from .verdicts import seed_verdict

__all__ = ["RESERVED", "RESULTS", "SCHEMA_VERSION", "Study", "add_figure", "add_study_arguments", "facts", "load_results",
           "machine_summary", "main", "now", "run", "script", "seed_verdict", "study_verb", "versions"]
