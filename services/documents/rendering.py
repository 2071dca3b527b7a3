"""Writing a document out: the tenant's templates, in HTML and in PDF.

Concept
    One set of Jinja2 templates writes every document; the PDF is the same HTML laid out by
    WeasyPrint, so what the clerk previews in a browser is what the customer receives on
    paper. A default set ships in ``templates/`` (``<name>.html.j2``); a tenant overrides any
    of them by name (:mod:`domain.letterhead`), and an override may extend ``layout`` like
    the defaults do. Amounts are written in their own currency by the letterhead's locale
    (Babel: "$1,000.00", "1.000,00 €"), dates likewise.

Invariants
    - Templates run in Jinja2's immutable sandbox with every value escaped and every name
      required (``StrictUndefined``): a tenant's template can read the document and
      nothing else, cannot change it, and a misspelt name fails instead of printing
      nothing. Any failure is :class:`~domain.errors.InvalidTemplate` with a sentence.
    - A template writes one document out on a budget of steps and characters, so no
      template holds a worker or its memory for long, whatever the account it writes for
      (:mod:`services.documents.sandbox`).
    - The PDF engine fetches nothing: only ``data:`` URLs (the logo) are read, so a
      template cannot pull a file or a web page into a document. It lays out at most
      :data:`PDF_MAX_ELEMENTS` elements on at most :data:`PDF_MAX_PAGES` pages.
    - The same document, letterhead and templates give the same bytes, HTML and PDF (the
      PDF carries no creation time): a reprint as known at the original moment hashes
      the same as what was sent.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import jinja2
from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from domain import errors
from domain.letterhead import EMAIL_BODY, Letterhead
from domain.money import Money
from services.documents.sandbox import (
    DOCUMENT_CHARACTERS,
    BudgetedSandbox,
    OverBudget,
    budgeted,
    counted_filter,
)

TEMPLATES_DIR: Final = Path(__file__).parent / "templates"
DEFAULT_LOCALE: Final = "en_US"
PDF: Final = "application/pdf"
HTML: Final = "text/html; charset=utf-8"
#: The most pages a document is laid out on (the statement of 5,000 lines has 126)...
PDF_MAX_PAGES: Final = 1_000
#: ... and the most elements (start tags) its HTML may have: the PDF engine's time and
#: memory grow with them (that statement has ~30,000, and takes ~25 seconds).
PDF_MAX_ELEMENTS: Final = 100_000
_START_TAG: Final = re.compile(r"<[A-Za-z]")
#: The forms the ``day`` filter writes a date in (Babel's; it keeps every pattern it is given).
DAY_FORMS: Final = ("short", "medium", "long", "full")


def default_template(name: str) -> str:
    """The source of a default template (``name`` one of the template names)."""
    return (TEMPLATES_DIR / f"{name}.html.j2").read_text(encoding="utf-8")


@dataclass(frozen=True)
class Heading:
    """The letterhead as a template reads it (a tenant without one is headed by its id)."""

    name: str
    address_lines: tuple[str, ...]
    remit_to_lines: tuple[str, ...]
    payment_instructions: str
    phone: str
    email: str
    logo_data_uri: str | None
    locale: str


def heading_of(letterhead: Letterhead | None, tenant_id: str) -> Heading:
    if letterhead is None:
        return Heading(tenant_id, (), (tenant_id,), "", "", "", None, DEFAULT_LOCALE)
    logo = None
    if letterhead.logo_base64 is not None:
        logo = f"data:{letterhead.logo_media_type};base64,{letterhead.logo_base64}"
    return Heading(
        name=letterhead.name,
        address_lines=letterhead.address_lines,
        remit_to_lines=letterhead.remit_to_lines,
        payment_instructions=letterhead.payment_instructions,
        phone=letterhead.phone,
        email=letterhead.email,
        logo_data_uri=logo,
        locale=letterhead.locale,
    )


@dataclass(frozen=True)
class Rendered:
    """A document written out: its HTML, and its PDF when asked for."""

    html: str
    pdf: bytes | None
    #: The PDF's page count (None: HTML only).
    pages: int | None = None

    @property
    def html_bytes(self) -> bytes:
        return self.html.encode("utf-8")

    @property
    def html_sha256(self) -> str:
        return hashlib.sha256(self.html_bytes).hexdigest()

    @property
    def pdf_sha256(self) -> str:
        if self.pdf is None:
            raise ValueError("This document was written as HTML only.")
        return hashlib.sha256(self.pdf).hexdigest()


# ------------------------------------------------------------------ the template environment


def _filters(locale: str) -> dict[str, Callable[..., str]]:
    def money(value: Money | None) -> str:
        if isinstance(value, jinja2.Undefined):
            str(value)  # StrictUndefined raises, naming what the template asked for
        if value is None:
            return ""
        if not isinstance(value, Money):
            raise TypeError("The money filter writes an amount with its currency.")
        return str(format_currency(value.amount, value.currency, locale=locale))

    def day(value: date | None, form: str = "medium") -> str:
        if isinstance(value, jinja2.Undefined):
            str(value)
        if value is None:
            return ""
        if form not in DAY_FORMS:
            raise ValueError(
                f"The day filter writes a date short, medium, long or full, not {form!r}."
            )
        return str(format_date(value, format=form, locale=locale))

    def number(value: Decimal | int | str) -> str:
        return str(format_decimal(Decimal(value), locale=locale))

    return {"money": money, "day": day, "number": number}


@lru_cache(maxsize=64)
def _environment(locale: str, overrides: tuple[tuple[str, str], ...]) -> jinja2.Environment:
    sources = dict(overrides)

    def load(name: str) -> str:
        if name in sources:
            return sources[name]
        path = TEMPLATES_DIR / f"{name}.html.j2"
        if not path.is_file() or path.parent != TEMPLATES_DIR:
            raise jinja2.TemplateNotFound(name)
        return path.read_text(encoding="utf-8")

    environment = BudgetedSandbox(
        loader=jinja2.FunctionLoader(load),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    environment.filters.update(
        {name: counted_filter(name, function) for name, function in _filters(locale).items()}
    )
    return environment


def render_html(
    template: str,
    context: Mapping[str, Any],
    heading: Heading,
    overrides: Mapping[str, str],
) -> str:
    """The document's HTML, by template ``template`` (a template name)."""
    environment = _environment(heading.locale, tuple(sorted(overrides.items())))
    try:
        with budgeted():
            return _document(environment.get_template(template).generate(**context, head=heading))
    except OverBudget as spent:
        raise errors.InvalidTemplate(f"Template {template} {spent}.", field="template") from None
    except jinja2.TemplateSyntaxError as error:
        raise errors.InvalidTemplate(
            f"Template {error.name or template} does not parse (line {error.lineno}):"
            f" {(error.message or 'a syntax error').rstrip('.')}.",
            field="template",
        ) from None
    except jinja2.TemplateNotFound as error:
        raise errors.InvalidTemplate(
            f"Template {template} uses {error.name}, which is no template.", field="template"
        ) from None
    except Exception as error:  # a tenant's template can fail in any way: say how, for it alone
        raise errors.InvalidTemplate(
            f"Template {template} could not be written out: {type(error).__name__}:"
            f" {str(error).rstrip('.')}.",
            field="template",
        ) from None


def _document(parts: Iterable[str]) -> str:
    """The parts a template wrote, joined: at most ``DOCUMENT_CHARACTERS`` of them."""
    kept = []
    size = 0
    for part in parts:
        size += len(part)
        if size > DOCUMENT_CHARACTERS:
            raise OverBudget(
                f"writes a document longer than {DOCUMENT_CHARACTERS:,} characters, longer than"
                " a document may be"
            )
        kept.append(part)
    return "".join(kept)


def render_pdf(html: str) -> tuple[bytes, int]:
    """The HTML laid out as a PDF (A4, the fonts the templates name), and its page count."""
    # Imported here: the engine loads Pango at import, which only PDF-writing needs.
    from weasyprint import HTML as Page  # noqa: N811

    elements = len(_START_TAG.findall(html))
    if elements > PDF_MAX_ELEMENTS:
        raise errors.InvalidTemplate(
            f"The document has {elements:,} elements, more than the {PDF_MAX_ELEMENTS:,} a PDF"
            " is laid out with.",
            field="template",
        )
    _pages_bounded()
    try:
        document = Page(string=html, url_fetcher=_data_urls_only(), base_url=None).render()
        pdf: bytes = document.write_pdf()
    except _TooManyPages:
        raise errors.InvalidTemplate(
            f"The PDF would run past {PDF_MAX_PAGES:,} pages, more than a document may have.",
            field="template",
        ) from None
    except Exception as error:  # a layout the engine cannot do is this document's failure
        raise errors.InvalidTemplate(
            f"The PDF could not be laid out: {type(error).__name__}: {str(error).rstrip('.')}.",
            field="template",
        ) from None
    return pdf, len(document.pages)


class _TooManyPages(Exception):
    pass


@lru_cache(maxsize=1)
def _pages_bounded() -> None:
    """Have the PDF engine stop laying a document out past ``PDF_MAX_PAGES`` pages. Its work
    grows with the pages, and a page break per element makes a page of a few characters:
    the HTML's length alone does not bound it. (The engine offers no such limit: its page
    maker, which yields the pages one by one, is wrapped once.)"""
    from weasyprint import layout

    make_all_pages = layout.make_all_pages

    def bounded(*args: Any, **kwargs: Any) -> Iterator[Any]:
        for number, page in enumerate(make_all_pages(*args, **kwargs), start=1):
            if number > PDF_MAX_PAGES:
                raise _TooManyPages
            yield page

    layout.make_all_pages = bounded


def _data_urls_only() -> Any:
    """The engine's own fetcher, allowed the ``data:`` protocol alone (the logo)."""
    from weasyprint.urls import URLFetcher

    return URLFetcher(allowed_protocols=("data",), allow_redirects=False)


def email_text(context: Mapping[str, Any], heading: Heading, overrides: Mapping[str, str]) -> str:
    """The plain-text body of the e-mail a document is attached to."""
    return render_html(EMAIL_BODY, context, heading, overrides).strip() + "\n"
