import sys

from sshpool.ctl.cli import main

sys.exit(main())
