"""Configuration of rpu tiles: dataclasses and enums named as in aihwkit 1.1.0.

Code written for aihwkit ports by changing the imports, e.g.::

    from rpu.config import SingleRPUConfig, IOParameters, ConstantStepDevice, NoiseManagementType

    cfg = SingleRPUConfig(device=ConstantStepDevice(dw_min=0.01),
                          forward=IOParameters(noise_management=NoiseManagementType.NONE))

Every configuration object validates itself on construction (``cfg.validate()`` re-checks it
after a change and raises :class:`rpu.errors.ConfigError`), prints only its non-default fields,
and serialises to JSON-safe dicts (``cfg.to_dict()`` / :func:`from_dict`,
``cfg.to_json()`` / :func:`from_json`).
"""

from . import compounds as _compounds
from . import configs as _configs
from . import devices as _devices
from . import enums as _enums
from . import inference as _inference
from . import io as _io
from . import mapping as _mapping
from . import noise_models as _noise_models
from . import pre_post as _pre_post
from . import update as _update
from ._base import ConfigBase, from_dict, from_json, registered_classes
from .build import build_config

# Each module's public names, as its __all__ lists them (one list to keep up to date).
from .compounds import *  # noqa: F401,F403
from .configs import *  # noqa: F401,F403
from .devices import *  # noqa: F401,F403
from .enums import *  # noqa: F401,F403
from .inference import *  # noqa: F401,F403
from .io import *  # noqa: F401,F403
from .mapping import *  # noqa: F401,F403
from .noise_models import *  # noqa: F401,F403
from .pre_post import *  # noqa: F401,F403
from .update import *  # noqa: F401,F403

__all__ = [
    "ConfigBase",
    "from_dict",
    "from_json",
    "registered_classes",
    *_enums.__all__,
    *_io.__all__,
    *_update.__all__,
    *_inference.__all__,
    *_mapping.__all__,
    *_pre_post.__all__,
    *_devices.__all__,
    *_compounds.__all__,
    *_noise_models.__all__,
    *_configs.__all__,
    "build_config",
]

# The presets (rpu.presets) are configuration classes too; importing them here registers them,
# so that from_dict / from_json can rebuild a saved preset configuration in a fresh process.
from rpu import presets as _presets  # noqa: E402,F401  (after every name above is defined)
