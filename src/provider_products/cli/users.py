"""``provider-products users``: the people who sign in to the portal."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from provider_products.cli.common import fail, in_transaction, out, run

if TYPE_CHECKING:
    from provider_products.db.engine import Connection
    from provider_products.portal.service import NewPassword

users_app = typer.Typer(help="Portal users (people of a provider).", no_args_is_help=True)


def _print_password(new: NewPassword, as_json: bool, *, heading: str) -> None:
    if as_json:
        data = {
            "email": new.email,
            "password": new.password,
            "provider_slug": new.provider_slug,
            "role": new.role,
        }
        print(json.dumps(data))
        return
    out.print(heading, markup=False, highlight=False)
    out.print(f"  email:    {new.email}", markup=False, highlight=False)
    out.print(f"  password: {new.password}", markup=False, highlight=False)
    out.print(f"  provider: {new.provider_slug}", markup=False, highlight=False)
    out.print(f"  role:     {new.role}", markup=False, highlight=False)
    out.print("[yellow]The password is shown only now; the user can change it in the portal.[/yellow]")


@users_app.command("create")
def users_create(
    provider: Annotated[str, typer.Option(help="The provider's slug")],
    email: Annotated[str, typer.Option(help="The user's email; what they sign in with")],
    role: Annotated[str, typer.Option(help="admin (everything) or staff (all but API clients and users)")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Create a portal user with a generated password, printed once."""
    from provider_products.portal import service as portal_service

    try:
        portal_service.check_role(role)
        portal_service.normalise_email(email)
    except portal_service.PortalError as exc:
        fail(exc, 2)
    new = run(
        in_transaction(
            lambda conn: portal_service.create_user(conn, provider_slug=provider, email=email, role=role)
        )
    )
    _print_password(new, as_json, heading="portal user created")


@users_app.command("list")
def users_list(
    provider: Annotated[str | None, typer.Option(help="Only this provider's users")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """List portal users (never their passwords)."""
    from rich.table import Table

    from provider_products.auth import service as auth_service
    from provider_products.portal import service as portal_service

    async def work(conn: Connection) -> list[portal_service.UserRecord]:
        provider_id = None
        if provider is not None:
            found = await auth_service.find_provider(conn, slug=provider)
            if found is None:
                raise portal_service.PortalError(f"no provider {provider!r}", "no_provider")
            provider_id = found.id
        return await portal_service.list_users(conn, provider_id=provider_id)

    rows = run(in_transaction(work))
    if as_json:
        records = [
            {
                "email": r.email,
                "provider_slug": r.provider_slug,
                "role": r.role,
                "is_active": bool(r.is_active),
                "created_at": r.created_at.isoformat(),
            }
            for r in rows
        ]
        print(json.dumps(records))
        return
    table = Table("email", "provider", "role", "active", "created_at")
    for r in rows:
        table.add_row(
            r.email,
            r.provider_slug,
            r.role,
            "yes" if r.is_active else "no",
            r.created_at.isoformat(timespec="seconds"),
        )
    out.print(table)


@users_app.command("disable")
def users_disable(email: Annotated[str, typer.Argument(help="The user to disable")]) -> None:
    """Disable a portal user: they cannot sign in, and their open sessions end now."""
    from provider_products.portal import service as portal_service

    ended = run(in_transaction(lambda conn: portal_service.set_active(conn, email=email, active=False)))
    out.print(
        f"user {email.strip().lower()} disabled; {ended} session(s) ended", markup=False, highlight=False
    )


@users_app.command("enable")
def users_enable(email: Annotated[str, typer.Argument(help="The user to enable")]) -> None:
    """Enable a disabled portal user again."""
    from provider_products.portal import service as portal_service

    run(in_transaction(lambda conn: portal_service.set_active(conn, email=email, active=True)))
    out.print(f"user {email.strip().lower()} enabled", markup=False, highlight=False)


@users_app.command("reset-password")
def users_reset_password(
    email: Annotated[str, typer.Argument(help="The user whose password to replace")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Give a portal user a new generated password (printed once); their sessions end."""
    from provider_products.portal import service as portal_service

    new = run(in_transaction(lambda conn: portal_service.reset_password(conn, email=email)))
    _print_password(new, as_json, heading="password reset")
