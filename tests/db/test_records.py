"""Repository records are built positionally from rows: each query's columns must be its record's fields."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Select

from provider_products.auth import repository as auth_repository
from provider_products.catalogue import repository as catalogue_repository
from provider_products.downstream import repository as downstream_repository
from provider_products.idempotency import repository as idempotency_repository
from provider_products.registry import repository as registry_repository

QUERIES: list[tuple[Select[Any], type[tuple[Any, ...]]]] = [
    (auth_repository._CLIENT, auth_repository.ClientRecord),
    (auth_repository._PROVIDER, auth_repository.ProviderRecord),
    (catalogue_repository._ENTRY, catalogue_repository.CatalogueEntry),
    (registry_repository._ONE, registry_repository.Registration),
    (downstream_repository._RECORD, downstream_repository.FiledRecord),
    (downstream_repository._LINES, downstream_repository.RecordLine),
    (idempotency_repository._KEY, idempotency_repository.IdempotencyRecord),
]


@pytest.mark.parametrize(("query", "record"), QUERIES, ids=[r.__name__ for _, r in QUERIES])
def test_query_columns_match_record_fields(query: Select[Any], record: Any) -> None:
    assert [c.name for c in query.selected_columns] == list(record._fields)
