"""Markdown for reports: safe CommonMark → HTML (markdown-it-py, which rich already depends on) and
GitHub-flavoured tables."""

from __future__ import annotations

import html
import re
from typing import Any, Iterable, Mapping, Sequence

from .values import format_value, is_number

_SAFE_URL = re.compile(r"^(https?:|mailto:|[^:]*$|[^:/?#]*[/?#])", re.IGNORECASE)


def _markdown_parser() -> Any:
    from markdown_it import MarkdownIt

    # "commonmark" with raw HTML off: tags in the text are escaped. Every link is parsed as a link (so an
    # unsafe one never shows as text) and its URL replaced by "#" unless relative, http(s) or mailto.
    # Headings move down two levels (the report title is h1, sections h2).
    md = MarkdownIt("commonmark", {"html": False})
    md.validateLink = lambda url: True

    def heading(renderer: Any, tokens: Any, idx: int, options: Any, env: Any) -> str:
        level = min(6, int(tokens[idx].tag[1]) + 2)
        return f"<h{level}>" if tokens[idx].nesting == 1 else f"</h{level}>\n"

    md.add_render_rule("heading_open", heading)
    md.add_render_rule("heading_close", heading)
    return md


def _neutralise_links(tokens: Any) -> None:
    for token in tokens:
        for attr in ("href", "src"):
            url = token.attrGet(attr) if token.attrs else None
            if url is not None and not _SAFE_URL.match(html.unescape(str(url)).strip()):
                token.attrSet(attr, "#")
        if token.children:
            _neutralise_links(token.children)


def markdown_to_html(md: str) -> str:
    """CommonMark to HTML, raw HTML escaped and unsafe link schemes dropped; ``#`` headings become ``<h3>``."""
    parser = _markdown_parser()
    tokens = parser.parse(str(md))
    _neutralise_links(tokens)
    return parser.renderer.render(tokens, parser.options, {}).strip()


def _md_cell(s: str) -> str:
    return s.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown_table(columns: Sequence[str], rows: Iterable[Sequence[Any] | Mapping[str, Any]],
                   numeric: Sequence[bool] | None = None) -> str:
    """A GitHub-flavoured Markdown table; cells are formatted by :func:`format_value` (strings as they are),
    ``|`` escaped; ``numeric`` columns are right-aligned (default: columns whose cells are all numbers)."""
    columns = [str(c) for c in columns]
    body = [[r.get(c) for c in columns] if isinstance(r, Mapping) else list(r) for r in rows]
    if numeric is None:
        numeric = [bool(body) and all(is_number(r[j]) or r[j] is None for r in body) for j in range(len(columns))]
    lines = ["| " + " | ".join(_md_cell(c) for c in columns) + " |",
             "|" + "|".join("---:" if numeric[j] else "---" for j in range(len(columns))) + "|"]
    lines += ["| " + " | ".join(_md_cell(v if isinstance(v, str) else format_value(v)) for v in r) + " |" for r in body]
    return "\n".join(lines)


__all__ = ["markdown_table", "markdown_to_html"]
