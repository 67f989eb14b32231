"""Selection expressions and plans: which steps run, in what order, and why."""

from flowstone_cli.planning.plan import Action, Plan, PlannedStep, StepKey, build_plan
from flowstone_cli.planning.selection import Selection, parse_term, select

__all__ = ["Action", "Plan", "PlannedStep", "Selection", "StepKey", "build_plan", "parse_term",
           "select"]
