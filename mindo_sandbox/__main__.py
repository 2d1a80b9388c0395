from mindo_sandbox.cli import main

raise SystemExit(main())
