"""Dependency audit for CI: known vulnerabilities in the pinned Python packages (``requirements.lock``, through
pip-audit) and the npm packages (``package-lock.json``, through ``npm audit``).

    .venv/bin/python -m chaoyun.ops.audit            # what .ci/run runs

Outcome, per ecosystem:

- a vulnerability found and not listed in ``.ci/audit-ignore`` — **fails** (exit 1), naming package, version,
  advisory and the fixed versions;
- the advisory database cannot be reached (no network, DNS failure, a registry mirror without the audit
  endpoint, every package "not found") — a **warning**, CI goes on: the audit could not say anything;
- the tool itself broken (bad arguments, a crash that is not a network error) — fails.

``.ci/audit-ignore`` lists accepted advisories, one a line: ``<ID> <reason>`` (``PYSEC-…``, ``GHSA-…`` or
``CVE-…``; the reason is required — an entry without one fails the audit). ``#`` starts a comment.

pip-audit runs from its own virtual environment (``var/audit-venv``, versions pinned in
``.ci/audit-requirements.txt``) so the auditor's own packages neither enter nor distort the audited lock.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
IGNORE_FILE = ROOT / ".ci" / "audit-ignore"
TOOL_REQUIREMENTS = ROOT / ".ci" / "audit-requirements.txt"
TOOL_VENV = ROOT / "var" / "audit-venv"

NETWORK_SIGNS = re.compile(
    r"ConnectionError|NameResolution|Name or service not known|Temporary failure in name resolution|"
    r"Max retries exceeded|timed out|Timeout|ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|"
    r"ENETUNREACH|network|getaddrinfo|SSLError|certificate verify failed|Method Not Allowed|"
    r"audit endpoint returned an error",
    re.I,
)
ID_RE = re.compile(r"^(PYSEC-\d{4}-\d+|GHSA(-[0-9a-z]{4}){3}|CVE-\d{4}-\d+)$", re.I)


@dataclass
class Finding:
    ecosystem: str
    package: str
    version: str
    advisory: str
    aliases: list[str] = field(default_factory=list)
    fixed: str = ""
    severity: str = ""

    def line(self) -> str:
        extra = f" (fixed in {self.fixed})" if self.fixed else ""
        sev = f" [{self.severity}]" if self.severity else ""
        also = f" = {', '.join(self.aliases)}" if self.aliases else ""
        return f"{self.ecosystem}: {self.package} {self.version}: {self.advisory}{also}{sev}{extra}"


@dataclass
class Outcome:
    ecosystem: str
    findings: list[Finding] = field(default_factory=list)
    warning: str = ""
    error: str = ""
    audited: int = 0


def read_ignores(path: Path = IGNORE_FILE) -> dict[str, str]:
    """Accepted advisories: {ID (upper case): reason}. Raises ValueError for an entry without a reason."""
    out: dict[str, str] = {}
    if not path.exists():
        return out
    for n, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        ident, _, reason = line.partition(" ")
        if not ID_RE.match(ident) or not reason.strip():
            raise ValueError(f"{path.name}:{n}: expected '<PYSEC-/GHSA-/CVE- id> <reason>', got {raw!r}")
        out[ident.upper()] = reason.strip()
    return out


def _ignored(f: Finding, ignores: dict[str, str]) -> bool:
    return any(i.upper() in ignores for i in [f.advisory, *f.aliases])


# ---------------------------------------------------------------- Python


def classify_pip_audit(rc: int, stdout: str, stderr: str, ignores: dict[str, str]) -> Outcome:
    """pip-audit's JSON answer (``--format json``) turned into findings, a warning or an error."""
    out = Outcome("python")
    try:
        data = json.loads(stdout) if stdout.strip() else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or "dependencies" not in data:
        if NETWORK_SIGNS.search(stderr + stdout):
            out.warning = "advisory database unreachable: " + _last_line(stderr or stdout)
        else:
            out.error = f"pip-audit failed ({rc}): " + (stderr or stdout).strip()[-1500:]
        return out
    skipped = []
    for dep in data["dependencies"]:
        if dep.get("skip_reason"):
            skipped.append(dep["name"])
            continue
        out.audited += 1
        for v in dep.get("vulns", []):
            f = Finding(
                "python",
                dep["name"],
                dep.get("version", "?"),
                v["id"],
                list(v.get("aliases", [])),
                ", ".join(v.get("fix_versions", [])),
            )
            if not _ignored(f, ignores):
                out.findings.append(f)
    if skipped and out.audited == 0:
        out.warning = f"advisory database unreachable: none of {len(skipped)} packages could be looked up"
    elif skipped:
        out.warning = f"{len(skipped)} packages could not be looked up: {', '.join(sorted(skipped))}"
    return out


def _tool_python() -> Path | None:
    """pip-audit's own environment, created on first use from the pinned requirements."""
    py = TOOL_VENV / "bin" / "python"
    stamp = TOOL_VENV / ".requirements"
    wanted = TOOL_REQUIREMENTS.read_text()
    if py.exists() and stamp.exists() and stamp.read_text() == wanted:
        return py
    shutil.rmtree(TOOL_VENV, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(TOOL_VENV)], check=True, capture_output=True)
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-deps", "-r", str(TOOL_REQUIREMENTS)],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        return None
    stamp.write_text(wanted)
    return py


def audit_python(ignores: dict[str, str], lock: Path = ROOT / "requirements.lock") -> Outcome:
    py = _tool_python()
    if py is None:
        return Outcome("python", warning="pip-audit could not be installed (no package index reachable)")
    cmd = [str(py), "-m", "pip_audit", "-r", str(lock), "--no-deps", "--disable-pip", "--format", "json"]
    cmd += ["--progress-spinner", "off", "--timeout", "30"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    return classify_pip_audit(r.returncode, r.stdout, r.stderr, ignores)


# ---------------------------------------------------------------- npm


def classify_npm_audit(rc: int, stdout: str, stderr: str, ignores: dict[str, str]) -> Outcome:
    """``npm audit --json`` turned into findings, a warning or an error."""
    out = Outcome("npm")
    try:
        data = json.loads(stdout) if stdout.strip() else None
    except ValueError:
        data = None
    if not isinstance(data, dict) or "vulnerabilities" not in data:
        text = json.dumps(data) if data is not None else ""
        if NETWORK_SIGNS.search(stderr + text + stdout):
            msg = data.get("message") if isinstance(data, dict) else None
            out.warning = "advisory database unreachable: " + (msg or _last_line(stderr or stdout))
        else:
            out.error = f"npm audit failed ({rc}): " + (stderr or stdout).strip()[-1500:]
        return out
    out.audited = int(data.get("metadata", {}).get("dependencies", {}).get("total", 0))
    for name, vuln in sorted(data["vulnerabilities"].items()):
        for via in vuln.get("via", []):
            if not isinstance(via, dict):
                continue  # a transitive mention: the advisory itself is listed under the package it is in
            url = str(via.get("url", ""))
            ghsa = url.rsplit("/", 1)[-1] if "GHSA-" in url else str(via.get("source", ""))
            fix = vuln.get("fixAvailable")
            fixed = fix.get("version", "") if isinstance(fix, dict) else ("yes" if fix else "")
            f = Finding("npm", name, str(via.get("range", "")), ghsa, [], fixed, str(via.get("severity", "")))
            if not _ignored(f, ignores):
                out.findings.append(f)
    return out


def audit_npm(ignores: dict[str, str]) -> Outcome:
    npm = shutil.which("npm")
    if npm is None:
        return Outcome("npm", error="npm not found")
    r = subprocess.run(
        [npm, "audit", "--json", "--package-lock-only"], cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    return classify_npm_audit(r.returncode, r.stdout, r.stderr, ignores)


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else "(no output)"


def report(outcomes: list[Outcome]) -> int:
    """Print the outcome; the exit status: 1 when anything was found (or a tool broke), else 0."""
    status = 0
    for o in outcomes:
        if o.error:
            print(f"audit {o.ecosystem}: ERROR {o.error}")
            status = 1
        for f in o.findings:
            print(f"audit {o.ecosystem}: VULNERABLE {f.line()}")
            status = 1
        if o.warning:
            print(f"audit {o.ecosystem}: WARNING {o.warning} — not failing CI; audit again when online")
        if not o.error and not o.findings and not o.warning:
            print(f"audit {o.ecosystem}: {o.audited} packages, no known vulnerabilities")
    if status:
        print(f"fix the versions, or accept an advisory in {IGNORE_FILE.relative_to(ROOT)} with a reason")
    return status


def main() -> int:
    try:
        ignores = read_ignores()
    except ValueError as exc:
        print(f"audit: ERROR {exc}")
        return 1
    only = set(os.environ.get("CHAOYUN_AUDIT", "python,npm").split(","))
    outcomes = []
    if "python" in only:
        outcomes.append(audit_python(ignores))
    if "npm" in only:
        outcomes.append(audit_npm(ignores))
    return report(outcomes)


if __name__ == "__main__":
    raise SystemExit(main())
