"""PDF reports: the case report (one study's AI results) and the evaluation report (one run).

ReportLab's Platypus lays out the pages (flowing tables and images, a header,
"page X of Y" and the decision-support statement on every page) and
matplotlib's Agg backend draws the figures, so reports are written on a
server without a display and without Qt. Neither imports torch.
"""

DISCLAIMER = (
    "Decision support for research use. Not a diagnosis. "
    "Patient management must not rest on this report alone."
)
