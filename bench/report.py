"""The bench's output: every figure in a table (measure, value, floor, ratio) and, at the end, the goals of
issue 16 each with its floor, ratio and verdict; everything also lands in ``results.json``."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) >= 0.001 or value == 0 else f"{value:.2e}"
    return str(value)


@dataclass
class Goal:
    name: str
    value: float
    floor: str  # what the figure is compared with, as text
    ratio: float | None
    goal: str
    met: bool | None  # None: no target (information)
    why: str = ""


@dataclass
class Report:
    rows: list[tuple[str, str, str, str, str]] = field(
        default_factory=list
    )  # section, name, value, floor, ratio
    results: dict[str, Any] = field(default_factory=dict)
    goals: list[Goal] = field(default_factory=list)

    def record(
        self, section: str, name: str, value: Any, floor: Any = "", ratio: Any = "", unit: str = ""
    ) -> None:
        self.results.setdefault(section, {})[name] = {
            "value": value,
            "floor": floor,
            "ratio": ratio,
            "unit": unit,
        }
        self.rows.append((section, name, f"{fmt(value)} {unit}".strip(), fmt(floor), fmt(ratio)))

    def record_several(
        self,
        section: str,
        name: str,
        figures: dict[str, Any],
        keys: list[str],
        unit: str = "",
        digits: int | None = None,
    ) -> None:
        """Several figures on one line, as ``name`` lists them ("a / b / c"): ``figures[key]`` for
        each of ``keys``, with ``digits`` decimals when given."""
        values = (figures[k] if digits is None else f"{figures[k]:.{digits}f}" for k in keys)
        self.record(section, name, " / ".join(str(v) for v in values), unit=unit)

    def detail(self, section: str, name: str, value: Any) -> None:
        """A figure kept in results.json only (lists, per-round values)."""
        self.results.setdefault(section, {})[name] = value

    def goal(
        self,
        name: str,
        value: float,
        floor: str,
        ratio: float | None,
        goal: str,
        met: bool | None,
        why: str = "",
    ) -> None:
        self.goals.append(Goal(name, value, floor, ratio, goal, met, why))

    def print(self, header: str) -> None:
        print(header)
        width = max(len(r[1]) for r in self.rows) + 2
        vw = min(60, max(len(r[2]) for r in self.rows))
        print(f"{'measure'.ljust(width)}  {'value'.ljust(vw)}  {'floor/baseline':>16}  ratio")
        section = None
        for where, name, value, floor, ratio in self.rows:
            if where != section:
                section = where
                print(f"\n{where}")
            print(f"  {name.ljust(width - 2)}  {value.ljust(vw)}  {floor:>16}  {ratio}")
        print("\nGoals (issues 16 and 17):")
        gw = max(len(g.name) for g in self.goals) if self.goals else 10
        fw = max((len(g.floor) for g in self.goals), default=10)
        print(
            f"{'goal'.ljust(gw)}  {'value':>10}  {'floor'.ljust(fw)}  {'ratio':>7}  {'target':<28}  verdict"
        )
        for g in self.goals:
            verdict = "met" if g.met else "n/a" if g.met is None else "MISSED"
            ratio = fmt(g.ratio) if g.ratio is not None else ""
            print(
                f"{g.name.ljust(gw)}  {fmt(g.value):>10}  {g.floor.ljust(fw)}  {ratio:>7}  {g.goal:<28}  {verdict}"
                + (f" ({g.why})" if g.why else "")
            )
        missed = [g.name for g in self.goals if g.met is False]
        print(
            f"\n{len(self.goals) - len(missed)} of {len(self.goals)} goals met or informational; missed: {missed or 'none'}"
        )

    def write(self, path: Path, header: str) -> None:
        self.results["configuration"] = header
        self.results["goals"] = [g.__dict__ for g in self.goals]
        path.write_text(json.dumps(self.results, indent=1, ensure_ascii=False))
