"""The bulk engine, in parts that say what they do.

``bulk_engine.BulkEngine`` is the entry point and ``settings.EngineSettings`` its knobs.
``lifecycle`` decides which bulks run and starts and stops a ``number_runner.NumberRunner``
per phone number with work (and settles a previous run's claims at start); each runner keeps
its bulks' ``lanes``, opens one through ``admission``, fills it by ``claiming``, sends by
``sending`` and records answers, finishes and stops by ``settling``, through the
``outcome_buffer``. ``decisions`` holds what those parts decide, as pure functions. Time is read
only through the ``Clock`` port, and every claim is made as ``EngineSettings.worker_id``.
Ownership of a number by one worker among several would plug in at ``lifecycle.Supervisor``'s
assignment of bulks to runners, which today gives this process every number with work.
"""
