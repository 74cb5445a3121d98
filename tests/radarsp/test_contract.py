"""``docs/contract.md`` is the contract the code enforces: generated from ``radarsp.model``."""

from pathlib import Path

from radarsp.contract import markdown
from radarsp.model import ATTRS, SCHEMAS

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "contract.md"


def test_the_checked_in_contract_is_what_the_model_generates():
    assert DOCUMENT.read_text() == markdown(), (
        "docs/contract.md is stale: run `python -m radarsp.contract > docs/contract.md`")


def test_the_contract_names_every_schema_variable_and_unit():
    text = DOCUMENT.read_text()
    for schema in SCHEMAS.values():
        assert f"## {schema.name}" in text
        for spec in schema.variables:
            assert f"| `{spec.name}` |" in text, spec.name
    for name in ("searched_frame", "labels_used", "camera_geometry", "genie"):
        assert f"`{name}`" in text
    for name, attrs in ATTRS.items():
        assert f"| `{name}` | {attrs['units']} |" in text
