"""The heavy tabs' examples (each a style transfer or a projection) and the forms' example
sets, each on a fresh page (`example_cases` says what each case checks);
`test_examples_light.py` has the rest, so that the two test workers share them."""

from __future__ import annotations

import pytest

from tests.browser import example_cases as E

HEAVY = ["Style transfer", "Project", "Fine-tune", "GAN lab", "GAN lab (compare)"]

capable_models = pytest.fixture(scope="module")(E.capable_models)
context = pytest.fixture(scope="module")(E.examples_context)


@pytest.mark.parametrize(("tab_name", "indices"), E.cases(HEAVY))
def test_an_example_settles_on_a_fresh_page(
    browser, context, app_url, app_services, capable_models, tab_name, indices
):
    E.example_settles_on_a_fresh_page(context, app_url, app_services, tab_name, indices)
