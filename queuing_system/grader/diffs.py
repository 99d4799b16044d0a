"""How a verdict shows a difference: unified diffs in which nothing is invisible.

A trailing newline, a space at the end of a line, a carriage return or a tab is written
out (`\\n`, `·`, `\\r`, `\\t`), as are other control and invisible characters; a legend
under the diff says what the marks mean. Long lines, long outputs and long diffs are cut,
saying how much was left out.
"""

import difflib
import json
import re

LINE_WIDTH = 240  # characters of one line shown
DIFF_LINES = 60  # lines of one diff shown
TAIL_LINES = 12  # lines of a script's stderr shown
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
INVISIBLE = {
    "\t": "\\t",
    "\r": "\\r",
    "\n": "\\n",
    "\x0b": "\\v",
    "\x0c": "\\f",
    "\u00a0": "\\u00a0",
    "\u200b": "\\u200b",
    "\ufeff": "\\ufeff",
}
LEGEND = "(· is a space, \\n a newline, \\r a carriage return, \\t a tab)"


def cut(text, width=LINE_WIDTH):
    if len(text) <= width:
        return text
    return f"{text[:width]}… ({len(text) - width} more characters)"


def visible(text):
    """The text with its invisible characters written out, trailing spaces as `·`."""
    shown = []
    for char in text:
        if char in INVISIBLE:
            shown.append(INVISIBLE[char])
        elif ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0:
            shown.append(f"\\x{ord(char):02x}")
        else:
            shown.append(char)
    line = "".join(shown)
    stripped = line.rstrip(" ")
    return stripped + "·" * (len(line) - len(stripped))


def needs_legend(lines):
    return any("·" in line or "\\" in line for line in lines)


def unified(want, got, want_name="expected", got_name="got"):
    """A unified diff of two lists of lines, every line made visible, cut to DIFF_LINES."""
    diff = list(
        difflib.unified_diff(
            [cut(visible(line)) for line in want],
            [cut(visible(line)) for line in got],
            want_name,
            got_name,
            lineterm="",
            n=4,
        )
    )
    if len(diff) > DIFF_LINES:
        diff = diff[:DIFF_LINES] + [f"… ({len(diff) - DIFF_LINES} more lines of diff)"]
    if needs_legend(diff[2:]):
        diff.append(LEGEND)
    return diff


def body_lines(body):
    """A response body as lines for a diff, its newlines written out where they are; a long
    JSON list is shown one item a line, so that the diff points at the item that differs."""
    lines = body.split("\n")
    shown = [f"{line}\n" for line in lines[:-1]]
    if lines[-1] or not shown:
        shown.append(lines[-1])
    if len(body) > LINE_WIDTH // 2:
        shown = [piece for line in shown for piece in re.split(r"(?<=\},)(?=\{)", line)]
    return shown


def unordered(want, got):
    """A diff of lines that may come in any order: the expected ones in their order, each
    line missing as `-`, each unexpected one as `+` (beside the missing line it is most
    like). Empty if they match as multisets."""
    missing = list(want)
    extra = []
    for line in got:
        if line in missing:
            missing.remove(line)
        else:
            extra.append(line)
    if not missing and not extra:
        return []
    shown = ["--- expected (in any order)", "+++ got"]
    unplaced = list(extra)
    for line in want:
        if line in missing:
            missing.remove(line)
            shown.append(f"-{cut(visible(line))}")
            close = difflib.get_close_matches(line, unplaced, n=1, cutoff=0.6)
            if close:
                unplaced.remove(close[0])
                shown.append(f"+{cut(visible(close[0]))}")
        else:
            shown.append(f" {cut(visible(line))}")
    shown.extend(f"+{cut(visible(line))}" for line in unplaced)
    if len(shown) > DIFF_LINES:
        shown = shown[:DIFF_LINES] + [f"… ({len(shown) - DIFF_LINES} more lines of diff)"]
    if needs_legend(shown[2:]):
        shown.append(LEGEND)
    return shown


def tail(text, lines=TAIL_LINES):
    """The last lines of a script's stderr, ANSI colours stripped, blank lines dropped."""
    kept = [cut(ANSI.sub("", line).rstrip()) for line in text.splitlines()]
    kept = [line for line in kept if line.strip()]
    if len(kept) > lines:
        return [f"… ({len(kept) - lines} lines before)", *kept[-lines:]]
    return kept


def in_order_of(value, model):
    """`value` (parsed JSON) with its objects' keys put in `model`'s order where they have
    the same keys, so that a diff of the two shows the differing values only."""
    if isinstance(value, dict) and isinstance(model, dict):
        ordered = {key: in_order_of(value[key], model[key]) for key in model if key in value}
        ordered.update((key, item) for key, item in value.items() if key not in model)
        return ordered
    if isinstance(value, list) and isinstance(model, list):
        return [in_order_of(item, other) for item, other in zip(value, model, strict=False)] + value[
            len(model) :
        ]
    return value


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
