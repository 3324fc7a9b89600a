"""``leadscore forecast``: the expected SQLs and won deals per coming week and month from the
leads open at ``as_of``, by the champions' hazard models (``training.timing.forecast``), with
the table, the figure and an MLflow run. Where the history goes on past ``as_of`` (a
backtest), what happened is shown beside the forecast."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from core.contract import TRANSITIONS
from core.errors import InputError, NoChampionError
from features.decision_points import data_end_of
from features.history import LeadHistory
from training import tracking
from training.bundle import ScoringBundle
from training.timing.figures import forecast_figure
from training.timing.fit import decision_features
from training.timing.forecast import actual_counts, coming_periods, expected_counts, open_at

TARGET = {"mql_to_sql": "SQLs", "sql_to_won": "won deals"}


@dataclass
class ForecastResult:
    """Attributes:
    as_of: the forecast's moment; tables: per transition, one row per period (expected, low,
        high, and actual when the history shows it); open_leads: per transition, the leads
        counted (open, of them closed as lost, and older than the modelled weeks);
    figure: expected conversions per week; run_id: the MLflow run.
    not_forecast: per transition without a champion, why and how many leads were open for it
        (``{"reason": ..., "open": n}``): nothing is forecast for it.
    """

    as_of: pd.Timestamp
    tables: dict[str, pd.DataFrame]
    open_leads: dict[str, dict[str, int]]
    figure: Figure | None = None
    run_id: str = ""
    versions: dict[str, str] = field(default_factory=dict)
    not_forecast: dict[str, dict] = field(default_factory=dict)


def champion_timing(transition: str) -> tuple[ScoringBundle, str]:
    """The champion bundle of ``transition`` and its version; ``NoChampionError`` when there is
    none, InputError when it has no timing model (trained before it existed)."""
    found = tracking.load_bundle_version(transition, tracking.CHAMPION)
    name = tracking.registered_name(transition)
    if found is None:
        raise NoChampionError(f"no champion {name} to forecast with; train first: leadscore train")
    bundle, version = found
    if bundle.timing is None:
        raise InputError(
            f"champion {name} version {version} has no timing model (trained before it "
            "existed); train again: leadscore train"
        )
    return bundle, version


def run_forecast(
    history: LeadHistory,
    as_of: pd.Timestamp,
    *,
    progress: Callable[[str], None] | None = None,
) -> ForecastResult:
    """Forecast from the leads open at ``as_of`` with the champions; ``as_of`` must lie within
    the history (after its first and no later than its last event). A transition without a
    champion (a history without won deals trains MQL -> SQL only) is not forecast: said on
    ``progress`` with its open leads counted, and kept in ``not_forecast``; none with one is
    the first transition's ``NoChampionError``."""
    say = progress or (lambda _: None)
    as_of = pd.Timestamp(as_of)
    if as_of.tzinfo is not None:
        as_of = as_of.tz_convert("UTC").tz_localize(None)
    first = history.leads["created_at"].min()
    end = data_end_of(history)
    if not first < as_of <= end:
        raise InputError(
            f"--as-of {as_of:%Y-%m-%d %H:%M}: outside the data, which runs from "
            f"{first:%Y-%m-%d} to {end:%Y-%m-%d %H:%M}"
        )
    bundles, not_forecast, first = {}, {}, None
    for transition in TRANSITIONS:
        try:
            bundles[transition] = champion_timing(transition)
        except NoChampionError as error:
            first = first or error
            open_leads = len(open_at(history, transition, as_of))
            not_forecast[transition] = {"reason": str(error), "open": open_leads}
    if not bundles and first is not None:
        raise first  # nothing to forecast: the one error line
    for transition, why in not_forecast.items():
        say(
            f"[{transition}] not forecast: {why['reason']}; its {why['open']:,} open leads at "
            f"{as_of:%Y-%m-%d} are not counted"
        )
    tables, counted = {}, {}
    for transition, (bundle, _) in bundles.items():
        timing = bundle.timing
        assert timing is not None  # champion_timing checked
        every = open_at(history, transition, as_of)
        stale = every["age_days"] >= 7 * timing.weeks_  # past the modelled weeks: add nothing
        leads = every[~stale].reset_index(drop=True)
        say(f"[{transition}] {len(leads):,} open leads at {as_of:%Y-%m-%d}: features ...")
        features = decision_features(leads, history, bundle.rules)
        hazards = timing.hazards(timing.encode(features))
        longest = max(timing.horizons_days)
        periods = coming_periods(
            as_of, weeks=timing.weeks_, months=math.ceil(longest / 30) + (as_of.day > 1)
        )
        table = expected_counts(hazards, leads["age_days"].to_numpy(), periods)
        if end >= as_of + pd.Timedelta(days=max(p.end_days for p in periods)):
            table["actual"] = actual_counts(history, transition, leads, as_of, periods)
        tables[transition] = table
        counted[transition] = {
            "open": len(leads),
            "closed_lost": int(leads["is_lost"].sum()),
            "older_than_modelled": int(stale.sum()),
        }
    return ForecastResult(
        as_of=as_of,
        tables=tables,
        open_leads=counted,
        figure=forecast_figure(tables, as_of),
        versions={t: version for t, (_, version) in bundles.items()},
        not_forecast=not_forecast,
    )


def log_forecast(result: ForecastResult, files: list[Path]) -> str:
    """The forecast as an MLflow run (expected counts as metrics, the figure and files)."""
    metrics = {}
    for transition, table in result.tables.items():
        for row in table.itertuples():
            key = f"{transition}.{row.kind}_{int(row.start_days)}_{int(row.end_days)}d"
            metrics[f"{key}.expected"] = float(row.expected)
            if "actual" in table:
                metrics[f"{key}.actual"] = float(row.actual)
    params = {
        "as_of": str(result.as_of),
        **{f"{t}.version": v for t, v in result.versions.items()},
        **{f"{t}.{k}": v for t, c in result.open_leads.items() for k, v in c.items()},
        **{f"{t}.not_forecast": why["reason"] for t, why in result.not_forecast.items()},
    }
    figures = {"forecast": result.figure} if result.figure is not None else {}
    return tracking.log_benchmark_run(
        run_name=f"forecast-{result.as_of:%Y-%m-%d}",
        params=params,
        metrics=metrics,
        figures=figures,
        files=files,
        job="forecast",
    )


def forecast_text(result: ForecastResult) -> str:
    """The tables as the command line prints them."""
    lines = [f"forecast from the leads open at {result.as_of:%Y-%m-%d %H:%M}"]
    for transition, table in result.tables.items():
        c = result.open_leads[transition]
        lines.append(
            f"\n{transition}: expected {TARGET[transition]} from {c['open']:,} leads not yet "
            f"converted ({c['closed_lost']:,} of them closed as lost; {c['older_than_modelled']:,}"
            " more are older than the modelled weeks and add nothing); 90% interval"
        )
        has_actual = "actual" in table
        lines.append(
            f"  {'period':<22}{'expected':>10}{'low':>9}{'high':>9}"
            + (f"{'actual':>9}{'error':>9}" if has_actual else "")
        )
        for row in table.itertuples():
            line = f"  {row.period:<22}{row.expected:>10.1f}{row.low:>9.1f}{row.high:>9.1f}"
            if has_actual:
                error = (
                    f"{(row.expected - row.actual) / row.actual:>+9.1%}"
                    if row.actual
                    else f"{'-':>9}"
                )
                line += f"{int(row.actual):>9d}{error}"
            lines.append(line)
    for transition, why in result.not_forecast.items():
        lines.append(
            f"\n{transition}: not forecast ({why['reason']}); {why['open']:,} leads open for it "
            "are not counted"
        )
    return "\n".join(lines)
