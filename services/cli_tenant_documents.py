"""What the tenant's documents carry, in the ``ar tenant`` commands: letterhead, mail, templates.

- ``ar tenant letterhead`` / ``set-letterhead``: the heading of every document (``--logo FILE``
  reads a PNG or JPEG image and sends it base64-encoded, as over HTTP).
- ``ar tenant mail-settings`` / ``set-mail-settings`` / ``clear-mail-settings``: the SMTP server
  e-mail leaves through; ``--password-env`` names the variable the password is read from at
  send time, the password itself is never given here.
- ``ar tenant template NAME`` prints the source in force (the override, else the default);
  ``set-template NAME FILE`` overrides it once it renders, ``clear-template NAME`` goes back.

They do what ``services.api.tenant`` does over HTTP, through ``services.tenants``: a value
equal to the one in force records nothing (and says so), a refused one records nothing and
ends with its sentence on stderr and exit status 1. As in ``services.cli_days``, the
application and the store are imported inside the commands.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from services.cli_days import Actor, AsJson
from services.cli_guard import cli_provenance
from services.cli_guard import refusals_exit as guarded_refusals_exit

if TYPE_CHECKING:
    from domain.letterhead import Letterhead, MailSettings
    from services.bootstrap import Runtime

Tenant = Annotated[
    str, typer.Option(envvar="AR_TENANT", help="The tenant whose document settings these are.")
]
ReadableFile = Annotated[
    Path, typer.Argument(exists=True, dir_okay=False, readable=True, help="The file to read.")
]
TemplateName = Annotated[
    str, typer.Argument(help="The template: invoice, statement, dunning_letter, layout, ...")
]
NOTHING_RECORDED = "(the same as in force: nothing recorded)"


def _letterhead_document(letterhead: Letterhead) -> dict[str, Any]:
    return {
        "name": letterhead.name,
        "address_lines": list(letterhead.address_lines),
        "locale": letterhead.locale,
        "remit_to": list(letterhead.remit_to),
        "payment_instructions": letterhead.payment_instructions,
        "phone": letterhead.phone,
        "email": letterhead.email,
        "logo_base64": letterhead.logo_base64,
        "logo_media_type": letterhead.logo_media_type,
    }


def _print_letterhead(letterhead: Letterhead, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(_letterhead_document(letterhead), indent=2))
        return
    from services.cli_render import pairs, show

    logo = letterhead.logo
    show(
        pairs(
            {
                "name": letterhead.name,
                "address": " / ".join(letterhead.address_lines),
                "locale": letterhead.locale,
                "remit to": " / ".join(letterhead.remit_to) or None,
                "payment instructions": letterhead.payment_instructions or None,
                "phone": letterhead.phone or None,
                "email": letterhead.email or None,
                "logo": f"{letterhead.logo_media_type}, {len(logo)} bytes" if logo else None,
            }
        )
    )


def _mail_document(mail: MailSettings) -> dict[str, Any]:
    return {
        "host": mail.host,
        "port": mail.port,
        "sender": mail.sender,
        "security": mail.security,
        "username": mail.username,
        "password_env": mail.password_env,
        "reply_to": mail.reply_to,
    }


def _print_mail(mail: MailSettings, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps(_mail_document(mail), indent=2))
        return
    from services.cli_render import pairs, show

    show(pairs({key.replace("_", " "): value for key, value in _mail_document(mail).items()}))


def _logo_base64(path: Path | None) -> str | None:
    return None if path is None else base64.b64encode(path.read_bytes()).decode("ascii")


def _template_source(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        typer.echo(f"error: {path} is not UTF-8 text.", err=True)
        raise typer.Exit(1) from None


def register(tenant_app: typer.Typer, runtime_factory: Callable[[], Runtime]) -> None:
    """Add the document settings' commands to ``ar tenant``."""

    def refusals_exit(what: str) -> AbstractContextManager[Runtime]:
        return guarded_refusals_exit(runtime_factory, what)

    @tenant_app.command("letterhead")
    def show_letterhead(tenant: Tenant, as_json: AsJson = False) -> None:
        """The letterhead the tenant's documents carry."""
        from services.tenants import TenantSettings

        with refusals_exit("the letterhead") as runtime:
            found = TenantSettings(runtime.app).get(tenant)
        if found is None or found.letterhead is None:
            typer.echo("null" if as_json else f"tenant {tenant} has no letterhead")
            return
        _print_letterhead(found.letterhead, as_json)

    @tenant_app.command("set-letterhead")
    def set_letterhead(
        name: Annotated[str, typer.Option(help="The tenant's trading name.")],
        address_line: Annotated[
            list[str], typer.Option(help="A line of the postal address (repeat, 1 to 6 lines).")
        ],
        tenant: Tenant,
        actor: Actor,
        locale: Annotated[str, typer.Option(help="Amounts and dates written as in.")] = "en_US",
        remit_to_line: Annotated[
            list[str] | None,
            typer.Option(help="A line of where payments go (repeat; default: the address)."),
        ] = None,
        payment_instructions: Annotated[str, typer.Option(help="How to pay.")] = "",
        phone: str = "",
        email: str = "",
        logo: Annotated[
            Path | None,
            typer.Option(
                exists=True,
                dir_okay=False,
                readable=True,
                help="A PNG or JPEG image of at most 256 KiB.",
            ),
        ] = None,
    ) -> None:
        """Set the letterhead every document of the tenant carries."""
        from domain.letterhead import Letterhead
        from services.tenants import TenantSettings

        with refusals_exit("the letterhead") as runtime:
            letterhead = Letterhead(
                name=name,
                address_lines=tuple(address_line),
                locale=locale,
                remit_to=tuple(remit_to_line or ()),
                payment_instructions=payment_instructions,
                phone=phone,
                email=email,
                logo_base64=_logo_base64(logo),
            )
            recorded = TenantSettings(runtime.app).set_letterhead(
                tenant, letterhead, cli_provenance(actor)
            )
        _print_letterhead(letterhead, False)
        if not recorded:
            typer.echo(NOTHING_RECORDED)

    @tenant_app.command("mail-settings")
    def show_mail_settings(tenant: Tenant, as_json: AsJson = False) -> None:
        """The SMTP server the tenant's e-mail leaves through."""
        from services.tenants import TenantSettings

        with refusals_exit("the mail settings") as runtime:
            found = TenantSettings(runtime.app).get(tenant)
        if found is None or found.mail_settings is None:
            typer.echo("null" if as_json else f"tenant {tenant} sends no e-mail (no mail settings)")
            return
        _print_mail(found.mail_settings, as_json)

    @tenant_app.command("set-mail-settings")
    def set_mail_settings(
        host: Annotated[str, typer.Option(help="The SMTP server's host name or address.")],
        port: Annotated[int, typer.Option(help="The SMTP server's port.")],
        sender: Annotated[str, typer.Option(help="The From address of the tenant's e-mail.")],
        tenant: Tenant,
        actor: Actor,
        security: Annotated[str, typer.Option(help="none, starttls or tls.")] = "starttls",
        username: Annotated[str | None, typer.Option(help="The SMTP user name.")] = None,
        password_env: Annotated[
            str | None,
            typer.Option(help="The environment variable holding the SMTP password at send time."),
        ] = None,
        reply_to: Annotated[str | None, typer.Option(help="The Reply-To address.")] = None,
    ) -> None:
        """Set the SMTP server the tenant's e-mail leaves through."""
        from domain.letterhead import MailSettings
        from services.tenants import TenantSettings

        with refusals_exit("the mail settings") as runtime:
            mail = MailSettings(
                host=host,
                port=port,
                sender=sender,
                security=security,
                username=username,
                password_env=password_env,
                reply_to=reply_to,
            )
            recorded = TenantSettings(runtime.app).set_mail_settings(
                tenant, mail, cli_provenance(actor)
            )
        _print_mail(mail, False)
        if not recorded:
            typer.echo(NOTHING_RECORDED)

    @tenant_app.command("clear-mail-settings")
    def clear_mail_settings(tenant: Tenant, actor: Actor) -> None:
        """Send no more e-mail for the tenant."""
        from services.tenants import TenantSettings

        with refusals_exit("the mail settings") as runtime:
            cleared = TenantSettings(runtime.app).clear_mail_settings(tenant, cli_provenance(actor))
        typer.echo("mail settings cleared" if cleared else "no mail settings were set")

    @tenant_app.command("template")
    def show_template(name: TemplateName, tenant: Tenant) -> None:
        """Print the source of a document template in force: the override, else the default."""
        from services.tenants import TenantSettings

        with refusals_exit("the template") as runtime:
            template = TenantSettings(runtime.app).template_in_force(tenant, name)
        typer.echo(template.source, nl=not template.source.endswith("\n"))

    @tenant_app.command("set-template")
    def set_template(name: TemplateName, file: ReadableFile, tenant: Tenant, actor: Actor) -> None:
        """Override a document template with the file's source, once it renders."""
        from services.tenants import TenantSettings

        source = _template_source(file)
        with refusals_exit("the template") as runtime:
            recorded = TenantSettings(runtime.app).set_template(
                tenant, name, source, cli_provenance(actor)
            )
        typer.echo(f"template {name} overridden" if recorded else NOTHING_RECORDED)

    @tenant_app.command("clear-template")
    def clear_template(name: TemplateName, tenant: Tenant, actor: Actor) -> None:
        """Write a document template with the product's default again."""
        from services.tenants import TenantSettings

        with refusals_exit("the template") as runtime:
            TenantSettings(runtime.app).clear_template(tenant, name, cli_provenance(actor))
        typer.echo(f"template {name} is the default again")
