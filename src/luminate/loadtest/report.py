"""What a finished run leaves behind: the text report on stdout, the JSON summary, the ledger
of acknowledged batches, the chart, and the exit status."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from luminate.loadtest import summary
from luminate.loadtest.figures import Figures
from luminate.loadtest.thresholds import Verdict


def publish(
    result: dict[str, Any],
    figures: Figures,
    verdicts: list[Verdict],
    summary_path: str | None,
    ledger_path: str | None,
    chart_path: str | None,
) -> int:
    """Print and write everything; 1 when a threshold is breached or nothing succeeded."""
    if figures.interrupted_after_s is not None:
        result["run"]["interrupted_after_s"] = round(figures.interrupted_after_s, 1)
        result["run"]["duration_s"] = round(figures.duration_s, 1)
        print(
            f"luminate loadtest: stopped after {figures.interrupted_after_s:.0f} s; the figures "
            f"cover the {figures.duration_s:.0f} s measured until then",
            file=sys.stderr,
        )
    for line in summary.text(result):
        print(line)
    for v in verdicts:
        print(v.line())
    if summary_path:
        Path(summary_path).write_text(json.dumps(result, indent=1) + "\n")
    if ledger_path:
        with Path(ledger_path).open("w") as f:
            for ack in figures.acknowledged:
                row = {"tenant": ack.tenant, "timestamp": ack.timestamp_ms, "points": ack.points}
                f.write(json.dumps(row) + "\n")
    if chart_path:
        from luminate.loadtest import chart  # noqa: PLC0415  (matplotlib loads slowly)

        chart.draw(result, Path(chart_path))
    breached = [v for v in verdicts if not v.passed]
    if breached:
        names = ", ".join(v.threshold.text for v in breached)
        print(f"luminate loadtest: threshold breached: {names}", file=sys.stderr)
        return 1
    if not any(200 <= s < 300 for s in figures.measured["all"].statuses):
        print("luminate loadtest: no request succeeded during the measured time", file=sys.stderr)
        return 1
    return 0
