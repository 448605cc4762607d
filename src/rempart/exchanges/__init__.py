"""Hash lists fetched from the exchanges (StopNCII, NCMEC, ThreatExchange, Tech Against
Terrorism) through python-threatexchange's own clients (the ``exchanges`` extra)."""

from rempart.exchanges.clients import (
    EXCHANGE_TYPES,
    NCMEC_DEFAULT_ENVIRONMENT,
    ExchangeAPI,
    ExchangeType,
    FetchedSignal,
    check_config,
    checkpoint_from_json,
    checkpoint_to_json,
    fetch_error_text,
    make_api,
    signal_records,
)

__all__ = [
    "EXCHANGE_TYPES",
    "NCMEC_DEFAULT_ENVIRONMENT",
    "ExchangeAPI",
    "ExchangeType",
    "FetchedSignal",
    "check_config",
    "checkpoint_from_json",
    "checkpoint_to_json",
    "fetch_error_text",
    "make_api",
    "signal_records",
]
