"""Tests for cnnviz.filters: the named kernels and the validator for typed kernels."""

import numpy as np
import pytest
from scipy.signal import correlate2d

from cnnviz import filters
from cnnviz.errors import InputError
from cnnviz.ops import conv2d

EXPECTED_ORDER = [
    "Vertical Sobel",
    "Horizontal Sobel",
    "Vertical Scharr",
    "Horizontal Scharr",
    "Vertical Prewitt",
    "Horizontal Prewitt",
    "Laplacian",
    "Sharpen",
    "Box blur",
    "Gaussian blur",
    "Emboss",
    "Identity",
]


def assert_one_sentence(error):
    message = str(error.value)
    assert message[0].isupper() and message.endswith("."), message
    assert "\n" not in message and ". " not in message, message


# ---------------------------------------------------------------------------------------------
# Named filters
# ---------------------------------------------------------------------------------------------


def test_filters_are_listed_in_order():
    assert list(filters.FILTERS) == EXPECTED_ORDER


def test_tutorials_sobel_pair_exactly():
    # Hinh 11 (a) and (b).
    np.testing.assert_array_equal(
        filters.FILTERS["Vertical Sobel"], [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    )
    np.testing.assert_array_equal(
        filters.FILTERS["Horizontal Sobel"], [[1, 2, 1], [0, 0, 0], [-1, -2, -1]]
    )


@pytest.mark.parametrize("name", EXPECTED_ORDER)
def test_every_filter_is_a_finite_3x3_float_array(name):
    kernel = filters.FILTERS[name]
    assert kernel.shape == (3, 3) and kernel.dtype == np.float64
    assert np.all(np.isfinite(kernel))


@pytest.mark.parametrize("family", ["Sobel", "Scharr", "Prewitt"])
def test_edge_pairs_sum_to_zero_and_are_rotations_of_each_other(family):
    vertical = filters.FILTERS[f"Vertical {family}"]
    horizontal = filters.FILTERS[f"Horizontal {family}"]
    assert vertical.sum() == 0 and horizontal.sum() == 0
    # The tutorial's convention: horizontal = vertical turned 90 degrees (bright top -> positive).
    np.testing.assert_array_equal(horizontal, np.rot90(vertical))


@pytest.mark.parametrize("family", ["Sobel", "Scharr", "Prewitt"])
def test_vertical_filters_find_vertical_edges(family):
    # Dark left half, bright right half: a vertical edge.
    image = np.zeros((6, 6))
    image[:, 3:] = 255
    vertical = conv2d(image, filters.get_filter(f"Vertical {family}"))
    horizontal = conv2d(image, filters.get_filter(f"Horizontal {family}"))
    assert vertical.max() > 0 and np.all(vertical >= 0)
    np.testing.assert_array_equal(vertical[:, 1:3], np.full((4, 2), vertical.max()))
    np.testing.assert_array_equal(horizontal, np.zeros((4, 4)))
    np.testing.assert_array_equal(
        conv2d(image.T, filters.get_filter(f"Horizontal {family}")).T, -vertical
    )


@pytest.mark.parametrize("name", ["Box blur", "Gaussian blur", "Sharpen", "Identity", "Emboss"])
def test_smoothing_filters_keep_a_flat_image_flat(name):
    # Weights summing to 1 leave a constant image unchanged.
    assert filters.FILTERS[name].sum() == pytest.approx(1.0)
    out = conv2d(np.full((5, 5), 40.0), filters.FILTERS[name])
    np.testing.assert_allclose(out, np.full((3, 3), 40.0))


def test_laplacian_sums_to_zero():
    assert filters.FILTERS["Laplacian"].sum() == 0


def test_identity_returns_the_image_with_same_padding():
    image = np.random.default_rng(0).normal(size=(5, 4))
    np.testing.assert_array_equal(
        conv2d(image, filters.get_filter("Identity"), padding="same"), image
    )


def test_box_blur_is_the_window_mean():
    image = np.random.default_rng(1).integers(0, 256, size=(6, 5)).astype(float)
    expected = correlate2d(image, np.ones((3, 3)), mode="valid") / 9
    np.testing.assert_allclose(conv2d(image, filters.get_filter("Box blur")), expected)


def test_get_filter_returns_a_copy_and_filters_are_read_only():
    kernel = filters.get_filter("Vertical Sobel")
    kernel[0, 0] = 99
    assert filters.FILTERS["Vertical Sobel"][0, 0] == -1
    with pytest.raises(ValueError):
        filters.FILTERS["Vertical Sobel"][0, 0] = 99


def test_get_filter_unknown_name():
    with pytest.raises(InputError, match="Vertical Sobel") as error:
        filters.get_filter("Sobel")
    assert_one_sentence(error)


# ---------------------------------------------------------------------------------------------
# validate_kernel
# ---------------------------------------------------------------------------------------------


def test_validate_kernel_parses_text_and_numbers():
    cells = [[" 2 ", "-1.5", "1e3"], ["1/9", 4, 0.25], [np.int64(-3), np.float32(0.5), "\u22121"]]
    kernel = filters.validate_kernel(cells)
    assert kernel.dtype == np.float64 and kernel.shape == (3, 3)
    np.testing.assert_array_equal(kernel, [[2, -1.5, 1000], [1 / 9, 4, 0.25], [-3, 0.5, -1]])


def test_validate_kernel_accepts_arrays_and_large_finite_values():
    np.testing.assert_array_equal(filters.validate_kernel(np.eye(3)), np.eye(3))
    big = filters.validate_kernel([["1e300", 1e308, "-1.7e308"], [0] * 3, [0] * 3])
    np.testing.assert_array_equal(big[0], [1e300, 1e308, -1.7e308])
    assert filters.validate_kernel(np.full((3, 3), "1/16")).sum() == pytest.approx(9 / 16)


def test_validate_kernel_accepts_a_table_like_object():
    class Table:  # what st.data_editor returns (a DataFrame) only has to offer .to_numpy()
        def to_numpy(self):
            return np.array([["1", "2", "3"], ["4", "5", "6"], ["7", "8", "9"]], dtype=object)

    np.testing.assert_array_equal(filters.validate_kernel(Table()), np.arange(1, 10).reshape(3, 3))


@pytest.mark.parametrize(
    "bad, expected",
    [
        ("", "Row 2, column 3 is empty"),
        ("   ", "Row 2, column 3 is empty"),
        (None, "Row 2, column 3 is empty"),
        ("abc", "Row 2, column 3 is not a number ('abc')"),
        (" x1 ", "Row 2, column 3 is not a number ('x1')"),
        ("1,5", "Row 2, column 3 is not a number ('1,5')"),
        ("1/2/3", "Row 2, column 3 is not a number ('1/2/3')"),
        ("2j", "Row 2, column 3 is not a number ('2j')"),
        (True, "Row 2, column 3 is not a number"),
        (1 + 2j, "Row 2, column 3 is not a number"),
        ([1], "Row 2, column 3 is not a number"),
        ("nan", "Row 2, column 3 is NaN"),
        (float("nan"), "Row 2, column 3 is NaN"),
        (np.nan, "Row 2, column 3 is NaN"),
        ("0/0", "Row 2, column 3 divides by zero"),
        ("inf", "Row 2, column 3 is infinite"),
        ("-Infinity", "Row 2, column 3 is infinite"),
        (float("inf"), "Row 2, column 3 is infinite"),
        ("1e400", "Row 2, column 3 is infinite"),
        ("1e300/1e-300", "Row 2, column 3 is infinite"),
        ("1/0", "Row 2, column 3 divides by zero"),
        (10**400, "Row 2, column 3 is too large"),
    ],
)
def test_validate_kernel_names_the_bad_cell(bad, expected):
    cells = [["1", "2", "3"], ["4", "5", bad], ["7", "8", "9"]]
    with pytest.raises(InputError) as error:
        filters.validate_kernel(cells)
    assert str(error.value).startswith(expected), str(error.value)
    assert_one_sentence(error)


def test_validate_kernel_reports_the_first_bad_cell_in_reading_order():
    cells = [["1", "2", "3"], ["4", "x", ""], ["", "8", "9"]]
    with pytest.raises(InputError, match=r"^Row 2, column 2 is not a number"):
        filters.validate_kernel(cells)


def test_validate_kernel_counts_rows_and_columns_from_one():
    with pytest.raises(InputError, match=r"^Row 1, column 1 is empty"):
        filters.validate_kernel([["", 0, 0], [0, 0, 0], [0, 0, 0]])
    with pytest.raises(InputError, match=r"^Row 3, column 3 is infinite"):
        filters.validate_kernel([[0, 0, 0], [0, 0, 0], [0, 0, "inf"]])


@pytest.mark.parametrize(
    "cells",
    [
        [[1, 2, 3], [4, 5, 6]],
        [[1, 2], [3, 4], [5, 6]],
        [[1, 2, 3], [4, 5, 6], [7, 8, 9], [1, 2, 3]],
        [[1, 2, 3], [4, 5, 6], [7, 8]],
        ["123", "456", "789"],
        "123456789",
        5,
        np.zeros((3, 3, 1)),
        [],
    ],
)
def test_validate_kernel_rejects_wrong_shapes(cells):
    with pytest.raises(InputError, match="3 rows of 3") as error:
        filters.validate_kernel(cells)
    assert_one_sentence(error)


# ---------------------------------------------------------------------------------------------
# edge_magnitude
# ---------------------------------------------------------------------------------------------


def test_edge_magnitude_by_hand():
    np.testing.assert_array_equal(
        filters.edge_magnitude([[3, -5], [0, 8]], [[4, 12], [0, -15]]), [[5, 13], [0, 17]]
    )


def test_edge_magnitude_of_sobel_pair_matches_formula():
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, size=(8, 8)).astype(float)
    gx = correlate2d(image, filters.FILTERS["Vertical Sobel"], mode="valid")
    gy = correlate2d(image, filters.FILTERS["Horizontal Sobel"], mode="valid")
    np.testing.assert_allclose(filters.edge_magnitude(gx, gy), np.sqrt(gx**2 + gy**2))


def test_edge_magnitude_shape_mismatch():
    with pytest.raises(InputError, match="same shape") as error:
        filters.edge_magnitude(np.zeros((2, 2)), np.zeros((2, 3)))
    assert_one_sentence(error)
