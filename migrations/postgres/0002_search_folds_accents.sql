-- Search ignores accents, as on SQLite (`unicode61 remove_diacritics 2`): "cafe" finds
-- "Café" and "nandu" finds "Ñandú". A text search configuration of our own: `simple`
-- (lower-case, no stemming, no stop words; see 0001) with every kind of word that can
-- hold a non-ASCII letter passed through `unaccent` first. `unaccent` ships with
-- PostgreSQL (contrib) and is a trusted extension, so the database's owner may create
-- it (docs/DEPLOY.md).
CREATE EXTENSION IF NOT EXISTS unaccent;

CREATE TEXT SEARCH CONFIGURATION orderchat_words (COPY = simple);
ALTER TEXT SEARCH CONFIGURATION orderchat_words
    ALTER MAPPING FOR word, numword, hword, numhword, hword_part, hword_numpart
    WITH unaccent, simple;

-- The generated column is rebuilt with the new configuration (to_tsvector with a
-- constant configuration stays immutable, as a generated column needs).
DROP INDEX messages_words;
ALTER TABLE messages DROP COLUMN words;
ALTER TABLE messages
    ADD COLUMN words TSVECTOR GENERATED ALWAYS AS (to_tsvector('orderchat_words', body)) STORED;
CREATE INDEX messages_words ON messages USING GIN (words);
