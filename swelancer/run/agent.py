"""The agent a run's `--model` names, made (and its keys, files and prices checked) before any
container starts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from swelancer.agents.base import Agent
from swelancer.agents.installed import INSTALLED
from swelancer.agents.loop import Mode, RunBudget
from swelancer.agents.prompts import PromptSet
from swelancer.config import AgentSection, LimitsSection
from swelancer.errors import ConfigError
from swelancer.tasks.models import PriceStyle

if TYPE_CHECKING:
    from swelancer.agents.loop import ModelAgent
    from swelancer.gateway.server import Gateway
    from swelancer.models.base import ChatModel
    from swelancer.models.prices import Prices


def sends_prompts(agent: AgentSection) -> bool:
    """Whether the agent talks to a model (the mocks other than mock/scripted send nothing)."""
    return not agent.model.startswith("mock/") or agent.model.startswith("mock/scripted:")


def agent_prompts(
    agent: AgentSection, price_style: PriceStyle = "float", *, show_progress: bool = True
) -> PromptSet | None:
    """The prompts the agent will send (read, or fetched, now); None for the mocks."""
    if not sends_prompts(agent) or agent.mode in INSTALLED:
        return None  # an installed agent is asked in its own words (`installed.prompt`)
    from swelancer.agents.prompt_choice import resolve_prompts

    return resolve_prompts(
        agent.prompts,
        mode=agent.mode,
        template=agent.prompt_template,
        price_style=price_style,
        show_progress=show_progress,
    )


def make_agent(
    agent: AgentSection,
    limits: LimitsSection,
    budget: RunBudget,
    prompts: PromptSet | None = None,
    *,
    check_endpoint: bool = False,
) -> Agent:
    """A mock, a scripted model, or a chat model through the loop in `agent.mode` (its calls
    through the run's model gateway), sending `prompts` (resolved from `agent` when not
    given); a cost limit needs a known price.
    `check_endpoint`: look at the model's endpoint now (`ModelError` when it does not answer
    or refuses the key); mocks are never checked."""
    from swelancer.agents.loop import ModelAgent
    from swelancer.models.prices import Prices

    if prompts is None:
        prompts = agent_prompts(agent)
    prices = Prices() if agent.prices_file is None else Prices.from_file(agent.prices_file)

    def loop(chat: ChatModel, gateway: Gateway | None = None) -> ModelAgent:
        mode: Mode = "tools" if agent.mode == "tools" else "upstream"
        return ModelAgent(chat, name=agent.model, mode=mode, prompts=prompts, budget=budget,
                          gateway=gateway)  # fmt: skip

    if agent.model.startswith("mock/scripted:"):
        from swelancer.models.scripted import ScriptedChatModel

        path = Path(agent.model.split(":", 1)[1])
        return loop(ScriptedChatModel(path))
    if agent.model.startswith("mock/"):
        from swelancer.agents.mock import mock_agent

        return mock_agent(agent.model)
    if agent.mode in INSTALLED:
        from swelancer.agents.installed import make_installed

        return make_installed(agent.mode, agent.model, agent.base_url, prices, budget,
                              prepare=check_endpoint)  # fmt: skip
    from swelancer.models.resolve import resolve_model

    chat = resolve_model(
        agent.model,
        base_url=agent.base_url,
        temperature=agent.temperature,
        reasoning_effort=agent.reasoning_effort,
        max_output_tokens=agent.max_output_tokens,
        prices=prices,
        unreachable_s=agent.max_unreachable_s,
    )
    cost_limited = limits.max_cost_usd is not None or limits.max_run_cost_usd is not None
    if cost_limited and prices.price_for(getattr(chat, "model", agent.model)) is None:
        raise ConfigError(
            f"no price is known for model '{agent.model}', so a cost limit "
            "(--max-cost-usd, --max-run-cost-usd) could not be enforced; give its price "
            "with --prices FILE."
        )
    if check_endpoint:
        from swelancer.models.preflight import preflight

        preflight(chat)
    return loop(chat, _gateway(chat, prices, budget))


def _gateway(chat: ChatModel, prices: Prices, budget: RunBudget) -> Gateway | None:
    """The run's model gateway for a host-driven model that calls an API: its calls go where
    they went before (`upstream_of`), and the gateway keeps the caps and counts the dollars
    into `budget`."""
    from swelancer.gateway.host import carried, upstream_of
    from swelancer.gateway.server import Gateway

    if not carried(chat):
        return None
    return Gateway([upstream_of(chat)], prices, budget=budget, timeout_s=chat.timeout_s)
