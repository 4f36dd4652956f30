"""The effort router: predicts, per level, whether a step succeeds and what it costs, and picks
the escalation plan (start low and climb, or go straight to high) with the least expected cost.

It learns from outcomes (``observe``, ``fit``); before fitting it follows the policy's priors.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError

from orchestrator._files import write_bytes_atomic
from orchestrator.effort._features import SIGNALS, Matrix, TextEncoder, signals
from orchestrator.effort._policy import EffortPolicy
from orchestrator.effort._step import Effort, Step
from orchestrator.errors import EffortError

if TYPE_CHECKING:
    from orchestrator.routing import Embedder

__all__ = ["EffortRouter", "Estimate", "Observation"]

_FORMAT = 2
"""2 keeps the observations (format 1 kept fitted feature rows only, and is still read)."""


@dataclass(frozen=True)
class Observation:
    """One outcome: ``step`` ran at ``effort``, succeeded or not, and spent ``tokens``."""

    step: Step
    effort: Effort
    success: bool
    tokens: float


@dataclass(frozen=True)
class Estimate:
    """The router's belief about one step: success probability and tokens per level."""

    success: dict[Effort, float]
    tokens: dict[Effort, float]


class _Level:
    """Fitted data of one effort level: feature rows, outcomes and (logistic) weights.

    ``tokens`` is NaN on rows whose outcome is implied rather than observed (see ``fit``): they
    teach success, not cost.
    """

    def __init__(self, x: Matrix, success: Matrix, tokens: Matrix) -> None:
        self.x = x
        self.success = success
        self.tokens = tokens
        self.measured = np.isfinite(tokens)
        self.rate = float(success.mean()) if len(success) else 0.0
        self.mean_log_tokens: float | None = (
            float(np.log(tokens[self.measured]).mean()) if self.measured.any() else None
        )
        self.weights: Matrix | None = None
        self.token_weights: Matrix | None = None

    def fit_logistic(self, l2: float) -> None:
        if len(self.success):
            self.weights = _fit_logistic(self.x, self.success, l2)
        if self.measured.any():
            self.token_weights = _fit_ridge(
                self.x[self.measured], np.log(self.tokens[self.measured]), l2
            )


def _sigmoid(z: Matrix) -> Matrix:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -30.0, 30.0))), dtype=np.float64)


def _fit_logistic(x: Matrix, y: Matrix, l2: float, iterations: int = 25) -> Matrix:
    """L2-regularised logistic regression by Newton's method (intercept unpenalised)."""
    xb = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(xb.shape[1])
    penalty = np.full(xb.shape[1], l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = _sigmoid(xb @ w)
        gradient = xb.T @ (p - y) + penalty * w
        hessian = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty + 1e-6)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-6:
            break
    return w


def _fit_ridge(x: Matrix, y: Matrix, l2: float) -> Matrix:
    xb = np.hstack([x, np.ones((len(x), 1))])
    penalty = np.full(xb.shape[1], max(l2, 1e-6))
    penalty[-1] = 1e-6
    return np.asarray(np.linalg.solve(xb.T @ xb + np.diag(penalty), xb.T @ y), dtype=np.float64)


class EffortRouter:
    """Chooses each step's effort level and, on failure, whether and how far to escalate.

    Parameters
    ----------
    policy
        The ``effort`` policy section (levels, model, priors); the default when omitted.
    embedder
        Sentence embedder for ``features: text``; the packaged MiniLM, loaded on first use,
        when omitted.
    encoder
        A ``TextEncoder`` to share (and its cache of embedded texts) between routers.

    Examples
    --------
    >>> router = EffortRouter(EffortPolicy(features="signals"))
    >>> router.choose(Step(task="list the files"))
    'low'
    """

    def __init__(
        self,
        policy: EffortPolicy | None = None,
        *,
        embedder: Embedder | None = None,
        encoder: TextEncoder | None = None,
    ) -> None:
        self.policy = policy if policy is not None else EffortPolicy()
        self.levels: tuple[Effort, ...] = self.policy.levels
        self.encoder = encoder if encoder is not None else TextEncoder(embedder)
        self.observations: list[Observation] = []
        self._fitted: dict[Effort, _Level] | None = None
        self._mean: Matrix | None = None
        self._scale: Matrix | None = None
        self._embedder_name: str | None = None

    # -- learning -------------------------------------------------------------------------------

    def observe(self, step: Step, effort: Effort, success: bool, tokens: float) -> None:
        """Record one outcome; it counts from the next ``fit``. Only the most recent
        ``max_observations`` are kept. ``tokens`` must be a finite count >= 0 (a negative had
        been clamped to 1 token, a NaN read as not measured)."""
        self._check_level(effort)
        if not isinstance(success, bool | np.bool_):
            # bool("no") is True: a string stored as a success had taught the opposite.
            raise TypeError(f"success: expected True or False, got {success!r}")
        if isinstance(tokens, bool) or not isinstance(tokens, int | float | np.number):
            raise TypeError(f"tokens: expected a number, got {tokens!r}")
        if not (math.isfinite(tokens) and tokens >= 0):
            raise ValueError(f"tokens: expected a finite count >= 0, got {tokens}")
        self.observations.append(Observation(step, effort, bool(success), float(tokens)))
        excess = len(self.observations) - self.policy.max_observations
        if excess > 0:
            del self.observations[:excess]

    @property
    def fitted(self) -> bool:
        return self._fitted is not None

    def fit(self, observations: Iterable[Observation] = ()) -> EffortRouter:
        """Fit on every observation so far plus ``observations``; returns the router.

        Outcomes are taken as nested, as ``estimate`` takes them: a success at one effort
        implies success at the higher ones, a failure implies failure at the lower ones. A step
        seen only at some efforts (a live run tries one, and climbs only after failing) also
        teaches those implied outcomes at the efforts not tried on it. Without them, the higher
        efforts would be judged only on the steps the lower ones failed, the hardest ones, and
        climbing would look futile. Implied outcomes teach success, never tokens.
        """
        for o in observations:
            self.observe(o.step, o.effort, o.success, o.tokens)
        if not self.observations:
            raise EffortError("cannot fit the effort router: no observations")
        rows = [(o.step, o.effort, o.success, max(o.tokens, 1.0)) for o in self.observations]
        rows += [(step, e, ok, float("nan")) for step, e, ok in self._implied(self.observations)]
        steps = [step for step, _, _, _ in rows]
        raw = signals(steps)
        self._mean = raw.mean(axis=0)
        self._scale = np.where(raw.std(axis=0) > 1e-9, raw.std(axis=0), 1.0)
        x = self._features(steps)
        efforts = np.asarray([e for _, e, _, _ in rows])
        success = np.asarray([ok for _, _, ok, _ in rows], dtype=np.float64)
        tokens = np.asarray([t for _, _, _, t in rows], dtype=np.float64)
        self._fitted = {}
        for level in self.levels:
            at = efforts == level
            fitted = _Level(x[at], success[at], tokens[at])
            if self.policy.model == "logistic":
                fitted.fit_logistic(self.policy.l2)
            self._fitted[level] = fitted
        return self

    def _implied(self, observations: Sequence[Observation]) -> list[tuple[Step, Effort, bool]]:
        """The outcomes ``observations`` imply at efforts not tried on the same step (the step
        as first shown, before any retry), where they agree."""
        tried: dict[Step, set[Effort]] = {}
        for o in observations:
            tried.setdefault(_first_shown(o.step), set()).add(o.effort)
        implied: dict[tuple[Step, Effort], set[bool]] = {}
        for o in observations:
            step, at = _first_shown(o.step), self.levels.index(o.effort)
            for level in self.levels[at + 1 :] if o.success else self.levels[:at]:
                if level not in tried[step]:
                    implied.setdefault((step, level), set()).add(o.success)
        return [
            (step, level, next(iter(agreed)))
            for (step, level), agreed in implied.items()
            if len(agreed) == 1
        ]

    def _features(self, steps: Sequence[Step]) -> Matrix:
        assert self._mean is not None and self._scale is not None
        numeric = (signals(steps) - self._mean) / self._scale
        if self.policy.features == "signals":
            return numeric
        if self._embedder_name is None:
            self._embedder_name = self.encoder.name
        text = self.encoder.encode(steps)
        if self.policy.model == "knn":
            # Cosine over [text, weighted signals]: the signals shift, not swamp, the neighbours.
            weight = self.policy.signal_weight / np.sqrt(len(SIGNALS))
            return np.hstack([text, numeric * weight])
        return np.hstack([text, numeric])

    # -- prediction -----------------------------------------------------------------------------

    def estimate(self, step: Step) -> Estimate:
        """Success probability and expected tokens per level for ``step``.

        Success is made non-decreasing in the level: a step that a lower effort solves is taken
        as solvable by a higher one, which is what lets a failure be read as evidence.
        """
        prior = self.policy.prior
        if self._fitted is None:
            success = {e: prior.success[e] for e in self.levels}
            tokens = {e: prior.tokens[e] for e in self.levels}
        else:
            x = self._features([step])[0]
            success, tokens = {}, {}
            for level in self.levels:
                success[level], tokens[level] = self._predict(self._fitted[level], x, level)
        best = 0.0
        for level in self.levels:
            best = max(best, success[level])
            success[level] = best
        return Estimate(success, tokens)

    def _predict(self, fitted: _Level, x: Matrix, level: Effort) -> tuple[float, float]:
        prior = self.policy.prior
        if len(fitted.success) == 0:
            return prior.success[level], prior.tokens[level]
        if fitted.weights is not None:
            xb = np.append(x, 1.0)
            p = float(_sigmoid(np.asarray(xb @ fitted.weights)))
            if fitted.token_weights is None:  # no call at this level said what it spent
                return p, prior.tokens[level]
            return p, float(np.exp(xb @ fitted.token_weights))
        if self.policy.features == "signals":
            distance = np.linalg.norm(fitted.x - x, axis=1)
            similarity = -distance
        else:
            norms = np.linalg.norm(fitted.x, axis=1) * max(float(np.linalg.norm(x)), 1e-12)
            similarity = (fitted.x @ x) / np.maximum(norms, 1e-12)
        k = min(self.policy.neighbours, len(similarity))
        nearest = np.argpartition(-similarity, k - 1)[:k]
        a = prior.strength
        p = (float(fitted.success[nearest].sum()) + a * fitted.rate) / (k + a)
        if fitted.mean_log_tokens is None:  # no call at this level said what it spent
            return p, prior.tokens[level]
        spent = nearest[fitted.measured[nearest]]
        log_tokens = (float(np.log(fitted.tokens[spent]).sum()) + a * fitted.mean_log_tokens) / (
            len(spent) + a
        )
        return p, float(np.exp(log_tokens))

    # -- decisions ------------------------------------------------------------------------------

    def plan(self, step: Step) -> tuple[Effort, ...]:
        """The efforts to try on ``step`` in order, above any in ``step.tried``, with the least
        expected cost: tokens spent plus ``failure_cost_tokens`` times the chance all fail.

        Empty when stopping is cheaper than any further attempt (only after a failure).
        """
        estimate = self.estimate(step)
        floor = max((self.levels.index(e) for e in step.tried), default=-1)
        above = self.levels[floor + 1 :]
        budget = self.policy.max_attempts - len(step.tried)
        if not above or budget <= 0:
            return ()
        p_failed = estimate.success[self.levels[floor]] if floor >= 0 else 0.0
        alive = max(1.0 - p_failed, 1e-9)
        lam = self.policy.failure_cost_tokens
        plans: list[tuple[Effort, ...]] = [
            plan for n in range(1, min(budget, len(above)) + 1) for plan in combinations(above, n)
        ]
        best_plan: tuple[Effort, ...] = ()
        best_cost = lam if step.tried else float("inf")
        for plan in plans:
            cost, reach = 0.0, 1.0
            for level in plan:
                cost += reach * estimate.tokens[level]
                reach = max(1.0 - estimate.success[level], 0.0) / alive
            cost += reach * lam
            if cost < best_cost - 1e-9:
                best_plan, best_cost = plan, cost
        return best_plan

    def choose(self, step: Step) -> Effort:
        """The effort to run ``step`` at first (above ``step.tried``, if it says any)."""
        plan = self.plan(step)
        if not plan:
            raise EffortError(
                f"no effort level above {list(step.tried)} is left to try (levels {self.levels})"
            )
        return plan[0]

    def escalate(self, step: Step, failed: Effort) -> Effort | None:
        """After ``step`` failed at ``failed``: a strictly higher effort to retry at, or ``None``
        when no level is left or stopping is expected to cost less."""
        self._check_level(failed)
        tried = tuple(sorted({*step.tried, failed}, key=self.levels.index))
        retried = replace(step, tried=tried, retries=step.retries + 1)
        plan = self.plan(retried)
        return plan[0] if plan else None

    def lower(self, effort: Effort) -> Effort | None:
        """The level just below ``effort``, or None at the lowest: where an answer was cut
        before any text, its whole token limit spent on reasoning, a lower effort leaves room
        for the answer."""
        self._check_level(effort)
        at = self.levels.index(effort)
        return self.levels[at - 1] if at > 0 else None

    def _check_level(self, effort: Effort) -> None:
        if effort not in self.levels:
            raise EffortError(f"effort {effort!r}: expected one of {list(self.levels)}")

    # -- persistence ----------------------------------------------------------------------------

    def save(self, path: str | Path) -> None:
        """Write the fitted router to ``path``, atomically: a zip of its fitted arrays, a JSON
        manifest, and every observation so far (so a loaded router can be fitted again on all).

        Raises
        ------
        EffortError
            The router was never fitted, or the file cannot be written (naming it).
        """
        if self._fitted is None or self._mean is None or self._scale is None:
            raise EffortError("cannot save an effort router that was never fitted")
        manifest: dict[str, Any] = {
            "format": _FORMAT,
            "policy": self.policy.model_dump(mode="json"),
            "embedder": self._embedder_name,
            "signals": list(SIGNALS),
        }
        arrays: dict[str, npt.NDArray[Any]] = {"mean": self._mean, "scale": self._scale}
        for i, level in enumerate(self.levels):
            fitted = self._fitted[level]
            arrays[f"x{i}"] = fitted.x
            arrays[f"success{i}"] = fitted.success
            arrays[f"tokens{i}"] = fitted.tokens
        packed = io.BytesIO()
        with zipfile.ZipFile(packed, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("manifest.json", json.dumps(manifest, indent=2))
            archive.writestr(
                _OBSERVATIONS,
                "".join(json.dumps(_observation_json(o)) + "\n" for o in self.observations),
            )
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.save(buffer, array, allow_pickle=False)
                archive.writestr(f"{name}.npy", buffer.getvalue())
        target = Path(path)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_bytes_atomic(target, packed.getvalue())
        except OSError as exc:
            # Called after a fit that may have taken long: say where, not a bare traceback.
            raise EffortError(
                f"{target}: cannot save the effort router there ({exc.strerror or exc})"
            ) from exc

    @classmethod
    def load(cls, path: str | Path, *, embedder: Embedder | None = None) -> EffortRouter:
        """Read a router written by ``save``; the embedder must be the one it was fitted with.

        The router comes back fitted as it was, with every observation it had made: observe
        more (say, from runs) and ``fit`` again, and it learns from all of them. A file of
        format 1 kept no observations, so such a router refitted learns from new ones only.
        """
        source = Path(path)
        try:
            with zipfile.ZipFile(source) as archive:
                manifest = json.loads(archive.read("manifest.json"))
                arrays = {
                    name.removesuffix(".npy"): np.load(
                        io.BytesIO(archive.read(name)), allow_pickle=False
                    )
                    for name in archive.namelist()
                    if name.endswith(".npy")
                }
                lines = (
                    archive.read(_OBSERVATIONS).decode().splitlines()
                    if _OBSERVATIONS in archive.namelist()
                    else []
                )
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise EffortError(f"{source}: not a saved effort router: {exc}") from exc
        if not isinstance(manifest, dict):
            raise EffortError(f"{source}: not a saved effort router: its manifest is no object")
        if manifest.get("format") not in (1, _FORMAT) or manifest.get("signals") != list(SIGNALS):
            raise EffortError(
                f"{source}: field format: expected {_FORMAT} with signals {list(SIGNALS)}, got "
                f"{manifest.get('format')!r}; refit the router"
            )
        try:
            policy = EffortPolicy.model_validate(manifest["policy"])
        except (KeyError, TypeError, ValidationError) as exc:
            raise EffortError(f"{source}: field policy: not an effort policy: {exc}") from exc
        router = cls(policy, embedder=embedder)
        expected = manifest.get("embedder")
        if router.policy.features == "text":
            if expected is None or router.encoder.name != expected:
                raise EffortError(
                    f"{source}: field embedder: fitted with {expected!r}, "
                    f"loaded with {router.encoder.name!r}"
                )
            router._embedder_name = expected
        try:
            router._mean, router._scale = arrays["mean"], arrays["scale"]
            fitted_levels = {
                level: _Level(arrays[f"x{i}"], arrays[f"success{i}"], arrays[f"tokens{i}"])
                for i, level in enumerate(router.levels)
            }
        except KeyError as exc:
            raise EffortError(f"{source}: not a saved effort router: no array {exc}") from exc
        text = router.policy.features == "text"
        _check_shapes(source, router._mean, router._scale, fitted_levels, text=text)
        router._fitted = {}
        for level, fitted in fitted_levels.items():
            if router.policy.model == "logistic":
                fitted.fit_logistic(router.policy.l2)
            router._fitted[level] = fitted
        for number, line in enumerate(lines, start=1):
            where = f"{source}: {_OBSERVATIONS} line {number}"
            o = _observation_from_json(line, where)
            try:
                router.observe(o.step, o.effort, o.success, o.tokens)
            except (EffortError, ValueError, TypeError) as exc:
                raise EffortError(f"{where}: {exc}") from exc
        return router


_OBSERVATIONS = "observations.jsonl"


def _check_shapes(
    source: Path, mean: Matrix, scale: Matrix, levels: Mapping[Effort, _Level], *, text: bool
) -> None:
    """Every array of a saved router as ``save`` wrote it: a mean and scale per signal, one
    width of features for every level (the signals, after the text's embedding when the
    features are ``text``), one outcome and token count per row. A file with one array cut
    short had loaded, then failed its first ``choose`` with numpy's "operands could not be
    broadcast", naming no file."""
    expected = (len(SIGNALS),)
    if mean.shape != expected or scale.shape != expected:
        raise EffortError(
            f"{source}: arrays mean and scale: expected {len(SIGNALS)} values each (one per "
            f"signal), got shapes {mean.shape} and {scale.shape}; refit the router"
        )
    widths = {fitted.x.shape[1] if fitted.x.ndim == 2 else -1 for fitted in levels.values()}
    for level, fitted in levels.items():
        width = fitted.x.shape[1] if fitted.x.ndim == 2 else -1
        if len(widths) > 1 or width < len(SIGNALS) or (not text and width != len(SIGNALS)):
            raise EffortError(
                f"{source}: level {level}: its feature rows (array of shape {fitted.x.shape}) "
                f"do not match the other levels' or the {len(SIGNALS)} signals; refit the router"
            )
        rows = fitted.x.shape[0]
        if fitted.success.shape != (rows,) or fitted.tokens.shape != (rows,):
            raise EffortError(
                f"{source}: level {level}: expected {rows} outcomes and token counts, got "
                f"shapes {fitted.success.shape} and {fitted.tokens.shape}; refit the router"
            )


def _first_shown(step: Step) -> Step:
    """The step as the router first saw it, before any retry: one step's outcomes at several
    efforts are about the same step."""
    return replace(step, tried=(), retries=0)


def _observation_json(o: Observation) -> dict[str, Any]:
    return {"step": asdict(o.step), "effort": o.effort, "success": o.success, "tokens": o.tokens}


# Each saved field's JSON type: a value read with bool() or float() instead had let "false"
# load as a success and "high" as a confidence, which crashed a later fit naming no file.
_NUMBER = (int, float)
_STEP_FIELDS: dict[str, tuple[tuple[type, ...], str]] = {
    "task": ((str,), "text"),
    "tool": ((str,), "text"),
    "tool_description": ((str,), "text"),
    "history": ((list,), "a list of text"),
    "confidence": ((*_NUMBER, type(None)), "a number or null"),
    "margin": ((*_NUMBER, type(None)), "a number or null"),
    "alternatives": ((int,), "a whole number"),
    "failures": ((int,), "a whole number"),
    "retries": ((int,), "a whole number"),
    "tried": ((list,), "a list of efforts"),
}


def _checked(value: Any, kinds: tuple[type, ...], expected: str, field: str, where: str) -> Any:
    # bool is an int to Python, not a number or a count to us.
    if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
        shown = json.dumps(value)
        raise EffortError(f"{where}: field {field}: expected {expected}, got {shown:.80}")
    return value


def _observation_from_json(line: str, where: str) -> Observation:
    try:
        data = json.loads(line)
    except ValueError as exc:
        raise EffortError(f"{where}: not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EffortError(
            f"{where}: expected an observation {{step, effort, success, tokens}}, "
            f"got {json.dumps(data):.80}"
        )
    for name in ("step", "effort", "success", "tokens"):
        if name not in data:
            raise EffortError(f"{where}: field {name}: missing")
    raw = _checked(data["step"], (dict,), "an object", "step", where)
    unknown = sorted(set(raw) - set(_STEP_FIELDS))
    if unknown:
        raise EffortError(f"{where}: field step.{unknown[0]}: not a field of a step")
    if "task" not in raw:
        raise EffortError(f"{where}: field step.task: missing")
    step: dict[str, Any] = {}
    for name, value in raw.items():
        kinds, expected = _STEP_FIELDS[name]
        step[name] = _checked(value, kinds, expected, f"step.{name}", where)
    for name in ("history", "tried"):
        for i, item in enumerate(step.get(name, ())):
            _checked(item, (str,), "text", f"step.{name}.{i}", where)
        step[name] = tuple(step.get(name, ()))
    for name in ("confidence", "margin"):
        if step.get(name) is not None:
            step[name] = float(step[name])
    return Observation(
        Step(**step),
        _checked(data["effort"], (str,), "an effort level", "effort", where),
        _checked(data["success"], (bool,), "true or false", "success", where),
        float(_checked(data["tokens"], _NUMBER, "a number", "tokens", where)),
    )
