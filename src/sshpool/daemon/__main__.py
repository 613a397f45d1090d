from sshpool.daemon.cli import main

raise SystemExit(main())
