import sys

from paddock.training.policy.cli import main

sys.exit(main())
