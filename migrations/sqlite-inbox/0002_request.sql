-- `source` holds `webhook`, or the name of the connector route that committed the row (`turn`, `proxied_send`).
-- Parsing happens after the acknowledgement, on the stored row, so the row keeps what a connector's parser
-- may need of the request besides its body: the raw query string (Exotel delivers its events as GET query
-- parameters; Twilio signs them). `headers` already holds the headers the connector asks to keep, as a JSON
-- object of lowercase name -> value. Rows from before this migration had no query: ''.
ALTER TABLE inbox ADD COLUMN query TEXT NOT NULL DEFAULT '';
