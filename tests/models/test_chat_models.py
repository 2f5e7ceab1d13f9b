"""The chat models on the real openai/anthropic SDKs, against fake servers on 127.0.0.1."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from swelancer.errors import ConfigError, ModelError
from swelancer.models.anthropic import AnthropicChatModel
from swelancer.models.base import Message, ToolCall, ToolSpec, Usage
from swelancer.models.openai import OpenAIChatModel
from swelancer.models.resolve import (
    OPENROUTER_BASE_URL,
    PLACEHOLDER_KEY,
    required_key,
    resolve_model,
)
from swelancer.models.retry import (
    ContextWindowExceededError,
    Endpoint,
    ModelUnavailableError,
    RetryPolicy,
    call_with_retry,
    retry_after_s,
)
from swelancer.models.windows import context_window_for
from tests.fakes import (
    FakeAnthropicServer,
    FakeModelServer,
    FakeOpenAIServer,
    Fault,
    Reply,
    bad_request,
    context_length_exceeded,
    dropped,
    model_not_found,
    overloaded,
    rate_limited,
    server_error,
    slow,
)

FAST = RetryPolicy(budget_s=20, base_delay_s=0.01, max_delay_s=0.05)
KEY = "sk-test-123"
BASH = ToolSpec(
    name="bash",
    description="Run a shell command.",
    parameters={"type": "object", "properties": {"cmd": {"type": "string"}}, "required": ["cmd"]},
)
HELLO = [Message(role="user", content="hello")]


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAIServer]:
    with FakeOpenAIServer(expected_key=KEY, lifetime_s=60) as server:
        yield server


@pytest.fixture
def anthropic_server() -> Iterator[FakeAnthropicServer]:
    with FakeAnthropicServer(expected_key=KEY, lifetime_s=60) as server:
        yield server


def openai_model(server: FakeModelServer, model: str = "gpt-4o", **kw: object) -> OpenAIChatModel:
    kw.setdefault("retry_policy", FAST)
    return OpenAIChatModel(model, api_key=KEY, base_url=server.base_url, **kw)  # type: ignore[arg-type]


def anthropic_model(
    server: FakeModelServer, model: str = "claude-haiku-4-5", **kw: object
) -> AnthropicChatModel:
    kw.setdefault("retry_policy", FAST)
    return AnthropicChatModel(model, api_key=KEY, base_url=server.base_url, **kw)  # type: ignore[arg-type]


PROVIDERS = ["openai", "anthropic"]


@pytest.fixture(params=PROVIDERS)
def both(request: pytest.FixtureRequest) -> Iterator[tuple[FakeModelServer, type]]:
    """A fake server of each provider and a factory for the matching chat model."""
    server_cls = FakeOpenAIServer if request.param == "openai" else FakeAnthropicServer
    factory = openai_model if request.param == "openai" else anthropic_model
    with server_cls(expected_key=KEY, lifetime_s=60) as server:
        yield server, factory  # type: ignore[misc]


# --- OpenAI -----------------------------------------------------------------------------------


def test_openai_text_reply_usage_and_request(openai_server: FakeOpenAIServer) -> None:
    openai_server.push(Reply(text="Hi there", input_tokens=100, cached_tokens=40, output_tokens=20))
    model = openai_model(openai_server, temperature=0.2, max_output_tokens=500)
    messages = [Message(role="system", content="Be brief."), *HELLO]

    response = model.complete(messages)

    assert response.message == Message(role="assistant", content="Hi there")
    assert response.usage == Usage(input_tokens=100, cached_input_tokens=40, output_tokens=20)
    assert response.finish_reason == "stop"
    assert response.model == "gpt-4o"
    assert response.retries == 0
    # gpt-4o: 60 plain x 2.50 + 40 cached x 1.25 + 20 out x 10.00, per million
    assert response.cost_usd == pytest.approx((60 * 2.5 + 40 * 1.25 + 20 * 10.0) / 1e6)
    request = openai_server.requests[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.body == {
        "model": "gpt-4o",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello"},
        ],
        "max_tokens": 500,
        "temperature": 0.2,
    }


def test_openai_reasoning_model_parameters_and_tokens(openai_server: FakeOpenAIServer) -> None:
    openai_server.push(Reply(text="ok", output_tokens=300, reasoning_tokens=250))
    model = openai_model(
        openai_server, "o3-mini", reasoning_effort="high", max_output_tokens=4000, temperature=0.7
    )

    response = model.complete(HELLO)

    body = openai_server.bodies[0]
    assert body["max_completion_tokens"] == 4000
    assert body["reasoning_effort"] == "high"
    assert "temperature" not in body and "max_tokens" not in body
    assert response.usage.reasoning_tokens == 250
    assert response.usage.output_tokens == 300  # reasoning is part of output, not added
    assert response.cost_usd == pytest.approx((12 * 1.10 + 300 * 4.40) / 1e6)


@pytest.mark.parametrize(
    ("raw_usage", "omit", "expected"),
    [
        (
            {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8,
             "prompt_tokens_details": None, "completion_tokens_details": None},
            False,
            Usage(input_tokens=5, output_tokens=3),
        ),
        (
            {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8,
             "prompt_tokens_details": {"cached_tokens": None}},
            False,
            Usage(input_tokens=5, output_tokens=3),
        ),
        (None, True, Usage()),
    ],
)  # fmt: skip
def test_openai_usage_fields_may_be_missing(
    openai_server: FakeOpenAIServer, raw_usage: dict | None, omit: bool, expected: Usage
) -> None:
    openai_server.push(Reply(text="x", raw_usage=raw_usage, omit_usage=omit))
    assert openai_model(openai_server).complete(HELLO).usage == expected


def test_openai_tool_call_round_trip(openai_server: FakeOpenAIServer) -> None:
    call = ToolCall(id="call_1", name="bash", arguments={"cmd": "ls -la"})
    openai_server.push(Reply(tool_calls=[call]), Reply(text="There are 3 files."))
    model = openai_model(openai_server)

    first = model.complete(HELLO, tools=[BASH])
    assert first.message.tool_calls == [call]
    assert first.message.content == ""
    assert first.finish_reason == "tool_calls"
    assert openai_server.bodies[0]["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "bash",
                "description": "Run a shell command.",
                "parameters": BASH.parameters,
            },
        }
    ]

    history = [
        *HELLO,
        first.message,
        Message(role="tool", tool_call_id="call_1", content="a\nb\nc"),
    ]
    second = model.complete(history, tools=[BASH])
    assert second.message.content == "There are 3 files."
    assert openai_server.bodies[1]["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "bash", "arguments": '{"cmd": "ls -la"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "a\nb\nc"},
    ]


def test_openai_invalid_tool_arguments_are_kept(openai_server: FakeOpenAIServer) -> None:
    raw = {
        "id": "chatcmpl-x",
        "object": "chat.completion",
        "created": 1,
        "model": "gpt-4o",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c9",
                            "type": "function",
                            "function": {"name": "bash", "arguments": "{not json"},
                        }
                    ],
                },
            }
        ],
    }
    openai_server.push(raw)
    response = openai_model(openai_server).complete(HELLO, tools=[BASH])
    assert response.message.tool_calls == [
        ToolCall(id="c9", name="bash", arguments={"_invalid_json": "{not json"})
    ]
    assert response.usage == Usage()


# --- Anthropic --------------------------------------------------------------------------------


def test_anthropic_text_reply_usage_and_request(anthropic_server: FakeAnthropicServer) -> None:
    anthropic_server.push(
        Reply(
            text="Hi there",
            input_tokens=1000,
            cached_tokens=600,
            cache_write_tokens=300,
            output_tokens=50,
        )
    )
    model = anthropic_model(anthropic_server, temperature=0.0)  # accepted, never sent
    messages = [
        Message(role="system", content="Be brief."),
        Message(role="system", content="Use English."),
        *HELLO,
    ]

    response = model.complete(messages)

    assert response.message == Message(role="assistant", content="Hi there")
    # total input = 100 uncached + 600 cache reads + 300 cache writes
    assert response.usage == Usage(input_tokens=1000, cached_input_tokens=600, output_tokens=50)
    assert response.finish_reason == "end_turn"
    # claude-haiku-4-5: 1.00 in, 0.10 cache read, 1.25 cache write, 5.00 out
    expected = (100 * 1.0 + 600 * 0.10 + 300 * 1.25 + 50 * 5.0) / 1e6
    assert response.cost_usd == pytest.approx(expected)
    request = anthropic_server.requests[0]
    assert request.path == "/v1/messages"
    assert KEY in (request.headers.get("x-api-key"), request.headers.get("authorization", "")[7:])
    assert "anthropic-version" in request.headers
    assert request.body == {
        "model": "claude-haiku-4-5",
        "max_tokens": 8192,
        "system": "Be brief.\n\nUse English.",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "hello", "cache_control": {"type": "ephemeral"}}
                ],
            }
        ],
    }


def test_anthropic_tool_call_round_trip(anthropic_server: FakeAnthropicServer) -> None:
    calls = [
        ToolCall(id="toolu_1", name="bash", arguments={"cmd": "ls"}),
        ToolCall(id="toolu_2", name="bash", arguments={"cmd": "pwd"}),
    ]
    anthropic_server.push(Reply(text="Let me look.", tool_calls=calls), Reply(text="Done."))
    model = anthropic_model(anthropic_server, prompt_cache=False)

    first = model.complete(HELLO, tools=[BASH])
    assert first.message == Message(role="assistant", content="Let me look.", tool_calls=calls)
    assert first.finish_reason == "tool_use"
    assert anthropic_server.bodies[0]["tools"] == [
        {"name": "bash", "description": "Run a shell command.", "input_schema": BASH.parameters}
    ]

    history = [
        *HELLO,
        first.message,
        Message(role="tool", tool_call_id="toolu_1", content="a b"),
        Message(role="tool", tool_call_id="toolu_2", content="/repo"),
        Message(role="user", content="3 turns left."),
    ]
    assert model.complete(history, tools=[BASH]).message.content == "Done."
    assert anthropic_server.bodies[1]["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "hello"}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "bash", "input": {"cmd": "ls"}},
                {"type": "tool_use", "id": "toolu_2", "name": "bash", "input": {"cmd": "pwd"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a b"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "/repo"},
                {"type": "text", "text": "3 turns left."},
            ],
        },
    ]


def test_anthropic_thinking_blocks_go_back_with_tool_results(
    anthropic_server: FakeAnthropicServer,
) -> None:
    call = ToolCall(id="toolu_9", name="bash", arguments={"cmd": "ls"})
    anthropic_server.push(
        Reply(thinking="I should list files.", tool_calls=[call]), Reply(text="ok")
    )
    model = anthropic_model(anthropic_server, reasoning_effort="low")

    first = model.complete(HELLO, tools=[BASH])
    model.complete(
        [*HELLO, first.message, Message(role="tool", tool_call_id="toolu_9", content="x")],
        tools=[BASH],
    )

    body = anthropic_server.bodies[1]
    assert body["thinking"] == {"type": "enabled", "budget_tokens": 2048}
    assert body["max_tokens"] == 8192 + 2048
    assert body["messages"][1]["content"][0] == {
        "type": "thinking",
        "thinking": "I should list files.",
        "signature": "sig1",
    }
    assert body["messages"][1]["content"][1]["type"] == "tool_use"


@pytest.mark.parametrize(
    ("model", "effort", "expected", "max_tokens"),
    [
        ("claude-opus-4-7", "high",
         {"thinking": {"type": "adaptive"}, "output_config": {"effort": "high"}}, 32_000),
        ("claude-sonnet-5", "max",
         {"thinking": {"type": "adaptive"}, "output_config": {"effort": "max"}}, 32_000),
        ("claude-3-7-sonnet-20250219", "medium",
         {"thinking": {"type": "enabled", "budget_tokens": 8192}}, 8192 + 8192),
        ("claude-opus-4-7", "4000", {"thinking": {"type": "enabled", "budget_tokens": 4000}},
         8192 + 4000),
        ("claude-haiku-4-5", "none", {"thinking": {"type": "disabled"}}, 8192),
        ("claude-haiku-4-5", None, {}, 8192),
    ],
)  # fmt: skip
def test_anthropic_reasoning_effort_parameters(
    model: str, effort: str | None, expected: dict, max_tokens: int
) -> None:
    chat = AnthropicChatModel(model, api_key="k", reasoning_effort=effort)
    params = chat.request_params(HELLO)
    assert {k: params[k] for k in ("thinking", "output_config") if k in params} == expected
    assert params["max_tokens"] == max_tokens
    assert "temperature" not in params


def test_anthropic_bad_reasoning_effort_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Reasoning effort"):
        AnthropicChatModel("claude-sonnet-4", api_key="k", reasoning_effort="extreme")


# --- retries ------------------------------------------------------------------------------------


def test_rate_limit_retry_after_is_honoured(both: tuple[FakeModelServer, type]) -> None:
    server, factory = both
    server.push(rate_limited(retry_after=1), Reply(text="after the wait"))
    # backoff alone would wait at most 0.05 s: only the header explains a 1 s wait
    model = factory(server)

    start = time.monotonic()
    response = model.complete(HELLO)
    elapsed = time.monotonic() - start

    assert response.message.content == "after the wait"
    assert response.retries == 1
    assert len(server.requests) == 2
    assert 0.95 <= elapsed < 5


def test_retry_after_ms_is_preferred(openai_server: FakeOpenAIServer) -> None:
    openai_server.push(rate_limited(retry_after=30, retry_after_ms=300), Reply(text="ok"))
    start = time.monotonic()
    response = openai_model(openai_server).complete(HELLO)
    assert response.retries == 1
    assert 0.28 <= time.monotonic() - start < 5


@pytest.mark.parametrize("fault", [server_error(500), server_error(503), dropped()])
def test_transient_fault_then_success(both: tuple[FakeModelServer, type], fault: Fault) -> None:
    server, factory = both
    server.push(fault, fault, Reply(text="recovered"))
    response = factory(server).complete(HELLO)
    assert response.message.content == "recovered"
    assert response.retries == 2


def test_anthropic_overloaded_529_is_retried(anthropic_server: FakeAnthropicServer) -> None:
    anthropic_server.push(overloaded(), Reply(text="ok"))
    assert anthropic_model(anthropic_server).complete(HELLO).retries == 1


def test_timeout_then_success(both: tuple[FakeModelServer, type]) -> None:
    server, factory = both
    server.push(slow(10.0), Reply(text="in time"))
    start = time.monotonic()
    response = factory(server, timeout_s=1.0).complete(HELLO)
    assert response.message.content == "in time"
    assert response.retries == 1
    assert time.monotonic() - start < 8, "the slow reply was waited out, not cut at the timeout"


@pytest.mark.parametrize(("provider", "var"), [("openai", "OPENAI_API_KEY"),
                                               ("anthropic", "ANTHROPIC_API_KEY")])  # fmt: skip
def test_bad_key_is_fatal_and_names_the_variable(provider: str, var: str) -> None:
    server_cls = FakeOpenAIServer if provider == "openai" else FakeAnthropicServer
    factory = openai_model if provider == "openai" else anthropic_model
    with server_cls(expected_key="the-right-key") as server:
        with pytest.raises(ModelError) as info:
            factory(server).complete(HELLO)
        assert len(server.requests) == 1  # not retried
    message = str(info.value)
    assert var in message and "401" in message and "key" in message
    assert ("OpenAI" if provider == "openai" else "Anthropic") in message


def test_unknown_model_is_fatal(both: tuple[FakeModelServer, type]) -> None:
    server, factory = both
    server.push(model_not_found())
    with pytest.raises(ModelError) as info:
        factory(
            server, "gpt-4o" if isinstance(server, FakeOpenAIServer) else "claude-nope"
        ).complete(HELLO)
    assert "404" in str(info.value) and "model name" in str(info.value)
    assert len(server.requests) == 1


def test_unknown_model_via_known_models() -> None:
    with (
        FakeOpenAIServer(known_models={"gpt-4o"}) as server,
        pytest.raises(ModelError, match="gpt-4o-typo"),
    ):
        openai_model(server, "gpt-4o-typo").complete(HELLO)


def test_bad_request_is_fatal(openai_server: FakeOpenAIServer) -> None:
    openai_server.push(bad_request("Unsupported parameter: 'temperature'"))
    with pytest.raises(ModelError, match="Unsupported parameter") as info:
        openai_model(openai_server).complete(HELLO)
    assert not isinstance(info.value, ContextWindowExceededError)


def test_context_length_exceeded_has_its_own_error(both: tuple[FakeModelServer, type]) -> None:
    server, factory = both
    server.push(context_length_exceeded())
    with pytest.raises(ContextWindowExceededError, match="context window"):
        factory(server).complete(HELLO)


def test_budget_exhausted_raises_model_unavailable(both: tuple[FakeModelServer, type]) -> None:
    server, factory = both
    server.answer_with(lambda body: server_error(502))
    policy = RetryPolicy(budget_s=0.5, base_delay_s=0.05, max_delay_s=0.1)
    start = time.monotonic()
    with pytest.raises(ModelUnavailableError, match="502") as info:
        factory(server, retry_policy=policy).complete(HELLO)
    assert time.monotonic() - start < 3
    assert len(server.requests) >= 3
    assert isinstance(info.value, ModelError)


def test_retry_loop_with_injected_clock() -> None:
    """Backoff grows, retry-after is capped, and the budget is respected, without sleeping."""
    import httpx2  # the HTTP library of the installed SDKs
    from openai import APIStatusError, InternalServerError, RateLimitError

    def status_error(cls: type[APIStatusError], status: int, headers: dict[str, str]) -> Exception:
        request = httpx2.Request("POST", "http://x/v1/chat/completions")
        response = httpx2.Response(status, headers=headers, request=request)
        return cls("boom", response=response, body=None)

    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    errors = [
        status_error(RateLimitError, 429, {"retry-after": "5000"}),
        status_error(InternalServerError, 500, {}),
        status_error(InternalServerError, 500, {}),
    ]

    def call() -> str:
        if errors:
            raise errors.pop(0)
        return "ok"

    policy = RetryPolicy(budget_s=1000, base_delay_s=2, max_delay_s=60, max_retry_after_s=100)
    value, retries = call_with_retry(
        call,
        endpoint=Endpoint("OpenAI", "gpt-4o", "OPENAI_API_KEY"),
        policy=policy,
        sleep=sleep,
        clock=lambda: now[0],
        rng=lambda: 1.0,
    )
    assert (value, retries) == ("ok", 3)
    # capped retry-after, then base * 2**retry (full jitter at its top, rng = 1.0)
    assert slept == [100, 4, 8]

    always = [status_error(InternalServerError, 500, {}) for _ in range(100)]
    now[0] = 0.0
    with pytest.raises(ModelUnavailableError, match="budget of 30 s"):
        call_with_retry(
            lambda: (_ for _ in ()).throw(always.pop()),
            endpoint=Endpoint("OpenAI", "gpt-4o"),
            policy=RetryPolicy(budget_s=30, base_delay_s=2, max_delay_s=60),
            sleep=sleep,
            clock=lambda: now[0],
            rng=lambda: 1.0,
        )
    assert now[0] <= 30


def test_retry_after_http_date_and_garbage() -> None:
    class E(Exception):
        def __init__(self, headers: dict[str, str]) -> None:
            self.response = type("R", (), {"headers": headers})()

    future = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))
    assert 25 <= (retry_after_s(E({"retry-after": future}), 120) or 0) <= 31
    assert retry_after_s(E({"retry-after": "soon"}), 120) is None
    assert retry_after_s(E({}), 120) is None


def test_non_api_errors_pass_through_unretried() -> None:
    calls = []

    def boom() -> None:
        calls.append(1)
        raise KeyError("bug")

    with pytest.raises(KeyError):
        call_with_retry(boom, endpoint=Endpoint("OpenAI", "gpt-4o"))
    assert calls == [1]


# --- resolve_model ------------------------------------------------------------------------------

ENV = {"OPENAI_API_KEY": "sk-o", "ANTHROPIC_API_KEY": "sk-a", "OPENROUTER_API_KEY": "sk-r"}


@pytest.mark.parametrize(
    ("spec", "cls", "model", "base_url", "key"),
    [
        ("gpt-4o", OpenAIChatModel, "gpt-4o", None, "sk-o"),
        ("gpt-4.1-mini", OpenAIChatModel, "gpt-4.1-mini", None, "sk-o"),
        ("o1", OpenAIChatModel, "o1", None, "sk-o"),
        ("o3-mini", OpenAIChatModel, "o3-mini", None, "sk-o"),
        ("o4-mini", OpenAIChatModel, "o4-mini", None, "sk-o"),
        ("openai/some-new-model", OpenAIChatModel, "some-new-model", None, "sk-o"),
        ("claude-sonnet-4-20250514", AnthropicChatModel, "claude-sonnet-4-20250514", None, "sk-a"),
        ("anthropic/claude-x", AnthropicChatModel, "claude-x", None, "sk-a"),
        ("openrouter/anthropic/claude-sonnet-4", OpenAIChatModel, "anthropic/claude-sonnet-4",
         OPENROUTER_BASE_URL, "sk-r"),
    ],
)  # fmt: skip
def test_resolve_model_routes(
    spec: str, cls: type, model: str, base_url: str | None, key: str
) -> None:
    chat = resolve_model(spec, env=ENV)
    assert isinstance(chat, cls)
    assert chat.model == model  # type: ignore[attr-defined]
    assert chat.base_url == base_url  # type: ignore[attr-defined]
    assert chat._api_key == key  # type: ignore[attr-defined]
    assert chat.name == spec


def test_resolve_model_with_base_url_takes_any_name() -> None:
    chat = resolve_model("Qwen/Qwen2.5-Coder-32B", base_url="http://localhost:8000/v1", env={})
    assert isinstance(chat, OpenAIChatModel)
    assert (chat.model, chat.base_url, chat._api_key) == (
        "Qwen/Qwen2.5-Coder-32B",
        "http://localhost:8000/v1",
        PLACEHOLDER_KEY,
    )
    assert "localhost:8000" in chat.endpoint.provider
    with_key = resolve_model("claude-sonnet-4", base_url="http://proxy/v1", env=ENV)
    assert isinstance(with_key, OpenAIChatModel) and with_key._api_key == "sk-o"
    assert required_key("anything", "http://localhost:8000/v1") is None


def test_resolve_model_honours_base_url_env() -> None:
    chat = resolve_model("gpt-4o", env={"OPENAI_BASE_URL": "http://o.local/v1"})
    assert isinstance(chat, OpenAIChatModel) and chat.base_url == "http://o.local/v1"
    env = {"ANTHROPIC_BASE_URL": "http://a.local", "ANTHROPIC_API_KEY": "k"}
    chat2 = resolve_model("claude-sonnet-4", env=env)
    assert isinstance(chat2, AnthropicChatModel) and chat2.base_url == "http://a.local"
    chat3 = resolve_model("claude-sonnet-4", anthropic_base_url="http://b.local", env=ENV)
    assert isinstance(chat3, AnthropicChatModel) and chat3.base_url == "http://b.local"


@pytest.mark.parametrize(
    ("spec", "var"),
    [("gpt-4o", "OPENAI_API_KEY"), ("claude-sonnet-4", "ANTHROPIC_API_KEY"),
     ("openrouter/openai/gpt-4o", "OPENROUTER_API_KEY")],
)  # fmt: skip
def test_missing_key_is_a_config_error(spec: str, var: str) -> None:
    assert required_key(spec, env={}) == var
    with pytest.raises(ConfigError) as info:
        resolve_model(spec, env={var: ""})
    assert var in str(info.value) and "export" in str(info.value)


def test_unknown_model_name_lists_accepted_forms() -> None:
    with pytest.raises(ConfigError) as info:
        resolve_model("llama-3-70b", env=ENV)
    message = str(info.value)
    for form in ("gpt-*", "claude-*", "openrouter/", "base URL", "OPENAI_API_KEY"):
        assert form in message


def test_resolved_models_talk_to_the_fakes() -> None:
    with FakeOpenAIServer([Reply(text="from openai")], expected_key="sk-o") as o:
        chat = resolve_model("gpt-4o", base_url=o.base_url, env=ENV, retry_policy=FAST)
        assert chat.complete(HELLO).message.content == "from openai"
    with FakeAnthropicServer([Reply(text="from anthropic")], expected_key="sk-a") as a:
        env = {**ENV, "ANTHROPIC_BASE_URL": a.base_url}
        chat = resolve_model("claude-sonnet-4", env=env, retry_policy=FAST)
        assert chat.complete(HELLO).message.content == "from anthropic"


@pytest.mark.parametrize(
    ("model", "window"),
    [("gpt-4o", 128_000), ("gpt-4o-mini-2024-07-18", 128_000), ("o3-mini", 200_000),
     ("gpt-4.1-mini", 1_047_576), ("claude-sonnet-4-20250514", 200_000),
     ("anthropic/claude-3-5-haiku", 200_000), ("gpt-5", 400_000), ("my-local", 128_000)],
)  # fmt: skip
def test_context_windows(model: str, window: int) -> None:
    assert context_window_for(model) == window


def test_importing_the_modules_imports_no_sdk() -> None:
    code = (
        "import sys\n"
        "import swelancer.models.openai, swelancer.models.anthropic, swelancer.models.resolve\n"
        "import swelancer.models.prices, swelancer.models.retry, swelancer.models.windows\n"
        "from swelancer.models.resolve import resolve_model\n"
        "resolve_model('gpt-4o', env={'OPENAI_API_KEY': 'k'})\n"
        "resolve_model('claude-sonnet-4', env={'ANTHROPIC_API_KEY': 'k'})\n"
        "print(sorted(m for m in ('openai', 'anthropic') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"
