"""The quick tabs' examples, each clicked on a fresh page (`example_cases` says what each case
checks); `test_examples_heavy.py` has the rest, so that the two test workers share them."""

from __future__ import annotations

import pytest

from tests.browser import example_cases as E

LIGHT = ["Generate", "Interpolate", "Style mixing", "Judge", "Edit"]

capable_models = pytest.fixture(scope="module")(E.capable_models)
context = pytest.fixture(scope="module")(E.examples_context)


@pytest.mark.parametrize(("tab_name", "indices"), E.cases(LIGHT))
def test_an_example_settles_on_a_fresh_page(
    browser, context, app_url, app_services, capable_models, tab_name, indices
):
    E.example_settles_on_a_fresh_page(context, app_url, app_services, tab_name, indices)
