"""The PDF report: one summary page plus one page per night, the text a clinician needs,
no identifiers unless asked, written atomically and owner-only, and pages that poppler's
pdftoppm turns into real pictures."""
from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader

from twitchwatch.errors import InputFileError, TwitchwatchError
from twitchwatch.review.catalog import list_nights
from twitchwatch.review.report import summary_figure, write_report
from twitchwatch.review.trend import compare, nightly_table

from .nightdata import make_data_dir

N_NIGHTS = 6


@pytest.fixture(scope="module")
def views(tmp_path_factory):
    d = tmp_path_factory.mktemp("report") / "data"
    make_data_dir(d, N_NIGHTS, hours=1.0, rate_hz=50.0)
    v, skipped = list_nights(d)
    assert not skipped
    return v


@pytest.fixture(scope="module")
def report(views, tmp_path_factory):
    path = tmp_path_factory.mktemp("out") / "report.pdf"
    write_report(views, path, pseudonym="P-017")
    return path


def page_texts(path) -> list[str]:
    """Each page's text with runs of white space (line wraps) as one space."""
    return [" ".join(p.extract_text().split()) for p in PdfReader(path).pages]


def test_pages_text_and_privacy(report, views):
    assert report.stat().st_mode & 0o777 == 0o600
    pages = page_texts(report)
    assert len(pages) == 1 + N_NIGHTS
    first = pages[0]
    for words in ("Patient: P-017", "accelerometer", "not a diagnosis", f"{N_NIGHTS} nights",
                  "Rate ratio after/before", "95% CI", "How the numbers were made", "Limits",
                  "Data quality", "new dose of clonazepam", "medication", "Page 1 of 7"):
        assert words in first, words
    for k, (v, text) in enumerate(zip(views, pages[1:]), start=2):
        assert "Night of" in text and v.date.strftime("%d %B %Y") in text
        assert f"page {k} of 7" in text and "Patient: P-017" in text
        assert "largest jerks" in text and "local time (Europe/London)" in text
        assert ("clonazepam" in text) == bool(v.notes)
    everything = "\n".join(pages)
    raw = report.read_bytes()
    assert "SIM0" not in everything and b"SIM0" not in raw          # serial numbers
    assert str(views[0].path.parent) not in everything and str(views[0].path.parent).encode() not in raw
    meta = PdfReader(report).metadata
    assert "SIM0" not in str(dict(meta)) and "P-017" not in str(dict(meta))


def test_identifiers_only_when_asked(views, tmp_path):
    path = tmp_path / "with-ids.pdf"
    write_report(views[:2], path, include_identifiers=True)
    pages = page_texts(path)
    assert len(pages) == 3
    assert "SIM01000" in pages[0] and "SIM01001" in pages[2]       # the check above can fail
    assert "Patient: not named" in pages[0]


def test_refuses_to_overwrite_and_leaves_nothing_half_written(views, tmp_path):
    path = tmp_path / "r.pdf"
    path.write_bytes(b"old report")
    with pytest.raises(TwitchwatchError, match="--force"):
        write_report(views[:2], path)
    assert path.read_bytes() == b"old report"
    write_report(views[:2], path, force=True)
    assert len(PdfReader(path).pages) == 3
    assert [p.name for p in tmp_path.iterdir()] == ["r.pdf"]
    with pytest.raises(InputFileError, match="no note matches"):
        write_report(views, tmp_path / "x.pdf", comparison_note="hydration")
    with pytest.raises(TwitchwatchError, match="no nights"):
        write_report([], tmp_path / "y.pdf")
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TwitchwatchError, match="not a folder"):
        write_report(views[:1], blocker / "z.pdf")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "r.pdf"]


def test_comparison_refused_in_a_short_period(views):
    short = views[:4]                                    # the note is on night 4: 3 before, 1 after
    table = nightly_table(short)
    fig = summary_figure(short, pseudonym="P-2", include_identifiers=False, comparison=compare(short, table=table),
                         table=table, n_pages=5)
    first = " ".join(t.get_text() for t in fig.findobj(lambda a: hasattr(a, "get_text")))
    assert "too few nights" in first and "Rate ratio" not in first and "Patient: P-2" in first


@pytest.mark.skipif(shutil.which("pdftoppm") is None,
                    reason="pdftoppm (Debian package poppler-utils) is not installed: PDF pages not rasterised")
def test_pdftoppm_renders_every_page(report, tmp_path):
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(report), str(tmp_path / "page")], check=True,
                   capture_output=True)
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == 1 + N_NIGHTS
    for p in pngs:
        px = np.asarray(Image.open(p).convert("L"), dtype=float)
        assert px.shape[0] > px.shape[1] > 250               # A4 portrait
        assert px.std() > 15 and (px < 128).mean() > 0.005   # not blank, not uniform
        assert (px > 240).mean() > 0.3                       # and not a black page


def test_missing_output_folders_are_made_owner_only(tmp_path):
    from twitchwatch.review.report import prepare_output

    target = tmp_path / "a" / "b" / "report.pdf"
    assert prepare_output(target, force=False, suffixes=(".pdf",)) == target
    assert (tmp_path / "a").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "a" / "b").stat().st_mode & 0o777 == 0o700
    with pytest.raises(TwitchwatchError, match=".pdf"):
        prepare_output(tmp_path / "report.png", force=False, suffixes=(".pdf",))
