//! The contract suites on Redis: each test starts its own redis-server.
forze_tests::contract_tests!(forze_tests::redis_env);

/// The same with the server's conditional commands off (Lua scripts everywhere).
mod scripted {
    forze_tests::contract_tests!(forze_tests::redis_scripted_env);
}
