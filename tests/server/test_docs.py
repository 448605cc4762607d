"""docs/server.md says what the code does: every problem type, and each role's permissions."""

from __future__ import annotations

import re
from pathlib import Path

from rempart.access.keys import Role
from rempart.server.auth import PERMISSIONS, Permission
from rempart.server.problems import PROBLEMS

PAGE = (Path(__file__).parents[2] / "docs" / "server.md").read_text()


def test_every_problem_type_is_documented_with_its_status() -> None:
    rows = re.findall(r"^\| (`[^|]+`) \| (\d{3}) \|", PAGE, flags=re.MULTILINE)
    documented = {
        slug: int(status) for names, status in rows for slug in re.findall(r"`([^`]+)`", names)
    }
    assert documented == {slug: kind.status for slug, kind in PROBLEMS.items()}


def test_the_roles_table_is_the_permissions_in_force() -> None:
    roles = list(Role)
    table = {}
    for line in PAGE.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 + len(roles) and cells[0].startswith("`"):
            granted = {role for role, cell in zip(roles, cells[2:], strict=True) if cell == "yes"}
            table[Permission(cells[0].strip("`"))] = granted
    assert set(table) == set(Permission)
    for permission, granted in table.items():
        assert granted == {role for role in roles if permission in PERMISSIONS[role]}, permission


def test_openapi_says_which_operations_need_a_key() -> None:
    from rempart.config import load_settings
    from rempart.server import create_app

    schema = create_app(load_settings({})).openapi()
    assert schema["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            needs_key = operation.get("security") == [{"apiKey": []}]
            assert needs_key == path.startswith(("/v1/", "/metrics")), path
