//! The contract suites on the in-memory backend.
forze_tests::contract_tests!(forze_tests::memory_env);
