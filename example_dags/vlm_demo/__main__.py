from vlm_demo.run import main

raise SystemExit(main())
