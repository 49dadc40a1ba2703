"""Typed Python SDK of the provider-products API, sync (``Client``) and asyncio (``AsyncClient``).

It depends only on httpx and pydantic, and works against any server that speaks the contract::

    from provider_products_client import Client

    with Client(base_url="http://127.0.0.1:8000", client_id="cli_...", client_secret="...") as api:
        api.register_product("MED-042")
        for product in api.iter_provider_products():
            print(product.product_code, product.registered_at)
        print(api.rate_limit)

The integrator tools (``provider-products-client onboard|match``) need the ``tools`` extra.
"""

from provider_products_client import errors, models
from provider_products_client._async import AsyncClient
from provider_products_client._core import VERSION as __version__
from provider_products_client._core import RequestOptions
from provider_products_client._sync import Client
from provider_products_client.errors import (
    ApiConnectionError,
    ApiError,
    ApiTimeoutError,
    ProviderProductsError,
    TransportError,
)

__all__ = [
    "ApiConnectionError",
    "ApiError",
    "ApiTimeoutError",
    "AsyncClient",
    "Client",
    "ProviderProductsError",
    "RequestOptions",
    "TransportError",
    "__version__",
    "errors",
    "models",
]
