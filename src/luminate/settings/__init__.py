"""The one typed settings object.

Every field is read from an environment variable named `LUMINATE_<FIELD>` (upper case) unless
its metadata names another (`JWT_SECRET`, as deployments already use), optionally layered over a
YAML file (`LUMINATE_CONFIG_FILE`). Unknown `LUMINATE_*` variables and unknown file keys are an
error, so a typo in a manifest fails at start instead of being ignored.
"""

from luminate.settings.fields import ConfigError, Settings, SettingSpec, describe
from luminate.settings.loading import load_settings

__all__ = ["ConfigError", "SettingSpec", "Settings", "describe", "load_settings"]
