"""Benchmark: mdm-watchdog analyze against grep and a naive parser, on one machine, in one run.

    python tests/perf/bench.py [--size-mb 200] [--styles ndjson,compact,...]
                               [--mixes chatter,progress] [--repeat 5]
                               [--end-days 8] [--bundle DIR] [--also BIN]
                               [--json FILE]

For each `log show` style and mix it writes a synthetic export of the given size (line
shapes taken from the real lines in tests/fixtures; tests/exports.py MIXES): "chatter",
mostly chatter from mdmclient and other processes, about 3 % HTTP exchanges, some
commands and 1 % softwareupdated progress; "progress", a Mac installing an update, with
a quarter of the lines softwareupdated's progress. Then it times, on that same file:

- `mdm-watchdog analyze FILE --json` (wall time, peak memory);
- the floor: `grep -F -c 'Received HTTP response (200)' FILE`;
- for ndjson, a naive reference: `json.loads` on every line;

and reports MB/s, the ratios, peak memory and the bytes analyze says it read. With
--end-days, the same size of export spread over that many days, with powerd's sleeps and
wakes, judged as of its newest entry (analyze reads only its end: docs/performance.md),
with the default history and with --history 2h, against grep over all of it. Plus the
start-up time of `mdm-watchdog -version` and
`-help` (beside that of `import click` and of Python itself), of `analyze` on a one-line
file, and of the PyInstaller bundle with --bundle.

With --also, the mdm-watchdog of another install (the bin folder of a virtual environment
made by `pip install .` with another Python, or of other code) is timed in the same
rounds, on the same files, beside this one: two interpreters or two versions compared in
one run, whatever the machine's spells.

The commands compared are run in turn, --repeat rounds of analyze, grep (and naive),
so that a slow spell of a shared machine falls on all of them alike. Each figure is
the fastest of its runs (other work on the machine only ever adds time), with the
median beside it. Run it with the Python of a virtual environment made by
`pip install .`: an editable install slows every start of that Python down.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

HERE = Path(__file__).resolve()
REPO = HERE.parent.parent.parent
# Run as a script (python tests/perf/bench.py), the repository is not on the path.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.exports import EXCHANGES, MIXES, render, write_export  # noqa: E402 - needs the path

PROBE = textwrap.dedent("""
    import json, resource, subprocess, sys, time
    start = time.perf_counter()
    done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps([elapsed, peak, done.returncode]))
""")


def timed(*argv: str) -> tuple[float, int]:
    """Wall seconds and peak resident KiB of one run of ``argv``."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], capture_output=True, text=True, check=True
    ).stdout
    elapsed, peak, code = json.loads(out)
    if code not in (0, 1):  # grep -c exits 1 when it counts nothing
        raise SystemExit(f"{argv[0]} exited {code}")
    return elapsed, peak


NAIVE = textwrap.dedent("""
    import json, sys
    count = 0
    with open(sys.argv[1], "rb") as handle:
        for line in handle:
            try:
                json.loads(line)
            except ValueError:
                pass
            count += 1
    print(count)
""")


class Runs:
    """The wall times and peak memory of one command's runs."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.peak_kib = 0

    def add(self, measured: tuple[float, int]) -> None:
        self.seconds.append(measured[0])
        self.peak_kib = max(self.peak_kib, measured[1])

    @property
    def best(self) -> float:
        return min(self.seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def interleaved(rounds: int, **commands: Callable[[], tuple[float, int]]) -> dict[str, Runs]:
    """Each command once per round, in turn: slow spells fall on all of them alike."""
    runs = {name: Runs() for name in commands}
    for _ in range(rounds):
        for name, measure in commands.items():
            runs[name].add(measure())
    return runs


def command(folder: Path | None = None) -> str:
    """The mdm-watchdog of this Python's install, or of the bin folder given."""
    return str((folder or Path(sys.executable).parent) / "mdm-watchdog")


def interpreter(python: str) -> str:
    """Which Python a command runs on: its version and where it really is (a virtual
    environment's python is a link to it)."""
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version.split()[0])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    return f"Python {version} ({os.path.realpath(python)})"


def startups(commands: dict[str, list[str]], rounds: int = 15) -> dict[str, object]:
    """Milliseconds to start and finish each command line, fastest and median."""
    runs = interleaved(rounds, **{name: partial(timed, *argv) for name, argv in commands.items()})
    figures: dict[str, object] = {}
    for name, measured in runs.items():
        figures[f"{name}_ms"] = round(measured.best * 1000, 1)
        figures[f"{name}_median_ms"] = round(measured.median * 1000, 1)
    return figures


def editable_install() -> bool:
    """Whether mdm-watchdog is installed editable (pip install -e): its import hook then
    runs at every start of this Python, so start-up figures would not be a user's."""
    from importlib.metadata import PackageNotFoundError, distribution

    try:
        text = distribution("mdm-watchdog").read_text("direct_url.json") or "{}"
    except PackageNotFoundError:
        return False
    return bool(json.loads(text).get("dir_info", {}).get("editable"))


def bytes_read(path: Path, *options: str) -> int:
    """How many bytes analyze says it read of ``path`` (its --json log statistics)."""
    out = subprocess.run(
        [command(), "analyze", str(path), "--json", *options],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return int(json.loads(out)["evidence"]["log"]["bytes_read"])


def styles_table(args: argparse.Namespace, folder: Path) -> Iterator[dict[str, object]]:
    for mix in args.mixes.split(","):
        for style in args.styles.split(","):
            yield style_row(args, folder, style, mix)


def style_row(args: argparse.Namespace, folder: Path, style: str, mix: str) -> dict[str, object]:
    if mix not in MIXES:
        raise SystemExit(f"no mix {mix!r}: one of {', '.join(MIXES)}")
    path = folder / f"export.{style}"
    size = write_export(style, path, args.size_mb * 1_000_000, mix=mix)
    megabytes = size / 1_000_000
    commands = {
        "analyze": partial(timed, command(), "analyze", str(path), "--json"),
        "grep": partial(timed, "grep", "-F", "-c", "Received HTTP response (200)", str(path)),
    }
    if args.also:
        commands["also"] = partial(timed, command(args.also), "analyze", str(path), "--json")
    if style == "ndjson":
        commands["naive"] = partial(timed, sys.executable, "-c", NAIVE, str(path))
    runs = interleaved(args.repeat, **commands)
    analyze = runs["analyze"]
    row: dict[str, object] = {
        "style": style,
        "mix": mix,
        "megabytes": round(megabytes, 1),
        "bytes_read": bytes_read(path),
        "analyze_mb_per_s": round(megabytes / analyze.best),
        "analyze_peak_mb": round(analyze.peak_kib / 1024, 1),
        "grep_seconds": round(runs["grep"].best, 3),
        **against(runs, "analyze", "grep"),
    }
    if "also" in runs:
        row |= against(runs, "also", "grep")
    if "naive" in runs:
        row |= against(runs, "naive", "analyze")
    path.unlink()
    return row


def against(runs: dict[str, Runs], name: str, other: str) -> dict[str, object]:
    """A command's fastest time, and its time over another's: fastest over fastest, and
    median over median."""
    mine, theirs = runs[name], runs[other]
    return {
        f"{name}_seconds": round(mine.best, 3),
        f"{name}_over_{other}": round(mine.best / theirs.best, 2),
        f"{name}_over_{other}_median": round(mine.median / theirs.median, 2),
    }


def print_table(rows: list[dict[str, object]], rounds: int) -> None:
    print(f"fastest of {rounds} rounds (in brackets: the same from the medians)")
    also = any("also_seconds" in row for row in rows)
    print(
        f"{'style':8} {'mix':8} {'MB':>7} {'read MB':>8} {'analyze s':>10} {'MB/s':>6} "
        f"{'peak MB':>8} {'grep s':>7} {'x grep':>14} {'naive/analyze':>14}"
        + (f" {'also s':>7} {'also x grep':>14}" if also else "")
    )
    for row in rows:
        naive = (
            f"{row['naive_over_analyze']} ({row['naive_over_analyze_median']})"
            if "naive_over_analyze" in row
            else ""
        )
        read = round(int(str(row["bytes_read"])) / 1_000_000, 1)
        print(
            f"{row['style']:8} {row['mix']:8} {row['megabytes']:>7} {read:>8} "
            f"{row['analyze_seconds']:>10} "
            f"{row['analyze_mb_per_s']:>6} {row['analyze_peak_mb']:>8} "
            f"{row['grep_seconds']:>7} "
            f"{row['analyze_over_grep']:>6} ({row['analyze_over_grep_median']:>5}) {naive:>14}"
            + (
                f" {row['also_seconds']:>7} "
                f"{row['also_over_grep']:>6} ({row['also_over_grep_median']:>5})"
                if also
                else ""
            )
        )


def ends_table(args: argparse.Namespace, folder: Path) -> Iterator[dict[str, object]]:
    """An export of --size-mb over --end-days days, with a sleep or wake every 90
    minutes, judged as of its newest entry: analyze reads it from its end (the span
    judged: the history, or further back to the sleep or wake before it). Timed with the
    default history (24 hours) and with --history 2h, against grep over all of it."""
    for mix in args.mixes.split(","):
        for style in args.styles.split(","):
            path = folder / f"days.{style}"
            size = write_export(style, path, args.size_mb * 1_000_000, mix=mix, days=args.end_days)
            analyze = [command(), "analyze", str(path), "--json"]
            runs = interleaved(
                args.repeat,
                analyze=partial(timed, *analyze),
                analyze_2h=partial(timed, *analyze, "--history", "2h"),
                grep=partial(timed, "grep", "-F", "-c", "Received HTTP response (200)", str(path)),
            )
            grep = runs["grep"]
            row: dict[str, object] = {"style": style, "mix": mix, "days": args.end_days}
            row["megabytes"] = round(size / 1_000_000, 1)
            row["grep_seconds"] = round(grep.best, 3)
            for name, history in (("analyze", []), ("analyze_2h", ["--history", "2h"])):
                row |= against(runs, name, "grep") | {
                    f"{name}_peak_mb": round(runs[name].peak_kib / 1024, 1),
                    f"{name}_bytes_read": bytes_read(path, *history),
                }
            path.unlink()
            yield row


def print_ends(rows: list[dict[str, object]]) -> None:
    for row in rows:
        print(
            f"{row['style']} {row['mix']}, {row['megabytes']} MB over {row['days']} days, "
            f"grep {row['grep_seconds']} s; judged as of its newest entry:"
        )
        for name, label in (("analyze", "history 24h"), ("analyze_2h", "history 2h")):
            print(
                f"  {label}: {row[name + '_seconds']} s, {row[name + '_over_grep']} x grep "
                f"({row[name + '_over_grep_median']}), "
                f"{int(str(row[name + '_bytes_read'])) / 1e6:.1f} MB read, "
                f"peak {row[name + '_peak_mb']} MB"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--styles", default="ndjson,default,compact,syslog,json")
    parser.add_argument(
        "--end-days",
        type=float,
        default=0,
        help="also judge exports of --size-mb spread over this many days, read from their end",
    )
    parser.add_argument("--mixes", default=",".join(MIXES), help="of tests/exports.py MIXES")
    parser.add_argument("--repeat", type=int, default=5, help="rounds of the commands")
    parser.add_argument("--bundle", type=Path, help="a built PyInstaller bundle folder")
    parser.add_argument(
        "--also",
        type=Path,
        metavar="BIN",
        help="the bin folder of another install, its mdm-watchdog timed in the same rounds",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if args.also and not Path(command(args.also)).is_file():
        parser.error(f"no mdm-watchdog in {args.also}")

    if editable_install():
        print(
            "warning: mdm-watchdog is installed editable; for a user's start-up, run this "
            "with the Python of a venv made by 'pip install .'",
            file=sys.stderr,
        )
    with tempfile.TemporaryDirectory(
        prefix="mdm-watchdog-bench-", dir=os.environ.get("BENCH_TMP")
    ) as temporary:
        rows = list(styles_table(args, Path(temporary)))
        ends = list(ends_table(args, Path(temporary))) if args.end_days else []
        one_line = Path(temporary) / "one-line.ndjson"
        one_line.write_text(render("ndjson", datetime(2026, 11, 25, tzinfo=UTC), EXCHANGES[1]))
        starting = {
            "version_startup": [command(), "-version"],
            "help_startup": [command(), "-help"],
            "analyze_startup": [command(), "analyze", str(one_line)],
            "click_import": [sys.executable, "-c", "import click"],
            "python_startup": [sys.executable, "-c", "pass"],
        }
        if args.also:
            starting["also_version_startup"] = [command(args.also), "-version"]
            starting["also_analyze_startup"] = [command(args.also), "analyze", str(one_line)]
            starting["also_python_startup"] = [str(args.also / "python"), "-c", "pass"]
        if args.bundle:
            starting["bundle_startup"] = [str(args.bundle / "mdm-watchdog"), "-version"]
        figures: dict[str, object] = {
            "python": interpreter(sys.executable),
            **({"also_python": interpreter(str(args.also / "python"))} if args.also else {}),
            "size_mb": args.size_mb,
            "mixes": args.mixes,
            "cpus": os.cpu_count(),
            "rounds": args.repeat,
            "styles": rows,
            "ends": ends,
            **startups(starting),
        }
    print(f"analyze: {figures['python']}")
    if args.also:
        print(f"also: {figures['also_python']}")
    print_table(rows, args.repeat)
    print_ends(ends)
    for name in starting:
        print(f"{name}_ms: {figures[name + '_ms']} (median {figures[name + '_median_ms']})")
    python = float(str(figures["python_startup_ms"]))
    version = float(str(figures["version_startup_ms"]))
    print(f"-version over Python's own start-up: {version / python:.2f}")
    if args.also:
        also_python = float(str(figures["also_python_startup_ms"]))
        also_version = float(str(figures["also_version_startup_ms"]))
        print(f"also: -version over its Python's own start-up: {also_version / also_python:.2f}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
