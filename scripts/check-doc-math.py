#!/usr/bin/env python3
"""Check that the TeX in doc comments survives Markdown, so KaTeX renders what was written.

    scripts/check-doc-math.py [DOC_DIR]      # default target/doc (run cargo doc first)

rustdoc runs Markdown before KaTeX sees the page (docs/katex-header.html), and Markdown
changes TeX in three ways this script catches:

1. A backslash before ASCII punctuation is a Markdown escape: `\\|`, `\\{`, `\\,` and `\\\\`
   reach KaTeX as `|`, `{`, `,` and `\\`. In the sources (crates/*/src, src) every `$…$` and
   `$$…$$` of a `///` or `//!` comment is checked: write `\\lVert x\\rVert`, `\\lbrace`,
   `\\thinspace`, `\\cr` instead. Only `\\_` and `\\*` are allowed: they are the way to keep
   a `_` or `*` away from emphasis.
2. `_` and `*` pair up into emphasis across formulas, and a line-final `\\` is a hard break.
   In the generated pages (DOC_DIR, without src/), a formula containing an HTML tag, or a
   block with an unpaired `$`, is reported.
3. Smart punctuation turns `'` (a prime) into a curly quote: a curly quote inside a formula
   is reported (write `^\\prime`).

Exit status 1 when anything is reported; each report names the file and what to change.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PUNCT = re.escape("!\"#$%&'()+,-./:;<=>?@[\\]^`{|}~")  # ASCII punctuation except _ and *
ESCAPE = re.compile(r"\\[" + PUNCT + "]")
DOC_LINE = re.compile(r"^\s*(///|//!)(?!/) ?(.*)$")


def math_spans(text):
    """(start, end, display) of the $…$ / $$…$$ formulas in one doc comment's text, outside
    code fences and code spans, not crossing a blank line (as auto-render pairs them)."""
    masked, fence, pos = list(text), False, 0
    for line in text.split("\n"):
        if re.match(r"\s*(```|~~~)", line) or fence:
            if re.match(r"\s*(```|~~~)", line):
                fence = not fence
            masked[pos:pos + len(line)] = " " * len(line)
        pos += len(line) + 1
    m = re.sub(r"(`+)(.+?)\1", lambda c: " " * len(c.group(0)), "".join(masked), flags=re.S)
    out = []
    for para in re.finditer(r"(?:[^\n]|\n(?!\s*\n))+", m):
        i, end = para.start(), para.end()
        while i < end:
            if m.startswith("$$", i):
                j = m.find("$$", i + 2, end)
                if j < 0:
                    break
                out.append((i + 2, j, True))
                i = j + 2
            elif m[i] == "$" and (i == 0 or m[i - 1] != "\\"):
                j = i + 1
                while j < end and not (m[j] == "$" and m[j - 1] != "\\"):
                    j += 1
                if j >= end:
                    break
                out.append((i + 1, j, False))
                i = j + 1
            else:
                i += 1
    return out


def check_sources():
    problems = []
    for top in ("crates", "src"):
        for root, dirs, files in os.walk(os.path.join(ROOT, top)):
            dirs[:] = [d for d in dirs if d not in ("tests", "benches", "target")]
            for name in sorted(files):
                if not name.endswith(".rs"):
                    continue
                path = os.path.join(root, name)
                lines = open(path, encoding="utf-8").read().split("\n")
                k = 0
                while k < len(lines):
                    m = DOC_LINE.match(lines[k])
                    if not m:
                        k += 1
                        continue
                    kind, first, block = m.group(1), k, []
                    while k < len(lines):
                        m = DOC_LINE.match(lines[k])
                        if not m or m.group(1) != kind:
                            break
                        block.append(m.group(2))
                        k += 1
                    text = "\n".join(block)
                    for s, e, _ in math_spans(text):
                        for esc in ESCAPE.finditer(text, s, e):
                            line = first + 1 + text.count("\n", 0, esc.start())
                            problems.append(
                                f"{os.path.relpath(path, ROOT)}:{line}: `{esc.group(0)}` in math "
                                f"reaches KaTeX as `{esc.group(0)[1]}` (Markdown escape); write "
                                + {"|": r"\lVert … \rVert (or \Vert)", "{": r"\lbrace",
                                   "}": r"\rbrace", ",": r"\thinspace", "\\": r"\cr",
                                   ";": r"\thickspace", ":": r"\medspace",
                                   "!": r"\negthinspace"}.get(esc.group(0)[1], "a TeX command word"))
    return problems


def check_pages(doc_dir):
    problems, seen = [], set()
    for root, dirs, files in os.walk(doc_dir):
        if os.path.relpath(root, doc_dir) == ".":
            dirs[:] = [d for d in dirs if d not in ("src", "static.files")]
        for name in sorted(files):
            if not name.endswith(".html"):
                continue
            path = os.path.join(root, name)
            page = open(path, encoding="utf-8").read()
            if "$" not in page:
                continue
            body = page[page.find("<body"):]
            body = re.sub(r"<(script|pre|code)\b.*?</\1>", "", body, flags=re.S)
            for block in re.split(r"</?(?:p|li|td|th|h\d|div|section|summary|details|dd|dt)\b[^>]*>", body):
                i = 0
                while "$" in block[i:]:
                    m = re.search(r"\$\$(.*?)\$\$|\$(.*?)\$", block[i:], flags=re.S)
                    rel = os.path.relpath(path, doc_dir)
                    if not m:
                        rest = re.sub(r"<[^>]*>", "", block[i:]).strip()
                        if ("unpaired", rest) not in seen:
                            seen.add(("unpaired", rest))
                            problems.append(f"{rel}: unpaired `$` in “{rest[:120]}”: a `$` "
                                            "not meant as math goes in a code span")
                        break
                    tex = m.group(1) if m.group(1) is not None else m.group(2)
                    if tex not in seen and ("<" in tex or re.search("[‘’“”]", tex)):
                        seen.add(tex)
                        what = ("Markdown put HTML into it (`_`/`*` emphasis across formulas: "
                                "escape one as `\\_`/`\\*`, or a line-final `\\`)"
                                if "<" in tex else "smart punctuation curled a quote "
                                "(write ^\\prime for a prime)")
                        problems.append(f"{rel}: formula `{tex[:160]}`: {what}")
                    i += m.end()
    return problems


def main():
    doc_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "doc")
    if not os.path.isdir(doc_dir):
        sys.exit(f"error: {doc_dir} does not exist; run `cargo doc --workspace --no-deps` first "
                 "(or give the doc directory, e.g. $CARGO_TARGET_DIR/doc)")
    problems = check_sources() + check_pages(doc_dir)
    for p in problems:
        print(p)
    print(f"doc math: {len(problems)} problem(s)", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
