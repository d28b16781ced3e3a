# Written for azver's tests: the shape of azure/cli/core/__init__.py, not its code.

__version__ = "2.68.0"

import os
import sys

EXCLUDED_PARAMS = ['self', 'raw', 'polling', 'custom_headers', 'operation_config']


class AzCli(object):
    """The CLI object."""

    def get_cli_version(self):
        return __version__
