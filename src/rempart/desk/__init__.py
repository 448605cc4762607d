"""The desk: where victims, the associations acting for them and reviewers report images
(a URL, a PDQ hash made on the victim's device, or both), follow each case to removal, and
watch for copies coming back. Minors' cases keep hashes, URLs and metadata only, ever."""

from rempart.desk.cases import Desk
from rempart.desk.clock import Clock, FixedClock, SystemClock
from rempart.desk.model import (
    DESK_BANKS,
    SYSTEM,
    VICTIM,
    Actor,
    AgeAnswer,
    Branch,
    Case,
    Event,
    Item,
    ItemInput,
    Mandate,
    NewCase,
    SealedField,
    source_ref,
    staff,
)
from rempart.desk.notice_model import (
    ChannelKind,
    ClockStatus,
    Decision,
    Delivery,
    DueItem,
    Escalation,
    EscalationStep,
    Nature,
    Notice,
    NoticeClock,
    NoticeRecord,
    NoticeState,
    Reply,
    ReplyKind,
)
from rempart.desk.notices import Notices
from rempart.desk.sealed import DeskKeys
from rempart.desk.states import CaseState, ItemState

__all__ = [
    "DESK_BANKS",
    "SYSTEM",
    "VICTIM",
    "Actor",
    "AgeAnswer",
    "Branch",
    "Case",
    "CaseState",
    "ChannelKind",
    "Clock",
    "ClockStatus",
    "Decision",
    "Delivery",
    "Desk",
    "DeskKeys",
    "DueItem",
    "Escalation",
    "EscalationStep",
    "Event",
    "FixedClock",
    "Item",
    "ItemInput",
    "ItemState",
    "Mandate",
    "Nature",
    "NewCase",
    "Notice",
    "NoticeClock",
    "NoticeRecord",
    "NoticeState",
    "Notices",
    "Reply",
    "ReplyKind",
    "SealedField",
    "SystemClock",
    "source_ref",
    "staff",
]
