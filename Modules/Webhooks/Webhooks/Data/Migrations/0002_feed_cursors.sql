-- Where the Webhooks module is in other modules' event feeds (Tokenization's intent transitions).
CREATE TABLE webhooks.feed_cursors (
    feed          text COLLATE "C" PRIMARY KEY,
    last_sequence bigint NOT NULL CHECK (last_sequence >= 0)
);
