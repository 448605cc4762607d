"""Scan: Rempart's main job on one machine. Hash, detect and judge each image and video, one
decode each; write JSON Lines, a summary, and an HTML report people can read.

``Scanner`` judges images and videos; ``ScanJob`` runs a scan of many files (sample, resume, output,
summary, report) for ``rempart scan``, ``rempart audit`` (any ``Judge``) and any later engine;
``ScanSummary`` counts; ``write_report`` writes the report.
"""

from rempart.errors import ScanOutputError
from rempart.scan.job import Judge, Judged, ScanJob, ScanOutcome
from rempart.scan.output import (
    Previous,
    close_output,
    open_output,
    read_previous,
    sample,
    write_record,
)
from rempart.scan.report import MAX_FLAGGED_ROWS, FlaggedItem, render_report, write_report
from rempart.scan.scanner import STRIP_FRAMES, THUMBNAIL_CELLS, Scanner, ScanResult, VideoResult
from rempart.scan.summary import Prevalence, ScanSummary, Subject, wilson_interval

__all__ = [
    "MAX_FLAGGED_ROWS",
    "STRIP_FRAMES",
    "THUMBNAIL_CELLS",
    "FlaggedItem",
    "Judge",
    "Judged",
    "Prevalence",
    "Previous",
    "ScanJob",
    "ScanOutcome",
    "ScanOutputError",
    "ScanResult",
    "ScanSummary",
    "Scanner",
    "Subject",
    "VideoResult",
    "close_output",
    "open_output",
    "read_previous",
    "render_report",
    "sample",
    "wilson_interval",
    "write_record",
    "write_report",
]
