import sys

from paddock.training.reward.cli import main

sys.exit(main())
