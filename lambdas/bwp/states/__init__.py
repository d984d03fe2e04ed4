"""One module per state of the workflow, named as its handler (``lambdas/<state>/handler.py``) and
its Task in the ASL: plan_windows, start_report, check_report, land_report, summarize;
report_tasks holds what Start report and Check report share.

Each state is a function that takes its clients as arguments, so it runs the same in Lambda, on
the local engine and in tests. Only land_report imports the landing path (pyarrow)."""
