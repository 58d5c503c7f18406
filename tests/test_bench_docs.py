"""bench.docs: a benchmark rewrites only its own generated section of a page."""

import pytest

from bench.docs import markers, rewrite_section


def test_only_the_named_section_is_replaced(tmp_path):
    doc = tmp_path / "page.md"
    a, b = markers("a"), markers("b")
    doc.write_text(f"before\n{a[0]}\nold a\n{a[1]}\nmiddle\n{b[0]}\nold b\n{b[1]}\nafter\n")
    rewrite_section(str(doc), "b", "new b")
    assert (
        doc.read_text() == f"before\n{a[0]}\nold a\n{a[1]}\nmiddle\n{b[0]}\nnew b\n{b[1]}\nafter\n"
    )


def test_a_page_without_the_section_is_an_error_and_is_left_alone(tmp_path):
    doc = tmp_path / "page.md"
    doc.write_text("no markers\n")
    with pytest.raises(SystemExit, match="has no <!-- wallclock:begin -->"):
        rewrite_section(str(doc), "wallclock", "table")
    assert doc.read_text() == "no markers\n"
