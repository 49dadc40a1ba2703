"""Provider and OAuth client rules, called directly on the service."""

from __future__ import annotations

import pytest

from provider_products.auth import service as auth_service
from provider_products.auth.security import ALL_SCOPES
from provider_products.auth.service import AdminError, ClientCredentials, InvalidScopes
from provider_products.db.engine import Database


async def _client(
    database: Database, *, slug: str = "farmacia-a", scopes: str | None = None, rate_limit: str | None = None
) -> ClientCredentials:
    async with database.transaction(write=True) as conn:
        if not any(p.slug == slug for p in await auth_service.list_providers(conn)):
            await auth_service.create_provider(conn, slug=slug, name=slug.title())
        return await auth_service.create_client(
            conn, provider_slug=slug, scopes=auth_service.parse_scopes(scopes), rate_limit=rate_limit
        )


async def _verify(database: Database, client_id: str, secret: str) -> auth_service.ClientInfo | None:
    async with database.transaction() as conn:
        found = await auth_service.find_client(conn, client_id=client_id)
    return await auth_service.verify_client(found, secret=secret)


# providers


async def test_create_provider_valid_slug_is_listed_with_trimmed_name(database: Database) -> None:
    async with database.transaction(write=True) as conn:
        provider_id = await auth_service.create_provider(conn, slug="farmacia-a", name="  Farmacia A ")
    async with database.transaction() as conn:
        providers = await auth_service.list_providers(conn)
    assert [(p.id, p.slug, p.name) for p in providers] == [(provider_id, "farmacia-a", "Farmacia A")]


@pytest.mark.parametrize(
    "slug",
    ["Farmacia", "-farmacia", "farmacia-", "farmacia_a", "farmacia a", "", "a" * 65],
)
async def test_create_provider_ill_formed_slug_raises_admin_error(database: Database, slug: str) -> None:
    async with database.transaction(write=True) as conn:
        with pytest.raises(AdminError, match="slug"):
            await auth_service.create_provider(conn, slug=slug, name="Farmacia")
        assert await auth_service.list_providers(conn) == []


async def test_create_provider_longest_slug_is_accepted(database: Database) -> None:
    async with database.transaction(write=True) as conn:
        await auth_service.create_provider(conn, slug="a" * 64, name="Long")
        assert [p.slug for p in await auth_service.list_providers(conn)] == ["a" * 64]


async def test_create_provider_blank_name_raises_admin_error(database: Database) -> None:
    async with database.transaction(write=True) as conn:
        with pytest.raises(AdminError, match="name"):
            await auth_service.create_provider(conn, slug="farmacia-a", name="   ")


async def test_create_provider_existing_slug_raises_admin_error(database: Database) -> None:
    async with database.transaction(write=True) as conn:
        await auth_service.create_provider(conn, slug="farmacia-a", name="A")
    async with database.transaction(write=True) as conn:
        with pytest.raises(AdminError, match="already exists"):
            await auth_service.create_provider(conn, slug="farmacia-a", name="B")
        assert [p.name for p in await auth_service.list_providers(conn)] == ["A"]


# clients


async def test_create_client_secret_verifies_with_provider_and_scopes(database: Database) -> None:
    creds = await _client(database, scopes="arc:read ehr:read", rate_limit="50/minute")
    info = await _verify(database, creds.client_id, creds.client_secret)
    assert info is not None
    assert (info.client_id, info.provider_slug, info.is_active) == (creds.client_id, "farmacia-a", True)
    assert info.scopes == frozenset({"arc:read", "ehr:read"})
    assert info.rate_limit == "50/minute"


async def test_create_client_stores_only_argon2_hash_of_secret(database: Database) -> None:
    creds = await _client(database)
    async with database.transaction() as conn:
        record = await auth_service.find_client(conn, client_id=creds.client_id)
    assert record is not None
    assert record.secret_hash.startswith("$argon2id$")
    assert creds.client_secret not in record.secret_hash


async def test_create_client_unknown_provider_raises_admin_error(database: Database) -> None:
    async with database.transaction(write=True) as conn:
        with pytest.raises(AdminError, match="no provider 'nadie'"):
            await auth_service.create_client(conn, provider_slug="nadie", scopes=["arc:read"])
        assert await auth_service.list_clients(conn) == []


async def test_create_client_ill_formed_rate_limit_raises_admin_error(database: Database) -> None:
    with pytest.raises(AdminError, match="invalid rate limit"):
        await _client(database, rate_limit="fast")
    async with database.transaction() as conn:
        assert await auth_service.list_clients(conn) == []


async def _create_with_scopes(database: Database, scopes: list[str]) -> ClientCredentials:
    """Call the service directly, as a caller that skipped ``parse_scopes`` would."""
    async with database.transaction(write=True) as conn:
        if not await auth_service.list_providers(conn):
            await auth_service.create_provider(conn, slug="farmacia-a", name="Farmacia A")
        return await auth_service.create_client(conn, provider_slug="farmacia-a", scopes=scopes)


@pytest.mark.parametrize(
    ("scopes", "unknown", "shown"),
    [
        (["arc:read", "arc:admin"], ["arc:admin"], "arc:admin"),
        (["ARC:READ"], ["ARC:READ"], "ARC:READ"),
        (["arc:read arc:write"], ["arc:read arc:write"], "'arc:read arc:write'"),
        ([" arc:read"], [" arc:read"], "' arc:read'"),
        ([""], [""], "''"),
    ],
)
async def test_create_client_unknown_scope_raises_invalid_scopes_and_creates_nothing(
    database: Database, scopes: list[str], unknown: list[str], shown: str
) -> None:
    with pytest.raises(InvalidScopes) as caught:
        await _create_with_scopes(database, scopes)
    assert caught.value.unknown == unknown
    assert str(caught.value) == f"unknown scope(s) {shown}; known: {' '.join(ALL_SCOPES)}"
    assert isinstance(caught.value, AdminError)  # the CLI reports it like every admin refusal
    async with database.transaction() as conn:
        assert await auth_service.list_clients(conn) == []


async def test_create_client_without_scopes_raises_invalid_scopes(database: Database) -> None:
    with pytest.raises(InvalidScopes, match="at least one scope") as caught:
        await _create_with_scopes(database, [])
    assert caught.value.unknown == []
    async with database.transaction() as conn:
        assert await auth_service.list_clients(conn) == []


async def test_create_client_repeated_scope_is_granted_once(database: Database) -> None:
    creds = await _create_with_scopes(database, ["ehr:read", "arc:read", "ehr:read"])
    assert creds.scopes == ["ehr:read", "arc:read"]
    async with database.transaction() as conn:
        record = await auth_service.find_client(conn, client_id=creds.client_id)
    assert record is not None
    assert record.scopes == "ehr:read arc:read"


async def test_create_client_ids_are_distinct_and_plausible(database: Database) -> None:
    first, second = await _client(database), await _client(database)
    assert first.client_id != second.client_id
    assert first.client_secret != second.client_secret
    assert auth_service.plausible_client_id(first.client_id)


async def test_verify_client_wrong_secret_answers_none(database: Database) -> None:
    creds = await _client(database)
    assert await _verify(database, creds.client_id, creds.client_secret + "x") is None


async def test_verify_client_unknown_client_answers_none(database: Database) -> None:
    assert await _verify(database, "cli_unknown", "whatever") is None


async def test_list_clients_of_provider_answers_only_its_clients(database: Database) -> None:
    mine = await _client(database, slug="farmacia-a")
    await _client(database, slug="farmacia-b")
    async with database.transaction() as conn:
        listed = await auth_service.list_clients(conn, provider_slug="farmacia-a")
        everyone = await auth_service.list_clients(conn)
    assert [c.client_id for c in listed] == [mine.client_id]
    assert len(everyone) == 2


# rotation and disabling


async def test_rotate_secret_old_secret_stops_working_and_new_one_works(database: Database) -> None:
    creds = await _client(database, scopes="arc:read")
    async with database.transaction(write=True) as conn:
        rotated = await auth_service.rotate_secret(conn, client_id=creds.client_id)
    assert (rotated.client_id, rotated.provider_slug, rotated.scopes) == (
        creds.client_id,
        "farmacia-a",
        ["arc:read"],
    )
    assert rotated.client_secret != creds.client_secret
    assert await _verify(database, creds.client_id, creds.client_secret) is None
    assert await _verify(database, creds.client_id, rotated.client_secret) is not None


async def test_rotate_secret_records_rotation_time(database: Database) -> None:
    creds = await _client(database)
    async with database.transaction(write=True) as conn:
        assert (await auth_service.find_client(conn, client_id=creds.client_id)).secret_rotated_at is None  # type: ignore[union-attr]
        await auth_service.rotate_secret(conn, client_id=creds.client_id)
        record = await auth_service.find_client(conn, client_id=creds.client_id)
    assert record is not None
    assert record.secret_rotated_at is not None


async def test_rotate_secret_unknown_client_raises_admin_error(database: Database) -> None:
    async with database.transaction(write=True) as conn:
        with pytest.raises(AdminError, match="no client 'cli_unknown'"):
            await auth_service.rotate_secret(conn, client_id="cli_unknown")


async def test_set_active_false_makes_right_secret_fail(database: Database) -> None:
    creds = await _client(database)
    async with database.transaction(write=True) as conn:
        await auth_service.set_active(conn, client_id=creds.client_id, active=False)
    assert await _verify(database, creds.client_id, creds.client_secret) is None
    async with database.transaction() as conn:
        info = await auth_service.client_info(conn, client_id=creds.client_id)
    assert info is not None
    assert info.is_active is False


async def test_set_active_true_after_disabling_restores_client(database: Database) -> None:
    creds = await _client(database)
    for active in (False, True):
        async with database.transaction(write=True) as conn:
            await auth_service.set_active(conn, client_id=creds.client_id, active=active)
    assert await _verify(database, creds.client_id, creds.client_secret) is not None


async def test_set_active_unknown_client_raises_admin_error(database: Database) -> None:
    async with database.transaction(write=True) as conn:
        with pytest.raises(AdminError, match="no client"):
            await auth_service.set_active(conn, client_id="cli_unknown", active=False)


async def test_client_info_unknown_client_answers_none(database: Database) -> None:
    async with database.transaction() as conn:
        assert await auth_service.client_info(conn, client_id="cli_unknown") is None


# scopes


@pytest.mark.parametrize("raw", [None, ""])
def test_parse_scopes_absent_answers_default(raw: str | None) -> None:
    assert auth_service.parse_scopes(raw) == ["arc:read", "arc:write"]


def test_parse_scopes_repeated_scope_is_kept_once_in_order() -> None:
    assert auth_service.parse_scopes(" ehr:read  arc:read ehr:read ") == ["ehr:read", "arc:read"]


def test_parse_scopes_unknown_scope_raises_admin_error_naming_it() -> None:
    with pytest.raises(AdminError, match=r"unknown scope\(s\) arc:admin; known: arc:read"):
        auth_service.parse_scopes("arc:read arc:admin")


def test_parse_scopes_whitespace_only_raises_admin_error() -> None:
    with pytest.raises(AdminError, match="at least one scope"):
        auth_service.parse_scopes("   ")


def test_parse_scopes_empty_default_raises_admin_error() -> None:
    with pytest.raises(AdminError, match="at least one scope"):
        auth_service.parse_scopes(None, default=())


@pytest.mark.parametrize(
    ("client_id", "plausible"),
    [
        ("cli_0123abcd", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("", False),
        ("cli 1", False),
        ("cli/1", False),
    ],
)
def test_plausible_client_id_form_answers_whether_it_could_exist(client_id: str, plausible: bool) -> None:
    assert auth_service.plausible_client_id(client_id) is plausible
