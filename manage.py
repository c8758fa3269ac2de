#!/usr/bin/env python
"""Django's command-line utility for paddock."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paddock.platform.settings")
    from django.core.management import execute_from_command_line

    from paddock.platform.config import exit_on_configuration_error

    with exit_on_configuration_error():
        execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
