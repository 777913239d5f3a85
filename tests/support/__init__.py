"""What the tests and the benchmarks (bench/) share to run the site for real: free ports
and waiting (waiting.py), `billion-songs serve` and `worker` as subprocesses
(processes.py), a private Redis (redis_server.py), a TCP proxy that takes a server away
and brings it back (tcp_proxy.py), songs, users and votes in the database (songs.py), and
the benchmarks' result table (tables.py)."""
