from carbonstream.cli import main

raise SystemExit(main())
