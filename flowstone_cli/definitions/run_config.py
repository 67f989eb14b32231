"""Run configuration: an asset's pydantic config model, validated per run before any step runs.

`--config key=value` (or `ASSET.key=value`) values are parsed as TOML scalars, else kept as
strings. The validated model travels to workers as canonical JSON (plain data, no pickling) and
its hash is recorded in the step's metadata (`config_hash`) so a different config makes the
materialization stale (`config changed`).
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from collections.abc import Iterable, Mapping
from typing import Any

from flowstone_cli.errors import Problem, UsageError

CONFIG_HASH_KEY = "config_hash"
ANY = ""  # bare keys: for the only selected asset that has a config model


def check_config_model(model: Any, where: str) -> Any:
    """`model` if it is a pydantic BaseModel subclass (or None), else a DefinitionError."""
    from pydantic import BaseModel

    from flowstone_cli.errors import DefinitionError

    if model is None or (isinstance(model, type) and issubclass(model, BaseModel)):
        return model
    raise DefinitionError([Problem("bad_argument", f"config= takes a pydantic BaseModel "
                                   f"subclass, got {model!r}", where,
                                   "Use config=MyConfig with class MyConfig(BaseModel).")])


def _scalar(text: str) -> Any:
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_pairs(pairs: Iterable[str]) -> dict[str, dict[str, Any]]:
    """`--config` pairs as asset -> {field: value}; a bare `key=v` goes under `ANY` (the one
    selected asset with a config, resolved by `validate_config`)."""
    out: dict[str, dict[str, Any]] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise UsageError(f"--config takes KEY=VALUE, got {pair!r}",
                             hint="e.g. --config limit=10 or --config ASSET.limit=10")
        asset, dot, field = key.partition(".")
        if not dot:
            asset, field = ANY, key
        out.setdefault(asset, {})[field] = _scalar(value)
    return out


def load_file(path: str, configured: Iterable[str]) -> dict[str, dict[str, Any]]:
    """A `--config-file` TOML: a table per asset, or top-level keys for the only configured one."""
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read --config-file {path}: {exc}") from exc
    return by_asset(data, configured, f"--config-file {path}")


def by_asset(data: Mapping[str, Any], configured: Iterable[str],
             what: str) -> dict[str, dict[str, Any]]:
    """`{asset: {field: value}}` as is, or `{field: value}` for the only configured asset."""
    names = set(configured)
    if data and all(isinstance(v, dict) for v in data.values()) and set(data) <= names:
        return {k: dict(v) for k, v in data.items()}
    if any(isinstance(v, dict) for v in data.values()):
        raise UsageError(f"{what}: tables must be named after assets with a config model",
                         hint="Assets with a config: " + (", ".join(sorted(names)) or "none"))
    return {ANY: dict(data)}


def merge(*layers: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Later layers override earlier ones, field by field."""
    out: dict[str, dict[str, Any]] = {}
    for layer in layers:
        for asset, values in layer.items():
            out.setdefault(asset, {}).update(values)
    return out


def validate(models: Mapping[str, Any], given: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """asset -> canonical JSON of its validated config (defaults included), for every model."""
    from pydantic import ValidationError

    out: dict[str, str] = {}
    for asset, model in sorted(models.items()):
        try:
            value = model.model_validate(dict(given.get(asset, {})))
        except ValidationError as exc:
            lines = [f"{asset}.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                     for err in exc.errors()]
            raise UsageError(f"invalid config for asset {asset}: " + "; ".join(lines),
                             hint=f"Fields of {model.__name__}: "
                             + ", ".join(model.model_fields)) from None
        out[asset] = canonical(value.model_dump(mode="json"))
    return out


def canonical(data: Any) -> str:
    """Canonical JSON text: sorted keys, no spaces."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def config_hash(text: str) -> str:
    """Short hash of canonical config JSON."""
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_hash(model: Any) -> str | None:
    """The hash of a model's defaults, or None when they do not validate (or no model)."""
    if model is None:
        return None
    try:
        return config_hash(canonical(model().model_dump(mode="json")))
    except Exception:  # noqa: BLE001 - required fields without defaults: no default config
        return None


CONFIG_TAG = "flowstone/config"


def configured_assets(definitions: Any) -> dict[str, Any]:
    """asset -> config model, for every asset that declares one."""
    return {name: spec.config for name, spec in definitions.assets.items()
            if getattr(spec, "config", None) is not None}


def validate_config(definitions: Any, selected: Iterable[str],
                    given: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """Validate the config of every selected asset that has a model (given values over
    defaults); values for an asset without a model are an error (exit 2)."""
    models = configured_assets(definitions)
    chosen = set(selected)
    if ANY in given:
        targets = sorted(a for a in models if a in chosen)
        if len(targets) != 1:
            keys = ", ".join(f"ASSET.{k}" for k in given[ANY])
            raise UsageError(f"config {', '.join(given[ANY])} without an asset, but "
                             f"{len(targets)} selected assets have a config model",
                             hint=f"Write {keys}=...; selected assets with a config: "
                             + (", ".join(targets) or "none"))
        given = merge({targets[0]: given[ANY]}, {k: v for k, v in given.items() if k != ANY})
    stray = sorted(set(given) - set(models))
    if stray:
        raise UsageError(f"config given for {', '.join(stray)}, which has no config model",
                         hint="Assets with a config: " + (", ".join(sorted(models)) or "none"))
    return validate({a: m for a, m in models.items() if a in chosen},
                    {a: v for a, v in given.items() if a in chosen})


def with_config_tag(tags: Mapping[str, str], configs: Mapping[str, str]) -> dict[str, Any]:
    """The run's tags plus, when any asset has a config, the run's config as a tag."""
    out: dict[str, Any] = dict(tags)
    if configs:
        out[CONFIG_TAG] = canonical({a: json.loads(text) for a, text in configs.items()})
    return out


def config_from_tags(tags: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, dict]]:
    """Split a recorded run's tags into (user tags, config by asset) — for `runs resume`."""
    rest = {k: v for k, v in tags.items() if k != CONFIG_TAG}
    text = tags.get(CONFIG_TAG)
    return rest, (json.loads(text) if isinstance(text, str) else {})
