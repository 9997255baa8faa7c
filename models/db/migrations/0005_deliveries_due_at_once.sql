-- A new delivery is due at once, whatever clock the notifier runs on. The database's now() is wall
-- time, so a notifier on an injected clock (a replay, a test) behind it would never see fresh rows.
ALTER TABLE deliveries ALTER COLUMN next_attempt_at SET DEFAULT 'epoch';
