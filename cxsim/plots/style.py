"""The one home of how figures look: a fixed colour per channel and per scenario, human
labels for config names, money in the configured currency. Every figure reads them, so phone
is the same colour in every chart and a scenario keeps its colour from one figure to the next.

>>> channel_colour("phone") == channel_colour("phone"), label("bot_with_escalation")
(True, 'bot with escalation')
>>> scenario_colour("baseline", ["baseline", "a"])
'#4d4d4d'
"""

from __future__ import annotations

from collections.abc import Sequence

# Channels of cxsim's scenarios; a channel of one's own gets a grey.
CHANNEL_COLOURS = {
    "web": "#1f77b4", "app": "#17becf", "chatbot": "#9467bd", "chat": "#2ca02c",
    "phone": "#d62728", "email": "#ff7f0e", "social": "#e377c2", "store": "#8c564b",
}
OTHER = "#7f7f7f"
BASELINE = "#4d4d4d"
# Scenarios after the baseline, in the study's order (tab10 without the baseline's grey).
SCENARIO_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
                    "#e377c2", "#bcbd22", "#17becf")
# Config names a person would not write so; anything else loses its underscores.
LABELS = {
    "gave_up": "gave up", "in_system": "still open", "resolved": "resolved",
    "abandoned": "abandoned (left a queue)", "nps_population": "NPS, everyone",
    "ces_population": "CES, everyone", "csat_population": "CSAT, everyone",
    "mean_wait": "live-queue wait", "ltv": "lifetime value", "staff_cost": "staff cost",
    "service_level": "service level", "asa": "average speed of answer",
    "abandon_rate": "abandonment",
}


def label(name: str) -> str:
    """A config name as a person reads it."""
    return LABELS.get(name, str(name).replace("_", " "))


def channel_colour(channel: str) -> str:
    return CHANNEL_COLOURS.get(str(channel), OTHER)


def scenario_colour(name: str, names: Sequence[str]) -> str:
    """The baseline dark grey, the others by their place in the study (``names``)."""
    if name == "baseline":
        return BASELINE
    others = [n for n in names if n != "baseline"]
    return SCENARIO_COLOURS[others.index(name) % len(SCENARIO_COLOURS)]


def money(text: str, currency: str) -> str:
    """``text`` with its money in ``currency`` (``'lifetime value (EUR per customer)'``)."""
    return f"{text} ({currency} per customer)" if currency else text
