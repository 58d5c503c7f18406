"""The benchmarks' generated doc sections: the text between `<!-- NAME:begin -->` and
`<!-- NAME:end -->` in a page under docs/ is rewritten by a benchmark run, the prose around it is
kept."""

import statistics


def markers(name: str) -> tuple[str, str]:
    return f"<!-- {name}:begin -->", f"<!-- {name}:end -->"


def rewrite_section(path: str, name: str, text: str) -> None:
    """Replace section `name` of the page at `path` with `text`; a page without the section is an
    error (the benchmark would otherwise write its table where nobody reads it)."""
    begin, end = markers(name)
    with open(path) as f:
        doc = f.read()
    if begin not in doc or end not in doc:
        raise SystemExit(f"{path} has no {begin} ... {end} section to rewrite")
    head, rest = doc.split(begin, 1)
    tail = rest.split(end, 1)[1]
    with open(path, "w") as f:
        f.write(f"{head}{begin}\n{text}\n{end}{tail}")
    print(f"rewrote the generated section of {path}")


def median_range(values: list[float]) -> str:
    """A table cell for a ratio measured once per round: its median, and its range over rounds."""
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"
