"""Registration rules: register, read, list and remove a provider's products."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row
from sqlalchemy.exc import IntegrityError

from provider_products.catalogue import service as catalogue_service
from provider_products.catalogue.schemas import code_key
from provider_products.db.base import utcnow
from provider_products.db.engine import Connection
from provider_products.errors import ProductAlreadyRegistered, ProductNotRegistered
from provider_products.pagination import Page, PageParams, make_page
from provider_products.registry import repository
from provider_products.registry.schemas import ProviderProductRead, RegistrationRead


def _read(row: Row[Any]) -> ProviderProductRead:
    return ProviderProductRead(
        product_code=row.product_code,
        product_type=row.product_type,
        name=row.name,
        registered_at=row.registered_at,
    )


async def register(conn: Connection, *, provider_id: int, code: str) -> RegistrationRead:
    """Register an active catalogue product; 404 ``071-101`` if not registrable, 409 ``071-102`` if held."""
    product = await catalogue_service.registrable(conn, code=code)
    now = utcnow()
    try:
        await repository.insert_registration(conn, provider_id=provider_id, product_id=product.id, at=now)
    except IntegrityError:
        raise ProductAlreadyRegistered(
            additional_information={"product_code": product.product_code}
        ) from None
    return RegistrationRead(product_code=product.product_code, registered_at=now)


async def get(conn: Connection, *, provider_id: int, code: str) -> ProviderProductRead:
    """Return one active registration, or 404 ``071-103``."""
    row = await repository.get_active(conn, provider_id=provider_id, code_key=code_key(code))
    if row is None:
        raise ProductNotRegistered(additional_information={"product_code": code.strip()})
    return _read(row)


async def remove(conn: Connection, *, provider_id: int, code: str) -> None:
    """Close the active registration period of a code, or 404 ``071-103``; history is kept."""
    product = await catalogue_service.lookup_id(conn, code=code)
    closed = product is not None and await repository.close_registration(
        conn, provider_id=provider_id, product_id=product[0], at=utcnow()
    )
    if not closed:
        raise ProductNotRegistered(additional_information={"product_code": code.strip()})


async def list_registrations(
    conn: Connection, *, provider_id: int, product_type: str | None, query: str | None, params: PageParams
) -> Page[ProviderProductRead]:
    """Return one page of the provider's active registrations, filtered and searched."""
    parsed = catalogue_service.SearchQuery.parse(query)
    if parsed is not None and not parsed.words:
        return make_page([], 0, params)
    rows, total = await repository.list_active(
        conn,
        provider_id=provider_id,
        product_type=product_type,
        words=parsed.words if parsed else None,
        code_key=parsed.code_key if parsed else "",
        limit=params.size,
        offset=params.offset,
    )
    return make_page([_read(r) for r in rows], total, params)
