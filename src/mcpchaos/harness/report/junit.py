"""``mcpchaos run --junit FILE``: the verdicts as a JUnit XML report, for CI.

One ``<testsuite>`` per scenario and one ``<testcase>`` per verdict (``classname`` the
scenario, ``name`` the verdict); a failed verdict carries a ``<failure>`` with its detail and
rule; a scenario that could not run is one ``<testcase>`` with an ``<error>``; a skipped one
is one ``<testcase>`` marked ``<skipped>`` with the reason, and so is an inconclusive one (or
verdict), its message starting "inconclusive:" (JUnit has no fourth word). Baseline regressions
(``--baseline``) are one more suite, ``baseline``, a test case per comparison.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from mcpchaos.harness.baseline import Comparison
from mcpchaos.harness.journal import Journal, ScenarioResult


def junit_xml(journal: Journal, comparisons: list[Comparison] | None = None) -> bytes:
    root = ET.Element("testsuites", name="mcpchaos")
    for result in journal.scenarios:
        _suite(root, result)
    if comparisons:
        suite = ET.SubElement(root, "testsuite", name="baseline")
        for comparison in comparisons:
            case = ET.SubElement(suite, "testcase", classname="baseline", name=comparison.name)
            if comparison.regressed:
                ET.SubElement(case, "failure", message=comparison.detail).text = comparison.rule
        _count(suite)
    _count(root)
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text + b"\n"


def write_junit(path: Path, journal: Journal, comparisons: list[Comparison] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(journal, comparisons))


def _suite(root: ET.Element, result: ScenarioResult) -> None:
    suite = ET.SubElement(
        root, "testsuite", name=result.scenario, time=f"{result.duration_s:.3f}", timestamp=result.started_at
    )
    if result.skipped is not None:
        case = ET.SubElement(suite, "testcase", classname=result.scenario, name="scenario")
        ET.SubElement(case, "skipped", message=result.skipped)
    elif result.error is not None:
        case = ET.SubElement(suite, "testcase", classname=result.scenario, name="scenario")
        ET.SubElement(case, "error", message=result.error.splitlines()[0][:500]).text = result.error
    elif result.inconclusive is not None:
        case = ET.SubElement(suite, "testcase", classname=result.scenario, name="scenario")
        ET.SubElement(case, "skipped", message=f"inconclusive: {result.inconclusive}")
    for verdict in result.verdicts:
        case = ET.SubElement(suite, "testcase", classname=result.scenario, name=verdict.name)
        if verdict.status == "failed":
            ET.SubElement(case, "failure", message=verdict.detail).text = f"rule: {verdict.rule}"
        elif verdict.status == "inconclusive":  # neither a pass nor a failure: JUnit's skip
            ET.SubElement(case, "skipped", message=f"inconclusive: {verdict.detail}")
    _count(suite)


def _count(element: ET.Element) -> None:
    """The totals JUnit readers expect on a suite (and on the root)."""
    cases = list(element.iter("testcase"))
    element.set("tests", str(len(cases)))
    for tag, attribute in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        element.set(attribute, str(sum(1 for case in cases if case.find(tag) is not None)))


__all__ = ["junit_xml", "write_junit"]
