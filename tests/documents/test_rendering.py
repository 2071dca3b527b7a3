"""Writing documents out: the same bytes every time, the tenant's locale, and templates that
can read the document and nothing else. PDFs are read back with poppler's pdftotext."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import date

import pytest

from domain import errors
from domain.documents import DOCUMENT_KINDS
from domain.letterhead import Letterhead
from services.documents import service
from services.documents.rendering import default_template, render_pdf
from services.documents.samples import (
    AS_OF,
    SAMPLE_LETTERHEAD,
    check_template_renders,
    sample_account,
    sample_renders,
)

SUBJECTS = dict(service.SAMPLE_SUBJECTS)


def pdf_text(pdf: bytes) -> str:
    return subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    ).stdout.decode()


def write(
    kind: str, letterhead: Letterhead = SAMPLE_LETTERHEAD, overrides: dict[str, str] | None = None
):  # type: ignore[no-untyped-def]
    built = service.build_document(
        sample_account(), kind, AS_OF, subject=SUBJECTS[kind], period_from=date(2026, 1, 1)
    )
    return service.write_out(built, service.heading_for(letterhead, "t"), overrides or {}, pdf=True)


@pytest.mark.parametrize("kind", DOCUMENT_KINDS)
def test_every_document_comes_out_the_same_twice_in_html_and_pdf(kind: str) -> None:
    first, second = write(kind), write(kind)
    assert first.pdf is not None
    assert first.pdf.startswith(b"%PDF-")
    assert (first.html_sha256, first.pdf_sha256) == (second.html_sha256, second.pdf_sha256)
    assert hashlib.sha256(first.pdf).hexdigest() == first.pdf_sha256
    text = pdf_text(first.pdf)
    assert "Harbor Family Clinic" in text
    assert "Avery Quinn" in text
    assert "12 Harbor Road" in text


def test_the_statement_pdf_says_what_the_ledger_says() -> None:
    text = pdf_text(write("statement").pdf)  # type: ignore[arg-type]
    for expected in (
        "Statement of account",
        "Day surgery",
        "INV-1",
        "auth 0001",
        "-$100.00",
        "Payment by Acme Health",
        "-$450.00",
        "$1,000.00",
        "Amount you owe",
        "$850.00",
        "PO Box 118",
    ):
        assert expected in text, expected


def test_amounts_and_dates_are_written_in_the_letterheads_locale() -> None:
    german = Letterhead(
        name="Praxis Nord", address_lines=("Hafenstraße 4", "20457 Hamburg"), locale="de_DE"
    )
    html = write("settlement-offer", german).html
    assert "300,00\xa0$" in html
    assert "30.04.2026" in html


def test_a_template_cannot_reach_python_through_the_document() -> None:
    hostile = '{% extends "layout" %}{% block content %}{{ doc.__class__.__mro__ }}{% endblock %}'
    with pytest.raises(errors.InvalidTemplate):
        check_template_renders("statement", hostile)
    mutating = '{% extends "layout" %}{% block content %}{{ doc.lines.append(1) }}{% endblock %}'
    with pytest.raises(errors.InvalidTemplate):
        check_template_renders("statement", mutating)


def test_a_template_naming_something_the_document_lacks_is_refused_with_the_reason() -> None:
    broken = '{% extends "layout" %}{% block content %}{{ doc.grand_total | money }}{% endblock %}'
    with pytest.raises(errors.InvalidTemplate, match="grand_total"):
        check_template_renders("invoice", broken)
    with pytest.raises(errors.InvalidTemplate, match="does not parse"):
        check_template_renders("invoice", "{% if %}")


def test_an_override_is_used_and_the_default_stays_for_the_rest() -> None:
    override = default_template("invoice").replace("Amount due", "Balance to pay")
    check_template_renders("invoice", override)
    text = pdf_text(write("invoice", overrides={"invoice": override}).pdf)  # type: ignore[arg-type]
    assert "Balance to pay" in text
    assert "Amount due" not in text
    assert "Amount you owe" in pdf_text(write("statement", overrides={"invoice": override}).pdf)  # type: ignore[arg-type]


def test_the_pdf_engine_reads_no_file_and_no_url(tmp_path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.html"
    secret.write_text("<p>TOP SECRET LINE</p>")
    html = (
        f'<html><body><p>visible</p><img src="file://{secret}"><iframe src="file://{secret}"></iframe>'
        f'<object data="file://{secret}"></object><img src="http://127.0.0.1:9/x.png"></body></html>'
    )
    pdf, pages = render_pdf(html)
    text = pdf_text(pdf)
    assert "visible" in text
    assert "TOP SECRET" not in text
    assert pages == 1


def test_every_default_template_passes_its_own_check() -> None:
    sample_renders(
        {
            name: default_template(name)
            for name in ("layout", "statement", "cover_list", "email_body")
        }
    )
