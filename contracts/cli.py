"""The ``contracts`` command: run the suites against a base URL; the exit code says what the run proved.

``0`` every check held and the target was really exercised, ``1`` the target broke the contract, ``2`` a
usage error, ``3`` could not test (unreachable, rate-limited, nothing ran), ``130`` interrupted (Ctrl-C: the
suite in flight reports what it checked, no other starts; a second Ctrl-C stops at once); see
``contracts.verdict`` and ``contracts.interrupt``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from contracts import budget, builtin, interrupt, selection
from contracts import report as reporting
from contracts.budget import Budget
from contracts.progress import Console
from contracts.replay import command as replay_command
from contracts.results import Report
from contracts.runner import run
from contracts.suites import Registry, configure
from contracts.target import Target, build_target, load_config
from contracts.verdict import ExitCode, Verdict


def parser(registry: Registry | None = None) -> argparse.ArgumentParser:
    """The command line, with the suites and options of ``registry`` (default: the built-in suites)."""
    registry = registry or builtin.suites()
    main = argparse.ArgumentParser(prog="contracts", description="Check an implementation against openapi.yaml.")
    commands = main.add_subparsers(dest="command", required=True)
    run_cmd = commands.add_parser(
        "run",
        help="run contract suites against a base URL",
        epilog="exit codes: 0 every check held, 1 the target broke the contract, 2 usage error, "
        "3 could not test (unreachable, rate-limited, or no check ran), 130 interrupted (Ctrl-C or SIGINT: the "
        "suite in flight reports what it checked as interrupted, no further suite starts; it wins over 1 and 3, "
        "the reason says what was found; a second Ctrl-C stops at once, without reports)",
    )
    run_cmd.add_argument("--base-url", help="the API's base URL, e.g. http://127.0.0.1:8080/api/v1")
    run_cmd.add_argument("--spec", type=Path, help="the contract (default: the repository's openapi.yaml)")
    run_cmd.add_argument(
        "--key",
        action="append",
        default=[],
        metavar="[ROLE=]KEY",
        help="a key by role: full (default role), readonly, other (another company), expired; repeatable. "
        "Sent as each operation's security scheme says: raw in an apiKey header, query parameter or cookie; "
        "as Bearer; as HTTP basic (USER:PASSWORD, or a key alone as the user name with an empty password); "
        "for OAuth2 client credentials CLIENT_ID:CLIENT_SECRET fetches a token from the tokenUrl",
    )
    run_cmd.add_argument(
        "--auth-scheme",
        metavar="NAME[,NAME]",
        help="the spec's security scheme(s) to send keys by, where an operation offers several (default: the "
        "first the harness can send); or one way for every operation: bearer, basic, header:NAME, query:NAME, "
        "cookie:NAME",
    )
    run_cmd.add_argument(
        "--token-url",
        metavar="URL",
        help="OAuth2 client credentials: where to get tokens (default: the spec's tokenUrl, on the base URL's server)",
    )
    defaults = registry.defaults()
    others = [name for name in registry.names() if name not in defaults]
    run_cmd.add_argument(
        "--suite",
        help=f"comma-separated suites (default: {','.join(defaults)}; also: {','.join(others)})",
    )
    run_cmd.add_argument("--seed", type=int, help="seed for generated data: the same seed sends the same requests")
    bounded = ". ".join(f"{entry.name}: {entry.examples}" for entry in registry.entries() if entry.examples)
    run_cmd.add_argument(
        "--max-examples",
        type=int,
        metavar="N",
        help=f"bounds what a run sends per operation (default: 25). {bounded}",
    )
    run_cmd.add_argument(
        "--no-shrink",
        action="store_true",
        help="report the rules state machine's failures as found, without shrinking them to their minimal steps: "
        "a failing run ends sooner, its reproductions are longer",
    )
    run_cmd.add_argument(
        "--budget",
        metavar="LIMIT",
        help="what the whole run may spend: seconds (90s, 2m, 1h), requests (5000req) or both (2m,5000req). Once "
        "spent, the suite in flight stops (conformance and stateful at once, another after the check it is on) and "
        "no other starts; checks cut short claim no pass, and the verdict names what was cut short or never started",
    )
    run_cmd.add_argument(
        "--operations",
        action="append",
        default=[],
        metavar="PATTERN[,PATTERN]",
        help="test only these operations in conformance and stateful: operationIds, 'METHOD /path', a path, or "
        "tag:NAME, with * wildcards (e.g. 'createInvoice', 'GET /invoices*', '* /customers/{id}'); repeatable",
    )
    run_cmd.add_argument(
        "--changed-since",
        metavar="REF_OR_FILE",
        help="test only the operations whose definition (with every schema it references) changed since an older "
        "spec: a file, or a git revision of --spec (e.g. origin/main); with --operations, both must hold",
    )
    run_cmd.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="processes conformance (a share of the operations each) and stateful (some of its rounds each) "
        "run in, to use N cores (default 1: the target sees the same requests in the same order every run; "
        "with more, the same requests interleaved; a request --budget keeps one)",
    )
    run_cmd.add_argument("--config", type=Path, help="a TOML file with the target's settings")
    run_cmd.add_argument("--setup", dest="setup_hook", help="a command to prepare the target's data first")
    run_cmd.add_argument(
        "--admin-token",
        metavar="TOKEN",
        help="the sandbox's admin token, to simulate what only a customer does (e.g. view an invoice) with "
        "POST /__sandbox/simulate/...; reports name it ${CONTRACTS_ADMIN_TOKEN}",
    )
    for entry in registry.entries():
        if entry.options or entry.settings:
            group = run_cmd.add_argument_group(f"{entry.name} suite")
            for setting in entry.settings:
                kind = float if setting.number else str
                group.add_argument(
                    setting.flag, dest=setting.name, type=kind, metavar=setting.metavar, help=setting.help
                )
            for option in entry.options:
                group.add_argument(
                    option.flag,
                    dest=option.name,
                    metavar=option.metavar,
                    help=f"{option.help} (default: {option.default:g})",
                )
    run_cmd.add_argument("--junit-xml", type=Path, help="write a JUnit XML report here")
    run_cmd.add_argument("--json", type=Path, dest="json_path", help="write a JSON report here")
    replay_command.add_parser(commands)
    return main


def main(argv: Sequence[str] | None = None, registry: Registry | None = None) -> int:
    """Entry point: the exit code of ``contracts.verdict`` (2 for a usage error); ``registry``: the suites offered."""
    registry = registry or builtin.suites()
    args = parser(registry).parse_args(argv)
    if args.command == "replay":
        return replay_command.main(args)
    try:
        target = configured_target(args, registry)
    except (ValueError, OSError) as exc:
        print(f"contracts: {exc}", file=sys.stderr)
        return int(ExitCode.USAGE)
    print(f"Checking {target.api} against {target.spec_path} (seed {target.seed}, suites {', '.join(target.suites)})")
    if target.selection:
        print(f"Operations: {target.selection}")
    sys.stdout.flush()
    with interrupt.handled() as interruption:
        result = run(target, Console(sys.stdout), interruption, registry)
        try:
            return report(result, args)
        except KeyboardInterrupt:  # Ctrl-C while the reports were written: they may be incomplete
            print("\ninterrupted while writing the reports", file=sys.stderr)
            return int(ExitCode.INTERRUPTED)


def report(result: Report, args: argparse.Namespace) -> int:
    """Print the failures, what could not run, the summary and the verdict; write the files asked for."""
    replays = reporting.save_artefacts(result, [args.json_path, args.junit_xml])
    for title, text in (
        ("Failures", reporting.failures_text(result, replays)),
        ("Could not run", reporting.errors_text(result)),
    ):
        if text:
            print(f"\n{title}\n{'-' * len(title)}\n{text}")
    if result.runs or result.checks:
        print("\n" + reporting.summary_table(result))
    if args.junit_xml:
        reporting.write_junit(result, args.junit_xml, replays)
    if args.json_path:
        reporting.write_json(result, args.json_path, replays)
    verdict = result.verdict
    print("\n" + final_lines(verdict))
    return int(verdict.code)


def configured_target(args: argparse.Namespace, registry: Registry | None = None) -> Target:
    """The target of ``args`` (flags win over the config file); a ValueError or OSError is a usage error.

    Suite names and options are checked against ``registry`` (default: the built-in suites), so a suite plugs in
    by being added to it alone.
    """
    registry = registry or builtin.suites()
    target = build_target(
        args.base_url,
        registry=registry,
        spec=args.spec,
        keys=args.key,
        suites=args.suite.split(",") if args.suite else None,
        seed=args.seed,
        max_examples=args.max_examples,
        shrink=False if args.no_shrink else None,
        config=args.config,
        setup_hook=args.setup_hook,
        **{setting.name: getattr(args, setting.name) for entry in registry.entries() for setting in entry.settings},
        admin_token=args.admin_token,
        auth_scheme=args.auth_scheme,
        token_url=args.token_url,
    )
    config = load_config(args.config) if args.config else {}
    target = scoped(target, args, config)
    options: dict[str, float] = {}
    for entry in registry.entries():
        for option in entry.options:
            given = getattr(args, option.name, None)
            given = given if given is not None else config.get(option.name)
            if given is not None:
                options[option.name] = option.parse(given)
    return configure(target, options)


def scoped(target: Target, args: argparse.Namespace, config: dict[str, object]) -> Target:
    """``target`` with its ``--budget`` and chosen operations; a ValueError is a usage error.

    Flags win over ``budget``, ``operations`` and ``changed_since`` in the config file.
    """
    limit = args.budget or config.get("budget")
    patterns = args.operations or config.get("operations") or []
    if isinstance(patterns, str):
        patterns = [patterns]
    if not isinstance(patterns, list):
        raise ValueError("operations in the config file must be a pattern or a list of patterns")
    since = args.changed_since or config.get("changed_since")
    processes = args.workers if args.workers is not None else config.get("workers", 1)
    if not isinstance(processes, int) or isinstance(processes, bool) or not 1 <= processes <= 64:
        raise ValueError(f"--workers must be a whole number from 1 to 64, not {processes!r}")
    choice = selection.choose(target.spec_path, [str(p) for p in patterns], str(since) if since else None)
    return replace(
        target,
        budget=Budget(budget.parse(str(limit))) if limit else None,
        operations=frozenset(choice.labels) if choice is not None else None,
        selection=choice.how if choice is not None else "",
        workers=processes,
    )


def final_lines(verdict: Verdict) -> str:
    """Every part that tested nothing, then one last line: the verdict, why, and what to do."""
    lines = [f"not tested: {problem.line()}" for problem in verdict.untested] if len(verdict.untested) > 1 else []
    lines.append(f"{verdict.label} (exit {int(verdict.code)}): {verdict.reason}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
