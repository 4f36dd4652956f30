"""What the adapters share: one JSON POST over httpx (failures raised as ``LLMError``) and the
client skeleton that sends a body, reads the answer and keeps the usage."""

from __future__ import annotations

import datetime
import email.utils
import math
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from orchestrator.errors import LLMError, UnmappedEffortError
from orchestrator.llm._policy import LLMPolicy
from orchestrator.llm._protocol import Completion, Message, Usage

__all__ = [
    "HttpLLMClient",
    "answering_model",
    "post_json",
    "token_count",
    "unknown_effort",
    "usage_fields",
]

# A connection that broke once made, before the answer was read (reset, closed mid-answer):
# the server's fault, not the request's, unlike one never made (``ConnectError``).
_DROPPED = (httpx.ReadError, httpx.WriteError, httpx.CloseError, httpx.RemoteProtocolError)


async def post_json(
    url: str,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    *,
    timeout_s: float,
    transport: httpx.AsyncBaseTransport | None,
    what: str,
) -> dict[str, Any]:
    """POST ``body`` and return the JSON object answered; ``what`` names the call in errors,
    which keep what the provider said (its status, its reason, ``Retry-After``) and name the
    URL without its credentials or query."""
    shown = _without_secrets(url)
    async with httpx.AsyncClient(timeout=timeout_s, transport=transport) as client:
        try:
            response = await client.post(url, json=dict(body), headers=dict(headers))
        except httpx.TimeoutException as exc:
            raise LLMError(
                f"{shown}: {what} failed: no answer within {timeout_s:.3g} s "
                f"({type(exc).__name__})",
                timed_out=True,
            ) from exc
        except httpx.HTTPError as exc:
            said = str(exc).replace(url, shown)
            raise LLMError(
                f"{shown}: {what} failed: {type(exc).__name__}: {said}",
                unreachable=isinstance(exc, httpx.ConnectError),
                dropped=isinstance(exc, _DROPPED),
            ) from exc
        if response.is_error:
            # A status httpx has no phrase for (Anthropic's 529) reads "HTTP 529", not "HTTP 529 ".
            status_line = f"HTTP {response.status_code} {response.reason_phrase}".rstrip()
            raise LLMError(
                f"{shown}: {what} failed: {status_line}{_said(response)}",
                status=response.status_code,
                retry_after=_retry_after(response),
            )
        try:
            data = response.json()
        except ValueError as exc:
            raise LLMError(f"{shown}: {what}: the answer is not JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise LLMError(f"{shown}: {what}: expected a JSON object, got {type(data).__name__}")
    return data


def _without_secrets(url: str) -> str:
    """``url`` as errors (and the spans and logs that carry them) may show it: no user or
    password (``http://alice:secret@host``), no query (``?key=...``)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return "<the LLM URL>"
    return str(parsed.copy_with(username=None, password=None, query=None, fragment=None))


def _endpoint(base_url: str, path: str) -> str:
    """The URL a call to ``path`` under ``base_url`` goes to: ``path`` joins the base URL's
    path and its query stays last. Azure OpenAI's ``.../deployments/gpt4o?api-version=...``
    had become ``...?api-version=.../chat/completions``, a request for the wrong resource."""
    try:
        scheme, netloc, base_path, query, _ = urlsplit(base_url)
    except ValueError:  # sent as given: httpx refuses it with its own reason
        return f"{base_url.rstrip('/')}{path}"
    return urlunsplit((scheme, netloc, base_path.rstrip("/") + path, query, ""))


def _said(response: httpx.Response) -> str:
    """The provider's own reason for refusing, from the body (shortened): "model not found",
    "max_tokens too large"; the status line alone does not say what to fix."""
    text = " ".join(response.text.split())
    return f": {text[:300]}{'...' if len(text) > 300 else ''}" if text else ""


def _retry_after(response: httpx.Response) -> float | None:
    """``Retry-After`` in seconds: a number of seconds, or an HTTP date (RFC 9110), counted from
    the answer's own ``Date`` when it has one (the server's clock, not ours). A date had been
    ignored, and the refusal retried at once."""
    given = response.headers.get("retry-after", "").strip()
    try:
        value = float(given)
    except ValueError:
        try:
            until = email.utils.parsedate_to_datetime(given)
            sent = response.headers.get("date")
            now = email.utils.parsedate_to_datetime(sent) if sent else None
        except (TypeError, ValueError, IndexError):
            return None
        if until.tzinfo is None or (now is not None and now.tzinfo is None):
            return None
        value = (until - (now or datetime.datetime.now(datetime.UTC))).total_seconds()
        return max(value, 0.0)
    return value if value >= 0 else None


def answering_model(data: Mapping[str, Any]) -> str | None:
    """The answer's ``model``: the model that answered, unless the answer does not say (not
    the model asked, which a router or an alias may have answered with another)."""
    model = data.get("model")
    return model if isinstance(model, str) and model else None


def usage_fields(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """An answer's ``usage`` object, or an empty one where it has none (or not an object)."""
    usage = data.get("usage")
    return usage if isinstance(usage, Mapping) else {}


def token_count(value: Any) -> int:
    """A usage field as a count: absent, null, negative or not a number reads as 0 (a provider
    that does not report usage, or misreports it), never as an error that would fail a call
    that worked. A negative count had reached spans, and the token histogram refused it."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return int(value) if 0 < value < math.inf else 0  # 1e400 reads as inf: no count


def unknown_effort(field: str, effort: str, known: Mapping[str, Any]) -> UnmappedEffortError:
    """The error for an effort ``field`` does not map: a configuration error, raised before
    anything is sent (see ``UnmappedEffortError``)."""
    return UnmappedEffortError(
        f"policy field llm.{field}: no mapping for effort {effort!r}; expected one of "
        f"{sorted(known)}"
    )


class HttpLLMClient:
    """The skeleton of a provider adapter: subclasses say where to POST (``path``), with which
    ``headers``, the body for a call (``request_body``) and how to read the answer (``read``).

    ``usage`` sums every call; ``last`` is the latest ``Completion``. Pass ``transport`` (e.g.
    ``httpx.MockTransport``) to test without a network.
    """

    path = ""
    what = "LLM call"
    stop_field = "stop_reason"  # the field of the answer saying why the model stopped
    default_provider = ""  # the OpenTelemetry gen_ai.provider.name of the wire format

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        policy: LLMPolicy | None = None,
        provider: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.provider = provider or self.default_provider
        self.api_key = api_key
        self.policy = policy if policy is not None else LLMPolicy()
        self.timeout_s = timeout_s if timeout_s is not None else self.policy.timeout_s
        self.transport = transport
        self.calls = 0
        self.usage = Usage()
        self.last: Completion | None = None

    @property
    def shown_url(self) -> str:
        """The endpoint as messages show it: without credentials or query. The endpoint, not
        ``base_url``: one base URL may serve several APIs."""
        return _without_secrets(self.endpoint)

    @property
    def endpoint(self) -> str:
        """The URL each call is POSTed to: ``path`` under ``base_url``, its query kept."""
        return _endpoint(self.base_url, self.path)

    def request_body(self, messages: Sequence[Message], effort: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        raise NotImplementedError

    def usage_of(self, data: Mapping[str, Any]) -> Usage:
        """The tokens an answer reports (billed whether or not its text can be used)."""
        raise NotImplementedError

    def read(self, data: dict[str, Any], effort: str | None) -> Completion:
        raise NotImplementedError

    async def complete(self, messages: Sequence[Message], *, effort: str | None = None) -> str:
        return (await self.chat(messages, effort=effort)).text

    async def chat(self, messages: Sequence[Message], *, effort: str | None = None) -> Completion:
        body = self.request_body(messages, effort)  # an unmapped effort stops here, unsent
        # Counted once the request goes out: ``calls`` is what the provider was asked (and may
        # bill), a call refused before sending is none.
        self.calls += 1
        data = await post_json(
            self.endpoint,
            body,
            self.headers(),
            timeout_s=self.timeout_s,
            transport=self.transport,
            what=self.what,
        )
        try:
            completion = self.read(data, effort)
        except LLMError as exc:
            # No usable text (only thinking, only tool calls), but billed: its tokens count,
            # and the error keeps them for tracing.
            unusable = Completion("", self.usage_of(data), answering_model(data), effort=effort)
            self.usage = self.usage + unusable.usage
            exc.answer = exc.answer or unusable
            raise
        self.usage = self.usage + completion.usage
        self.last = completion
        if completion.refusal is not None:
            # Declined, and billed like any answer: counted above. A stop reason saying so
            # (Anthropic's) is named, as its text may be empty.
            stop = completion.stop_reason
            why = f" ({self.stop_field} {stop!r})" if stop == "refusal" else ""
            said = f": {completion.refusal[:300]}" if completion.refusal else ""
            raise LLMError(f"{self.shown_url}: the model refused{why}{said}", answer=completion)
        if completion.truncated:
            # Not the whole answer: a caller reading it as one (a JSON decision) had reported
            # "not JSON", naming no limit. The tokens were spent: counted above.
            raise LLMError(
                f"{self.shown_url}: the answer was cut at the token limit ({self.stop_field} "
                f"{completion.stop_reason!r}, {completion.usage.output_tokens} output tokens): "
                f"{completion.text[:200]!r}",
                answer=completion,
            )
        return completion
