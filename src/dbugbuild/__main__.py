from dbugbuild.cli import main

raise SystemExit(main())
