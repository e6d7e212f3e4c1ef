from dbugbuild.cli import process_main

raise SystemExit(process_main())
