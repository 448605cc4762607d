"""Scan: Rempart's main job on one machine. Hash, detect and judge each image, one decode each;
write JSON Lines, a summary, and an HTML report people can read.

``Scanner`` does the work; ``ScanSummary`` counts; ``write_report`` writes the report;
``read_previous`` and ``sample`` serve ``rempart scan --resume`` and ``--sample``.
"""

from rempart.scan.output import (
    Previous,
    ScanOutputError,
    close_output,
    open_output,
    read_previous,
    sample,
    write_record,
)
from rempart.scan.report import MAX_FLAGGED_ROWS, FlaggedItem, render_report, write_report
from rempart.scan.scanner import THUMBNAIL_CELLS, Scanner, ScanResult
from rempart.scan.summary import Prevalence, ScanSummary, wilson_interval

__all__ = [
    "MAX_FLAGGED_ROWS",
    "THUMBNAIL_CELLS",
    "FlaggedItem",
    "Prevalence",
    "Previous",
    "ScanOutputError",
    "ScanResult",
    "ScanSummary",
    "Scanner",
    "close_output",
    "open_output",
    "read_previous",
    "render_report",
    "sample",
    "wilson_interval",
    "write_record",
    "write_report",
]
