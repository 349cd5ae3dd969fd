//! The contract suites on Redis: each test starts its own redis-server.
forze_tests::contract_tests!(forze_tests::redis_env);
