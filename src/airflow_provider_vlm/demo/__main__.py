from airflow_provider_vlm.demo.run import main

raise SystemExit(main())
