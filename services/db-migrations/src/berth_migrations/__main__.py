from berth_migrations.runner import main

raise SystemExit(main())
