"""Temporary smoke test of the fixture."""

from tests.server.running import RunningServer


def test_banks_listed(server: RunningServer, keys: dict[str, str]) -> None:
    with server.client(keys["admin"]) as client:
        assert client.get("/v1/banks").json() == {"banks": []}
    with server.client() as client:
        assert client.get("/v1/banks").status_code == 401
