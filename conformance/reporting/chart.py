"""The matrix as a picture: one bar per command, its length the schema coverage, its
colour the command's outcome. Plain SVG text, so that no plotting library is needed and
a browser, an image viewer or a CI artifact page shows it as it is.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from conformance.reporting.matrix import Matrix, Row, percent

COLOURS = {
    "fail": "#d9534f",
    "known": "#f0ad4e",  # every failure is a finding the baseline knows
    "pass": "#5cb85c",
    "skip": "#aaaaaa",
    "n/a": "#dddddd",
}
_BAR = 14  # px per command
_LABEL = 260  # px for the command names
_LENGTH = 400  # px for 100 % coverage
_TOP = 48  # px for the title and the legend


def colour(row: Row) -> str:
    return COLOURS["known" if row.known_only else row.status]


def svg(matrix: Matrix, title: str) -> str:
    """The chart of ``matrix`` as an SVG document."""
    height = _TOP + _BAR * len(matrix.rows) + 8
    width = _LABEL + _LENGTH + 100
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}: schema coverage and outcome per command</title>",
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<text x="4" y="16" font-size="13" font-weight="bold">{escape(title)}: '
        "schema coverage (bar) and outcome (colour) per command</text>",
    ]
    x = 4
    for name, fill in COLOURS.items():
        parts.append(f'<rect x="{x}" y="26" width="10" height="10" fill="{fill}"/>')
        parts.append(f'<text x="{x + 14}" y="35">{escape(name)}</text>')
        x += 14 + 8 * len(name) + 12
    for i, row in enumerate(matrix.rows):
        y = _TOP + i * _BAR
        # A command without arguments has nothing to miss: a full bar, faded, so that
        # the commands whose arguments were left unexplored stand out.
        bare = not sum(row.coverage.total.values())
        length = max(1.0, _LENGTH * row.coverage.ratio)
        figure = "no arguments" if bare else percent(row.coverage)
        parts += [
            f'<text x="{_LABEL - 4}" y="{y + 10}" text-anchor="end">{escape(row.command)}</text>',
            f'<rect x="{_LABEL}" y="{y + 1}" width="{length:.1f}" height="{_BAR - 3}" '
            f'fill="{colour(row)}" fill-opacity="{0.35 if bare else 1}">'
            f"<title>{escape(row.command)}: {row.status}, coverage {figure}</title></rect>",
            f'<text x="{_LABEL + length + 4:.1f}" y="{y + 10}">{figure}</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
