from ecgviewer.cli import main

raise SystemExit(main())
