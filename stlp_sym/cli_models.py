"""The MODEL argument and the option flags of ``stlp`` commands: a model, its options.

>>> model_named("pendulum").name
'pendulum'
>>> model_named("pendulm")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
stlp_sym.errors.StlpError: unknown model 'pendulm'; did you mean 'pendulum'? (`stlp models` ...
"""

from __future__ import annotations

import argparse
from dataclasses import replace

from .cli_status import did_you_mean
from .errors import StlpError

#: the option flags a command may have, each named as the field of Options it sets
OPTION_FLAGS = ("flip", "normalise", "policy", "integrator", "cse", "backend")


def model_named(name: str):
    """A built-in model by name (with a "did you mean" for a misspelt one), or the model of a
    model file (``.toml``)."""
    from .parse.modelfile import is_model_file, load_model
    from .symbolic.models import MODELS

    if is_model_file(name):
        return load_model(name)
    if name not in MODELS:
        raise StlpError(
            f"unknown model {name!r}{did_you_mean(name, MODELS)} (`stlp models` lists them: "
            f"{', '.join(MODELS)})"
        )
    return MODELS[name]


def options_from(model, args: argparse.Namespace):
    """The model's default options, overridden by the flags the user gave."""
    changes = {
        key: getattr(args, key) for key in OPTION_FLAGS if getattr(args, key, None) is not None
    }
    return replace(model.options, **changes)
