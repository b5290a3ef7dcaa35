from halbench.cli import main

raise SystemExit(main())
