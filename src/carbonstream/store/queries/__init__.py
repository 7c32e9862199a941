"""Read queries the API and the benchmarks run (async psycopg; parameterised SQL only).

Each module keeps its SQL as constants next to the function that runs it,
so the benchmark can time the same statement without the HTTP layer.
"""
