"""The desk: where victims, the associations acting for them and reviewers report images
(a URL, a PDQ hash made on the victim's device, or both), follow each case to removal, and
watch for copies coming back. Minors' cases keep hashes, URLs and metadata only, ever."""

from rempart.desk.clock import Clock, FixedClock, SystemClock
from rempart.desk.sealed import DeskKeys
from rempart.desk.states import CaseState, ItemState

__all__ = [
    "CaseState",
    "Clock",
    "DeskKeys",
    "FixedClock",
    "ItemState",
    "SystemClock",
]
