"""The reports a class's grading writes for CI and classroom tools: JSON and JUnit XML.

`--report PATH` writes PATH.json and PATH.xml (a .json or .xml ending of PATH is dropped
first). The JSON holds everything the console showed, transcripts included; the JUnit XML
has one <testsuite> per port and one <testcase> per task: a failure's message is its
first problem, a task not judged is <skipped>.
"""

import json
import os
import re
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from .sandbox import NOT_SANDBOXED
from .verdicts import FAIL, SKIP, verdict_lines

NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_safe(text):
    """Text XML 1.0 can hold: a script's stray control characters written as escapes."""
    return NOT_XML.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def report_paths(path):
    path = Path(path)
    if path.suffix in (".json", ".xml"):
        path = path.with_suffix("")
    return path.with_name(path.name + ".json"), path.with_name(path.name + ".xml")


def as_json(ports, strict, seconds, sandboxed=True):
    return {
        **({} if sandboxed else {"warning": NOT_SANDBOXED}),  # the first line, where it is said
        "sandboxed": sandboxed,
        "strict": strict,
        "seconds": round(seconds, 2),
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "ports": [
            {
                "name": port["name"],
                "path": str(port["path"]),
                "error": port.get("error", ""),
                "passed": sum(result.verdict == "PASS" for result in port["results"]),
                "tasks": [result.to_json() for result in port["results"]],
            }
            for port in ports
        ],
    }


def as_junit(ports, sandboxed=True):
    suites = ElementTree.Element("testsuites", name="queuing_system grader")
    for port in ports:
        results = port["results"]
        suite = ElementTree.SubElement(
            suites,
            "testsuite",
            name=port["name"],
            tests=str(len(results)),
            failures=str(sum(result.verdict == FAIL for result in results)),
            skipped=str(sum(result.verdict == SKIP for result in results)),
            errors="0",  # a grading stopped early fails its tasks, each saying so
            time=f"{sum(result.seconds for result in results):.2f}",
        )
        for result in results:
            case = ElementTree.SubElement(
                suite,
                "testcase",
                classname=port["name"],
                name=f"task {result.number}: {result.title}",
                time=f"{result.seconds:.2f}",
            )
            why = "\n".join(verdict_lines(result, indent=""))
            if result.verdict == FAIL:
                failure = ElementTree.SubElement(
                    case, "failure", message=xml_safe(result.problems[0].headline)
                )
                failure.text = xml_safe(why)
            elif result.verdict == SKIP:
                ElementTree.SubElement(case, "skipped", message=xml_safe(result.skipped))
            if result.transcript:
                ElementTree.SubElement(case, "system-out").text = xml_safe("\n".join(result.transcript))
    if not sandboxed:
        ElementTree.SubElement(
            ElementTree.SubElement(suites, "properties"), "property", name="warning", value=NOT_SANDBOXED
        )
        suites.insert(0, suites[-1])
    ElementTree.indent(suites)
    xml = ElementTree.tostring(suites, encoding="unicode", xml_declaration=True)
    return xml if sandboxed else f"<!-- {NOT_SANDBOXED} -->\n{xml.split(chr(10), 1)[1]}"


def replace_file(path, text):
    """Write `path` anew: into a file of our own beside it, then renamed over it. A symlink
    planted at `path` is replaced, never followed (a student's link to another file
    would have the report overwrite that file)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_reports(path, ports, strict, seconds, sandboxed=True):
    """PATH.json and PATH.xml; where the scripts ran unsandboxed, each says so on its first line."""
    json_path, xml_path = report_paths(path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(as_json(ports, strict, seconds, sandboxed), indent=1)
    replace_file(json_path, text if sandboxed else "{" + text[2:].lstrip(" "))
    replace_file(xml_path, as_junit(ports, sandboxed))
    return json_path, xml_path
