"""Jobs: work that runs as a whole (ingest a file, train, score the store, promote, retrain).

Each job is a function with typed inputs that returns a typed result (a frozen dataclass);
it neither prints nor parses. The CLI parses, calls the job and renders its result; the
server's routes and background work call the same functions. Jobs sit above the library
(contract, io, store, text, churn, metrics) and below its two front doors (``serve/`` and
``cxml/cli``); ``lint-imports`` checks that the arrows only point down.
"""
