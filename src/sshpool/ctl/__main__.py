import sys

from sshpool.ctl.lean import main

sys.exit(main())
