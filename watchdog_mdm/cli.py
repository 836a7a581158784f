"""The command line: parse, call the library, render, choose the exit code.

Flags follow the original's Go style (``-diagnose``) and also take the GNU spelling
(``--diagnose``). Exit codes: 0 the run completed, whatever it found; 1 an internal
error; 2 a usage error; 3 the evidence could not be gathered; 4 another run holds the
lock; 5 the state could not be saved, so nothing (more) was restarted; 6 the output could
not be written (what the run did stands, and is recorded).
"""

from __future__ import annotations

import contextlib
import gc
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any, NoReturn

import click

from watchdog_mdm import PROG, __version__
from watchdog_mdm.status import FIELDS, OVERALL
from watchdog_mdm.streams import EXIT_OUTPUT, GuardedStreams

# Each command imports the library it needs when it runs, so that -version, -help and
# analyze do not load healing, state, psutil or tenacity (docs/performance.md).
if TYPE_CHECKING:
    from watchdog_mdm.config import Configuration, Settings
    from watchdog_mdm.diagnose import Examination
    from watchdog_mdm.run import HealRun
    from watchdog_mdm.scan import Buffer
    from watchdog_mdm.state import Kickstarts
    from watchdog_mdm.system import System

__all__ = ["EXIT_OUTPUT", "cli", "main"]

EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_EVIDENCE = 3
EXIT_BUSY = 4
EXIT_STATE = 5
# EXIT_OUTPUT, 6, is streams.py's: launch.py exits with it without loading this module

HELP = f"""Checks that this Mac's MDM client (mdmclient) and software updates
(softwareupdated) are not stuck, from the unified log, and restarts them if they are.

\b
Usage:
  {PROG} -diagnose [--json | --explain] [--window 90m]
  {PROG} -heal [--dry-run] [--json | --explain]
  {PROG} analyze EXPORT... [--at TIME] [--json | --explain]
  {PROG} status [--json | --field FIELD]
  {PROG} history [--since 30d] [--summary] [--json | --csv]
  {PROG} config [--json]
  {PROG} collect [--hours 24] [-o FILE]
\b
Output keys (-diagnose prints the first four on one line, -heal all eight):
  MDMEnrolled              the Mac is enrolled in an MDM (profiles status)
  MDMIdentityError         mdmclient logged "Unable to create MDM identity" in the
                           window: a restart cannot fix this; re-enroll the Mac
  MDMClientStuck           mdmclient is wedged: a push it never answered, a request
                           that never got a response, or no exchange for QuietHours
                           of awake, online time (StuckRule quiet: the original's
                           "no device-channel HTTP 200 in the window")
  MDMSoftwareUpdatesStuck  the OS update is stalled, looping, or past its DDM
                           deadline on the old version; never while it downloads or
                           installs
  MDMClientRestarted       this run restarted mdmclient
  SoftwareUpdateDaemonRestarted
                           this run restarted softwareupdated
  LastMDMKickstart, LastSoftwareUpdateDaemonKickstart
                           when each was last restarted (0001-01-01... = never)
\b
-heal restarts each daemon at most once per cooldown (24h). With --json: the
same keys (times in RFC 3339 or null), schema_version, heal and evidence.
\b
Exit status: 0 the checks ran (whatever they found), 1 internal error,
2 usage error, 3 the evidence (log, profiles) could not be gathered or proved
nothing (the line then says unknown; nothing is restarted), 4 another run is in
progress, 5 the state could not be saved, 6 the output (or collect's bundle) could not be
written (a -heal run is still recorded).
"""


def _bounded_duration(value: str | None, longest: timedelta, label: str) -> timedelta | None:
    """A duration option's value, from one minute to ``longest`` (said as ``label``)."""
    from watchdog_mdm.config import DurationError, parse_duration

    if value is None:
        return None
    try:
        duration = parse_duration(value)
    except DurationError as exc:
        raise click.BadParameter(str(exc)) from exc
    except (OverflowError, ValueError):  # 30 nines: no timedelta holds it
        duration = timedelta.max
    if not timedelta(minutes=1) <= duration <= longest:
        raise click.BadParameter(f"{value!r} is out of range (1m to {label})")
    return duration


def _duration(_ctx: click.Context, _param: click.Parameter, value: str | None) -> timedelta | None:
    from watchdog_mdm.config import Settings

    return _bounded_duration(value, Settings.MAX_HISTORY, "30d")


def _instant(_ctx: click.Context, _param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 timestamp (e.g. 2026-11-20T14:30:00+01:00)"
        ) from None


def _zone(_ctx: click.Context, _param: click.Parameter, value: str) -> tzinfo:
    text = value.strip()
    if text.upper() in ("UTC", "Z"):
        return UTC  # the same instants as ZoneInfo("UTC"), and read faster (entries.py)
    try:
        offset = datetime.fromisoformat(f"2000-01-01T00:00:00{text}").utcoffset()
    except ValueError:
        offset = None
    if offset is not None:
        return timezone(offset)
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError  # 3 ms: only for zone names

    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"{text!r} is neither a time zone name (Europe/Berlin) nor an offset (+01:00)"
        ) from None


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"{PROG}: error: {message}", err=True)
    raise click.exceptions.Exit(code)


def warn(system: System, message: str) -> None:
    click.echo(f"{PROG}: warning: {message}", err=True)
    system.log_to_system(f"warning: {message}", detail=True)


def fail_run(system: System, message: str, code: int) -> NoReturn:
    """A live run's error: in the system log too, as a detail (the result line is the
    one line a run writes at the default level)."""
    system.log_to_system(f"error: {message}", detail=True)
    fail(message, code)


def settings_with(
    window: timedelta | None, history: timedelta | None = None, stuck_rule: str | None = None
) -> Settings:
    from watchdog_mdm.config import Settings, StuckRule

    defaults = Settings()
    settings = Settings(
        window=window or defaults.window,
        history=history or defaults.history,
        stuck_rule=StuckRule(stuck_rule or defaults.stuck_rule),
    )
    if settings.window > settings.history:
        raise click.UsageError("--window cannot be longer than the history")
    return settings


def _window_flag(window: timedelta | None) -> dict[str, object]:
    """--window as the LookbackMinutes preference it overrides, range-checked alike."""
    if window is None:
        return {}
    from watchdog_mdm.config import KEYS_BY_NAME

    minutes = window.total_seconds() / 60
    key = KEYS_BY_NAME["LookbackMinutes"]
    problem = key.check(int(minutes)) if minutes.is_integer() else "must be whole minutes"
    if problem is not None:
        raise click.BadParameter(problem, param_hint="'--window'")
    return {key.name: int(minutes)}


def configure(system: System, flags: dict[str, object]) -> Configuration:
    from watchdog_mdm.config import ConfigConflict, read_configuration

    try:
        configuration = read_configuration(system, flags)
    except ConfigConflict as exc:
        raise click.UsageError(str(exc)) from exc
    for message in configuration.warnings:
        warn(system, message)
    return configuration


def render_examination(
    examination: Examination,
    *,
    as_json: bool,
    explain: bool,
    show_instant: bool,
    kickstarts: Kickstarts | None = None,
) -> None:
    """A diagnosis: its line, then the evidence or the instant judged; or JSON."""
    from watchdog_mdm import report

    if as_json:
        click.echo(report.to_json(report.to_document(examination, kickstarts)))
        return
    click.echo(report.diagnose_line(examination))
    if explain:
        click.echo(report.explain(examination))
    elif show_instant:
        click.echo(report.judged_line(examination))


def render_heal(run: HealRun, *, as_json: bool, explain: bool, line: str) -> None:
    """A -heal run: its line, then the evidence or what a dry run would do; or JSON."""
    from watchdog_mdm import report

    if as_json:
        click.echo(report.to_json(report.heal_document(run)))
        return
    click.echo(line)
    if explain:
        click.echo(report.explain_heal(run))
    elif run.dry_run:
        click.echo("\n".join(report.healing_lines(run)))


def _fail_if_unreadable(examination: Examination, system: System | None = None) -> None:
    """Exit 3 after the result when the log proved nothing: the verdicts are unknown.
    With the system, a live run's, the error goes to the system log too."""
    problem = examination.evidence_problem
    if problem is not None:
        message = f"the unified log could not be read as evidence: {problem}; nothing was restarted"
        if system is None:
            fail(message, EXIT_EVIDENCE)
        fail_run(system, message, EXIT_EVIDENCE)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(__version__)
        ctx.exit(0)


class WatchdogGroup(click.Group):
    """Click's group, with every error as one line: ``mdm-watchdog: error: …``."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> NoReturn:
        try:
            code = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.ClickException as exc:
            hint = f" (see {PROG} -help)" if isinstance(exc, click.UsageError) else ""
            message = " ".join(exc.format_message().split())
            click.echo(f"{PROG}: error: {message}{hint}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo(f"{PROG}: error: interrupted", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


@click.group(
    cls=WatchdogGroup,
    invoke_without_command=True,
    help=HELP,
    context_settings={"help_option_names": ["-h", "-help", "--help"], "max_content_width": 90},
)
@click.option(
    "-diagnose",
    "--diagnose",
    "diagnose",
    is_flag=True,
    help="Run the checks and print the result line. Changes nothing.",
)
@click.option(
    "-heal",
    "--heal",
    "heal",
    is_flag=True,
    help="Run the checks and restart what is stuck (at most once per cooldown).",
)
@click.option(
    "-dry-run",
    "--dry-run",
    "dry_run",
    is_flag=True,
    help="With -heal: say what would be done, do nothing, change no state.",
)
@click.option(
    "-json", "--json", "as_json", is_flag=True, help="Print one JSON object with the evidence."
)
@click.option(
    "-explain",
    "--explain",
    is_flag=True,
    help="After the result line, say why each verdict was reached.",
)
@click.option(
    "-window",
    "--window",
    metavar="DURATION",
    callback=_duration,
    help="Look-back for 'stuck' (default 90m, from 15m).",
)
@click.option(
    "-system-root",
    "--system-root",
    type=click.Path(file_okay=False),
    default=None,
    help="Take every macOS path under DIR (for testing).",
)
@click.option(
    "-version",
    "--version",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=_print_version,
    help="Print the version and exit.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    diagnose: bool,
    heal: bool,
    dry_run: bool,
    as_json: bool,
    explain: bool,
    window: timedelta | None,
    system_root: str | None,
) -> None:
    # Tests pass a fake System as the context object; otherwise it is this Mac.
    from watchdog_mdm.system import MacSystem

    if ctx.obj is None:
        ctx.obj = MacSystem("/" if system_root is None else system_root)
    system: System = ctx.obj
    if ctx.invoked_subcommand is not None:
        if diagnose or heal or dry_run or as_json or explain or window is not None:
            raise click.UsageError(
                f"options go after the command: {PROG} {ctx.invoked_subcommand} --json …; "
                "-diagnose and -heal are not commands to combine"
            )
        return
    if diagnose == heal:
        if diagnose:
            raise click.UsageError("choose one of -diagnose and -heal")
        click.echo(ctx.get_help(), err=True)
        ctx.exit(EXIT_USAGE)
    if dry_run and not heal:
        raise click.UsageError("--dry-run goes with -heal")
    flags = _window_flag(window) | ({"DryRun": True} if dry_run else {})
    configuration = configure(system, flags)
    with recorded(system, configuration, "heal" if heal else "diagnose") as outcome:
        if heal:
            run_heal(system, configuration, as_json=as_json, explain=explain, outcome=outcome)
            return
        diagnose_now(system, configuration, as_json=as_json, explain=explain, outcome=outcome)


@contextlib.contextmanager
def recorded(system: System, configuration: Configuration, mode: str) -> Iterator[dict[str, Any]]:
    """Record the run in the history whatever its end, with its exit status; the block
    puts its JSON document (``document``) or fatal error (``error``) in the dict it is
    given. A dry run of -heal records nothing (it writes nothing); a history that
    cannot be written is a warning, never another exit status."""
    from watchdog_mdm import history

    started, code = system.now(), EXIT_INTERNAL
    outcome: dict[str, Any] = {}
    try:
        yield outcome
        code = 0
    except click.exceptions.Exit as exc:
        code = exc.exit_code
        raise
    finally:
        if not (mode == "heal" and configuration.settings.dry_run):
            record = history.record_from_document(
                mode=mode,
                started=started,
                finished=system.now(),
                exit_code=code,
                document=outcome.get("document"),
                error=outcome.get("error"),
            )
            for message in history.record_run(system, record, configuration.settings.history_days):
                warn(system, message)


def diagnose_now(
    system: System,
    configuration: Configuration,
    *,
    as_json: bool,
    explain: bool,
    outcome: dict[str, Any],
) -> None:
    from watchdog_mdm import report
    from watchdog_mdm.diagnose import EvidenceError, diagnose_live
    from watchdog_mdm.state import load_kickstarts, load_memory

    # only read: -diagnose changes nothing but the history, and repairs nothing
    kickstarts = load_kickstarts(system)
    try:
        examination = diagnose_live(system, configuration.settings, load_memory(system))
    except EvidenceError as exc:
        outcome["error"] = str(exc)
        fail_run(system, str(exc), EXIT_EVIDENCE)
    outcome["document"] = report.to_document(examination, kickstarts)
    system.log_to_system(report.diagnose_line(examination))
    render_examination(
        examination,
        as_json=as_json,
        explain=explain,
        show_instant=False,
        kickstarts=kickstarts,
    )
    _fail_if_unreadable(examination, system)


def run_heal(
    system: System,
    configuration: Configuration,
    *,
    as_json: bool,
    explain: bool,
    outcome: dict[str, Any],
) -> None:
    from watchdog_mdm import report
    from watchdog_mdm.diagnose import EvidenceError
    from watchdog_mdm.run import heal_run
    from watchdog_mdm.state import StateError
    from watchdog_mdm.system import LockBusy

    try:
        run, warnings = heal_run(system, configuration)
    except LockBusy:
        outcome["error"] = "another run was in progress"
        fail_run(
            system,
            f"another mdm-watchdog run is in progress (waited "
            f"{configuration.settings.lock_wait_seconds:g} s for it); try again later",
            EXIT_BUSY,
        )
    except (EvidenceError, StateError) as exc:
        outcome["error"] = str(exc)
        fail_run(
            system,
            f"{exc}; nothing was restarted",
            EXIT_EVIDENCE if isinstance(exc, EvidenceError) else EXIT_STATE,
        )
    outcome["document"] = report.heal_document(run)
    for message in warnings:
        warn(system, message)
    line = report.heal_line(run, system.now().tzinfo)
    # The one line at the default level, as the original's; what was done, as details.
    system.log_to_system(("dry run: " if run.dry_run else "") + line)
    for action in _actions_taken(run):
        system.log_to_system(action, detail=True)
    render_heal(run, as_json=as_json, explain=explain, line=line)
    if run.state_problem is not None:
        fail_run(system, run.state_problem, EXIT_STATE)
    _fail_if_unreadable(run.examination, system)


def _actions_taken(run: HealRun) -> list[str]:
    """What the run restarted, or failed to: nothing for a dry run, nor for a daemon left
    alone (every run leaves one or both; the result line says so)."""
    from dataclasses import replace

    from watchdog_mdm import report

    if run.dry_run:
        return []
    acted = tuple(r for r in run.healing if r.action.restarts)
    return report.healing_lines(replace(run, healing=acted, missed_runs=0)) if acted else []


@cli.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option(
    "--field",
    type=click.Choice(FIELDS),
    default=None,
    help="Print only this value (for an extension attribute).",
)
@click.pass_obj
def status_command(system: System, as_json: bool, field: str | None) -> None:
    """Print the last -heal result from state.json, checking nothing (for inventory).

    The overall status is one of: Healthy, MDM client stuck, Software updates stuck,
    Identity error, Not enrolled, Evidence unavailable, Never run, Not run since DATE.
    Dates print as YYYY-MM-DD hh:mm:ss in local time (Jamf Pro's Date type).
    """
    from watchdog_mdm import report
    from watchdog_mdm.state import read_state_document
    from watchdog_mdm.status import field_value, last_result

    now = system.now()
    local = now.tzinfo or UTC
    try:
        state = read_state_document(system) or {}
    except ValueError as exc:
        if field == OVERALL or not (as_json or field):
            click.echo("State unreadable")
        fail(str(exc), EXIT_STATE)
    if field is not None:
        click.echo(field_value(field, state, now, local))
        return
    values = {name: field_value(name, state, now, local) for name in FIELDS}
    if as_json:
        # ASCII escapes: the state file is data another program may have written
        import json

        click.echo(json.dumps({"fields": values, "state": state}, indent=2))
        return
    click.echo(values[OVERALL])
    result = last_result(state)
    if result is not None:
        click.echo(report.line_from_document(result, local))
    for name in FIELDS[1:]:
        click.echo(f"{name}: {values[name] or 'never'}")


def _since(_ctx: click.Context, _param: click.Parameter, value: str | None) -> timedelta | None:
    return _bounded_duration(value, timedelta(days=3650), "3650d")


@cli.command("history")
@click.option(
    "--since", metavar="DURATION", callback=_since, help="Only runs this recent (e.g. 30d)."
)
@click.option("--summary", is_flag=True, help="Restarts, wedged episodes and missed runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--csv", "as_csv", is_flag=True, help="Print the runs as CSV.")
@click.pass_obj
def history_command(
    system: System, since: timedelta | None, summary: bool, as_json: bool, as_csv: bool
) -> None:
    """List the recorded -diagnose and -heal runs (history.db beside state.json), or
    summarize them. Reads only; times print in local time, or UTC ISO 8601 in JSON/CSV."""
    from watchdog_mdm import history

    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    if summary and as_csv:
        raise click.UsageError("--summary prints text or --json, not --csv")
    now = system.now()
    start = None if since is None else now - since
    try:
        rows = history.read_history(system, start)
    except history.HistoryError as exc:
        fail(str(exc), EXIT_STATE)
    if summary:
        result = history.summarize(rows, now, start)
        if as_json:
            import json

            click.echo(json.dumps(history.summary_document(result), indent=2))
        else:
            click.echo("\n".join(history.summary_lines(result, now.tzinfo or UTC)))
    elif as_json:
        import json

        documents = [history.record_document(row) for row in rows]
        click.echo(json.dumps(documents, indent=2, ensure_ascii=False))
    elif as_csv:
        click.echo(history.csv_text(rows), nl=False)
    else:
        for row in rows:
            click.echo(history.run_line(row, now.tzinfo or UTC))


@cli.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_obj
def config_command(system: System, as_json: bool) -> None:
    """Print the effective configuration and where each value came from.

    Sources, first wins: command-line flags, /Library/Managed Preferences/
    com.github.mdm-watchdog.plist (a configuration profile), /Library/Preferences/
    com.github.mdm-watchdog.plist, built-in defaults.
    """
    from watchdog_mdm.config import KEYS

    configuration = configure(system, {})
    rows = [(key.name, configuration.value(key), configuration.sources[key.name]) for key in KEYS]
    if as_json:
        import json

        click.echo(
            json.dumps(
                {name: {"value": value, "source": source} for name, value, source in rows}, indent=2
            )
        )
        return
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        shown = (
            str(value).lower()
            if isinstance(value, bool)
            else f"{value:g}"
            if isinstance(value, float)
            else str(value)
        )
        click.echo(f"{name:<{width}}  {shown:<8}  {source}")


@cli.command("collect")
@click.option(
    "--hours",
    type=click.IntRange(1, 720),
    default=24,
    show_default=True,
    help="How many hours of log to include (1 to 720).",
)
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    default=None,
    help="Where to write the bundle (default: mdm-watchdog-<UTC time>.tar.gz here).",
)
@click.pass_obj
def collect_command(system: System, hours: int, output: str | None) -> None:
    """Write a support bundle (.tar.gz) to send when asking for help: a diagnosis with
    its evidence, state.json, the configuration, versions and the log of the last hours,
    secrets redacted, with a manifest. Its log.ndjson is read by `analyze` anywhere.
    """
    from watchdog_mdm.bundle import archive, collect, default_output

    bundle = collect(system, configure(system, {}), hours)
    path = output if output is not None else default_output(bundle.created_at)
    data = archive(bundle)
    try:
        system.write_export(path, data)
    except OSError as exc:
        fail(f"cannot write the bundle to {path}: {exc.strerror or exc}", EXIT_OUTPUT)
    click.echo(path)
    for problem in bundle.problems:
        click.echo(f"{PROG}: warning: {problem}", err=True)
    if bundle.log_problem is not None or bundle.diagnosis_problem is not None:
        fail(
            f"{path} was written, but the evidence could not all be gathered "
            "(see its manifest.json)",
            EXIT_EVIDENCE,
        )


def _archive_hint(path: str) -> str:
    from watchdog_mdm.diagnose import WINDOW_PREDICATE

    return (
        f"cannot read {path} here: a .logarchive is read by macOS's log command. "
        f"On a Mac, export it with: log show --archive '{path}' --style ndjson --info "
        f"--predicate '{WINDOW_PREDICATE}' > export.ndjson, then analyze export.ndjson"
    )


def _is_archive(path: str) -> bool:
    return path.rstrip("/").endswith(".logarchive")


def _is_bundle(path: str) -> bool:
    """A support bundle from `collect`, by its name as the admin received it."""
    return path.endswith((".tar.gz", ".tgz"))


def _is_plain_file(path: str) -> bool:
    """An export that may be read from its end: not stdin, an archive or a bundle (the
    System says whether it is a regular file)."""
    return path != "-" and not _is_archive(path) and not _is_bundle(path)


def _expand(system: System, paths: tuple[str, ...]) -> list[str]:
    """The inputs, with each folder of exports (not a .logarchive) replaced by its files."""
    inputs: list[str] = []
    for path in paths:
        try:
            files = None if _is_archive(path) else system.export_files(path)
        except OSError as exc:
            fail(f"cannot read the folder {path}: {exc.strerror or exc}", EXIT_EVIDENCE)
        if files is None:
            inputs.append(path)
        elif not files:
            fail(f"{path} holds no files to read", EXIT_USAGE)
        else:
            inputs += files
    return inputs


def _sources(system: System, paths: list[str]) -> Iterator[Iterable[Buffer]]:
    """Each input in turn, opened only when it is read."""
    from watchdog_mdm.config import Settings
    from watchdog_mdm.diagnose import LOG, WINDOW_PREDICATE

    for path in paths:
        if _is_archive(path):
            yield system.stream(
                [
                    LOG,
                    "show",
                    "--archive",
                    path,
                    "--style",
                    "ndjson",
                    "--info",
                    "--predicate",
                    WINDOW_PREDICATE,
                ],
                timeout=Settings().log_timeout_seconds * 10,
            )
        elif _is_bundle(path):
            from watchdog_mdm.bundle import bundle_log  # loads state: only for a bundle

            yield bundle_log(system, path)
        else:
            yield system.read_export(path)


def _judgeable(at: datetime, settings: Settings) -> datetime:
    """--at, refused when its history or a day either side leaves the calendar (years 1
    to 9999): no log holds such times, and the arithmetic on them cannot be done."""
    margin = timedelta(days=1)
    try:
        (at - settings.history - margin).astimezone(UTC)
        (at + margin).astimezone(UTC)
    except (OverflowError, ValueError):
        raise click.BadParameter(
            f"{at.isoformat()} with a history of {_span(settings.history)} reaches outside "
            "the years 1 to 9999",
            param_hint="'--at'",
        ) from None
    return at


def _span(value: timedelta) -> str:
    minutes = int(value.total_seconds() // 60)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def _stdin_closed() -> bool:
    """True when the command was started with its standard input closed (``<&-``)."""
    return sys.stdin is None  # Python's stand-in for a closed descriptor 0


@cli.command()
@click.argument(
    "paths",
    nargs=-1,
    required=True,
    metavar="EXPORT...",
    type=click.Path(exists=True, allow_dash=True, readable=False),
)
@click.option(
    "--at",
    metavar="TIME",
    callback=_instant,
    help="Judge as of this ISO 8601 instant (default: the newest entry).",
)
@click.option(
    "--window", metavar="DURATION", callback=_duration, help="Look-back for 'stuck' (default 90m)."
)
@click.option(
    "--history",
    metavar="DURATION",
    callback=_duration,
    help="How far back the last MDM command may be (default 24h).",
)
@click.option(
    "--tz",
    "naive_tz",
    default="UTC",
    callback=_zone,
    metavar="ZONE",
    show_default=True,
    help="Zone of timestamps without a UTC offset (compact style is local time).",
)
@click.option(
    "--stuck-rule",
    type=click.Choice(["evidence", "quiet"]),
    default=None,
    help="evidence (default): stuck only on a wedge; quiet: the original's 'no 200 in the window'.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object with the evidence.")
@click.option("--explain", is_flag=True, help="Say why each verdict was reached.")
@click.pass_obj
def analyze(
    system: System,
    paths: tuple[str, ...],
    at: datetime | None,
    window: timedelta | None,
    history: timedelta | None,
    naive_tz: tzinfo,
    stuck_rule: str | None,
    as_json: bool,
    explain: bool,
) -> None:
    """Diagnose from saved `log show` output: files in any style, - for stdin, folders of
    exports, a support bundle from `collect` (.tar.gz), or a .logarchive (read with
    macOS's log command).

    For support staff on any computer: MDMEnrolled comes from the log itself (any
    device-channel MDM exchange proves it) and is unknown without one.
    """
    from watchdog_mdm.diagnose import LOG, EvidenceError, analyze_end, analyze_export

    settings = settings_with(window, history, stuck_rule)
    if at is not None:
        at = _judgeable(at if at.tzinfo is not None else at.replace(tzinfo=naive_tz), settings)
    inputs = _expand(system, paths)
    if "-" in inputs and _stdin_closed():
        fail("cannot read - : standard input is closed", EXIT_EVIDENCE)
    for path in inputs:
        if _is_archive(path) and not system.has_command(LOG):
            fail(_archive_hint(path), EXIT_EVIDENCE)
    try:
        examination = None
        if len(inputs) == 1 and _is_plain_file(inputs[0]):
            examination = analyze_end(
                system, inputs[0], settings=settings, naive_tz=naive_tz, clock=system.now(), at=at
            )
        if examination is None:
            examination = analyze_export(
                _sources(system, inputs),
                settings=settings,
                at=at,
                naive_tz=naive_tz,
                clock=system.now(),
            )
    except EvidenceError as exc:
        fail(str(exc), EXIT_EVIDENCE)
    if examination.log.utf16_inputs:
        which = (
            "the input is"
            if len(inputs) == 1
            else f"{examination.log.utf16_inputs} of the inputs "
            + ("is" if examination.log.utf16_inputs == 1 else "are")
        )
        click.echo(
            f"{PROG}: warning: {which} UTF-16 (as Windows PowerShell writes "
            "redirected output), and nothing could be read from it; convert it to UTF-8 "
            "first, e.g. with iconv -f UTF-16 -t UTF-8",
            err=True,
        )
    if examination.log.entries_read == 0:
        click.echo(
            f"{PROG}: warning: no log entries could be read from the input "
            f"({examination.log.bytes_read} bytes); is it `log show` output?",
            err=True,
        )
    render_examination(examination, as_json=as_json, explain=explain, show_instant=True)
    _fail_if_unreadable(examination)


def main() -> None:
    """The command line's entry point (launch.py calls it for all but ``-version``):
    never lets a traceback reach the admin, nor output that cannot be written end a run
    half-way (see streams.py)."""
    streams = GuardedStreams()
    code = EXIT_INTERNAL
    try:
        cli.main(prog_name=PROG)
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else EXIT_INTERNAL if exc.code else 0
    except Exception as exc:
        click.echo(f"{PROG}: internal error: {type(exc).__name__}: {exc}", err=True)
    # The run is over: frozen, the objects the modules made (about 15,000) are skipped by
    # the garbage collections the interpreter runs as it exits, which took a tenth of
    # analyze's start-up. Output is flushed as before; the process ends anyway.
    gc.freeze()
    sys.exit(streams.exit_status(code))
