"""`cadenza bench engine`: the worker's figures beside the goals and the database's ceiling."""

from __future__ import annotations

import dataclasses

import typer
from rich.table import Table

from cadenza.cli.app import err, guarded, out, print_json
from cadenza.cli.bench import bench_app


def _backend(db: str) -> str:
    """The backend `--db` names (`postgres` is PostgreSQL too)."""
    if db not in ("sqlite", "postgres", "postgresql"):
        raise typer.BadParameter("sqlite or postgres", param_hint="--db")
    return "sqlite" if db == "sqlite" else "postgresql"


def _progress(message: str) -> None:
    err.print(f"… {message}", style="dim")


@bench_app.command("engine")
@guarded
def bench_engine(
    db: str = typer.Option("sqlite", help="sqlite or postgres."),
    contacts: int = typer.Option(100_000, min=1000, help="Contacts enrolled and advanced."),
    pending: int = typer.Option(1_000_000, min=0, help="Future enrollments for the tick test."),
    pg_url: str | None = typer.Option(None, help="PostgreSQL server URL (a database is made)."),
    scale_pending: str | None = typer.Option(
        None,
        help="Pending counts, comma-separated (10000,10000000 or 10k,10M): measure only the "
        "tick, the claim and worker memory at each, beside the smallest count's.",
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Enrollments/s, steps/s, lateness, tick and claim cost, worker memory."""
    from cadenza.benchmarks.engine import GOALS, run

    backend = _backend(db)
    if scale_pending is not None:
        _bench_scale(backend, _counts(scale_pending), pg_url, as_json)
        return
    figures = run(
        backend,
        contacts,
        pending,
        pg_url,
        report=_progress,
    )
    if as_json:
        print_json(dataclasses.asdict(figures))
        return
    table = Table(title=f"cadenza bench engine — {backend}, {contacts:,} contacts")
    for column in ("figure", "measured", "goal", "database ceiling"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    ceiling = f"{figures.ceiling_per_s:,.0f} steps/s"
    table.add_row(
        "enroll contacts", f"{figures.enroll_per_s:,.0f}/s", f"≥ {GOALS['enroll'][backend]:,}/s", ""
    )
    table.add_row(
        "advance no-op steps, one worker",
        f"{figures.steps_per_s:,.0f}/s",
        f"≥ {GOALS['steps']:,}/s",
        ceiling,
    )
    table.add_row(
        f"lateness p50 / p99 at {figures.lateness_rate:,.0f} steps/s (80%)",
        f"{figures.lateness_p50_s:.3f} s / {figures.lateness_p99_s:.3f} s",
        "p99 ≤ 1 s",
        "",
    )
    for label, value in figures.tick_ms.items():
        goal = "≤ 1 ms" if label.startswith("empty") else "≤ 5 ms"
        table.add_row(label, f"{value:.2f} ms", goal, "")
    for label, value in figures.memory_mib.items():
        table.add_row(f"peak memory, {label}", f"{value:.0f} MiB", "≤ 100 MiB", "")
    if figures.scaling_per_s:
        one, four = figures.scaling_per_s[1], figures.scaling_per_s[4]
        table.add_row("`cadenza worker` processes: 1 / 4", f"{one:,.0f}/s / {four:,.0f}/s", "", "")
        table.add_row("4 workers against 1", f"{four / one:.2f} times", "≥ 1.5 times", "")
        busy_one, busy_four = figures.scaling_busy[1], figures.scaling_busy[4]
        table.add_row(
            f"cores busy, 1 / 4 workers (of {figures.cores})",
            f"{busy_one:.2f} / {busy_four:.2f}",
            "",
            "",
        )
        # Four workers cannot use more cores than there are: at one worker's cost per step,
        # `cores / busy_one` is the most they can do against it on this machine.
        table.add_row(
            "most 4 workers can do here, at 1 worker's CPU per step",
            f"{figures.cores / busy_one:.2f} times",
            "",
            "",
        )
        doubled = figures.scaling_executed - figures.scaling_distinct
        lost = 2 * contacts - figures.scaling_distinct
        table.add_row(
            "steps run twice / never, 1 and 4 workers", f"{doubled} / {lost}", "0 / 0", ""
        )
    out.print(table)


_SUFFIXES = {"k": 1_000, "m": 1_000_000}


def _counts(value: str) -> list[int]:
    """`10000,10000000` or `10k,10M` as counts; a clear error for anything else."""
    counts = []
    for part in value.split(","):
        word = part.strip().lower().replace("_", "")
        factor = _SUFFIXES.get(word[-1:], 1)
        digits = word[:-1] if factor > 1 else word
        if not digits.isdigit() or int(digits) * factor > 100_000_000:
            raise typer.BadParameter(
                "counts from 0 to 100M separated by commas, such as 10000,10000000 or 10k,10M",
                param_hint="--scale-pending",
            )
        counts.append(int(digits) * factor)
    return counts


def _bench_scale(backend: str, counts: list[int], pg_url: str | None, as_json: bool) -> None:
    from cadenza.benchmarks.engine import GOALS
    from cadenza.benchmarks.scale import GOAL_RATIO, MEMORY_RATIO, run

    figures = run(backend, counts, pg_url, report=_progress)
    if as_json:
        rows = [{**dataclasses.asdict(r), "ratios": figures.ratios(r)} for r in figures.rows]
        print_json({"backend": figures.backend, "rows": rows})
        return
    smallest = f"{figures.rows[0].pending:,}"
    table = Table(
        title=f"cadenza bench engine --scale-pending — {backend}, against {smallest} pending",
        caption=(
            f"goal: empty tick ≤ {GOALS['empty_tick_ms']:g} ms and claim ≤ "
            f"{GOALS['claim_ms']:g} ms, each ≤ {GOAL_RATIO:g} times the smallest count's; worker "
            f"memory ≤ {GOALS['memory_mib']} MiB and flat (≤ {MEMORY_RATIO:g} times)"
        ),
    )
    for column in ("pending", "built in", "empty tick", "claim 100 due", "worker peak RSS", ""):
        table.add_column(column, justify="right" if column else "left")
    for row in figures.rows:
        ratio = figures.ratios(row)
        within = (
            ratio["empty_tick"] <= GOAL_RATIO
            and ratio["claim"] <= GOAL_RATIO
            and ratio["memory"] <= MEMORY_RATIO
            and row.memory_mib <= GOALS["memory_mib"]
        )
        table.add_row(
            f"{row.pending:,}",
            f"{row.build_s:,.0f} s",
            f"{row.empty_tick_ms:.2f} ms ({ratio['empty_tick']:.2f} times)",
            f"{row.claim_ms:.2f} ms ({ratio['claim']:.2f} times)",
            f"{row.memory_mib:.0f} MiB ({ratio['memory']:.2f} times)",
            "[green]ok[/green]" if within else "[red]over goal[/red]",
        )
    out.print(table)


@bench_app.command("email")
@guarded
def bench_email(
    db: str = typer.Option("sqlite", help="sqlite or postgres."),
    emails: int = typer.Option(2000, min=100, help="Email steps to run end to end."),
    concurrency: int = typer.Option(8, min=1, help="SMTP connections of the dispatcher."),
    rate: int = typer.Option(50, min=1, help="The paced sender's rate per second."),
    pg_url: str | None = typer.Option(None, help="PostgreSQL server URL (a database is made)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Email steps/s end to end (render + MIME + SMTP) beside the raw SMTP ceiling; pacing."""
    from cadenza.benchmarks.email import GOAL_PER_SECOND, PACING_TOLERANCE, run

    backend = _backend(db)
    figures = run(backend, emails, concurrency, rate, pg_url)
    if as_json:
        print_json(
            {
                **dataclasses.asdict(figures),
                "per_second": figures.per_second,
                "pacing_error": figures.pacing_error,
            }
        )
        return
    table = Table(title=f"cadenza bench email — {backend}, {emails:,} emails")
    for column in ("figure", "measured", "goal", "SMTP ceiling"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    table.add_row(
        "email steps end to end (render + MIME + SMTP)",
        f"{figures.per_second:,.0f}/s",
        f"≥ {GOAL_PER_SECOND}/s",
        f"{figures.ceiling_per_s:,.0f}/s",
    )
    table.add_row("  of which deciding and rendering", f"{figures.render_s:.2f} s", "", "")
    table.add_row("  of which MIME and SMTP", f"{figures.send_s:.2f} s", "", "")
    table.add_row(
        f"sender paced at {figures.pacing_rate:.0f}/s",
        f"{figures.pacing_measured:.1f}/s ({figures.pacing_error:+.1%})",
        f"±{PACING_TOLERANCE:.0%}",
        "",
    )
    out.print(table)


@bench_app.command("steps")
@guarded
def bench_steps(
    db: str = typer.Option("sqlite", help="sqlite or postgres."),
    contacts: int = typer.Option(5000, min=500, help="Contacts enrolled per kind of step."),
    opens: int = typer.Option(100_000, min=1000, help="Opens in the burst of events."),
    replies: int = typer.Option(10_000, min=500, help="Replies in the burst (one per contact)."),
    pg_url: str | None = typer.Option(None, help="PostgreSQL server URL (a database is made)."),
    rounds: int = typer.Option(
        1, min=1, max=10, help="Run every kind this many times; each kind's best counts."
    ),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Steps/s per kind of action and of a realistic mix beside no-op steps; events in/s."""
    from cadenza.benchmarks.steps import GOALS, run

    backend = _backend(db)
    figures = run(
        backend,
        contacts,
        opens,
        replies,
        pg_url,
        report=_progress,
        rounds=rounds,
    )
    if as_json:
        print_json({**dataclasses.asdict(figures), "noop_per_s": figures.noop_per_s})
        return
    noop = figures.noop_per_s or 1.0
    table = Table(title=f"cadenza bench steps — {backend}, {contacts:,} contacts per kind")
    for column in ("figure", "measured", "of no-op", "goal"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    for kind, rate in figures.steps_per_s.items():
        goal = "" if kind.startswith("no-op") else f"≥ {GOALS['ratio']} of no-op"
        table.add_row(f"{kind}, one worker", f"{rate:,.0f} steps/s", f"{rate / noop:.2f}", goal)
        if kind == "webhook":
            table.add_row(
                f"  then delivered to a loopback receiver ({figures.webhooks_delivered:,}"
                f" received of {figures.webhooks_queued:,} queued)",
                f"{figures.deliveries_per_s:,.0f}/s",
                "",
                "",
            )
    table.add_row(
        "realistic mix, one worker",
        f"{figures.mix_per_s:,.0f} steps/s",
        f"{figures.mix_per_s / noop:.2f}",
        f"≥ {GOALS['mix']:,}/s",
    )
    table.add_row("database ceiling", f"{figures.ceiling_per_s:,.0f} steps/s", "", "")
    table.add_row(
        f"opens recorded and applied ({figures.opens:,})",
        f"{figures.opens_per_s:,.0f}/s",
        "",
        f"≥ {GOALS['opens']:,}/s",
    )
    table.add_row(
        f"replies applied ({figures.replies:,}, {figures.replies_exited:,} exits)",
        f"{figures.replies_per_s:,.0f}/s",
        "",
        f"≥ {GOALS['replies']:,}/s",
    )
    out.print(table)


@bench_app.command("reports")
@guarded
def bench_reports(
    db: str = typer.Option("sqlite", help="sqlite or postgres."),
    scale: float = typer.Option(
        1.0,
        min=0.001,
        max=10,
        help="1.0: 1M enrollments and 10M history rows; 0.1 for a quick run.",
    ),
    pg_url: str | None = typer.Option(None, help="PostgreSQL server URL (a database is made)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """A sequence report and a 10-sequence comparison; what counting adds to recording events."""
    from cadenza.benchmarks.reports import GOAL_MS, GOAL_OVERHEAD, run

    backend = _backend(db)
    figures = run(backend, scale, pg_url, _progress)
    if as_json:
        print_json({**dataclasses.asdict(figures), "overhead": figures.overhead})
        return
    title = (
        f"cadenza bench reports — {backend}, {figures.enrollments:,} enrollments, "
        f"{figures.history_rows:,} history rows, {figures.counter_rows:,} counter rows "
        f"(built in {figures.build_s:,.0f} s)"
    )
    table = Table(title=title)
    for column in ("figure", "measured", "goal"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    table.add_row(
        "sequence report (half the enrollments)",
        f"{figures.report_ms:.1f} ms",
        f"≤ {GOAL_MS:.0f} ms",
    )
    table.add_row("10-sequence comparison", f"{figures.compare_ms:.1f} ms", f"≤ {GOAL_MS:.0f} ms")
    # Recording counts nothing now (the reports count history afterwards): its overhead
    # from the reports is none by construction; what counting costs is shown beside it.
    table.add_row(
        "record an event (its transaction counts nothing)",
        f"{figures.record_before_us:.0f} µs",
        f"reports add ≤ {GOAL_OVERHEAD:+.0%}: +0%",
    )
    table.add_row(
        "then count it, as the worker does (windows)",
        f"{figures.record_after_us - figures.record_before_us:.0f} µs "
        f"({figures.overhead:+.1%} of recording)",
        "",
    )
    out.print(table)


@bench_app.command("ui")
@guarded
def bench_ui(
    db: str = typer.Option("sqlite", help="sqlite or postgres."),
    contacts: int = typer.Option(100_000, min=100, help="Contacts in the measured database."),
    tasks: int = typer.Option(50_000, min=10, help="Open tasks."),
    history: int = typer.Option(1_000_000, min=100, help="History rows."),
    repeat: int = typer.Option(9, min=1, max=1000, help="Timed requests per page."),
    rebuild: bool = typer.Option(False, help="Build the database again instead of reusing it."),
    pg_url: str | None = typer.Option(None, help="PostgreSQL server URL (a database is kept)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Time every UI page and API listing on 100k contacts, 50k open tasks, 1M history rows."""
    from cadenza.benchmarks import ui, ui_data
    from cadenza.benchmarks.databases import DEFAULT_PG_URL
    from cadenza.cli.app import context

    backend = _backend(db)
    scale = ui_data.Scale(contacts, tasks, history)
    if backend == "sqlite":
        url = ui_data.sqlite_url(scale)
    else:
        url = ui_data.postgres_url(scale, pg_url or DEFAULT_PG_URL)
    now = context().clock.now()
    figures = ui.run(url, scale, now, repeat, rebuild, _progress)
    if as_json:
        print_json([ui.summary(figure) for figure in figures])
        return
    title = f"cadenza bench ui — {backend}: {contacts:,} contacts, {tasks:,} open tasks, "
    table = Table(title=title + f"{history:,} history rows")
    for column in ("page", "median", "p95", "HTML/JSON", "goal", "verdict"):
        table.add_column(column, justify="left" if column == "page" else "right")
    verdict = {True: "[green]ok[/green]", False: "[red]over goal[/red]", None: ""}
    for figure in figures:
        if figure.median_ms is None or figure.p95_ms is None or figure.bytes is None:
            table.add_row(figure.label, "", "", "", "", figure.note)
            continue
        table.add_row(
            f"{figure.label}\n[dim]{figure.url}[/dim]",
            f"{figure.median_ms:,.1f} ms",
            f"{figure.p95_ms:,.1f} ms",
            f"{figure.bytes / 1000:,.1f} KB",
            f"≤ {figure.goal_ms:.0f} ms, ≤ {ui.PAGE_BYTES // 1000} KB",
            verdict[figure.meets_goal] + (f" {figure.note}" if figure.note else ""),
        )
    out.print(table)


@bench_app.command("audiences")
@guarded
def bench_audiences(
    db: str = typer.Option("sqlite", help="sqlite or postgres."),
    contacts: int = typer.Option(1_000_000, min=1000, help="Contacts in the database."),
    matches: int = typer.Option(1000, min=1, help="New matches per round."),
    rounds: int = typer.Option(3, min=1, max=20, help="Rounds of changes, each timed."),
    pg_url: str | None = typer.Option(None, help="PostgreSQL server URL (a database is made)."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Re-evaluate a view-based audience over many contacts: new matches, and no change."""
    from cadenza.benchmarks.audiences import GOAL_CHANGED_MS, GOAL_UNCHANGED_MS, run

    backend = _backend(db)
    if contacts < 2 * matches * rounds * 100 // 99 + 1:
        raise typer.BadParameter("too few contacts for that many matches and rounds")
    figures = run(backend, contacts, matches, rounds, pg_url, _progress)
    if as_json:
        print_json(
            {
                **dataclasses.asdict(figures),
                "changed_best_ms": figures.changed_best_ms,
                "unchanged_best_ms": figures.unchanged_best_ms,
            }
        )
        return
    title = (
        f"cadenza bench audiences — {backend}, {figures.contacts:,} contacts "
        f"(built in {figures.build_s:,.0f} s)"
    )
    table = Table(title=title)
    for column in ("figure", "measured (best, all rounds)", "goal"):
        table.add_column(column, justify="left" if column == "figure" else "right")
    rounds_text = ", ".join(f"{ms:,.0f}" for ms in figures.changed_ms)
    table.add_row(
        f"evaluation with {figures.matches:,} new matches (enrolled {figures.enrolled})",
        f"{figures.changed_best_ms:,.1f} ms ({rounds_text})",
        f"≤ {GOAL_CHANGED_MS:,.0f} ms",
    )
    rounds_text = ", ".join(f"{ms:,.1f}" for ms in figures.unchanged_ms)
    table.add_row(
        "evaluation with no change",
        f"{figures.unchanged_best_ms:,.1f} ms ({rounds_text})",
        f"≤ {GOAL_UNCHANGED_MS:,.0f} ms",
    )
    table.add_row(
        f"reference: first (full) evaluation, enrolled {figures.first_enrolled:,}",
        f"{figures.first_ms:,.0f} ms",
        "",
    )
    table.add_row("reference: count(*) over the contacts", f"{figures.count_ms:,.1f} ms", "")
    out.print(table)
