"""Named 3x3 filters (kernels) and a validator for kernels typed by a user.

All kernels are used by ``cnnviz.ops.conv2d`` as cross-correlation (not flipped), as in the
tutorial and Keras. "Vertical" filters find vertical edges (they respond to a change from left
to right); "horizontal" filters find horizontal edges (a change from top to bottom).
"""

from numbers import Real

import numpy as np

from cnnviz.errors import InputError
from cnnviz.i18n import N_
from cnnviz.texts import Text


def _kernel(rows, scale=1.0):
    """A read-only float64 (3, 3) kernel, so nobody changes FILTERS by accident."""
    kernel = np.array(rows, dtype=np.float64) * scale
    kernel.flags.writeable = False
    return kernel


# The names are shown in the app (translated with ``format_func=_``); the keys stay English.
FILTERS = {
    # The tutorial's pair, exactly as printed there.
    N_("Vertical Sobel"): _kernel([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
    N_("Horizontal Sobel"): _kernel([[1, 2, 1], [0, 0, 0], [-1, -2, -1]]),
    N_("Vertical Scharr"): _kernel([[-3, 0, 3], [-10, 0, 10], [-3, 0, 3]]),
    N_("Horizontal Scharr"): _kernel([[3, 10, 3], [0, 0, 0], [-3, -10, -3]]),
    N_("Vertical Prewitt"): _kernel([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]]),
    N_("Horizontal Prewitt"): _kernel([[1, 1, 1], [0, 0, 0], [-1, -1, -1]]),
    N_("Laplacian"): _kernel([[0, 1, 0], [1, -4, 1], [0, 1, 0]]),
    N_("Sharpen"): _kernel([[0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
    N_("Box blur"): _kernel(np.ones((3, 3)), scale=1 / 9),
    N_("Gaussian blur"): _kernel([[1, 2, 1], [2, 4, 2], [1, 2, 1]], scale=1 / 16),
    N_("Emboss"): _kernel([[-2, -1, 0], [-1, 1, 1], [0, 1, 2]]),
    N_("Identity"): _kernel([[0, 0, 0], [0, 1, 0], [0, 0, 0]]),
}


def get_filter(name):
    """A writable float64 (3, 3) copy of the named filter, e.g. get_filter("Vertical Sobel")."""
    if name not in FILTERS:
        raise InputError(
            "There is no filter called {name}; choose one of {names}.",
            name=repr(name),
            names=", ".join(FILTERS),
        )
    return FILTERS[name].copy()


def _parse_text(text, where):
    """'2', '-1.5', '1e3' or a fraction '1/9' -> float; anything else -> InputError."""
    shown = text if len(text) <= 20 else text[:17] + "..."
    try:
        parts = [float(part) for part in text.split("/")]
    except ValueError:
        parts = []
    if len(parts) == 1:
        return parts[0]
    if len(parts) == 2:
        if parts[1] == 0:
            raise InputError(
                "{where} divides by zero ({shown}); use a non-zero denominator.",
                where=where,
                shown=repr(shown),
            )
        return parts[0] / parts[1]
    raise InputError(
        "{where} is not a number ({shown}); type a number such as -1, 0.5, 1e3 or 1/9.",
        where=where,
        shown=repr(shown),
    )


def _parse_cell(cell, where):
    """One kernel cell (a number or text) -> a finite float, or InputError naming the cell."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        raise InputError("{where} is empty; type a number such as 0.", where=where)
    if isinstance(cell, str):
        text = str(cell).strip().replace("\u2212", "-")  # also accept a typeset minus sign
        value = _parse_text(text, where)
    elif isinstance(cell, bool | np.bool_) or not isinstance(cell, Real | np.integer | np.floating):
        raise InputError(
            "{where} is not a number ({shown}); type a number such as 0.",
            where=where,
            shown=repr(cell),
        )
    else:
        try:
            value = float(cell)
        except OverflowError:  # a Python int such as 10**400
            raise InputError("{where} is too large; type a smaller number.", where=where) from None
    if np.isnan(value):
        raise InputError("{where} is NaN (not a number); type a number such as 0.", where=where)
    if np.isinf(value):
        raise InputError("{where} is infinite; type a finite number.", where=where)
    return value


def _rows(cells):
    """cells as a list of row lists, or [] when it is not a 2-D grid."""
    if hasattr(cells, "to_numpy"):  # e.g. a pandas DataFrame from st.data_editor
        cells = cells.to_numpy()
    if isinstance(cells, str) or (isinstance(cells, np.ndarray) and cells.ndim != 2):
        return []
    try:
        return [None if isinstance(row, str) else list(row) for row in cells]
    except TypeError:  # a number, a row that is a number, ...
        return []


def validate_kernel(cells):
    """A user-typed 3x3 kernel -> float64 (3, 3).

    cells: 3 rows of 3 cells (nested lists, a NumPy array or anything with ``.to_numpy()``);
    each cell a number or text such as " 2 ", "-1.5", "1e3" or "1/9". A bad cell raises
    InputError naming it 1-based, e.g. "Row 2, column 3 is empty; type a number such as 0."
    """
    rows = _rows(cells)
    if len(rows) != 3 or any(row is None or len(row) != 3 for row in rows):
        raise InputError("The kernel must have exactly 3 rows of 3 numbers.")
    values = [
        [
            _parse_cell(cell, Text(N_("Row {row}, column {col}"), row=r, col=c))
            for c, cell in enumerate(row, start=1)
        ]
        for r, row in enumerate(rows, start=1)
    ]
    return np.array(values, dtype=np.float64)


def edge_magnitude(gx, gy):
    """Edge strength sqrt(gx^2 + gy^2) from the vertical (gx) and horizontal (gy) responses.

    gx, gy: arrays of the same shape (e.g. (H', W') from conv2d). Returns float64, same shape.
    """
    gx = np.asarray(gx, dtype=np.float64)
    gy = np.asarray(gy, dtype=np.float64)
    if gx.shape != gy.shape:
        raise InputError(
            "The two edge maps must have the same shape, not {first} and {second}.",
            first=gx.shape,
            second=gy.shape,
        )
    return np.hypot(gx, gy)
