-- Rate limits shared by every Keygate instance (server/ratelimit/). The table is rate-limiter-
-- flexible's RateLimiterPostgres table (its _getCreateTableStmt), created here instead of by the
-- library at runtime: key is '<limit>:<subject>', points the attempts counted in the current
-- window, expire the window's end in epoch milliseconds. Rows only count attempts; nothing else
-- reads them, so the library deletes expired rows itself.
CREATE TABLE rate_limits (
  key    varchar(255) PRIMARY KEY,
  points integer NOT NULL DEFAULT 0,
  expire bigint
);
CREATE INDEX rate_limits_expire ON rate_limits (expire);
