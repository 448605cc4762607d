"""A victim's news address: an optional e-mail address, sealed on the case, that is told only
that there is news on their case (nothing about the case, the platform or the images), and
that can receive a one-time link to set a new secret when the card is lost.

The address is an adult's case's only: a minor's case keeps hashes, URLs and metadata, ever, and
an address is none of those (refused as words and notes are, ``MINOR_TEXT``). It is sealed with
the case's data key (field ``news-email``), erased when the case is withdrawn, and never written
to an event, a log or a notice.

A reset link carries a random token (256 bits) of which only the SHA-256 is stored
(``desk_reset_tokens``); it expires after an hour and works once. Links point only at the
desk's configured address (``REMPART_DESK_URL``), never at a host a request named: a forged
``Host`` header must not send a victim's link elsewhere.

Don't: put anything about the case in a mail; tell whoever asks for a link whether the case
has an address (the page answers the same either way).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from rempart.config import Settings
from rempart.desk.access import hash_secret, new_secret
from rempart.desk.cases import Desk
from rempart.desk.channels import SmtpChannel
from rempart.desk.model import MINOR_TEXT, SYSTEM, VICTIM, Branch
from rempart.desk.rows import add_event, find_case, seal_field
from rempart.desk.sealed import unseal
from rempart.desk.states import CaseState
from rempart.errors import CaseInvalidError, CaseNotFoundError
from rempart.store import as_utc
from rempart.store.schema import desk_cases, desk_reset_tokens, desk_sealed

__all__ = ["FIELD", "RESETS_PER_HOUR", "RESET_LIFETIME", "News", "check_address", "mask_address"]

FIELD: Final = "news-email"
RESET_LIFETIME: Final = timedelta(hours=1)
RESETS_PER_HOUR: Final = 3
"""Reset links one case may be sent in an hour: a victim who asks twice gets both, a stranger
who knows the number cannot fill the victim's mailbox."""
MAX_ADDRESS: Final = 254  # RFC 5321's longest path
_LABEL: Final = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# A local part without spaces or a second @, at a domain of two labels or more: what a person
# types; the mail server is the judge of the rest.
_ADDRESS: Final = re.compile(rf"[^@\s]{{1,64}}@{_LABEL}(?:\.{_LABEL})+")
_LINK_EXPIRED: Final = "this link does not work: it was used, it expired, or it was never sent"


@dataclass(frozen=True, slots=True)
class _Mail:
    subject: str
    text: str


# The mails, in the languages the desk speaks; ``{link}`` only where there is one.
_NEWS: Final = {
    "en": _Mail(
        "News on your report",
        "There is news on the report you made at the desk.\n\n"
        "Sign in with your case number and secret to see it{link}.\n\n"
        "This message says nothing more, on purpose. You can remove this address on your "
        "case's page.\n",
    ),
    "fr": _Mail(
        "Du nouveau sur votre signalement",
        "Il y a du nouveau sur le signalement que vous avez fait au guichet.\n\n"
        "Connectez-vous avec votre numéro de dossier et votre code secret pour le voir{link}.\n\n"
        "Ce message n'en dit pas plus, volontairement. Vous pouvez retirer cette adresse sur "
        "la page de votre dossier.\n",
    ),
}
_RESET: Final = {
    "en": _Mail(
        "Your link to set a new secret",
        "Someone asked for a new secret for your report at the desk. If it was you, open "
        "this link within an hour; it works once:\n\n{link}\n\n"
        "If it was not you, do nothing: your secret stays as it is.\n",
    ),
    "fr": _Mail(
        "Votre lien pour choisir un nouveau code secret",
        "Quelqu'un a demandé un nouveau code secret pour votre signalement au guichet. Si "
        "c'est vous, ouvrez ce lien dans l'heure ; il ne sert qu'une fois :\n\n{link}\n\n"
        "Si ce n'est pas vous, ne faites rien : votre code secret reste le même.\n",
    ),
}
_AT: Final = {"en": ": {url}", "fr": " : {url}"}


class News:
    """Set, clear and use a victim's news address."""

    def __init__(self, desk: Desk, channel: SmtpChannel | None, *, desk_url: str = "") -> None:
        """``channel``: the mail server (None: no mail is sent, and the pages offer no
        address); ``desk_url``: the desk's public address, the only one links point at."""
        self.desk = desk
        self.channel = channel
        self.desk_url = desk_url.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings, desk: Desk) -> News:
        """News as the settings configure it (``REMPART_SMTP_*``, ``REMPART_DESK_URL``)."""
        return cls(desk, SmtpChannel.from_settings(settings), desk_url=settings.desk_url)

    @property
    def sends(self) -> bool:
        """Whether news can be sent at all (a mail server is configured)."""
        return self.channel is not None

    @property
    def resets(self) -> bool:
        """Whether lost secrets can be reset by mail (a mail server and the desk's address)."""
        return self.channel is not None and bool(self.desk_url)

    # --- the address ------------------------------------------------------------------------

    def address(self, number: str) -> str | None:
        """The case's news address, opened; None when it has none."""
        with self.desk.store.read() as connection:
            row = find_case(connection, number)
            return self._open(connection, row)

    def set_address(self, number: str, address: str) -> None:
        """Set (or replace) the case's news address, for the victim signed in to it;
        ``CaseInvalidError`` for what is not an e-mail address, a minor's case or a withdrawn
        one."""
        address = check_address(address)
        now = self.desk.clock.now()
        with self.desk.store.write() as connection:
            row = find_case(connection, number)
            if row.branch == Branch.MINOR:
                raise CaseInvalidError(MINOR_TEXT)
            if row.wrapped_key is None:
                raise CaseInvalidError(f"case {row.number} is withdrawn")
            _erase(connection, row.id)
            seal_field(connection, row.id, self.desk.data_key(row), FIELD, address, VICTIM, now)
            # Never the address: an event says what happened, not to whom it was written.
            add_event(connection, row.id, VICTIM, "news-address-set", now)

    def clear_address(self, number: str) -> None:
        """Remove the case's news address (nothing when it has none)."""
        now = self.desk.clock.now()
        with self.desk.store.write() as connection:
            row = find_case(connection, number)
            if _erase(connection, row.id):
                add_event(connection, row.id, VICTIM, "news-address-removed", now)

    # --- mails ------------------------------------------------------------------------------

    def notify(self, number: str) -> None:
        """Tell the case's news address, if it has one, that there is news, and nothing else.
        ``DeliveryFailedError`` when the mail server refuses (the caller logs it)."""
        if self.channel is None:
            return
        with self.desk.store.read() as connection:
            row = find_case(connection, number)
            address = self._open(connection, row)
        if address is None:
            return
        mail = _NEWS[_language(row.language)]
        at = _AT[_language(row.language)].format(url=f"{self.desk_url}/desk/sign-in")
        self.channel.send_text(
            address, mail.subject, mail.text.format(link=at if self.desk_url else "")
        )

    def request_reset(self, number: str) -> None:
        """Mail a one-time link to set a new secret, when the case has a news address and is
        not withdrawn; otherwise nothing, silently: the page says the same either way, and
        says nothing of the case. At most ``RESETS_PER_HOUR`` links a case an hour."""
        if not self.resets:
            return
        assert self.channel is not None  # self.resets says so
        now = self.desk.clock.now()
        token = secrets.token_urlsafe(32)
        with self.desk.store.write() as connection:
            try:
                row = find_case(connection, number)
            except CaseNotFoundError:  # said nowhere: the page answers the same
                return
            if row.state == CaseState.WITHDRAWN:
                return
            address = self._open(connection, row)
            recent = connection.execute(
                select(func.count())
                .select_from(desk_reset_tokens)
                .where(
                    desk_reset_tokens.c.case_id == row.id,
                    desk_reset_tokens.c.created_at > now - timedelta(hours=1),
                )
            ).scalar_one()
            if address is None or recent >= RESETS_PER_HOUR:
                return
            connection.execute(
                insert(desk_reset_tokens).values(
                    case_id=row.id,
                    token_hash=_token_hash(token),
                    created_at=now,
                    expires_at=now + RESET_LIFETIME,
                )
            )
            add_event(connection, row.id, SYSTEM, "reset-link-sent", now)
        # After the commit: a link that was not mailed is one nobody holds, and expires.
        mail = _RESET[_language(row.language)]
        link = f"{self.desk_url}/desk/reset/{token}"
        self.channel.send_text(address, mail.subject, mail.text.format(link=link))

    def check_token(self, token: str) -> str:
        """The case number a live reset token is for; ``CaseNotFoundError`` when it is used,
        expired or unknown (one message for all three)."""
        with self.desk.store.read() as connection:
            return str(_live_token(connection, token, self.desk.clock.now()).number)

    def reset(self, token: str) -> tuple[str, str]:
        """Use a reset token: the case gets a new secret (the old one, and every session
        signed in with it, stop working), every link of the case is spent, and the event
        ``secret-reset`` is recorded. ``(number, new secret)``; ``CaseNotFoundError`` for a
        token that is used, expired or unknown."""
        now = self.desk.clock.now()
        secret = new_secret()
        with self.desk.store.write() as connection:
            found = _live_token(connection, token, now)
            # Claimed by this very update or not at all: of two requests racing on one link
            # (PostgreSQL reads before it waits on the other's write), one sets a secret.
            claimed = connection.execute(
                update(desk_reset_tokens)
                .where(
                    desk_reset_tokens.c.token_hash == _token_hash(token),
                    desk_reset_tokens.c.used_at.is_(None),
                )
                .values(used_at=now)
            ).rowcount
            if claimed != 1:
                raise CaseNotFoundError(_LINK_EXPIRED)
            connection.execute(
                update(desk_reset_tokens)
                .where(
                    desk_reset_tokens.c.case_id == found.case_id,
                    desk_reset_tokens.c.used_at.is_(None),
                )
                .values(used_at=now)
            )
            connection.execute(
                update(desk_cases)
                .where(desk_cases.c.id == found.case_id)
                .values(secret_hash=hash_secret(secret), updated_at=now)
            )
            add_event(connection, found.case_id, VICTIM, "secret-reset", now)
            return str(found.number), secret

    # --- inside a transaction ---------------------------------------------------------------

    def _open(self, connection: Connection, row: Row[Any]) -> str | None:
        if row.wrapped_key is None:
            return None
        sealed = connection.execute(
            select(desk_sealed.c.sealed)
            .where(desk_sealed.c.case_id == row.id, desk_sealed.c.field == FIELD)
            .order_by(desk_sealed.c.id.desc())
        ).scalar()
        if sealed is None:
            return None
        return unseal(self.desk.data_key(row), sealed, case_id=row.id, field=FIELD)


def check_address(address: str) -> str:
    """The address, stripped, if it reads as an e-mail address; ``CaseInvalidError`` saying
    why not."""
    address = address.strip()
    if not address:
        raise CaseInvalidError("news-email: give an e-mail address")
    if len(address) > MAX_ADDRESS or not _ADDRESS.fullmatch(address):
        raise CaseInvalidError(f"news-email: {address[:60]!r} is not an e-mail address")
    return address


def mask_address(address: str) -> str:
    """What a page shows of an address: enough for its owner to recognise it, not enough
    for someone looking over their shoulder to write to it (``j…@example.org``)."""
    local, _, domain = address.rpartition("@")
    return f"{local[:1]}…@{domain}"


def _live_token(connection: Connection, token: str, now: datetime) -> Any:
    found = connection.execute(
        select(
            desk_reset_tokens.c.case_id,
            desk_reset_tokens.c.expires_at,
            desk_cases.c.number,
            desk_cases.c.state,
        )
        .join(desk_cases, desk_cases.c.id == desk_reset_tokens.c.case_id)
        .where(
            desk_reset_tokens.c.token_hash == _token_hash(token),
            desk_reset_tokens.c.used_at.is_(None),
        )
    ).first()
    if found is None or as_utc(found.expires_at) <= now or found.state == CaseState.WITHDRAWN:
        raise CaseNotFoundError(_LINK_EXPIRED)
    return found


def _erase(connection: Connection, case_id: int) -> int:
    """Delete the case's news address; how many rows went."""
    return connection.execute(
        delete(desk_sealed).where(desk_sealed.c.case_id == case_id, desk_sealed.c.field == FIELD)
    ).rowcount


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _language(language: str | None) -> str:
    primary = (language or "en").split("-")[0]
    return primary if primary in _NEWS else "en"
