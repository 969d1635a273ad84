"""``doorways rules``: the stop rules (off unless set) and the claim order.

    doorways rules [show] [--theme NAME]
    doorways rules set [--theme NAME] [--min-improvement F --over-steps N]
                       [--max-variant-steps N] [--hold-after-rejects N] [--early-previews on|off]
    doorways rules off [plateau|step-cap|rejects ...] [--theme NAME]
    doorways rules reset --theme NAME       (the theme follows the whole queue's rules again)
    doorways rules release [JOB ...]        (held seeds back in the queue; all without JOB)

The rules' flags, help and ranges come from ``doorways_tui.worker.rules.RULES``.
"""

from __future__ import annotations

import argparse

from doorways_engine.errors import DoorwaysError
from doorways_tui.cli.common import open_library
from doorways_tui.core.text import printable
from doorways_tui.core.triage import plural
from doorways_tui.store import Library, StoreError
from doorways_tui.store.rules import WHOLE_QUEUE
from doorways_tui.worker.rules import RULE_BY_NAME, RULE_NAMES, RULES, Rule, StopRules


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rules",
        help="stop rules: give up on runs and variants that go nowhere (off unless set)",
        description="Stop rules spend the GPU on the promising runs: a run whose prompt loss"
        " has stopped improving is cancelled, a variant gets at most so many steps, and a"
        " variant with enough rejected seeds has the rest of its seeds held. Each rule is"
        " off unless set, for the whole queue or per theme (a theme's own value wins; 0"
        " turns a rule off there). Each action is an event, and undo (u in the app) takes"
        " it back: a stopped run resumes from its checkpoint, held seeds are released.",
    )
    p.set_defaults(handler=run_show, theme=None)
    actions = p.add_subparsers(dest="action", metavar="ACTION")

    show = actions.add_parser("show", help="the rules in force, per theme, and the held seeds")
    show.add_argument("--theme", metavar="NAME", help="only this theme's rules in force")
    show.set_defaults(handler=run_show)

    set_ = actions.add_parser("set", help="set rules for the whole queue or one theme")
    set_.add_argument("--theme", metavar="NAME", help="set them for this theme only")
    for rule in RULES:
        set_.add_argument(
            rule.flag,
            dest=rule.name,
            metavar=rule.metavar,
            type=_value(rule),
            help=f"{rule.help} ({rule.bounds.describe()}; 0: off)",
        )
    set_.add_argument(
        "--early-previews",
        choices=("on", "off"),
        help="claim order: every queued variant gets its first run before any gets a"
        " second (the whole library; off: oldest first)",
    )
    set_.set_defaults(handler=run_set)

    off = actions.add_parser("off", help="turn rules off (all, or those named)")
    off.add_argument("rules", nargs="*", metavar="RULE", help=f"{', '.join(RULE_NAMES)}")
    off.add_argument("--theme", metavar="NAME", help="off for this theme only")
    off.set_defaults(handler=run_off)

    reset = actions.add_parser("reset", help="a theme follows the whole queue's rules again")
    reset.add_argument("--theme", metavar="NAME", required=True)
    reset.set_defaults(handler=run_reset)

    release = actions.add_parser("release", help="put held seeds back in the queue")
    release.add_argument("jobs", nargs="*", type=int, metavar="JOB", help="job ids (default: all)")
    release.set_defaults(handler=run_release)


def _value(rule: Rule):
    def parse(text: str) -> float | int:
        try:
            return rule.check(float(text))
        except ValueError as exc:
            if "must be" in str(exc) or "whole number" in str(exc):
                raise argparse.ArgumentTypeError(str(exc)) from None
            raise argparse.ArgumentTypeError(f"{rule.flag} takes a number, not {text!r}") from None

    return parse


def _scope(lib: Library, name: str | None) -> int:
    if name is None:
        return WHOLE_QUEUE
    theme = lib.tree.theme_by_name(name)
    if theme is None:
        raise StoreError(f"no theme {name!r} (see `doorways theme list`)")
    return theme.id


def _scope_name(lib: Library, theme_id: int) -> str:
    return (
        "the whole queue" if theme_id == WHOLE_QUEUE else f"theme {lib.tree.theme(theme_id).name!r}"
    )


def _lines(rules: StopRules) -> list[str]:
    return rules.describe() or ["none (every rule off)"]


def run_show(args: argparse.Namespace) -> int:
    with open_library(args, readonly=True) as lib:
        out: list[str] = []
        if args.theme is not None:
            theme_id = _scope(lib, args.theme)
            values = {**lib.rules.values(WHOLE_QUEUE), **lib.rules.values(theme_id)}
            out.append(f"stop rules in force for {_scope_name(lib, theme_id)}:")
            out += [f"  {line}" for line in _lines(StopRules.from_values(values))]
        else:
            scopes = lib.rules.scopes()
            out.append("stop rules for the whole queue:")
            out += [f"  {line}" for line in _lines(StopRules.from_values(scopes.get(0, {})))]
            for theme_id, values in scopes.items():
                if theme_id == WHOLE_QUEUE:
                    continue
                own = ", ".join(
                    f"{RULE_BY_NAME[n].flag} {v:g}" for n, v in values.items() if n in RULE_BY_NAME
                )
                merged = {**scopes.get(0, {}), **values}
                out.append(f"{_scope_name(lib, theme_id)} (its own: {own}):")
                out += [f"  {line}" for line in _lines(StopRules.from_values(merged))]
        out.append(f"early previews first: {'on' if lib.rules.early_previews() else 'off'}")
        held = lib.rules.held_jobs()
        if held:
            out.append(f"held: {plural(len(held), 'queued seed')} (doorways rules release)")
            by_variant: dict[int, list[dict]] = {}
            for row in held:
                by_variant.setdefault(row["variant_id"], []).append(row)
            for variant_id, rows in by_variant.items():
                seeds = ", ".join(str(r["seed"]) for r in rows)
                out.append(f"  variant {variant_id}, seeds {seeds}: {rows[0]['held']}")
    print(printable("\n".join(out), newlines=True))
    return 0


def run_set(args: argparse.Namespace) -> int:
    values = {r.name: getattr(args, r.name) for r in RULES if getattr(args, r.name) is not None}
    if not values and args.early_previews is None:
        raise DoorwaysError(
            "nothing to set: give a rule ("
            + ", ".join(r.flag for r in RULES)
            + ") or --early-previews"
        )
    if args.early_previews is not None and args.theme is not None:
        raise DoorwaysError("--early-previews is the whole library's claim order: not per theme")
    with open_library(args) as lib:
        theme_id = _scope(lib, args.theme)
        if values:
            lib.rules.set_values(values, theme_id=theme_id)
        if args.early_previews is not None:
            lib.rules.set_early_previews(args.early_previews == "on")
        merged = {**lib.rules.values(WHOLE_QUEUE), **lib.rules.values(theme_id)}
        rules = StopRules.from_values(merged)
        print(printable(f"stop rules in force for {_scope_name(lib, theme_id)}:"))
        for line in _lines(rules):
            print(printable(f"  {line}"))
        if ("min_improvement" in merged) != ("over_steps" in merged):
            print("  (the plateau rule needs both --min-improvement and --over-steps)")
        if args.early_previews is not None:
            print(f"early previews first: {args.early_previews}")
    return 0


def run_off(args: argparse.Namespace) -> int:
    if unknown := [name for name in args.rules if name not in RULE_NAMES]:
        raise DoorwaysError(f"no rule {unknown[0]!r}: the rules are {', '.join(RULE_NAMES)}")
    names = [r.name for r in RULES if not args.rules or r.rule in args.rules]
    with open_library(args) as lib:
        theme_id = _scope(lib, args.theme)
        if theme_id == WHOLE_QUEUE:
            lib.rules.clear(names=names)
        else:  # 0 at a theme: off there even where the whole queue has it
            lib.rules.set_values(dict.fromkeys(names, 0), theme_id=theme_id)
        which = ", ".join(args.rules) if args.rules else "every rule"
        print(printable(f"{which} off for {_scope_name(lib, theme_id)}"))
    return 0


def run_reset(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        theme_id = _scope(lib, args.theme)
        n = lib.rules.clear(theme_id=theme_id)
        print(
            printable(
                f"{_scope_name(lib, theme_id)} follows the whole queue's rules again"
                f" ({plural(n, 'own setting')} removed)"
            )
        )
    return 0


def run_release(args: argparse.Namespace) -> int:
    with open_library(args) as lib:
        ids = lib.rules.release(job_ids=args.jobs or None)
    if args.jobs and (missing := sorted(set(args.jobs) - set(ids))):
        print(printable(f"not held: {', '.join(map(str, missing))}"))
    print(
        f"released {plural(len(ids), 'held seed')}"
        + (f": {', '.join(map(str, ids))}" if ids else "")
    )
    return 0
