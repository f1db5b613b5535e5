"""docs/openapi.yaml, as vouch-api generates it, is a valid OpenAPI 3.1 document to an
independent validator (openapi-spec-validator, from PyPI): what schemathesis and partners' code
generators read."""

from __future__ import annotations

from pathlib import Path

import yaml
from openapi_spec_validator import validate
from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

import pytest

DOCUMENT = Path(__file__).resolve().parents[3] / "docs" / "openapi.yaml"


def test_the_generated_document_is_valid_openapi_3_1():
    doc = yaml.safe_load(DOCUMENT.read_text())
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    # The validator sees what it looks for: a response without its description is refused.
    broken = yaml.safe_load(DOCUMENT.read_text())
    del broken["paths"]["/health"]["get"]["responses"]["200"]["description"]
    with pytest.raises(OpenAPIValidationError):
        validate(broken)
