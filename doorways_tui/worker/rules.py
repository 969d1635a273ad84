"""Stop rules: when the queue gives up on a run, a variant or a variant's remaining seeds,
so the GPU goes to the promising ones. Pure: no store, no engine, no clock.

Three rules, each off by default, set for the whole queue or per theme (``doorways rules``):

- a plateau: a run whose prompt loss has not improved by ``min_improvement`` (a fraction)
  over ``over_steps`` steps is cancelled (``LossWatch`` decides, fed the loss reports);
- a step cap: a variant whose jobs together have run ``max_variant_steps`` steps gets no
  more (its running jobs stop, its queued ones are held);
- rejects: after ``hold_after_rejects`` rejected seeds of a variant, its queued seeds are held.

Each rule's flag, help and range are said once, in ``RULES``; the command line and the
checks derive from it. What a rule does to the library is ``doorways_tui.worker.stopping``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from doorways_engine.options import Bounds


@dataclass(frozen=True)
class Rule:
    """How one stop-rule setting meets people: its flag, its help, its range. The value 0
    always means off (a theme's 0 turns off a rule the whole queue has)."""

    name: str  # the field of ``StopRules`` and the key in the library
    rule: str  # the rule it belongs to (plateau | step-cap | rejects): what ``off`` names
    flag: str
    help: str
    bounds: Bounds
    integer: bool = True
    metavar: str = "N"

    def check(self, value: float) -> float | int:
        """The value as stored, or a ``ValueError`` saying the range (one line)."""
        if self.integer and value != int(value):
            raise ValueError(f"{self.flag} takes a whole number, not {value:g}")
        if value != 0 and value not in self.bounds:
            raise ValueError(
                f"{self.flag} must be {self.bounds.describe()} (or 0: off), not {value:g}"
            )
        return int(value) if self.integer else float(value)


RULES: tuple[Rule, ...] = (
    Rule(
        "min_improvement",
        "plateau",
        "--min-improvement",
        "cancel a run whose prompt loss improved by less than this fraction"
        " (0.01: one percent) over --over-steps steps",
        Bounds(0.0, 1.0, lo_open=True),
        integer=False,
        metavar="FRACTION",
    ),
    Rule(
        "over_steps",
        "plateau",
        "--over-steps",
        "the window of the plateau rule, in steps",
        Bounds(1, 100_000),
    ),
    Rule(
        "max_variant_steps",
        "step-cap",
        "--max-variant-steps",
        "stop a variant's runs once its jobs together ran this many steps; its queued"
        " seeds are held",
        Bounds(1, 100_000_000),
    ),
    Rule(
        "hold_after_rejects",
        "rejects",
        "--hold-after-rejects",
        "after this many rejected seeds of a variant, hold the rest of its queued seeds",
        Bounds(1, 10_000),
    ),
)
RULE_BY_NAME = {rule.name: rule for rule in RULES}
RULE_NAMES = tuple(dict.fromkeys(rule.rule for rule in RULES))  # plateau, step-cap, rejects


@dataclass(frozen=True)
class StopRules:
    """The rules in force for one theme (0: off)."""

    min_improvement: float = 0.0
    over_steps: int = 0
    max_variant_steps: int = 0
    hold_after_rejects: int = 0

    @classmethod
    def from_values(cls, values: Mapping[str, float]) -> StopRules:
        """From the library's name -> value. Unknown names (a newer Doorways) are ignored,
        and so is a value out of range (written by hand): that rule is off."""
        checked = {}
        for rule in RULES:
            if rule.name in values:
                try:
                    checked[rule.name] = rule.check(values[rule.name])
                except (TypeError, ValueError):
                    continue
        return cls(**checked)

    @property
    def plateau(self) -> bool:
        """The plateau rule needs both its fraction and its window."""
        return self.min_improvement > 0 and self.over_steps > 0

    def any(self) -> bool:
        return self.plateau or self.max_variant_steps > 0 or self.hold_after_rejects > 0

    def describe(self) -> list[str]:
        """One line per rule in force, in the artist's words."""
        lines = []
        if self.plateau:
            lines.append(
                f"plateau: cancel a run whose prompt loss improves less than"
                f" {self.min_improvement:.3g} ({self.min_improvement * 100:.3g}%)"
                f" over {self.over_steps} steps"
            )
        if self.max_variant_steps:
            lines.append(f"step cap: at most {self.max_variant_steps} steps per variant")
        if self.hold_after_rejects:
            lines.append(
                f"rejects: hold a variant's queued seeds after {self.hold_after_rejects} rejected"
            )
        return lines


# -- the plateau rule -------------------------------------------------------------------


@dataclass(frozen=True)
class Plateau:
    """Why the plateau rule fired: the best loss ``steps`` ago and now."""

    before: float
    now: float
    steps: int
    improvement: float  # (before - now) / before

    def reason(self, rules: StopRules) -> str:
        return (
            f"prompt loss improved {self.improvement * 100:.2f}% over {self.steps} steps"
            f" ({self.before:.4g} -> {self.now:.4g}; the rule asks {rules.min_improvement * 100:.3g}%)"
        )


class LossWatch:
    """Fed one run's (step, loss) reports in order, says when the plateau rule fires.

    It compares the best loss seen up to ``over_steps`` steps ago with the best seen up to
    now: best-so-far is steady under noise (a noisy run that keeps improving keeps making
    new bests; one that only jitters on a plateau seldom does), and it needs a whole window
    of reports first, so a run (or a run resumed from its checkpoint) is never judged on
    too few steps."""

    def __init__(self) -> None:
        self._bests: list[tuple[int, float]] = []  # (step, best loss up to it), in step order

    def report(self, step: int, loss: float, rules: StopRules) -> Plateau | None:
        if self._bests and step <= self._bests[-1][0]:
            return None  # a repeated or out-of-order report says nothing new
        best = loss if not self._bests else min(loss, self._bests[-1][1])
        self._bests.append((step, best))
        if not rules.plateau:
            return None
        cutoff = step - rules.over_steps
        # keep the last report at or before the cutoff: the window only moves forward
        while len(self._bests) > 1 and self._bests[1][0] <= cutoff:
            self._bests.pop(0)
        start, then = self._bests[0]
        if start > cutoff:
            return None  # not a whole window of reports yet
        improvement = (then - best) / abs(then) if then else (0.0 if best >= then else 1.0)
        if improvement >= rules.min_improvement:
            return None
        return Plateau(then, best, step - start, improvement)
