"""The CI dependency audit's verdicts (chaoyun/ops/audit.py): a vulnerability fails, an unreachable advisory database
warns, an accepted advisory needs a reason. The answers below are the tools' own JSON shapes; the two "unreachable"
ones were recorded on this machine, whose registry mirror serves neither advisory database."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaoyun.ops import audit

PIP_VULN = json.dumps(
    {
        "dependencies": [
            {
                "name": "jinja2",
                "version": "3.1.2",
                "vulns": [
                    {
                        "id": "GHSA-h5c8-rqwp-cp95",
                        "fix_versions": ["3.1.3"],
                        "aliases": ["CVE-2024-22195"],
                        "description": "xmlattr filter accepts keys with spaces",
                    },
                ],
            },
            {"name": "fastapi", "version": "0.163.2", "vulns": []},
            {
                "name": "urllib3",
                "version": "2.0.0",
                "vulns": [
                    {
                        "id": "PYSEC-2023-212",
                        "fix_versions": ["2.0.7"],
                        "aliases": ["CVE-2023-45803"],
                        "description": "x",
                    },
                ],
            },
        ],
        "fixes": [],
    }
)
PIP_ALL_SKIPPED = json.dumps(
    {
        "dependencies": [
            {"name": "jinja2", "skip_reason": "Dependency not found on PyPI and could not be audited: jinja2 (3.1.6)"},
            {"name": "redis", "skip_reason": "Dependency not found on PyPI and could not be audited: redis (8.1.0)"},
        ],
        "fixes": [],
    }
)
PIP_DNS = (
    "requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.osv.dev', port=443): Max retries exceeded "
    "with url: /v1/query (Caused by NameResolutionError(\"Failed to resolve 'api.osv.dev'\"))"
)
NPM_VULN = json.dumps(
    {
        "auditReportVersion": 2,
        "vulnerabilities": {
            "swagger-ui-dist": {
                "name": "swagger-ui-dist",
                "severity": "moderate",
                "isDirect": True,
                "via": [
                    {
                        "source": 1091234,
                        "name": "swagger-ui-dist",
                        "title": "Spoofing",
                        "url": "https://github.com/advisories/GHSA-qrmm-w75w-3wpx",
                        "severity": "moderate",
                        "range": "<4.1.3",
                    }
                ],
                "range": "<4.1.3",
                "fixAvailable": {"name": "swagger-ui-dist", "version": "5.35.0"},
            },
        },
        "metadata": {"dependencies": {"total": 4}},
    }
)
NPM_CLEAN = json.dumps({"auditReportVersion": 2, "vulnerabilities": {}, "metadata": {"dependencies": {"total": 4}}})
NPM_405 = json.dumps(
    {
        "message": "405 Method Not Allowed - POST https://registry.npmjs.org/-/npm/v1/security/advisories/bulk",
        "statusCode": 405,
    }
)


def test_python_vulnerabilities_fail_unless_accepted() -> None:
    o = audit.classify_pip_audit(1, PIP_VULN, "", {})
    assert [f.advisory for f in o.findings] == ["GHSA-h5c8-rqwp-cp95", "PYSEC-2023-212"]
    assert o.audited == 3 and not o.warning
    assert "jinja2 3.1.2: GHSA-h5c8-rqwp-cp95 = CVE-2024-22195 (fixed in 3.1.3)" in o.findings[0].line()
    assert audit.report([o]) == 1
    # Accepted by an alias, with its reason: only the other one is left.
    o = audit.classify_pip_audit(1, PIP_VULN, "", {"CVE-2024-22195": "templates never use xmlattr"})
    assert [f.package for f in o.findings] == ["urllib3"]


def test_python_unreachable_database_warns() -> None:
    o = audit.classify_pip_audit(0, PIP_ALL_SKIPPED, "", {})
    assert not o.findings and "unreachable" in o.warning
    assert audit.report([o]) == 0
    o = audit.classify_pip_audit(1, "", PIP_DNS, {})
    assert "unreachable" in o.warning and not o.error
    assert audit.report([o]) == 0


def test_a_broken_tool_fails() -> None:
    o = audit.classify_pip_audit(2, "", "usage: pip-audit: error: unrecognized arguments: --bogus", {})
    assert o.error and audit.report([o]) == 1


def test_npm_verdicts() -> None:
    o = audit.classify_npm_audit(1, NPM_VULN, "", {})
    assert [(f.package, f.advisory, f.severity) for f in o.findings] == [
        ("swagger-ui-dist", "GHSA-qrmm-w75w-3wpx", "moderate")
    ]
    assert audit.report([o]) == 1
    assert not audit.classify_npm_audit(1, NPM_VULN, "", {"GHSA-QRMM-W75W-3WPX": "not served"}).findings
    clean = audit.classify_npm_audit(0, NPM_CLEAN, "", {})
    assert clean.audited == 4 and audit.report([clean]) == 0
    o = audit.classify_npm_audit(1, NPM_405, "npm error audit endpoint returned an error", {})
    assert "405 Method Not Allowed" in o.warning and audit.report([o]) == 0


def test_ignore_file_needs_a_reason(tmp_path: Path) -> None:
    f = tmp_path / "audit-ignore"
    f.write_text("# accepted\nGHSA-h5c8-rqwp-cp95 templates never use xmlattr  # reviewed 2026-12\n\n")
    assert audit.read_ignores(f) == {"GHSA-H5C8-RQWP-CP95": "templates never use xmlattr"}
    f.write_text("PYSEC-2023-212\n")
    with pytest.raises(ValueError, match="reason"):
        audit.read_ignores(f)
    assert audit.read_ignores() == {}  # the project's own list: nothing accepted so far
