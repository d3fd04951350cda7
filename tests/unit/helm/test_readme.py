"""README.md's values table stays in step with values.yaml, and every value is documented."""

from __future__ import annotations

import yaml

from .values_doc import README_FILE, VALUES_FILE, parse_docs, render_table, table_in_readme, undocumented


def test_should_document_every_value_with_a_dash_dash_comment() -> None:
    text = VALUES_FILE.read_text()
    missing = undocumented(yaml.safe_load(text), parse_docs(text))
    assert not missing, f"values without a `# --` comment: {missing}"


def test_should_keep_the_readme_values_table_in_step_with_values_yaml() -> None:
    expected = render_table(VALUES_FILE.read_text())
    assert table_in_readme(README_FILE.read_text()) == expected, (
        "README.md values table is stale: run python -m tests.unit.helm.values_doc --write"
    )


def test_should_report_a_value_without_documentation() -> None:
    """The check above can fail: a key added without a comment is found."""
    text = VALUES_FILE.read_text() + "\nbrandNew:\n  setting: 1\n"
    assert undocumented(yaml.safe_load(text), parse_docs(text)) == ["brandNew.setting"]


def test_should_document_install_upgrade_and_uninstall() -> None:
    readme = README_FILE.read_text()
    for heading in ("## Install", "## Upgrade", "## Uninstall", "## Metrics", "## Values"):
        assert heading in readme
    assert "helm uninstall" in readme and "CRDs stay behind" in readme
