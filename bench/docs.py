"""The benchmarks' generated doc sections: the text between `<!-- NAME:begin -->` and
`<!-- NAME:end -->` in a page under docs/ is rewritten by a benchmark run, the prose around it is
kept."""


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
