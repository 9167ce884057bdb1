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


# ------------------------------------------------------------------ the page cache
@pytest.fixture
def drawn(monkeypatch):
    """The night ids whose page is drawn in this process (workers=1: all drawing is here)."""
    from twitchwatch.review import pages

    seen: list[str] = []
    real = pages.render_page

    def spy(view, *args, **kwargs):
        seen.append(view.night_id)
        return real(view, *args, **kwargs)

    monkeypatch.setattr(pages, "render_page", spy)
    return seen


def test_report_pages_come_from_the_cache_in_the_data_dir(report, views):
    folder = views[0].path.parent / ".cache" / "pages"
    assert folder.parent.stat().st_mode & 0o777 == 0o700 and folder.stat().st_mode & 0o777 == 0o700
    files = sorted(folder.glob("*.pdf"))
    assert len(files) >= N_NIGHTS
    for f in files:
        assert f.stat().st_mode & 0o777 == 0o600
        assert len(PdfReader(f).pages) == 1
        assert "P-017" not in f.read_bytes().decode("latin-1")      # the pseudonym is added, not cached
    assert not list(folder.glob(".*"))                               # no temporary left behind


def test_second_report_draws_no_page_and_matches_an_uncached_one(views, tmp_path, drawn):
    cache = tmp_path / "pages"
    first, second, uncached = tmp_path / "1.pdf", tmp_path / "2.pdf", tmp_path / "3.pdf"
    write_report(views, first, pseudonym="P-017", cache_dir=cache, workers=2)    # cold: drawn in 2 processes
    assert len(list(cache.glob("*.pdf"))) == N_NIGHTS and drawn == []
    stamps = {f.name: f.stat().st_mtime_ns for f in cache.iterdir()}
    write_report(views, second, pseudonym="P-017", cache_dir=cache, workers=1)
    assert drawn == []                                               # warm: nothing drawn
    assert {f.name: f.stat().st_mtime_ns for f in cache.iterdir()} == stamps
    write_report(views, uncached, pseudonym="P-017", cache=False, cache_dir=cache, workers=1)
    assert drawn == [v.night_id for v in views]                      # the spy sees drawing when it happens
    assert {f.name: f.stat().st_mtime_ns for f in cache.iterdir()} == stamps    # cache=False stores nothing
    texts = [page_texts(p) for p in (first, second, uncached)]
    assert len(texts[0]) == len(texts[1]) == len(texts[2]) == 1 + N_NIGHTS
    assert texts[0][1:] == texts[1][1:] == texts[2][1:]
    assert all(f"page {k} of 7" in t for k, t in enumerate(texts[1][1:], start=2))


def test_cache_never_shows_identifiers_unless_asked(views, tmp_path):
    cache = tmp_path / "pages"
    write_report(views[:2], tmp_path / "ids.pdf", include_identifiers=True, cache_dir=cache, workers=1)
    write_report(views[:2], tmp_path / "plain.pdf", cache_dir=cache, workers=1)
    assert "SIM01001" in page_texts(tmp_path / "ids.pdf")[2]
    assert "SIM0" not in " ".join(page_texts(tmp_path / "plain.pdf"))
    assert b"SIM0" not in (tmp_path / "plain.pdf").read_bytes()
    assert len(list(cache.glob("*.pdf"))) == 4                      # two variants of each night's page


def test_cache_follows_new_notes_and_analyses_and_mends_a_broken_page(tmp_path, drawn):
    from twitchwatch.analyze import analyze_night_file
    from twitchwatch.store import add_note, save_analysis

    data = tmp_path / "data"
    paths = make_data_dir(data, 3, hours=1.0, rate_hz=50.0)
    folder = data / ".cache" / "pages"
    write_report(list_nights(data)[0], tmp_path / "1.pdf", workers=1)
    before = {f.name for f in folder.glob("*.pdf")}
    assert len(before) == 3 and len(drawn) == 3

    drawn.clear()
    add_note(paths[2], "slept at a friend's house", "other")
    write_report(list_nights(data)[0], tmp_path / "2.pdf", workers=1)
    assert drawn == [paths[2].stem]
    after = {f.name for f in folder.glob("*.pdf")}
    assert len(after) == 3 and len(before - after) == 1             # the old page of that night is gone
    assert "slept at a friend's house" in page_texts(tmp_path / "2.pdf")[3]

    drawn.clear()
    save_analysis(paths[0], analyze_night_file(paths[0], timezone="America/New_York"))
    write_report(list_nights(data)[0], tmp_path / "3.pdf", workers=1)
    assert drawn == [paths[0].stem]
    assert "clock hours of America/New_York" in page_texts(tmp_path / "3.pdf")[1]
    assert len(list(folder.glob("*.pdf"))) == 3

    drawn.clear()
    broken = sorted(folder.glob("*.pdf"))[0]
    broken.write_bytes(b"%PDF-1.4 cut short")
    write_report(list_nights(data)[0], tmp_path / "4.pdf", workers=1)
    assert len(drawn) == 1 and len(PdfReader(broken).pages) == 1     # drawn again, cache mended
    assert page_texts(tmp_path / "4.pdf")[1:] == page_texts(tmp_path / "3.pdf")[1:]
