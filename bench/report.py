"""The bench's table: one row per figure, each with its baseline, ratio, goal and verdict."""

from dataclasses import dataclass


@dataclass
class Row:
    area: str
    what: str
    value: str
    baseline: str
    ratio: str
    goal: str
    met: bool | None

    def cells(self) -> list[str]:
        verdict = "" if self.met is None else ("met" if self.met else "MISSED")
        return [self.area, self.what, self.value, self.baseline, self.ratio, self.goal, verdict]


HEADERS = ["area", "what", "measured", "baseline", "ratio", "goal", ""]


def table(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(row.cells()) + " |" for row in rows]
    return "\n".join(lines)
